"""Every load-and-authorise helper for tenant data, in one place to review.

A row of another tenant is a NotFound, the same as a row that does not exist.
"""
from __future__ import annotations

import sqlalchemy as sa

from .auth import Actor
from .extensions import db
from .models import AdminNotification, EmailLog, Store
from .services.errors import NotFound


def store_by_slug(slug: str) -> Store:
    """Public lookup of a store for its login pages (store name and slug are not secret)."""
    store = db.session.scalar(sa.select(Store).where(Store.slug == slug))
    if store is None:
        raise NotFound("No such store.")
    return store


def portal_store(actor: Actor, slug: str) -> Store:
    """The store whose portal (store team or customer inbox) the actor is in; 404 if not theirs."""
    store = store_by_slug(slug)
    if actor.store_id != store.id:
        raise NotFound("No such store.")
    return store


def access_email_log(actor: Actor, log_id: int) -> EmailLog:
    """An email log row: any for a platform admin, the store's own for its team; NotFound otherwise."""
    row = db.session.get(EmailLog, log_id)
    if row is None or not (actor.is_admin or (actor.is_store_user and row.store_id == actor.store_id)):
        raise NotFound("No such email.")
    return row


def access_admin_notification(actor: Actor, notification_id: int) -> AdminNotification:
    """Admin notifications are for platform admins only; anyone else gets NotFound."""
    notification = db.session.get(AdminNotification, notification_id) if actor.is_admin else None
    if notification is None:
        raise NotFound("No such notification.")
    return notification
