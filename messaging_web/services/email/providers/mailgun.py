"""Mailgun through its messages API, US or EU region (base URLs configurable for tests)."""
from __future__ import annotations

import base64
from urllib.parse import quote

from ...untrusted_json import parse_untrusted_json
from .base import OutgoingEmail, PermanentError, Provider
from .http import raise_for_status, request
from .message import UnsafeHeader, check_email, format_address

REGION_BASE_URLS = {"us": "https://api.mailgun.net", "eu": "https://api.eu.mailgun.net"}


class MailgunProvider(Provider):
    name = "mailgun"

    def __init__(self, api_key: str | None, domain: str | None, region: str = "us", base_urls: dict | None = None,
                 timeout: float = 10.0):
        self.api_key = api_key
        self.domain = (domain or "").strip()
        self.region = region if region in REGION_BASE_URLS else "us"
        self.base_url = (base_urls or REGION_BASE_URLS)[self.region].rstrip("/")
        self.timeout = timeout

    def fields(self, email: OutgoingEmail) -> dict:
        fields = {
            "from": format_address(email.from_name, email.from_email),
            "to": format_address(email.to_name, email.to_email),
            "subject": email.subject,
            "h:Message-Id": email.message_id,
        }
        if email.text:
            fields["text"] = email.text
        if email.html:
            fields["html"] = email.html
        if email.reply_to:
            fields["h:Reply-To"] = email.reply_to
        for name, value in email.headers.items():
            fields[f"h:{name}"] = value
        if email.log_id is not None:
            fields["v:email_log_id"] = str(email.log_id)
        return fields

    def send(self, email: OutgoingEmail) -> str:
        try:
            check_email(email)
        except UnsafeHeader as exc:
            raise PermanentError(str(exc)) from exc
        if not self.api_key or not self.domain:
            raise PermanentError("the Mailgun API key or domain is missing")
        credentials = base64.b64encode(f"api:{self.api_key}".encode()).decode()
        response = request(
            "POST", f"{self.base_url}/v3/{quote(self.domain, safe='')}/messages", what="Mailgun",
            timeout=self.timeout, fields=self.fields(email), encode_multipart=False,
            headers={"Authorization": f"Basic {credentials}"},
        )
        raise_for_status(response, "Mailgun")
        try:
            return parse_untrusted_json(response.data).get("id") or email.message_id
        except (ValueError, AttributeError):
            return email.message_id
