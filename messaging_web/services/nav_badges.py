"""The counts in a portal's navigation, read in one SELECT or inside the page's own query.

Every portal shows the reader's unread conversation messages (muted threads left out); the admin
console also shows the unread admin notifications. Pages that already run a query (the inbox) add
these as columns to it, so the badges cost no extra round trip to the database.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import sqlalchemy as sa

from ..extensions import db
from ..models import AdminNotification, ConversationParticipant, ParticipantType

P = ConversationParticipant


@dataclass(frozen=True)
class NavBadges:
    unread_messages: int = 0
    unread_notifications: int = 0  # admins only


@functools.cache
def badge_columns(kind: str) -> tuple[sa.Label, ...]:
    """The badges of an actor of `kind` as labelled scalar subqueries, with the reader's id as the bound
    parameter viewer_id. Each is uncorrelated: PostgreSQL computes it once, not once per row."""
    # Only the reader's id is a parameter: the prepared statement keeps one plan.
    unread = sa.select(sa.func.coalesce(sa.func.sum(P.unread_count), sa.literal_column("0"))).where(
        P.participant_type == sa.bindparam(None, ParticipantType(kind), type_=P.participant_type.type,
                                           literal_execute=True),
        P.participant_id == sa.bindparam("viewer_id", type_=sa.Integer),
        # A literal 0, so that the generic plan can prove the partial index's "unread_count > 0".
        P.unread_count > sa.literal_column("0"), P.muted.is_(False),
    )
    columns = [unread.scalar_subquery().label("nav_unread_messages")]
    if kind == "admin":
        notifications = sa.select(sa.func.count(AdminNotification.id)).where(AdminNotification.is_read.is_(False))
        columns.append(notifications.scalar_subquery().label("nav_unread_notifications"))
    return tuple(columns)


def read_nav_badges(actor) -> NavBadges:
    """The actor's badges in one query; nothing for an anonymous visitor."""
    if not getattr(actor, "is_authenticated", False):
        return NavBadges()
    # Through the Core connection: plain columns, nothing for the ORM session to track (every page and every
    # live badge frame reads it).
    row = db.session.connection().execute(_badges_statement(actor.kind), {"viewer_id": actor.id}).one()
    return nav_badges_from_row(row)


@functools.cache
def _badges_statement(kind: str) -> sa.Select:
    return sa.select(*badge_columns(kind))


def nav_badges_from_row(row) -> NavBadges:
    """The badges from a row that carries badge_columns."""
    mapping = row._mapping
    return NavBadges(
        unread_messages=int(mapping["nav_unread_messages"] or 0),
        unread_notifications=int(mapping.get("nav_unread_notifications") or 0),
    )
