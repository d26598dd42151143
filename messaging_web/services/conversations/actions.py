"""What people do in conversations: start one, post, read, mute, close and reopen, delete a message."""
from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from babel.numbers import format_decimal
from flask import current_app
from sqlalchemy.orm.util import identity_key

from ...access import ThreadHead
from ...actors import Actor
from ...extensions import db
from ...i18n import _l, current_language
from ...models import (
    CONVERSATION_TYPES_SEEN,
    CONVERSATION_TYPES_STARTED,
    Conversation,
    ConversationParticipant,
    ConversationType,
    Customer,
    Message,
    ParticipantType,
    Store,
    User,
    participants_of,
)
from ...models.base import utcnow
from .. import attachments, live
from ..attachments import Upload
from ..email.providers.message import UnsafeHeader, check_header_text
from ..errors import PermissionDenied, ValidationError

SUBJECT_MAX_LENGTH = 500

P = ConversationParticipant


# --- starting a conversation and who takes part -----------------------------------------------------


def start_conversation(
    actor: Actor,
    conversation_type: ConversationType,
    subject: str,
    content: str,
    *,
    store: Store | None = None,
    customer: Customer | None = None,
) -> Conversation:
    """Open a thread of `conversation_type` with its first message; the counterpart was loaded by access.

    A customer writes to their store; a store team to one of its customers or to the platform; an
    admin to a store or a customer.
    """
    subject = _clean_subject(subject)
    content = clean_content(content)
    store_id, customer_id = _parties(actor, conversation_type, store, customer)
    conversation = Conversation(
        conversation_type=conversation_type, subject=subject, store_id=store_id, customer_id=customer_id,
        message_count=0, is_closed=False,
    )
    db.session.add(conversation)
    db.session.flush()
    _add_participants(conversation)
    post_message(actor, conversation, content)
    return conversation


def _parties(actor: Actor, kind: ConversationType, store: Store | None, customer: Customer | None):
    if kind not in CONVERSATION_TYPES_STARTED[actor.participant_type]:
        raise PermissionDenied(_l("You cannot start this kind of conversation."))
    if kind is ConversationType.STORE_CUSTOMER:
        if actor.is_customer:
            return actor.store_id, actor.id
        if customer is None or customer.store_id != actor.store_id:
            raise ValidationError(_l("Choose one of your store's customers."), field="customer")
        return actor.store_id, customer.id
    if kind is ConversationType.ADMIN_STORE:
        store_id = actor.store_id if actor.is_store_user else (store.id if store is not None else None)
        if store_id is None:
            raise ValidationError(_l("Choose a store."), field="store")
        return store_id, None
    if customer is None:
        raise ValidationError(_l("Choose a customer."), field="customer")
    return customer.store_id, customer.id


def _add_participants(conversation: Conversation) -> None:
    """One row for each person who can see the thread: its customer, the store's team, the admins."""
    now = utcnow()
    rows: list[tuple[ParticipantType, int, int | None]] = []
    readers = participants_of(conversation.conversation_type)
    if ParticipantType.CUSTOMER in readers and conversation.customer_id is not None:
        rows.append((ParticipantType.CUSTOMER, conversation.customer_id, conversation.store_id))
    if ParticipantType.STORE in readers:
        team = db.session.scalars(sa.select(User.id).where(User.store_id == conversation.store_id))
        rows += [(ParticipantType.STORE, user_id, conversation.store_id) for user_id in team]
    if ParticipantType.ADMIN in readers:
        admins = db.session.scalars(sa.select(User.id).where(User.is_platform_admin.is_(True)))
        rows += [(ParticipantType.ADMIN, user_id, None) for user_id in admins]
    db.session.add_all(
        P(conversation_id=conversation.id, participant_type=kind_, participant_id=id_, store_id=store_id,
          unread_count=0, last_read_at=now)
        for kind_, id_, store_id in rows
    )
    db.session.flush()


def join_conversations_of_new_member(user: User) -> int:
    """Give a team member or admin who joins later a reader row in every thread they can now see.

    Set-based (one INSERT ... SELECT), starting with nothing unread. Returns the rows added.
    """
    scope: sa.ColumnElement[bool]
    store_value: sa.ColumnExpressionArgument[int | None]
    if user.is_platform_admin:
        kind = ParticipantType.ADMIN
        scope = Conversation.conversation_type.in_(CONVERSATION_TYPES_SEEN[kind])
        store_value = sa.null()
    elif user.store_id is not None:
        kind = ParticipantType.STORE
        scope = sa.and_(
            Conversation.store_id == user.store_id, Conversation.conversation_type.in_(CONVERSATION_TYPES_SEEN[kind]),
        )
        store_value = Conversation.store_id
    else:
        return 0
    now = utcnow()
    already = sa.exists().where(
        P.conversation_id == Conversation.id, P.participant_type == kind, P.participant_id == user.id
    )
    source = sa.select(
        Conversation.id,
        sa.literal(kind.value, sa.String(20)),
        sa.literal(user.id, sa.Integer),
        store_value,
        sa.literal(0, sa.Integer),
        sa.literal(now, sa.DateTime(timezone=True)),
        sa.true(),
        sa.false(),
        sa.literal(now, sa.DateTime(timezone=True)),
        sa.literal(now, sa.DateTime(timezone=True)),
    ).where(scope, ~already)
    result = cast(sa.CursorResult[Any], db.session.execute(  # an INSERT's result is a CursorResult
        sa.insert(P).from_select(
            ["conversation_id", "participant_type", "participant_id", "store_id", "unread_count", "last_read_at",
             "email_notifications", "muted", "created_at", "updated_at"],
            source,
        )
    ))
    return result.rowcount or 0


def participant_row(actor: Actor, conversation: Conversation | ThreadHead) -> ConversationParticipant:
    """The actor's reader row in a conversation they may see, created if they joined before rows existed."""
    row = db.session.scalar(
        sa.select(P).where(
            P.conversation_id == conversation.id, P.participant_type == actor.participant_type,
            P.participant_id == actor.id,
        )
    )
    if row is None:
        row = P(
            conversation_id=conversation.id, participant_type=actor.participant_type, participant_id=actor.id,
            store_id=conversation.store_id if not actor.is_admin else None, unread_count=0, last_read_at=utcnow(),
        )
        db.session.add(row)
        db.session.flush()
    return row


# --- posting ---------------------------------------------------------------------------------------------


def clean_content(content: str | None) -> str:
    text = (content or "").replace("\r\n", "\n").strip()
    if not text:
        raise ValidationError(_l("Write a message first: an empty message cannot be sent."), field="content")
    limit = current_app.config["MESSAGE_MAX_LENGTH"]
    if len(text) > limit:
        raise ValidationError(_l(
            "The message is too long: %(length)s characters, at most %(limit)s are allowed.",
            length=_number(len(text)), limit=_number(limit),
        ), field="content")
    return text


def _number(value: int) -> str:
    """A count as the viewer's language writes it (10,001 / 10 001 / 10.001)."""
    return format_decimal(value, locale=current_language())


def _clean_subject(subject: str | None) -> str:
    """The subject on one line, as the notification emails' Subject header can carry it (the header rule,
    providers/message.check_header_text, refuses a line break or NUL, also inside an encoded word)."""
    text = " ".join((subject or "").replace("\0", " ").split())
    try:
        check_header_text(text, "subject")
    except UnsafeHeader:
        # An encoded word that decodes to a line break (=?utf-8?q?...=0A...?=), or does not decode: the
        # notification emails' Subject header would be refused and the thread's emails never sent.
        # Broken up, it is no encoded word any more and reads as the plain text it is.
        text = text.replace("=?", "= ?")
    if not text:
        raise ValidationError(_l("Give the conversation a subject."), field="subject")
    if len(text) > SUBJECT_MAX_LENGTH:
        raise ValidationError(_l("The subject is too long: at most %(limit)s characters.", limit=SUBJECT_MAX_LENGTH),
                              field="subject")
    return text


def post_message(actor: Actor, conversation: Conversation, content: str, files: Sequence[Upload] = (), *,
                 inbound_email_id: int | None = None, refused_files: Sequence[str] = ()) -> Message:
    """Add the actor's message; a message to a closed thread reopens it (with a system message).

    A reply by email names the InboundEmail it came from and the files of it that were not accepted (kept as
    names, and as the English note "2 files not accepted: a.exe, b.exe" for emails and exports).

    The caller loaded `conversation` through access.access_conversation, so the actor may see it.
    `files` are checked and stored first, all or nothing (services/attachments.py): a refused file or a
    storage failure raises ValidationError before anything is written. With files, the text may be empty.
    """
    files = [f for f in files if f.filename or f.size]
    content = clean_content(content) if not files or (content or "").strip() else ""
    staged = attachments.stage_uploads(files) if files else []
    if conversation.is_closed:
        _reopen(actor, conversation, reason="reopened by a new message from", key="reopened_by_message")
    now = utcnow()
    # The conversation row is locked first, so message ids follow commit order within a thread
    # (pollers asking for "after id N" miss nothing) and concurrent posters queue here.
    _bump_conversation(conversation.id, now)
    message = Message(
        conversation_id=conversation.id, sender_type=actor.participant_type, sender_id=actor.id, content=content,
        is_system_message=False, is_deleted=False, created_at=now, updated_at=now,
        inbound_email_id=inbound_email_id, attachment_note=_refusal_note(refused_files),
        refused_files=list(refused_files) or None,
    )
    db.session.add(message)
    db.session.flush()
    if staged:
        attachments.attach_staged(message, staged)
    readers = _count_unread(actor, conversation, now)
    live.thread_changed(conversation, readers)
    return message


def _count_unread(actor: Actor, conversation: Conversation, now: dt.datetime) -> list[tuple[str, int]]:
    """One more unread message (and a notification email due) for every reader but the sender, who has
    seen everything up to their own message. One UPDATE for both: the sender's row was a query and an
    UPDATE of its own, a quarter of a reply by email's round trips (bench/bench_inbound.py)."""
    updated = db.session.execute(_count_unread_statement(), {
        "of_conversation": conversation.id, "sender_type": actor.participant_type, "sender_id": actor.id, "now": now,
    }).all()
    for row_id, _, _ in updated:
        loaded = db.session.identity_map.get(identity_key(P, row_id))
        if loaded is not None:  # what this request loaded before the UPDATE is no longer what is stored
            db.session.expire(loaded, ["unread_count", "last_read_at", "notify_pending_since", "updated_at"])
    if not any(kind == actor.participant_type and reader_id == actor.id for _, kind, reader_id in updated):
        participant_row(actor, conversation)  # a reader who joined before reader rows existed: read up to now
    # Every reader's inbox row changed (the last message), the sender's too.
    return [(ParticipantType(str(kind)).value, cast(int, reader_id)) for _, kind, reader_id in updated]


@functools.cache
def _count_unread_statement() -> sa.Update:
    # Built once (every message posts it): building it cost about as much as running it.
    now = sa.bindparam("now", type_=sa.DateTime(timezone=True))
    is_sender = sa.and_(
        P.participant_type == sa.bindparam("sender_type", type_=P.participant_type.type),
        P.participant_id == sa.bindparam("sender_id", type_=sa.Integer),
    )
    wants_email = sa.and_(P.email_notifications.is_(True), P.muted.is_(False))
    return (
        sa.update(P)
        .where(P.conversation_id == sa.bindparam("of_conversation", type_=sa.Integer))
        .values(
            unread_count=sa.case((is_sender, 0), else_=P.unread_count + 1),
            last_read_at=sa.case((is_sender, now), else_=P.last_read_at),
            notify_pending_since=sa.case(
                (is_sender, None),
                (sa.and_(wants_email, P.notify_pending_since.is_(None)), now),
                else_=P.notify_pending_since,
            ),
            updated_at=now,
        )
        .returning(P.id, P.participant_type, P.participant_id)
        .execution_options(synchronize_session=False)
    )


def _bump_conversation(conversation_id: int, now: dt.datetime) -> None:
    db.session.execute(_bump_statement(), {"of_conversation": conversation_id, "now": now})


@functools.cache
def _bump_statement() -> sa.Update:
    # Built once, as _count_unread_statement.
    now = sa.bindparam("now", type_=sa.DateTime(timezone=True))
    return (
        sa.update(Conversation)
        .where(Conversation.id == sa.bindparam("of_conversation", type_=sa.Integer))
        .values(
            message_count=Conversation.message_count + 1,
            last_message_at=sa.case(
                (sa.or_(Conversation.last_message_at.is_(None), Conversation.last_message_at < now), now),
                else_=Conversation.last_message_at,
            ),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


def _refusal_note(refused_files: Sequence[str]) -> str | None:
    if not refused_files:
        return None
    count = len(refused_files)
    return f"{count} file{'s' if count != 1 else ''} not accepted: {', '.join(refused_files)}"[:500]


def _system_message(actor: Actor, conversation: Conversation, content: str, key: str) -> Message:
    """A line such as 'Closed by ...': counted in the thread, but neither unread nor emailed.

    `content` keeps the English words (emails, exports); `system_text` the same line as data, which each
    viewer reads in their own language (web/message_text.system_line)."""
    now = utcnow()
    _bump_conversation(conversation.id, now)
    message = Message(
        conversation_id=conversation.id, sender_type=actor.participant_type, sender_id=actor.id, content=content,
        system_text={"key": key, "name": actor.name, "side": actor.kind},
        is_system_message=True, is_deleted=False, created_at=now, updated_at=now,
    )
    db.session.add(message)
    db.session.flush()
    live.thread_changed(conversation, _readers(conversation.id))
    return message


def _readers(conversation_id: int) -> list[tuple[str, int]]:
    """Every reader of the thread (kind, id): whose inbox shows a change of its state."""
    rows = db.session.execute(
        sa.select(P.participant_type, P.participant_id).where(P.conversation_id == conversation_id)
    ).all()
    return [(kind.value, reader_id) for kind, reader_id in rows]


def _who(actor: Actor) -> str:
    side = {"admin": "the platform team", "store": "the store team", "customer": "the customer"}[actor.kind]
    return f"{actor.name} ({side})"


def colleague_replies_since(actor: Actor, conversation: Conversation, seen_id: int):
    """What someone else on the actor's side (another team member, another admin) posted after message
    `seen_id`, the last one the actor had seen when they began writing: the collision a reply is warned of."""
    from .thread import thread_messages

    newer = thread_messages(conversation, after_id=seen_id).messages
    return [m for m in newer if m.sender_type == actor.participant_type and m.sender_id != actor.id
            and not m.is_system_message and not m.is_deleted]


# --- reading ---------------------------------------------------------------------------------------------


def mark_read(actor: Actor, conversation: Conversation | ThreadHead) -> ConversationParticipant:
    """Opening a thread: nothing unread for the reader, and no pending notification email."""
    row = participant_row(actor, conversation)
    if row.unread_count or row.notify_pending_since is not None or row.last_read_at is None:
        db.session.execute(
            sa.update(P).where(P.id == row.id)
            .values(unread_count=0, last_read_at=utcnow(), notify_pending_since=None, updated_at=utcnow())
            .execution_options(synchronize_session="fetch")
        )
        live.reader_changed(actor.kind, actor.id)
    return row


@dataclass(frozen=True)
class ReaderSettings:
    """The reader's own settings of a thread, as its page shows them."""

    muted: bool
    email_notifications: bool


def mark_thread_read(actor: Actor, head: ThreadHead) -> ReaderSettings | ConversationParticipant:
    """mark_read for a thread page, from the reader row access.access_thread_head read with the thread: no
    query when there is nothing to mark, one UPDATE when there is (and the row as mark_read makes it when
    the actor has none yet)."""
    if head.reader_id is None:
        return mark_read(actor, head)
    if head.unread_count or head.notify_pending_since is not None or head.last_read_at is None:
        db.session.execute(
            sa.update(P).where(P.id == head.reader_id)
            .values(unread_count=0, last_read_at=utcnow(), notify_pending_since=None, updated_at=utcnow())
            .execution_options(synchronize_session=False)  # the row was read as plain columns, not loaded
        )
        live.reader_changed(actor.kind, actor.id)
    return ReaderSettings(muted=bool(head.muted), email_notifications=bool(head.email_notifications))


def mark_unread(actor: Actor, conversation: Conversation) -> ConversationParticipant:
    """'Mark as unread': the badge shows again (at least one message), as if the last one was new."""
    row = participant_row(actor, conversation)
    db.session.execute(
        sa.update(P).where(P.id == row.id, P.unread_count < 1).values(unread_count=1, updated_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )
    live.reader_changed(actor.kind, actor.id)
    return row


def update_reader_settings(
    actor: Actor, conversation: Conversation, *, muted: bool, email_notifications: bool
) -> ConversationParticipant:
    row = participant_row(actor, conversation)
    row.muted = bool(muted)
    row.email_notifications = bool(email_notifications)
    if row.muted or not row.email_notifications:
        row.notify_pending_since = None
    db.session.flush()
    return row


# --- close, reopen, delete -----------------------------------------------------------------------------


def close_conversation(actor: Actor, conversation: Conversation) -> Conversation:
    if actor.is_customer:
        raise PermissionDenied(_l("Only the store or the platform team can close a conversation."))
    if conversation.is_closed:
        return conversation
    now = utcnow()
    conversation.is_closed = True
    conversation.closed_at = now
    conversation.closed_by_type = actor.participant_type
    conversation.closed_by_id = actor.id
    _system_message(actor, conversation, f"Conversation closed by {_who(actor)}.", "closed")
    db.session.flush()
    return conversation


def reopen_conversation(actor: Actor, conversation: Conversation) -> Conversation:
    if actor.is_customer:
        raise PermissionDenied(_l("Only the store or the platform team can reopen a conversation."))
    if conversation.is_closed:
        _reopen(actor, conversation, reason="reopened by", key="reopened")
    return conversation


def _reopen(actor: Actor, conversation: Conversation, reason: str, key: str) -> None:
    conversation.is_closed = False
    conversation.closed_at = None
    conversation.closed_by_type = None
    conversation.closed_by_id = None
    _system_message(actor, conversation, f"Conversation {reason} {_who(actor)}.", key)
    db.session.flush()


def delete_message(actor: Actor, message: Message) -> Message:
    """Soft delete by its sender or an admin: others see 'message deleted', admins keep the original."""
    is_sender = message.sender_type == actor.participant_type and message.sender_id == actor.id
    if message.is_system_message or not (is_sender or actor.is_admin):
        raise PermissionDenied(_l("You can delete only your own messages."))
    if not message.is_deleted:
        message.is_deleted = True
        message.deleted_at = utcnow()
        message.deleted_by_type = actor.participant_type
        message.deleted_by_id = actor.id
        db.session.flush()
        conversation = db.session.get_one(Conversation, message.conversation_id)
        live.thread_changed(conversation, _readers(conversation.id))
    return message
