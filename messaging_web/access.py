"""Every load-and-authorise helper for tenant data, in one place to review.

A row of another tenant is a NotFound, the same as a row that does not exist.
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa

from .actors import Actor, PortalStore
from .extensions import db
from .models import AdminNotification, EmailLog, EmailSuppression, Store
from .services.errors import NotFound


def store_by_slug(slug: str) -> Store:
    """Public lookup of a store for its login pages (store name and slug are not secret)."""
    store = db.session.scalar(sa.select(Store).where(Store.slug == slug))
    if store is None:
        raise NotFound("No such store.")
    return store


def admin_store_choices(actor: Actor) -> list[tuple[int, str]]:
    """(id, name) of every store, by name, for a platform admin's pickers; nothing for anyone else."""
    if not actor.is_admin:
        return []
    return [(row.id, row.name) for row in db.session.execute(sa.select(Store.id, Store.name).order_by(Store.name))]


def portal_store(actor: Actor, slug: str) -> PortalStore:
    """The store whose portal (store team or customer inbox) the actor is in; 404 if not theirs."""
    # The actor's own store, read by the login loader with the account: no query here.
    store = actor.store
    if store is None or actor.store_id != store.id or store.slug != slug:
        raise NotFound("No such store.")
    return store


def own_store(actor: Actor) -> Store:
    """The actor's own store as an entity, for services that read or change its settings."""
    store = db.session.get(Store, actor.store_id) if actor.store_id is not None else None
    if store is None or actor.is_admin:
        raise NotFound("No such store.")
    return store


def access_email_log(actor: Actor, log_id: int) -> EmailLog:
    """An email log row: any for a platform admin, the store's own for its team; NotFound otherwise."""
    row = db.session.get(EmailLog, log_id)
    if row is None or not (actor.is_admin or (actor.is_store_user and row.store_id == actor.store_id)):
        raise NotFound("No such email.")
    return row


def suppression_lists_of(actor: Actor) -> int | None:
    """Whose suppression list the actor reads: a store's team its store's (its id), a platform admin every
    list (None)."""
    return None if actor.is_admin else actor.store_id


def access_suppression(actor: Actor, suppression_id: int, *, for_update: bool = False) -> EmailSuppression:
    """A suppression the actor may remove: any for a platform admin; for a store's team only its store's own
    (complaints and unsubscribes), not the platform-wide bounces it also sees. NotFound otherwise."""
    query = sa.select(EmailSuppression).where(EmailSuppression.id == suppression_id)
    if not actor.is_admin:
        query = query.where(EmailSuppression.store_id == actor.store_id)
    row = db.session.scalar(query.with_for_update() if for_update else query)
    if row is None:
        raise NotFound("This address is not on the list (any more).")
    return row


# --- Conversations -------------------------------------------------------------------------------
# Who sees what: platform admins every admin_store and admin_customer thread; a store's team the
# store's admin_store and store_customer threads; a customer only their own threads.


def _conversation_types(*kinds) -> list[sa.ColumnElement]:
    # Constants of the code, written into the SQL text: PostgreSQL then plans them as known values (bound
    # parameters would leave a prepared statement's generic plan guessing). Written when the statement is
    # compiled, so the compiled form is cached with them; a literal_execute parameter was rendered into the
    # text anew on every execution (a tenth of a reply by email's time, bench/bench_inbound.py).
    assert all(kind.value.isidentifier() for kind in kinds)
    return [sa.literal_column(f"'{kind.value}'") for kind in kinds]


def conversation_visibility(actor: Actor) -> sa.ColumnElement[bool]:
    """The SQL condition 'the actor may see this conversation'; every conversation query uses it."""
    params = visibility_params(actor)
    return _visibility(actor.kind, params["viewer_id"], params["viewer_store_id"])


@functools.cache
def visibility_rule(kind: str | None) -> sa.ColumnElement[bool]:
    """conversation_visibility for every actor of `kind`, with the actor's ids left as the bound
    parameters viewer_id and viewer_store_id (values: visibility_params). Hot queries (the inbox)
    build their statement once per shape around it instead of once per request."""
    return _visibility(
        kind, sa.bindparam("viewer_id", type_=sa.Integer), sa.bindparam("viewer_store_id", type_=sa.Integer)
    )


def visibility_params(actor: Actor) -> dict:
    """The values of visibility_rule's parameters for this actor."""
    # A store user without a store sees nothing: -1 matches no store.
    store_id = actor.store_id if actor.store_id is not None else -1
    return {"viewer_id": getattr(actor, "id", None), "viewer_store_id": store_id}


def _visibility(kind: str | None, viewer_id, viewer_store_id) -> sa.ColumnElement[bool]:
    from .models import CONVERSATION_TYPES_SEEN, Conversation, ParticipantType

    if kind not in ParticipantType.values():
        return sa.false()
    seen = Conversation.conversation_type.in_(_conversation_types(*CONVERSATION_TYPES_SEEN[ParticipantType(kind)]))
    if kind == "admin":
        return seen
    if kind == "store":
        return sa.and_(Conversation.store_id == viewer_store_id, seen)
    return sa.and_(Conversation.customer_id == viewer_id, Conversation.store_id == viewer_store_id, seen)


def may_see_thread_event(actor: Actor, scope: dict) -> bool:
    """Whether a live event about a thread (services/live: its type, store and customer) is for a thread the
    actor may see: _visibility's rule, in memory, applied by a stream to every event before it is sent."""
    from .models import CONVERSATION_TYPES_SEEN, ConversationType, ParticipantType

    kind = getattr(actor, "kind", None)
    if kind not in ParticipantType.values():
        return False
    try:
        conversation_type = ConversationType(str(scope.get("conversation_type")))
    except ValueError:
        return False
    if conversation_type not in CONVERSATION_TYPES_SEEN[ParticipantType(kind)]:
        return False
    if kind == "admin":
        return True
    if actor.store_id is None or scope.get("store_id") != actor.store_id:
        return False
    return kind == "store" or scope.get("customer_id") == actor.id


def visible_conversations(actor: Actor) -> sa.Select:
    """SELECT of the conversations the actor may see (callers add order, filters, columns)."""
    from .models import Conversation

    return sa.select(Conversation).where(conversation_visibility(actor))


def access_conversation(actor: Actor, conversation_id: int):
    """The conversation with its store and customer loaded, if the actor may see it; else NotFound."""
    conversation = db.session.scalar(
        _conversation_by_id(actor.kind), {"conversation_id": conversation_id, **visibility_params(actor)}
    )
    if conversation is None:
        raise NotFound("No such conversation.")
    return conversation


@dataclass(frozen=True)
class ThreadHead:
    """A conversation as its thread page shows it, with the reader's own row: plain columns, read by
    access_thread_head in one query (no ORM entities: loading them cost more than the query)."""

    id: int
    conversation_type: Any  # ConversationType
    subject: str
    store_id: int | None
    customer_id: int | None
    is_closed: bool
    closed_at: dt.datetime | None
    store_name: str | None
    customer_name: str | None
    # The reader's row (ConversationParticipant) of the actor; reader_id None: the actor has none yet.
    reader_id: int | None
    unread_count: int | None
    last_read_at: dt.datetime | None
    notify_pending_since: dt.datetime | None
    muted: bool | None
    email_notifications: bool | None


def access_thread_head(actor: Actor, conversation_id: int) -> ThreadHead:
    """access_conversation for a page that only shows the thread: the same rule (visibility_rule), read as
    a ThreadHead with the store's and customer's names and the actor's reader row; else NotFound."""
    row = db.session.connection().execute(
        _thread_head_by_id(actor.kind),
        {"conversation_id": conversation_id, "viewer_kind": actor.participant_type, **visibility_params(actor)},
    ).first()
    if row is None:
        raise NotFound("No such conversation.")
    return ThreadHead(*cast(tuple[Any, ...], row))


@functools.cache
def _thread_head_by_id(kind: str | None) -> sa.Select:
    # Built once per kind of actor, like _conversation_by_id; columns in ThreadHead's order.
    from .models import Conversation, ConversationParticipant, Customer

    reader = ConversationParticipant
    return (
        sa.select(
            Conversation.id, Conversation.conversation_type, Conversation.subject, Conversation.store_id,
            Conversation.customer_id, Conversation.is_closed, Conversation.closed_at,
            Store.name.label("store_name"), Customer.name.label("customer_name"),
            reader.id.label("reader_id"), reader.unread_count, reader.last_read_at, reader.notify_pending_since,
            reader.muted, reader.email_notifications,
        )
        .outerjoin(Store, Store.id == Conversation.store_id)
        .outerjoin(Customer, Customer.id == Conversation.customer_id)
        # The reader's row by its unique key (conversation, kind, id): at most one.
        .outerjoin(reader, sa.and_(
            reader.conversation_id == Conversation.id,
            reader.participant_type == sa.bindparam("viewer_kind", type_=reader.participant_type.type),
            reader.participant_id == sa.bindparam("viewer_id", type_=sa.Integer),
        ))
        .where(visibility_rule(kind), Conversation.id == sa.bindparam("conversation_id", type_=sa.Integer))
    )


@functools.cache
def _conversation_by_id(kind: str | None) -> sa.Select:
    # One statement per kind of actor, built once: every thread page and every reply by email loads its
    # conversation through it, and building the select with its loader options cost more than running it.
    from sqlalchemy.orm import joinedload

    from .models import Conversation

    return (
        sa.select(Conversation)
        .where(visibility_rule(kind), Conversation.id == sa.bindparam("conversation_id", type_=sa.Integer))
        .options(joinedload(Conversation.store), joinedload(Conversation.customer))
    )


def moderation_visibility(actor: Actor) -> sa.ColumnElement[bool]:
    """The SQL condition 'a store-customer thread the actor may review': platform admins, while the platform
    setting PLATFORM_MODERATION is on. Read-only: no write path loads conversations through it."""
    from flask import current_app

    from .models import Conversation, ConversationType

    if not (actor.is_admin and current_app.config["PLATFORM_MODERATION"]):
        return sa.false()
    return Conversation.conversation_type == ConversationType.STORE_CUSTOMER


def moderated_conversations(actor: Actor) -> sa.Select:
    """SELECT of the store-customer conversations the actor may review (none but for admins)."""
    from .models import Conversation

    return sa.select(Conversation).where(moderation_visibility(actor))


def access_moderated_conversation(actor: Actor, conversation_id: int):
    """A store-customer conversation for an admin's read-only review, its store and customer loaded."""
    from sqlalchemy.orm import joinedload

    from .models import Conversation

    conversation = db.session.scalar(
        moderated_conversations(actor).where(Conversation.id == conversation_id)
        .options(joinedload(Conversation.store), joinedload(Conversation.customer))
    )
    if conversation is None:
        raise NotFound("No such conversation.")
    return conversation


def access_message(actor: Actor, conversation, message_id: int):
    """A message of a conversation the actor has already accessed; NotFound if it is in another one."""
    from .models import Message

    message = db.session.scalar(
        sa.select(Message).where(Message.id == message_id, Message.conversation_id == conversation.id)
    )
    if message is None:
        raise NotFound("No such message.")
    return message


def access_attachment(actor: Actor, attachment_id: int):
    """An attachment of a message in a conversation the actor may see; NotFound otherwise.

    The files of a deleted message are hidden like its text: only platform admins still reach them.
    """
    from .models import Conversation, Message, MessageAttachment

    row = db.session.execute(
        sa.select(MessageAttachment, Message.is_deleted)
        .join(Message, Message.id == MessageAttachment.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(MessageAttachment.id == attachment_id,
               sa.or_(conversation_visibility(actor), moderation_visibility(actor)))
    ).first()
    if row is None or (row.is_deleted and not actor.is_admin):
        raise NotFound("No such attachment.")
    return row.MessageAttachment


def access_conversation_partner_store(actor: Actor, store_id: int) -> Store:
    """A store the actor may start a conversation with: any store for an admin, none for others."""
    store = db.session.get(Store, store_id) if actor.is_admin else None
    if store is None:
        raise NotFound("No such store.")
    return store


def access_conversation_partner_customer(actor: Actor, store_id: int | None, email: str):
    """A customer the actor may write to, by email: an admin picks the store, a team its own store."""
    from .models import Customer

    if actor.is_store_user:
        store_id = actor.store_id
    elif not actor.is_admin:
        store_id = None
    customer = None
    if store_id is not None:
        customer = db.session.scalar(
            sa.select(Customer).where(
                Customer.store_id == store_id, Customer.email == (email or "").strip().lower()
            )
        )
    if customer is None:
        raise NotFound("No such customer.")
    return customer


def search_partner_customers(actor: Actor, store_id: int | None, term: str, *, limit: int = 10) -> list:
    """The customers the actor may start a conversation with whose name or email contains `term`, by name:
    a team its own store's, an admin those of the store it picked, nobody else any."""
    from .models import Customer
    from .services.pagination import like_pattern

    if actor.is_store_user:
        store_id = actor.store_id
    elif not actor.is_admin:
        store_id = None
    term = (term or "").replace("\x00", "").strip()
    if store_id is None or not term:
        return []
    pattern = like_pattern(term)
    return list(db.session.scalars(
        sa.select(Customer)
        .where(Customer.store_id == store_id, Customer.is_active.is_(True),
               sa.or_(Customer.email.ilike(pattern, escape="\\"), Customer.name.ilike(pattern, escape="\\")))
        .order_by(Customer.name, Customer.id).limit(limit)
    ))


def access_admin_notification(actor: Actor, notification_id: int) -> AdminNotification:
    """Admin notifications are for platform admins only; anyone else gets NotFound."""
    notification = db.session.get(AdminNotification, notification_id) if actor.is_admin else None
    if notification is None:
        raise NotFound("No such notification.")
    return notification


def visible_inbound_emails(actor: Actor) -> sa.Select:
    """SELECT of the received emails (reply by email) the actor may see: an admin all of them; a store's
    team those of the threads it may see; customers none. A row no thread was found for is the platform's."""
    from .models import Conversation, InboundEmail

    stmt = sa.select(InboundEmail)
    if actor.is_admin:
        return stmt
    if not actor.is_store_user:
        return stmt.where(sa.false())
    return stmt.join(Conversation, Conversation.id == InboundEmail.conversation_id).where(
        conversation_visibility(actor), InboundEmail.store_id == actor.store_id,
    )


def access_inbound_email(actor: Actor, inbound_id: int):
    """A received email the actor may see; else NotFound (another store's, like a missing one)."""
    from .models import InboundEmail

    row = db.session.scalar(visible_inbound_emails(actor).where(InboundEmail.id == inbound_id))
    if row is None:
        raise NotFound("No such email.")
    return row
