"""An open thread: its messages in slices (newest first, 'load older'), and what changed since the page loaded."""
from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ...extensions import db
from ...models import (
    Conversation,
    Customer,
    Message,
    ParticipantType,
    User,
)
from ...models.base import utcnow
from .. import attachments
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
    attachment_note: str | None = None  # files of that email the attachment rules refused


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


def _thread_select(conversation: Conversation):
    """The thread's messages with their senders' names: the one SELECT every view of a thread starts from."""
    sender_user, sender_customer = sender_aliases()
    return join_senders(
        sa.select(Message, sender_user.name.label("user_name"), sender_customer.name.label("customer_name"))
    ).where(Message.conversation_id == conversation.id)


def _thread_rows(
    conversation: Conversation, *, before_id: int | None, after_id: int | None, limit: int
) -> tuple[Sequence[sa.Row[Any]], bool]:
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
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC)
    except (ValueError, TypeError, OverflowError):  # OverflowError: a moment beyond year 9999 in UTC
        return None


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
        attachments=tuple(files), inbound_email_id=m.inbound_email_id, attachment_note=m.attachment_note,
    )
