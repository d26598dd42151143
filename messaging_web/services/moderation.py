"""The platform's review of store-customer conversations (issue 15, "moderation").

A platform admin may open any store-customer thread read-only, while the platform setting PLATFORM_MODERATION
is on: to check a customer's complaint about a store, or read a message a store deleted. Every opening is
recorded (who, when, which thread) in an audit that admins read; stores are told in their portal that the
platform may review their conversations. Nothing here writes to the conversation: the review marks nothing
read and posts nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from .. import access
from ..actors import Actor
from ..extensions import db
from ..models import Conversation, Customer, ModerationView, Store
from ..models.base import utcnow
from .errors import NotFound
from .pagination import Page, like_pattern, paginate


def enabled() -> bool:
    return bool(current_app.config["PLATFORM_MODERATION"])


@dataclass(frozen=True)
class ReviewFilters:
    search: str = ""  # in the subject, the store's name or slug, the customer's name or email
    store_id: int | None = None


def search_store_conversations(actor: Actor, filters: ReviewFilters, *, page: int, per_page: int) -> Page:
    """Store-customer threads the admin may review, most recent activity first, as (conversation, store
    name, customer name, customer email) rows."""
    if not actor.is_admin or not enabled():
        raise NotFound("No such page.")
    stmt = (
        access.moderated_conversations(actor)
        .with_only_columns(Conversation, Store.name, Customer.name, Customer.email)
        .outerjoin(Store, Store.id == Conversation.store_id)
        .outerjoin(Customer, Customer.id == Conversation.customer_id)
    )
    term = filters.search.replace("\x00", "").strip()
    if term:
        pattern = like_pattern(term)
        stmt = stmt.where(sa.or_(
            Conversation.subject.ilike(pattern, escape="\\"), Store.name.ilike(pattern, escape="\\"),
            Store.slug.ilike(pattern, escape="\\"), Customer.name.ilike(pattern, escape="\\"),
            Customer.email.ilike(pattern, escape="\\"),
        ))
    if filters.store_id is not None:
        stmt = stmt.where(Conversation.store_id == filters.store_id)
    stmt = stmt.order_by(Conversation.last_message_at.desc().nulls_last(), Conversation.id.desc())
    return paginate(stmt, page=page, per_page=per_page, scalars=False)


def open_for_review(actor: Actor, conversation_id: int) -> Conversation:
    """The thread, read-only, and the audit entry that says this admin opened it now (add + flush)."""
    conversation = access.access_moderated_conversation(actor, conversation_id)
    db.session.add(ModerationView(
        conversation_id=conversation.id, store_id=conversation.store_id, admin_user_id=actor.id,
        admin_name=actor.name[:255], viewed_at=utcnow(),
    ))
    db.session.flush()
    return conversation


def review_audit(actor: Actor, *, page: int, per_page: int, conversation_id: int | None = None) -> Page:
    """Who opened which store-customer thread when, newest first, as (view, subject, store name) rows.
    Readable by admins whether or not reviews are on now: the record of past ones stays."""
    if not actor.is_admin:
        raise NotFound("No such page.")
    stmt = (
        sa.select(ModerationView, Conversation.subject, Store.name)
        .join(Conversation, Conversation.id == ModerationView.conversation_id)
        .outerjoin(Store, Store.id == ModerationView.store_id)
        .order_by(ModerationView.viewed_at.desc(), ModerationView.id.desc())
    )
    if conversation_id is not None:
        stmt = stmt.where(ModerationView.conversation_id == conversation_id)
    return paginate(stmt, page=page, per_page=per_page, scalars=False)
