"""Batched notification emails about new conversation messages: one email per thread and reader per window.

Posting a message marks each other reader who wants email (not muted, notifications on) with
`notify_pending_since` (the first message not yet emailed). `flush_due_notifications`, run
periodically by the worker (`flask messaging worker`, the Celery beat task, or `flask messaging
notify-conversations`), sends one `new_message_notification` listing the new messages to every
reader whose window (CONVERSATION_NOTIFY_DELAY_SECONDS, default 120) has passed, and skips readers
who read the thread meanwhile. The next email to the same reader about the same thread can only
follow a message that arrived after this one was sent, so at most one email per window.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import (
    Conversation,
    ConversationParticipant,
    ConversationType,
    Customer,
    Message,
    ParticipantType,
    Store,
    User,
)
from ..models.base import utcnow
from .conversations.thread import join_senders, sender_aliases
from .email import outbox
from .errors import DomainError
from .inbound.addresses import reply_address, thread_reference

log = logging.getLogger(__name__)

P = ConversationParticipant
TEMPLATE_CODE = "new_message_notification"
MAX_MESSAGES_LISTED = 20
MAX_CONTENT_CHARS = 2000


@dataclass
class FlushReport:
    sent: list[int] = field(default_factory=list)  # EmailLog ids queued
    skipped: int = 0  # readers who read the thread, muted it, or turned email off meanwhile


def flush_due_notifications(now: dt.datetime | None = None, *, limit: int = 200) -> FlushReport:
    """Queue the emails whose batching window has passed (add + flush; the caller commits).

    On PostgreSQL the due rows are claimed with FOR UPDATE SKIP LOCKED, so several workers can flush
    at once without sending twice.
    """
    now = now or utcnow()
    cutoff = now - dt.timedelta(seconds=current_app.config["CONVERSATION_NOTIFY_DELAY_SECONDS"])
    due = db.session.scalars(
        sa.select(P).where(P.notify_pending_since.is_not(None), P.notify_pending_since <= cutoff)
        .order_by(P.notify_pending_since, P.id).limit(limit)
        .with_for_update(skip_locked=True, of=P)
    ).all()
    report = FlushReport()
    # One round trip to the sandbox renders the whole run; a template that fails (a store's hostile
    # version, say) fails its own emails in the log and no other.
    with outbox.batch() as queued:
        for reader in due:
            if not _notify(reader, now):
                report.skipped += 1
            reader.notify_pending_since = None
    report.sent = [row.id for row in queued if row.id is not None]
    db.session.flush()
    return report


def _notify(reader: ConversationParticipant, now: dt.datetime) -> bool:
    """Queue the reader's email (True), or find there is nothing to send (False)."""
    if reader.muted or not reader.email_notifications or reader.unread_count == 0:
        return False
    messages, total = _new_messages(reader)
    if not messages:
        return False
    recipient = _recipient(reader)
    if recipient is None:
        return False
    conversation = db.session.get_one(Conversation, reader.conversation_id)
    store = db.session.get(Store, conversation.store_id) if conversation.store_id else None
    answer_at = reply_address(reader.id)
    context = {
        "reply_by_email": answer_at is not None,
        "recipient_name": recipient.name,
        "store_name": _counterpart(reader.participant_type, conversation, store),
        "conversation_subject": conversation.subject,
        "conversation_url": conversation_url(reader.participant_type, conversation, store),
        "message_count": total,  # all the new messages; `messages` lists the latest of them
        "messages": [
            {
                "sender_name": name, "content": _clip(m.content) or "(sent a file)",
                "sent_at": m.created_at.astimezone(dt.UTC).isoformat(),
            }
            for m, name in messages
        ],
    }
    # A store writes to its own customers under its own name and settings; platform threads come from us.
    store_id = conversation.store_id if conversation.conversation_type is ConversationType.STORE_CUSTOMER else None
    try:
        outbox.queue_email(
            TEMPLATE_CODE, recipient.email, context, store_id=store_id, language=recipient.preferred_language,
            recipient_name=recipient.name, user_id=None if isinstance(recipient, Customer) else recipient.id,
            related_type="conversation", related_id=conversation.id,
            extra_data={"participant_id": reader.id, "message_ids": [m.id for m, _ in messages]},
            reply_to=answer_at, headers=_thread_headers(conversation),
        )
    except DomainError as exc:
        # An address problem (or a required variable the template gained) must not block the other
        # readers' emails; it is logged and this batch is dropped (the reader still sees the messages in
        # their inbox). A template that does not render is no error here: its email is logged as failed.
        log.warning("Conversation notification to participant %s not queued: %s", reader.id, exc)
        return False
    reader.last_notified_at = now
    reader.last_notified_message_id = messages[-1][0].id
    return True


def _thread_headers(conversation: Conversation) -> dict[str, str]:
    """Every notification of a thread refers to the same thread name, so mail clients group them; a
    compliant auto-responder (RFC 3834) does not answer an auto-generated email, which keeps
    out-of-office replies out of the thread."""
    reference = thread_reference(conversation.id)
    return {
        "In-Reply-To": reference, "References": reference, "Auto-Submitted": "auto-generated",
        "X-Messaging-Web": "conversation-notification",
    }


def _new_messages(reader: ConversationParticipant) -> tuple[list[tuple[Message, str]], int]:
    """The latest MAX_MESSAGES_LISTED messages from others since the reader last read the thread and since
    the last email, oldest first, and how many such messages there are in all."""
    sender_user, sender_customer = sender_aliases()
    is_own = sa.and_(Message.sender_type == reader.participant_type, Message.sender_id == reader.participant_id)
    stmt = (
        join_senders(sa.select(
            Message, sa.func.coalesce(sender_customer.name, sender_user.name, "Former member"),
            sa.func.count().over(),  # counted before the LIMIT
        ))
        .where(
            Message.conversation_id == reader.conversation_id, ~is_own,
            Message.is_system_message.is_(False), Message.is_deleted.is_(False),
        )
    )
    if reader.last_notified_message_id is not None:
        stmt = stmt.where(Message.id > reader.last_notified_message_id)
    if reader.last_read_at is not None:
        stmt = stmt.where(Message.created_at > reader.last_read_at)
    rows = db.session.execute(stmt.order_by(Message.id.desc()).limit(MAX_MESSAGES_LISTED)).all()
    total = rows[0][2] if rows else 0
    return [(message, name) for message, name, _ in reversed(rows)], total  # type: ignore[misc]  # name: str


def _recipient(reader: ConversationParticipant) -> User | Customer | None:
    account: User | Customer | None
    if reader.participant_type is ParticipantType.CUSTOMER:
        account = db.session.get(Customer, reader.participant_id)
    else:
        account = db.session.get(User, reader.participant_id)
    if account is None or not account.is_active:
        return None
    return account


def _counterpart(kind: ParticipantType, conversation: Conversation, store: Store | None) -> str:
    """Who the new messages come from, as the recipient knows them."""
    if kind is ParticipantType.CUSTOMER:
        if conversation.conversation_type is ConversationType.ADMIN_CUSTOMER:
            return current_app.config["MAIL_DEFAULT_SENDER_NAME"]
        return store.name if store else ""
    if kind is ParticipantType.STORE and conversation.conversation_type is ConversationType.ADMIN_STORE:
        return current_app.config["MAIL_DEFAULT_SENDER_NAME"]
    if conversation.customer_id is not None:
        customer = db.session.get(Customer, conversation.customer_id)
        return customer.name if customer else ""
    return store.name if store else ""


def conversation_url(kind: ParticipantType, conversation: Conversation, store: Store | None) -> str:
    """The absolute link to the thread in the recipient's own portal (no request needed: workers call this)."""
    base = urlsplit(current_app.config["PUBLIC_BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https")
    endpoint = {
        ParticipantType.ADMIN: "admin.conversation",
        ParticipantType.STORE: "store.conversation",
        ParticipantType.CUSTOMER: "customer.conversation",
    }[kind]
    values: dict[str, int | str] = {"conversation_id": conversation.id}
    if kind is not ParticipantType.ADMIN:
        assert store is not None  # every thread a store's team or a customer reads belongs to a store
        values["slug"] = store.slug
    return adapter.build(endpoint, values, force_external=True)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_CONTENT_CHARS else text[: MAX_CONTENT_CHARS - 1] + "…"
