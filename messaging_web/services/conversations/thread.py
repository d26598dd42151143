"""An open thread: its messages in slices (newest first, 'load older'), and what changed since the page loaded."""
from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ...access import ThreadHead
from ...actors import Actor
from ...extensions import db
from ...i18n import _
from ...models import (
    Conversation,
    Customer,
    Message,
    MessageAttachment,
    ParticipantType,
    User,
)
from ...models.base import utcnow
from .. import attachments, nav_badges
from ..errors import NotFound

THREAD_PAGE_SIZE = 30


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
    inbound_email_id: int | None = None  # came by email (reply by email): the InboundEmail it came from
    attachment_note: str | None = None  # files of that email the attachment rules refused (English)
    refused_files: tuple[str, ...] = ()  # their names, for the note in the reader's language
    system_text: dict | None = None  # a system line as data, shown in the viewer's language (web/message_text.py)


@dataclass(frozen=True)
class ThreadSlice:
    messages: list[ThreadMessage]  # oldest first
    has_older: bool
    badges: nav_badges.NavBadges | None = None  # the reader's nav badges, when asked for and read with the rows


def thread_messages(
    conversation: Conversation | ThreadHead, *, before_id: int | None = None, after_id: int | None = None,
    limit: int = THREAD_PAGE_SIZE, badges_for: Actor | None = None,
) -> ThreadSlice:
    """The newest `limit` messages (or those before / after a message id), with sender names, in one query;
    with `badges_for`, the same query reads that reader's nav badges (the page needs no query of its own)."""
    rows, has_older = _thread_rows(
        conversation, before_id=before_id, after_id=after_id, limit=limit,
        badges_kind=badges_for.kind if badges_for is not None else None,
        viewer_id=badges_for.id if badges_for is not None else None,
    )
    badges = nav_badges.nav_badges_from_row(rows[0]) if badges_for is not None and rows else None
    return ThreadSlice(messages=_thread_messages_of(rows), has_older=has_older, badges=badges)


SelectFromMessage = TypeVar("SelectFromMessage", bound=sa.Select)


@functools.cache
def sender_aliases():
    """The sender's account as (user, customer) aliases, for a select from Message joined by join_senders."""
    # Made once: an alias builds (and memoizes) its columns' expressions on first use, every time anew
    # for a fresh alias; that was a third of the thread query's Python time.
    return aliased(User, name="sender_user"), aliased(Customer, name="sender_customer")


def join_senders(stmt: SelectFromMessage) -> SelectFromMessage:
    """A select from Message joined to the account that sent each message (the sender_aliases)."""
    sender_user, sender_customer = sender_aliases()
    return stmt.outerjoin(
        sender_user,
        sa.and_(Message.sender_type != ParticipantType.CUSTOMER, sender_user.id == Message.sender_id),
    ).outerjoin(
        sender_customer,
        sa.and_(Message.sender_type == ParticipantType.CUSTOMER, sender_customer.id == Message.sender_id),
    )


def _thread_select(badges_kind: str | None = None):
    """The thread's messages (conversation_id a parameter) as plain columns, in the order _thread_message
    unpacks them, with their senders' names: the one SELECT every view of a thread starts from."""
    # Columns, not the Message entity: building 31 entities cost more than PostgreSQL takes for the query
    # (bench/bench_inbox.py, the thread pages).
    sender_user, sender_customer = sender_aliases()
    # Whether a message has files, so that a thread without any needs no query for them.
    has_files = sa.exists().where(MessageAttachment.message_id == Message.id)
    badges = nav_badges.badge_columns(badges_kind) if badges_kind else ()
    return join_senders(sa.select(
        Message.id, Message.sender_type, Message.sender_id, Message.content, Message.is_system_message,
        Message.is_deleted, Message.deleted_at, Message.deleted_by_type, Message.created_at,
        Message.inbound_email_id, Message.attachment_note,
        sender_user.name.label("user_name"), sender_customer.name.label("customer_name"),
        has_files.label("has_files"), Message.system_text, Message.refused_files, *badges,
    )).where(Message.conversation_id == sa.bindparam("conversation_id", type_=sa.Integer))


@functools.lru_cache(maxsize=64)
def _slice_statement(direction: str, limit: int, badges_kind: str | None) -> sa.Select:
    # Built once per shape (newest | before | after, page size, whose badges): building the select cost
    # as much as running it. Unlike the inbox's, the LIMIT stays a parameter: with the page size written
    # into the SQL, PostgreSQL's generic plan for the prepared statement expects a thread of 10 messages,
    # reads all of them and sorts, 10 ms for a thread of 5,000 (bench/bench_inbox.py, thread_big).
    stmt = _thread_select(badges_kind)
    page_limit = int(limit) + 1
    if direction == "after":
        return stmt.where(Message.id > sa.bindparam("after_id", type_=sa.Integer)).order_by(
            Message.id.asc()).limit(page_limit)
    if direction == "before":
        stmt = stmt.where(Message.id < sa.bindparam("before_id", type_=sa.Integer))
    return stmt.order_by(Message.id.desc()).limit(page_limit)


def _read_rows(stmt: sa.Select, params: dict) -> Sequence[sa.Row[Any]]:
    # Plain rows through the Core connection: nothing here is an ORM entity to track. Flushed first, as
    # the ORM's execute would: a message this request has just added is in the thread.
    db.session.flush()
    return db.session.connection().execute(stmt, params).all()


def _thread_rows(
    conversation: Conversation | ThreadHead, *, before_id: int | None, after_id: int | None, limit: int,
    badges_kind: str | None = None, viewer_id: int | None = None,
) -> tuple[Sequence[sa.Row[Any]], bool]:
    """The rows of a slice of the thread, oldest first, and whether older messages exist."""
    params: dict[str, Any] = {"conversation_id": conversation.id}
    if badges_kind is not None:
        params["viewer_id"] = viewer_id
    if after_id is not None:
        params["after_id"] = after_id
        rows = _read_rows(_slice_statement("after", limit, badges_kind), params)
        # A poll that finds more than a page of new messages shows the newest page.
        if len(rows) > limit:
            return _thread_rows(
                conversation, before_id=None, after_id=None, limit=limit, badges_kind=badges_kind,
                viewer_id=viewer_id,
            )
        return rows, False
    if before_id is not None:
        params["before_id"] = before_id
    rows = _read_rows(_slice_statement("newest" if before_id is None else "before", limit, badges_kind), params)
    return list(reversed(rows[:limit])), len(rows) > limit


def _thread_messages_of(rows) -> list[ThreadMessage]:
    """Thread rows as the page shows them, with the attachments of all of them read in one query (none
    when no message has files)."""
    # By position, in _thread_select's column order: id 0, is_system_message 4, has_files 13, system_text 14,
    # refused_files 15.
    with_files = [r[0] for r in rows if r[13] and not r[4]]
    files = attachments.attachments_by_message(with_files) if with_files else {}
    return [_thread_message(r, files.get(r[0], ())) for r in rows]


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
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC)
    except (ValueError, TypeError, OverflowError):  # OverflowError: a moment beyond year 9999 in UTC
        return None


def thread_updates(
    conversation: Conversation | ThreadHead, *, after_id: int, deleted_since: dt.datetime | None,
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
    deleted_rows = _read_rows(_deleted_statement(limit), {
        "conversation_id": conversation.id, "after_id": after_id, "oldest_id": oldest_shown_id or 0, "since": since,
    })
    if len(deleted_rows) > limit:
        # More than a page of deletions between two polls (a reader back from a long sleep): carry on
        # from the last one sent. Inside this rare case the grace is not kept.
        deleted_rows = deleted_rows[:limit]
        next_since = deleted_rows[-1].deleted_at
    shown = _thread_messages_of([*new_rows, *deleted_rows])
    return ThreadUpdates(
        new=ThreadSlice(messages=shown[: len(new_rows)], has_older=False),
        deleted=shown[len(new_rows):],
        deleted_since=_deleted_since_value(next_since),
    )


@functools.lru_cache(maxsize=8)
def _deleted_statement(limit: int) -> sa.Select:
    """The shown messages deleted since a moment, oldest deletion first (a poll's second query)."""
    return (
        _thread_select()
        .where(
            Message.id <= sa.bindparam("after_id", type_=sa.Integer),
            Message.id >= sa.bindparam("oldest_id", type_=sa.Integer),
            Message.deleted_at >= sa.bindparam("since", type_=sa.DateTime(timezone=True)),
        )
        .order_by(Message.deleted_at.asc(), Message.id.asc())
        .limit(int(limit) + 1)
    )


def thread_message(conversation: Conversation, message_id: int) -> ThreadMessage:
    """One message of the thread as the thread shows it (after a delete, for example)."""
    rows = thread_messages(conversation, before_id=message_id + 1, limit=1).messages
    if not rows or rows[0].id != message_id:
        raise NotFound("No such message.")
    return rows[0]


def _thread_message(row, files=()) -> ThreadMessage:
    (
        id_, sender_type, sender_id, content, is_system_message, is_deleted, deleted_at, deleted_by_type,
        created_at, inbound_email_id, attachment_note, user_name, customer_name,
    ) = row[:13]
    name = customer_name if sender_type is ParticipantType.CUSTOMER else user_name
    return ThreadMessage(
        id=id_, sender_type=sender_type, sender_id=sender_id, sender_name=name or _("Former member"),
        content=content, is_system_message=is_system_message, is_deleted=is_deleted,
        deleted_at=deleted_at, deleted_by_type=deleted_by_type, created_at=created_at,
        attachments=tuple(files), inbound_email_id=inbound_email_id, attachment_note=attachment_note,
        system_text=row[14] if is_system_message else None,
        refused_files=tuple(row[15] or ()) if attachment_note else (),
    )
