"""Open pixel and click tracking: signed tokens naming the log (and the link), monotone status changes
(which the providers' event webhooks apply too)."""
from __future__ import annotations

import datetime as dt
import functools
import html as html_lib
import json
import re

from flask import current_app
from itsdangerous import BadSignature, Signer, URLSafeSerializer
from itsdangerous.encoding import base64_encode

from ...extensions import db
from ...models import EmailLog, EmailStatus
from ...models.base import utcnow
from ..errors import ValidationError

SALT = "messaging-web-tracking"
# A status only moves forward; bounced and failed are terminal for delivery.
RANK = {EmailStatus.PENDING: 0, EmailStatus.SENT: 1, EmailStatus.DELIVERED: 2, EmailStatus.OPENED: 3,
        EmailStatus.CLICKED: 4}
TERMINAL = {EmailStatus.BOUNCED.value, EmailStatus.FAILED.value, EmailStatus.SUPPRESSED.value}
LINK = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"'\s<>]+)\2""", re.IGNORECASE)
PIXEL_GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
             b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


@functools.lru_cache(maxsize=4)
def _signer(secret_key: str) -> Signer:
    return URLSafeSerializer(secret_key, salt=SALT).make_signer()


def _token(data: dict) -> str:
    """What _serializer().dumps(data) writes, less its attempt to compress (never shorter for a link) and the
    signing key derived again for every token: a quarter of the cost, for two tokens an email sent. The same
    serializer reads it (_load)."""
    payload = base64_encode(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())
    return _signer(current_app.config["SECRET_KEY"]).sign(payload).decode("ascii")


def add_tracking(body_html: str, log_id: int) -> str:
    """Links through /t/c/<token> and an open pixel /t/o/<token>.gif; http(s) links only."""
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")

    def tracked(match: re.Match) -> str:
        target = html_lib.unescape(match.group(3))
        if target.startswith(f"{base}/u/"):
            return match.group(0)  # the unsubscribe link: not a click, and it must stay as it is
        token = _token({"l": log_id, "u": target})
        return f"{match.group(1)}{match.group(2)}{base}/t/c/{token}{match.group(2)}"

    body_html = LINK.sub(tracked, body_html)
    pixel = (f'<img src="{base}/t/o/{_token({"l": log_id})}.gif" width="1" height="1" alt="" '
             'style="display:none">')
    index = body_html.lower().rfind("</body>")
    return body_html[:index] + pixel + body_html[index:] if index != -1 else body_html + pixel


def _load(token: str) -> dict:
    try:
        data = _serializer().loads(token)
    except BadSignature:
        raise ValidationError("This link is not valid.") from None
    if not isinstance(data, dict) or not isinstance(data.get("l"), int):
        raise ValidationError("This link is not valid.")
    return data


def _advance(row: EmailLog, status: EmailStatus) -> None:
    if row.status in TERMINAL:
        return
    if RANK.get(EmailStatus(row.status), 0) < RANK[status]:
        row.status = status.value


def mark_delivered(row: EmailLog, at: dt.datetime) -> None:
    row.delivered_at = row.delivered_at or at
    _advance(row, EmailStatus.DELIVERED)


def mark_opened(row: EmailLog, at: dt.datetime) -> None:
    row.opened_at = row.opened_at or at
    _advance(row, EmailStatus.OPENED)


def mark_clicked(row: EmailLog, at: dt.datetime) -> None:
    """A click implies the open: both times are filled."""
    row.opened_at = row.opened_at or at
    row.clicked_at = row.clicked_at or at
    _advance(row, EmailStatus.CLICKED)


def mark_bounced(row: EmailLog, reason: str | None) -> None:
    """The recipient's server refused the email. Ends delivery, unless the recipient has already opened
    it (a late or spoofed bounce cannot undo what the recipient did) or it is already failed or bounced."""
    if row.status in TERMINAL or RANK.get(EmailStatus(row.status), 0) >= RANK[EmailStatus.OPENED]:
        return
    row.status = EmailStatus.BOUNCED.value
    row.error_message = (reason or "The recipient's mail server refused the email.")[:1000]


def record_open(token: str) -> None:
    row = db.session.get(EmailLog, _load(token)["l"])
    if row is None:
        return
    mark_opened(row, utcnow())
    db.session.flush()


def record_click(token: str) -> str:
    """Records the click (and the open it implies) and returns the link's target."""
    data = _load(token)
    target = data.get("u")
    if not isinstance(target, str) or not target.lower().startswith(("http://", "https://")):
        raise ValidationError("This link is not valid.")
    row = db.session.get(EmailLog, data["l"])
    if row is not None:
        mark_clicked(row, utcnow())
        db.session.flush()
    return target
