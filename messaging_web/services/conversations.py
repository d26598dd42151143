"""Conversations: start, post, read and unread, per-reader settings, close and reopen, soft delete, inbox.

Counters (message_count, last_message_at, each reader's unread_count) change in the poster's
transaction through SQL increments, never read-modify-write in Python, so they stay exact when many
people post at once. Callers commit.
"""
from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import aliased

from .. import access
from ..auth import Actor
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
from . import attachments, nav_badges
from .attachments import Upload
from .errors import NotFound, PermissionDenied, ValidationError
from .pagination import like_pattern
from .providers.message import UnsafeHeader, check_header_text

SUBJECT_MAX_LENGTH = 500
THREAD_PAGE_SIZE = 30
PREVIEW_LENGTH = 140

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
    allowed = {
        "customer": {ConversationType.STORE_CUSTOMER},
        "store": {ConversationType.STORE_CUSTOMER, ConversationType.ADMIN_STORE},
        "admin": {ConversationType.ADMIN_STORE, ConversationType.ADMIN_CUSTOMER},
    }[actor.kind]
    if kind not in allowed:
        raise PermissionDenied("You cannot start this kind of conversation.")
    if kind is ConversationType.STORE_CUSTOMER:
        if actor.is_customer:
            return actor.store_id, actor.id
        if customer is None or customer.store_id != actor.store_id:
            raise ValidationError("Choose one of your store's customers.", field="customer")
        return actor.store_id, customer.id
    if kind is ConversationType.ADMIN_STORE:
        store_id = actor.store_id if actor.is_store_user else (store.id if store is not None else None)
        if store_id is None:
            raise ValidationError("Choose a store.", field="store")
        return store_id, None
    if customer is None:
        raise ValidationError("Choose a customer.", field="customer")
    return customer.store_id, customer.id


def _add_participants(conversation: Conversation) -> None:
    """One row for each person who can see the thread: its customer, the store's team, the admins."""
    now = utcnow()
    rows: list[tuple[ParticipantType, int, int | None]] = []
    kind = conversation.conversation_type
    if conversation.customer_id is not None:
        rows.append((ParticipantType.CUSTOMER, conversation.customer_id, conversation.store_id))
    if kind in (ConversationType.STORE_CUSTOMER, ConversationType.ADMIN_STORE):
        team = db.session.scalars(sa.select(User.id).where(User.store_id == conversation.store_id))
        rows += [(ParticipantType.STORE, user_id, conversation.store_id) for user_id in team]
    if kind in (ConversationType.ADMIN_STORE, ConversationType.ADMIN_CUSTOMER):
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
    if user.is_platform_admin:
        kind = ParticipantType.ADMIN
        scope = Conversation.conversation_type.in_([ConversationType.ADMIN_STORE, ConversationType.ADMIN_CUSTOMER])
        store_value = sa.null()
    elif user.store_id is not None:
        kind = ParticipantType.STORE
        scope = sa.and_(
            Conversation.store_id == user.store_id,
            Conversation.conversation_type.in_([ConversationType.ADMIN_STORE, ConversationType.STORE_CUSTOMER]),
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
    result = db.session.execute(
        sa.insert(P).from_select(
            ["conversation_id", "participant_type", "participant_id", "store_id", "unread_count", "last_read_at",
             "email_notifications", "muted", "created_at", "updated_at"],
            source,
        )
    )
    return result.rowcount or 0


def participant_row(actor: Actor, conversation: Conversation) -> ConversationParticipant:
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
        raise ValidationError("Write a message first: an empty message cannot be sent.", field="content")
    limit = current_app.config["MESSAGE_MAX_LENGTH"]
    if len(text) > limit:
        raise ValidationError(
            f"The message is too long: {len(text):,} characters, at most {limit:,} are allowed.", field="content"
        )
    return text


def _clean_subject(subject: str | None) -> str:
    text = " ".join((subject or "").split())
    try:
        check_header_text(text, "subject")
    except UnsafeHeader:
        # An encoded word (=?utf-8?q?...=0A...?=) that decodes to a line break: the notification emails'
        # Subject header would be refused. Broken up, it reads as the plain text it is.
        text = text.replace("=?", "= ?")
    if not text:
        raise ValidationError("Give the conversation a subject.", field="subject")
    if len(text) > SUBJECT_MAX_LENGTH:
        raise ValidationError(f"The subject is too long: at most {SUBJECT_MAX_LENGTH} characters.", field="subject")
    return text


def post_message(actor: Actor, conversation: Conversation, content: str, files: Sequence[Upload] = ()) -> Message:
    """Add the actor's message; a message to a closed thread reopens it (with a system message).

    The caller loaded `conversation` through access.access_conversation, so the actor may see it.
    `files` are checked and stored first, all or nothing (services/attachments.py): a refused file or a
    storage failure raises ValidationError before anything is written. With files, the text may be empty.
    """
    files = [f for f in files if f.filename or f.size]
    content = clean_content(content) if not files or (content or "").strip() else ""
    staged = attachments.stage_uploads(files) if files else []
    if conversation.is_closed:
        _reopen(actor, conversation, reason="reopened by a new message from")
    now = utcnow()
    # The conversation row is locked first, so message ids follow commit order within a thread
    # (pollers asking for "after id N" miss nothing) and concurrent posters queue here.
    _bump_conversation(conversation.id, now)
    message = Message(
        conversation_id=conversation.id, sender_type=actor.participant_type, sender_id=actor.id, content=content,
        is_system_message=False, is_deleted=False, created_at=now, updated_at=now,
    )
    db.session.add(message)
    db.session.flush()
    if staged:
        attachments.attach_staged(message, staged)
    is_sender = sa.and_(P.participant_type == actor.participant_type, P.participant_id == actor.id)
    wants_email = sa.and_(P.email_notifications.is_(True), P.muted.is_(False))
    db.session.execute(
        sa.update(P)
        .where(P.conversation_id == conversation.id, ~is_sender)
        .values(
            unread_count=P.unread_count + 1,
            notify_pending_since=sa.case(
                (sa.and_(wants_email, P.notify_pending_since.is_(None)), now), else_=P.notify_pending_since
            ),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    # The sender has seen everything up to their own message.
    row = participant_row(actor, conversation)
    row.unread_count = 0
    row.last_read_at = now
    row.notify_pending_since = None
    db.session.flush()
    return message


def _bump_conversation(conversation_id: int, now: dt.datetime) -> None:
    db.session.execute(
        sa.update(Conversation)
        .where(Conversation.id == conversation_id)
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


def _system_message(actor: Actor, conversation: Conversation, content: str) -> Message:
    """A line such as 'Closed by ...': counted in the thread, but neither unread nor emailed."""
    now = utcnow()
    _bump_conversation(conversation.id, now)
    message = Message(
        conversation_id=conversation.id, sender_type=actor.participant_type, sender_id=actor.id, content=content,
        is_system_message=True, is_deleted=False, created_at=now, updated_at=now,
    )
    db.session.add(message)
    db.session.flush()
    return message


def _who(actor: Actor) -> str:
    side = {"admin": "the platform team", "store": "the store team", "customer": "the customer"}[actor.kind]
    return f"{actor.name} ({side})"


# --- reading ---------------------------------------------------------------------------------------------


def mark_read(actor: Actor, conversation: Conversation) -> ConversationParticipant:
    """Opening a thread: nothing unread for the reader, and no pending notification email."""
    row = participant_row(actor, conversation)
    if row.unread_count or row.notify_pending_since is not None or row.last_read_at is None:
        db.session.execute(
            sa.update(P).where(P.id == row.id)
            .values(unread_count=0, last_read_at=utcnow(), notify_pending_since=None, updated_at=utcnow())
            .execution_options(synchronize_session="fetch")
        )
    return row


def mark_unread(actor: Actor, conversation: Conversation) -> ConversationParticipant:
    """'Mark as unread': the badge shows again (at least one message), as if the last one was new."""
    row = participant_row(actor, conversation)
    db.session.execute(
        sa.update(P).where(P.id == row.id, P.unread_count < 1).values(unread_count=1, updated_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )
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
        raise PermissionDenied("Only the store or the platform team can close a conversation.")
    if conversation.is_closed:
        return conversation
    now = utcnow()
    conversation.is_closed = True
    conversation.closed_at = now
    conversation.closed_by_type = actor.participant_type
    conversation.closed_by_id = actor.id
    _system_message(actor, conversation, f"Conversation closed by {_who(actor)}.")
    db.session.flush()
    return conversation


def reopen_conversation(actor: Actor, conversation: Conversation) -> Conversation:
    if actor.is_customer:
        raise PermissionDenied("Only the store or the platform team can reopen a conversation.")
    if conversation.is_closed:
        _reopen(actor, conversation, reason="reopened by")
    return conversation


def _reopen(actor: Actor, conversation: Conversation, reason: str) -> None:
    conversation.is_closed = False
    conversation.closed_at = None
    conversation.closed_by_type = None
    conversation.closed_by_id = None
    _system_message(actor, conversation, f"Conversation {reason} {_who(actor)}.")
    db.session.flush()


def delete_message(actor: Actor, message: Message) -> Message:
    """Soft delete by its sender or an admin: others see 'message deleted', admins keep the original."""
    is_sender = message.sender_type == actor.participant_type and message.sender_id == actor.id
    if message.is_system_message or not (is_sender or actor.is_admin):
        raise PermissionDenied("You can delete only your own messages.")
    if not message.is_deleted:
        message.is_deleted = True
        message.deleted_at = utcnow()
        message.deleted_by_type = actor.participant_type
        message.deleted_by_id = actor.id
        db.session.flush()
    return message


# --- the inbox and the thread, as pages ------------------------------------------------------------------


@dataclass(frozen=True)
class InboxFilters:
    status: str = "all"  # all | open | closed
    unread_only: bool = False
    conversation_type: ConversationType | None = None
    search: str = ""


class InboxRow(NamedTuple):
    """A thread as its inbox row shows it (a tuple: a page builds 25 of them per request, cheaply)."""

    id: int
    subject: str
    conversation_type: ConversationType
    is_closed: bool
    last_message_at: dt.datetime | None
    message_count: int
    counterpart: str
    unread_count: int
    preview: str
    preview_sender_type: ParticipantType | None


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    next_cursor: str | None  # the keyset of the last row, when older threads exist
    badges: nav_badges.NavBadges | None = None  # the reader's nav badges, read with the rows (None: no rows)


def parse_cursor(raw: str | None) -> tuple[dt.datetime, int] | None:
    """The keyset 'older than this thread' from the URL; anything malformed means the first page."""
    if not raw:
        return None
    try:
        stamp, _, ident = raw.rpartition("_")
        moment = dt.datetime.fromisoformat(stamp)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment, int(ident)
    except (ValueError, TypeError):
        return None


def _cursor(row: InboxRow) -> str:
    return f"{row.last_message_at.astimezone(dt.UTC).isoformat()}_{row.id}"


@functools.cache
def _inbox_parts():
    """The aliases the inbox query joins, built once: constructing them costs more than running the query."""
    last_id = (
        sa.select(Message.id).where(Message.conversation_id == Conversation.id)
        .order_by(Message.id.desc()).limit(sa.literal_column("1")).correlate(Conversation).scalar_subquery()
    )
    return aliased(Message), aliased(Customer), aliased(Store), last_id


def _reader_value(kind: str, column):
    """The reader's own value in their participant row, looked up by its unique key (one index probe a row)."""
    return (
        sa.select(column)
        .where(
            # The kind stays a parameter: written as a constant, PostgreSQL's generic plan for the
            # admin (a reader of most threads) probes the (participant_type, participant_id) index
            # once per row instead of the unique key.
            P.conversation_id == Conversation.id,
            P.participant_type == sa.bindparam("viewer_kind", type_=P.participant_type.type),
            P.participant_id == sa.bindparam("viewer_id", type_=sa.Integer),
        )
        .correlate(Conversation).scalar_subquery()
    )


def inbox_statement(actor: Actor, filters: InboxFilters, cursor: tuple[dt.datetime, int] | None, limit: int):
    """One SELECT for a page of the actor's threads, newest activity first, with everything a row shows,
    and the values of its parameters."""
    # A NUL cannot be in PostgreSQL text (nor in the SQL the long term is written into): never a match.
    term = filters.search.replace("\x00", "").strip()
    stmt = _inbox_shape(
        actor.kind, filters.status, filters.unread_only, filters.conversation_type, _search_kind(term),
        cursor is not None, int(limit),
    )
    params = {**access.visibility_params(actor), "viewer_kind": actor.participant_type}
    if term:
        params["pattern"] = like_pattern(term)
    if cursor is not None:
        params["cursor_at"], params["cursor_id"] = cursor
    return stmt, params


def _search_kind(term: str) -> str | None:
    """None without a search; "indexed" when the term is long enough for a trigram index (3
    characters: pg_trgm has nothing to look up for less), "short" otherwise."""
    if not term:
        return None
    return "indexed" if len(term) >= 3 else "short"


@functools.lru_cache(maxsize=256)
def _inbox_shape(
    kind: str, status: str, unread_only: bool, conversation_type: ConversationType | None, search: str | None,
    keyset: bool, limit: int,
):
    # Built once per shape of filters: constructing this SELECT costs more than PostgreSQL takes to run it.
    last, customer, store, last_id = _inbox_parts()
    unread = _reader_value(kind, P.unread_count)
    stmt = (
        sa.select(  # in the order _inbox_row unpacks them
            Conversation.id, Conversation.subject, Conversation.conversation_type, Conversation.is_closed,
            Conversation.last_message_at, Conversation.message_count,
            store.name.label("store_name"), customer.name.label("customer_name"),
            # Constants as literals: the prepared statement's parameters are the reader's ids only.
            sa.func.coalesce(unread, sa.literal_column("0")).label("unread_count"),
            sa.func.substr(last.content, sa.literal_column("1"), sa.literal_column(str(PREVIEW_LENGTH + 1)))
            .label("preview"),
            last.is_deleted.label("preview_deleted"), last.sender_type.label("preview_sender_type"),
            *nav_badges.badge_columns(kind),
        )
        .select_from(Conversation)
        .outerjoin(store, store.id == Conversation.store_id)
        .outerjoin(customer, customer.id == Conversation.customer_id)
        .outerjoin(last, last.id == last_id)
    )
    conditions = [access.visibility_rule(kind)]
    if status == "open":
        conditions.append(Conversation.is_closed.is_(False))
    elif status == "closed":
        conditions.append(Conversation.is_closed.is_(True))
    if unread_only:
        conditions.append(unread > 0)
    if conversation_type is not None:
        conditions.append(Conversation.conversation_type == conversation_type)
    if keyset:
        # A row comparison, so the (…, last_message_at, id) indexes seek straight to the page.
        after = sa.tuple_(
            sa.bindparam("cursor_at", type_=sa.DateTime(timezone=True)), sa.bindparam("cursor_id", type_=sa.Integer)
        )
        conditions.append(sa.tuple_(Conversation.last_message_at, Conversation.id) < after)
    # The page size is written into the SQL: with a bound LIMIT, PostgreSQL's generic plan for the
    # prepared statement assumes a tenth of the table and keeps re-planning the admin inbox.
    page_limit = sa.literal_column(str(limit))
    newest_first = (Conversation.last_message_at.desc(), Conversation.id.desc())
    if search:
        conditions.append(_search_condition(conditions, search, newest_first, page_limit))
    return stmt.where(*conditions).order_by(*newest_first).limit(page_limit)


def _search_condition(conditions: list, search: str, newest_first: tuple, page_limit) -> sa.ColumnElement[bool]:
    """'The subject or a message's text contains the term', for the inbox filtered by `conditions`.

    `search` is "indexed" for terms of 3 characters or more (PostgreSQL's trigram indexes can serve
    them), "short" otherwise (no trigram to look up: the threads are scanned newest first, stopping
    at the page's end, which is quick for the common words that short terms mostly are; a rare short
    term reads every message the viewer can see, most of a second for an admin at a million messages).
    """
    pattern = sa.bindparam("pattern", type_=sa.String, literal_execute=search == "indexed")
    in_subject = Conversation.subject.ilike(pattern, escape="\\")
    in_messages = sa.exists().where(
        Message.conversation_id == Conversation.id, Message.is_deleted.is_(False),
        Message.content.ilike(pattern, escape="\\"),
    )
    if search == "short":
        return sa.or_(in_subject, in_messages)
    # The page of threads matching by subject and the page matching by a message, each planned on
    # its own, then the newest of both. As one OR the planner can only test every visible thread in
    # turn (a whole walk of the admin's inbox for a rare word); apart, each side chooses: the
    # trigram index for a rare word, the inbox order (stopping after a page) for a common one. The
    # term is written into the SQL (the pattern parameter is literal_execute) so that it is planned
    # with its own frequency: a prepared statement's generic plan cannot tell a rare word from a
    # common one. Duplicates between the two sides do not matter under IN.
    def page_of(match):
        return sa.select(Conversation.id).where(*conditions, match).order_by(*newest_first).limit(page_limit)

    both = sa.union_all(
        sa.select(sa.literal_column("id")).select_from(page_of(in_subject).subquery("by_subject")),
        sa.select(sa.literal_column("id")).select_from(page_of(in_messages).subquery("by_message")),
    )
    return Conversation.id.in_(both)


def inbox_page(actor: Actor, filters: InboxFilters, cursor: str | None = None, page_size: int = 25) -> InboxPage:
    """A page of the inbox in one query, whatever the number of threads, messages or readers; the
    same query reads the reader's nav badges."""
    stmt, params = inbox_statement(actor, filters, parse_cursor(cursor), page_size + 1)
    # Plain rows through the Core connection: nothing here is an ORM entity to track.
    result = db.session.connection().execute(stmt, params).all()
    rows = [_inbox_row(actor, r) for r in result[:page_size]]
    more = len(result) > page_size and rows
    badges = nav_badges.nav_badges_from_row(result[0]) if result else None
    return InboxPage(rows=rows, next_cursor=_cursor(rows[-1]) if more else None, badges=badges)


def _inbox_row(actor: Actor, r) -> InboxRow:
    # Unpacked by position, in _inbox_shape's column order (the badge columns follow): a Row's
    # attribute lookups cost more than the rest of building the row.
    (
        id_, subject, kind, is_closed, last_message_at, message_count, store_name, customer_name, unread_count,
        preview, preview_deleted, preview_sender_type,
    ) = r[:12]
    if preview_deleted:
        preview = "Message deleted"
    else:
        # Text is required unless files come with it: an empty message is one of files only.
        preview = " ".join((preview or "").split()) or "(sent a file)"
        if len(preview) > PREVIEW_LENGTH:
            preview = preview[: PREVIEW_LENGTH - 1] + "…"
    return InboxRow(
        id_, subject, kind, is_closed, last_message_at, message_count,
        counterpart_name(actor, kind, store_name, customer_name), unread_count, preview, preview_sender_type,
    )


def counterpart_name(actor: Actor, kind: ConversationType, store_name: str | None, customer_name: str | None) -> str:
    """'The other side' of a thread as the reader sees it."""
    if actor.is_admin:
        if kind is ConversationType.ADMIN_STORE:
            return store_name or "Store"
        return f"{customer_name} ({store_name})"
    if actor.is_store_user:
        return "Platform team" if kind is ConversationType.ADMIN_STORE else (customer_name or "Customer")
    return "Platform team" if kind is ConversationType.ADMIN_CUSTOMER else (store_name or "Store")


def unread_total(actor: Actor) -> int:
    """The nav badge: unread messages over the actor's threads, muted threads left out."""
    return nav_badges.read_nav_badges(actor).unread_messages


@dataclass(frozen=True)
class ThreadMessage:
    id: int
    sender_type: ParticipantType
    sender_id: int
    sender_name: str
    content: str
    is_system_message: bool
    is_deleted: bool
    deleted_at: dt.datetime | None
    deleted_by_type: ParticipantType | None
    created_at: dt.datetime
    attachments: tuple = ()  # MessageAttachment rows, in upload order


@dataclass(frozen=True)
class ThreadSlice:
    messages: list[ThreadMessage]  # oldest first
    has_older: bool


def thread_messages(
    conversation: Conversation, *, before_id: int | None = None, after_id: int | None = None,
    limit: int = THREAD_PAGE_SIZE,
) -> ThreadSlice:
    """The newest `limit` messages (or those before / after a message id), with sender names, in one query."""
    rows, has_older = _thread_rows(conversation, before_id=before_id, after_id=after_id, limit=limit)
    return ThreadSlice(messages=_thread_messages_of(rows), has_older=has_older)


@functools.cache
def _sender_aliases():
    # Made once: an alias builds (and memoizes) its columns' expressions on first use, every time anew
    # for a fresh alias; that was a third of the thread query's Python time.
    return aliased(User, name="sender_user"), aliased(Customer, name="sender_customer")


def _thread_select(conversation: Conversation):
    """The thread's messages with their senders' names: the one SELECT every view of a thread starts from."""
    sender_user, sender_customer = _sender_aliases()
    return (
        sa.select(Message, sender_user.name.label("user_name"), sender_customer.name.label("customer_name"))
        .outerjoin(
            sender_user,
            sa.and_(Message.sender_type != ParticipantType.CUSTOMER, sender_user.id == Message.sender_id),
        )
        .outerjoin(
            sender_customer,
            sa.and_(Message.sender_type == ParticipantType.CUSTOMER, sender_customer.id == Message.sender_id),
        )
        .where(Message.conversation_id == conversation.id)
    )


def _thread_rows(
    conversation: Conversation, *, before_id: int | None, after_id: int | None, limit: int
) -> tuple[list, bool]:
    """The rows of a slice of the thread, oldest first, and whether older messages exist."""
    stmt = _thread_select(conversation)
    if after_id is not None:
        rows = db.session.execute(stmt.where(Message.id > after_id).order_by(Message.id.asc()).limit(limit + 1)).all()
        # A poll that finds more than a page of new messages shows the newest page.
        if len(rows) > limit:
            return _thread_rows(conversation, before_id=None, after_id=None, limit=limit)
        return rows, False
    if before_id is not None:
        stmt = stmt.where(Message.id < before_id)
    rows = db.session.execute(stmt.order_by(Message.id.desc()).limit(limit + 1)).all()
    return list(reversed(rows[:limit])), len(rows) > limit


def _thread_messages_of(rows) -> list[ThreadMessage]:
    """Thread rows as the page shows them, with the attachments of all of them read in one query."""
    files = attachments.attachments_by_message([r.Message.id for r in rows if not r.Message.is_system_message])
    return [_thread_message(r, files.get(r.Message.id, ())) for r in rows]


# --- polling an open thread: new messages and deletions --------------------------------------------------

# How far before a poll the next poll looks again for deletions. A deletion's deleted_at is stamped
# before its transaction commits, and app servers' clocks differ a little: a deletion stamped just
# before a poll may become visible only after it. Looking back this far catches it on the next poll;
# the price is that a deletion is re-sent for a few polls, which re-renders the same element.
DELETION_GRACE = dt.timedelta(seconds=10)


@dataclass(frozen=True)
class ThreadUpdates:
    """What one poll of an open thread brings to the page."""

    new: ThreadSlice  # messages after the last one shown
    deleted: list[ThreadMessage]  # messages up to the last one shown, deleted since the previous poll
    deleted_since: str  # what the next poll sends back as its deleted_since


def deleted_since_cursor() -> str:
    """The 'deleted since' value a freshly rendered thread page starts polling with."""
    return _deleted_since_value(utcnow() - DELETION_GRACE)


def _deleted_since_value(moment: dt.datetime) -> str:
    # 'Z' rather than '+00:00': a '+' in a query string would come back as a space.
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def parse_deleted_since(raw: str | None) -> dt.datetime | None:
    """A poll's 'deleted since' value from the client; anything malformed is None (look back the grace only)."""
    if not raw:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw.strip())
    except (ValueError, TypeError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def thread_updates(
    conversation: Conversation, *, after_id: int, deleted_since: dt.datetime | None,
    oldest_shown_id: int | None = None, limit: int = THREAD_PAGE_SIZE,
) -> ThreadUpdates:
    """Messages newer than `after_id`, and messages from `oldest_shown_id` up to `after_id` deleted at or
    after `deleted_since`, in at most three queries whatever the size of the thread (new, deleted, the
    attachments of both). Deletions of older messages, which the page has not loaded, stay out: the
    page would have nowhere to put them.

    Without a usable `deleted_since` the poll looks back the grace only. At most `limit` deletions
    come at once, oldest first; the cursor then stops at the last one sent, so the next poll goes on
    from there.
    """
    # Taken before reading: a deletion committed while this poll reads is caught by the next one.
    next_since = utcnow() - DELETION_GRACE
    since = deleted_since or next_since
    new_rows, _ = _thread_rows(conversation, before_id=None, after_id=after_id, limit=limit)
    deleted_rows = db.session.execute(
        _thread_select(conversation)
        .where(Message.id <= after_id, Message.id >= (oldest_shown_id or 0), Message.deleted_at >= since)
        .order_by(Message.deleted_at.asc(), Message.id.asc())
        .limit(limit + 1)
    ).all()
    if len(deleted_rows) > limit:
        # More than a page of deletions between two polls (a reader back from a long sleep): carry on
        # from the last one sent. Inside this rare case the grace is not kept.
        deleted_rows = deleted_rows[:limit]
        next_since = deleted_rows[-1].Message.deleted_at
    shown = _thread_messages_of([*new_rows, *deleted_rows])
    return ThreadUpdates(
        new=ThreadSlice(messages=shown[: len(new_rows)], has_older=False),
        deleted=shown[len(new_rows):],
        deleted_since=_deleted_since_value(next_since),
    )


def thread_message(conversation: Conversation, message_id: int) -> ThreadMessage:
    """One message of the thread as the thread shows it (after a delete, for example)."""
    rows = thread_messages(conversation, before_id=message_id + 1, limit=1).messages
    if not rows or rows[0].id != message_id:
        raise NotFound("No such message.")
    return rows[0]


def _thread_message(row, files=()) -> ThreadMessage:
    m = row.Message
    name = row.customer_name if m.sender_type is ParticipantType.CUSTOMER else row.user_name
    return ThreadMessage(
        id=m.id, sender_type=m.sender_type, sender_id=m.sender_id, sender_name=name or "Former member",
        content=m.content, is_system_message=m.is_system_message, is_deleted=m.is_deleted,
        deleted_at=m.deleted_at, deleted_by_type=m.deleted_by_type, created_at=m.created_at,
        attachments=tuple(files),
    )
