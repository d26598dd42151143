"""SendGrid through its v3 mail send API (base URL configurable so tests use a local server)."""
from __future__ import annotations

import json

from .base import OutgoingEmail, PermanentError, Provider
from .http import raise_for_status, request
from .message import UnsafeHeader, check_email

DEFAULT_BASE_URL = "https://api.sendgrid.com"


class SendGridProvider(Provider):
    name = "sendgrid"

    def __init__(self, api_key: str | None, base_url: str = DEFAULT_BASE_URL, timeout: float = 10.0):
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def payload(self, email: OutgoingEmail) -> dict:
        to = {"email": email.to_email}
        if email.to_name:
            to["name"] = email.to_name
        sender = {"email": email.from_email}
        if email.from_name:
            sender["name"] = email.from_name
        content = []
        # SendGrid requires text/plain before text/html.
        if email.text:
            content.append({"type": "text/plain", "value": email.text})
        if email.html:
            content.append({"type": "text/html", "value": email.html})
        body = {
            "personalizations": [{"to": [to]}],
            "from": sender,
            "subject": email.subject,
            "content": content or [{"type": "text/plain", "value": " "}],
            "headers": {"Message-ID": email.message_id, **email.headers},
        }
        if email.reply_to:
            body["reply_to"] = {"email": email.reply_to}
        if email.log_id is not None:
            body["custom_args"] = {"email_log_id": str(email.log_id)}
        return body

    def send(self, email: OutgoingEmail) -> str:
        try:
            check_email(email)
        except UnsafeHeader as exc:
            raise PermanentError(str(exc)) from exc
        if not self.api_key:
            raise PermanentError("no SendGrid API key is configured")
        response = request(
            "POST", f"{self.base_url}/v3/mail/send", what="SendGrid", timeout=self.timeout,
            body=json.dumps(self.payload(email)).encode(),
            headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"},
        )
        raise_for_status(response, "SendGrid")
        return response.headers.get("X-Message-Id") or email.message_id
