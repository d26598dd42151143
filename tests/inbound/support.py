"""Building received emails for the reply-by-email tests."""
from __future__ import annotations

import datetime as dt
import json
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import sqlalchemy as sa

from messaging_web.extensions import db
from messaging_web.models import ConversationParticipant, EmailLog, ParticipantType
from messaging_web.models.base import utcnow
from messaging_web.services.conversation_notifications import flush_due_notifications
from messaging_web.services.inbound.addresses import reply_address

INBOUND_DOMAIN = "reply.platform.test"


def reader_row(conversation_id: int, kind: ParticipantType, account_id: int) -> ConversationParticipant:
    return db.session.scalars(sa.select(ConversationParticipant).where(
        ConversationParticipant.conversation_id == conversation_id,
        ConversationParticipant.participant_type == kind, ConversationParticipant.participant_id == account_id,
    )).one()


def reply_address_of(conversation_id: int, kind: ParticipantType, account_id: int) -> str:
    address = reply_address(reader_row(conversation_id, kind, account_id).id)
    assert address is not None
    return address


def notify_now() -> list[EmailLog]:
    """Send the due notification emails at once (as if the batching window had passed)."""
    report = flush_due_notifications(now=utcnow() + dt.timedelta(hours=1))
    db.session.commit()
    return [db.session.get_one(EmailLog, i) for i in report.sent]


def headers_of(row: EmailLog) -> dict:
    return (json.loads(row.extra_data or "{}") or {}).get("headers", {})


def reply_email(to: str, sender: str, text: str, *, subject: str = "Re: Robe bleue", message_id: str | None = None,
                files: tuple[tuple[str, str, bytes], ...] = (), headers: dict | None = None,
                html: str | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    message["Message-ID"] = message_id or make_msgid(domain="mail.example")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for filename, mime_type, data in files:
        maintype, _, subtype = mime_type.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))  # as on the wire
