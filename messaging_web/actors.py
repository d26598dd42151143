"""The Actor behind every request (kind, id, store_id), the Flask-Login loader and the portal guards."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import abort, redirect, request, url_for
from flask_login import AnonymousUserMixin, UserMixin, current_user

from .extensions import db, login_manager
from .models import Customer, ParticipantType, Store, StoreTier, User

__all__ = [
    "ADMIN", "CUSTOMER", "STORE", "Actor", "Anonymous", "PortalStore", "current_actor", "load_actor", "require_portal",
]

ADMIN = "admin"
STORE = "store"
CUSTOMER = "customer"


@dataclass(frozen=True)
class PortalStore:
    """The signed-in account's store as its portal shows it, read with the account on every request.

    Plain data: the store and customer portals need it on every page, and an ORM entity costs more to
    load than the query takes. Services that change the store load it with access.own_store.
    """

    id: int
    slug: str
    name: str
    tier: str
    default_language: str

    @property
    def tier_enum(self) -> StoreTier:
        return StoreTier(self.tier)


@dataclass(frozen=True, eq=False)
class Actor(UserMixin):
    """Who is asking: a platform admin, a member of one store's team, or a customer of one store."""

    kind: str
    id: int
    store_id: int | None
    name: str
    email: str
    language: str
    timezone: str
    session_version: int
    store: PortalStore | None = None  # set by the login loader for store team members and customers
    # Whether the person chose their language / zone (messaging_web/i18n.py decides for them until then).
    language_saved: bool = False
    timezone_saved: bool = False

    @classmethod
    def for_user(cls, user: User | sa.Row[Any], store: PortalStore | None = None) -> Actor:
        """From a User row (or a result row with the same column names)."""
        return cls(
            kind=ADMIN if user.is_platform_admin else STORE,
            id=user.id,
            store_id=None if user.is_platform_admin else user.store_id,
            name=user.name,
            email=user.email,
            language=user.preferred_language,
            timezone=user.timezone,
            session_version=user.session_version,
            store=store,
            language_saved=user.language_saved_at is not None,
            timezone_saved=user.timezone_saved_at is not None,
        )

    @classmethod
    def for_customer(cls, customer: Customer | sa.Row[Any], store: PortalStore | None = None) -> Actor:
        return cls(
            kind=CUSTOMER,
            id=customer.id,
            store_id=customer.store_id,
            name=customer.name,
            email=customer.email,
            language=customer.preferred_language,
            timezone=customer.timezone,
            session_version=customer.session_version,
            store=store,
            language_saved=customer.language_saved_at is not None,
            timezone_saved=customer.timezone_saved_at is not None,
        )

    @property
    def is_admin(self) -> bool:
        return self.kind == ADMIN

    @property
    def is_store_user(self) -> bool:
        return self.kind == STORE

    @property
    def is_customer(self) -> bool:
        return self.kind == CUSTOMER

    @property
    def participant_type(self) -> ParticipantType:
        return ParticipantType(self.kind)

    def get_id(self) -> str:
        table = "customer" if self.is_customer else "user"
        return f"{table}:{self.id}:{self.session_version}"

    @functools.cached_property
    def account(self) -> User | Customer:
        """The row behind the actor, for services that change it (password, session version)."""
        if self.is_customer:
            return db.session.get_one(Customer, self.id)
        return db.session.get_one(User, self.id)


class Anonymous(AnonymousUserMixin):
    kind = None
    store_id = None
    is_admin = is_store_user = is_customer = False


login_manager.anonymous_user = Anonymous


@login_manager.user_loader
def load_actor(session_id: str) -> Actor | None:
    try:
        table, raw_id, raw_version = session_id.split(":")
        account_id, version = int(raw_id), int(raw_version)
    except (ValueError, AttributeError):
        return None
    model = {"user": User, "customer": Customer}.get(table)
    if model is None:
        return None
    # The account's store comes in the same query: store portals show it on every page (the portal
    # guard, access.portal_store, checks the URL's store against it without another round trip).
    # Plain rows through the Core connection: nothing here is an ORM entity to track.
    row = db.session.connection().execute(_account_with_store(model), {"account_id": account_id}).first()
    if row is None or not row.is_active or row.session_version != version:
        return None
    store = None
    if row.store_row_id is not None:
        store = PortalStore(
            id=row.store_row_id, slug=row.store_slug, name=row.store_name, tier=row.store_tier,
            default_language=row.store_default_language,
        )
    return Actor.for_customer(row, store) if model is Customer else Actor.for_user(row, store)


@functools.cache
def _account_with_store(model) -> sa.Select:
    # Built once: the loader runs on every request. The account as plain columns, the fields the
    # Actor holds (Actor.account loads the entity for the few views that change it).
    columns = [
        model.id, model.name, model.email, model.store_id, model.preferred_language, model.timezone,
        model.session_version, model.is_active, model.language_saved_at, model.timezone_saved_at,
    ]
    if model is User:
        columns.append(User.is_platform_admin)
    store_columns = [
        Store.id.label("store_row_id"), Store.slug.label("store_slug"), Store.name.label("store_name"),
        Store.tier.label("store_tier"), Store.default_language.label("store_default_language"),
    ]
    return (
        sa.select(*columns, *store_columns).outerjoin(Store, Store.id == model.store_id)
        .where(model.id == sa.bindparam("account_id", type_=sa.Integer))
    )


def current_actor() -> Actor:
    """Who is asking, the one way views read it: the Actor itself, not Flask-Login's proxy (views read it
    several times per request). Behind a portal guard or login_required it is signed in; elsewhere it may be
    the Anonymous visitor."""
    return current_user._get_current_object()


def require_portal(kind: str, login_endpoint: str, **login_args):
    """Guard for a blueprint's before_request: signed-in actors of `kind` only.

    Anonymous visitors go to the portal's login page (with a local `next`); someone signed in
    for another portal gets 403. Store and customer portals also check the store, through
    access.portal_store, which answers 404 for a store that is not the actor's.
    """
    if not current_user.is_authenticated:
        return redirect(url_for(login_endpoint, next=request.full_path.rstrip("?"), **login_args))
    if current_user.kind != kind:
        abort(403)
    return None
