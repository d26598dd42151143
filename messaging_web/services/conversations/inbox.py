"""The inbox as pages: filters, search, a keyset cursor, one query for a page of threads however many messages."""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ... import access
from ...actors import Actor
from ...extensions import db
from ...i18n import _
from ...models import (
    Conversation,
    ConversationParticipant,
    ConversationType,
    Customer,
    Message,
    ParticipantType,
    Store,
)
from ...models.base import LARGEST_ID
from .. import nav_badges
from ..pagination import like_pattern

P = ConversationParticipant
PREVIEW_LENGTH = 140


# --- the inbox and the thread, as pages ------------------------------------------------------------------


@dataclass(frozen=True)
class InboxFilters:
    status: str = "all"  # all | open | closed
    unread_only: bool = False
    muted: str = "any"  # any | only | hidden: the reader's muted threads
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
    muted: bool
    preview_system_text: dict | None = None  # the last message is a system line: shown in the viewer's language


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
        moment, thread_id = moment.astimezone(dt.UTC), int(ident)
    except (ValueError, TypeError, OverflowError):  # OverflowError: a moment beyond year 9999 in UTC
        return None
    # An id no INTEGER column holds is no thread's; the database would refuse to compare with it.
    return (moment, thread_id) if 0 < thread_id <= LARGEST_ID else None


def _cursor(row: InboxRow) -> str:
    assert row.last_message_at is not None  # a thread is started with its first message
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
            # once per row instead of the unique key (bench/bench_inbox.py, admin_inbox at the large scale).
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
        actor.kind, filters.status, filters.unread_only, filters.muted, filters.conversation_type,
        _search_kind(term), cursor is not None, int(limit),
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
    kind: str, status: str, unread_only: bool, muted_filter: str, conversation_type: ConversationType | None,
    search: str | None, keyset: bool, limit: int,
):
    # Built once per shape of filters: constructing this SELECT costs more than PostgreSQL takes to run it
    # (bench/bench_inbox.py: the SQL p50 column against the floor query).
    last, customer, store, last_id = _inbox_parts()
    unread = _reader_value(kind, P.unread_count)
    muted = sa.func.coalesce(_reader_value(kind, P.muted), sa.false())
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
            muted.label("muted"), last.system_text.label("preview_system_text"),
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
    if muted_filter == "only":
        conditions.append(muted.is_(True))
    elif muted_filter == "hidden":
        conditions.append(muted.is_(False))
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
    page_limit: sa.ColumnClause[int] = sa.literal_column(str(limit))
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

    both: sa.CompoundSelect[int] = sa.union_all(
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
    # By position, in _inbox_shape's column order (the badge columns follow): bench/bench_inbox.py's store
    # inbox takes 0.6 ms less per page (min 2.6 vs 3.2 ms) than with the Row's attribute lookups.
    (
        id_, subject, kind, is_closed, last_message_at, message_count, store_name, customer_name, unread_count,
        preview, preview_deleted, preview_sender_type, muted, preview_system_text,
    ) = r[:14]
    if preview_deleted:
        preview = _("Message deleted")
    else:
        # Text is required unless files come with it: an empty message is one of files only.
        preview = " ".join((preview or "").split()) or _("(sent a file)")
        if len(preview) > PREVIEW_LENGTH:
            preview = preview[: PREVIEW_LENGTH - 1] + "…"
    return InboxRow(
        id_, subject, kind, is_closed, last_message_at, message_count,
        counterpart_name(actor, kind, store_name, customer_name), unread_count, preview, preview_sender_type,
        bool(muted), preview_system_text if not preview_deleted else None,
    )


def counterpart_name(actor: Actor, kind: ConversationType, store_name: str | None, customer_name: str | None) -> str:
    """'The other side' of a thread as the reader sees it."""
    if actor.is_admin:
        if kind is ConversationType.ADMIN_STORE:
            return store_name or _("Store")
        return f"{customer_name} ({store_name})"
    if actor.is_store_user:
        return _("Platform team") if kind is ConversationType.ADMIN_STORE else (customer_name or _("Customer"))
    return _("Platform team") if kind is ConversationType.ADMIN_CUSTOMER else (store_name or _("Store"))


def unread_total(actor: Actor) -> int:
    """The nav badge: unread messages over the actor's threads, muted threads left out."""
    return nav_badges.read_nav_badges(actor).unread_messages
