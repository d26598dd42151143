"""Email analytics for the admin console: per store, over a recent period, how many emails were sent
and how far they got (delivered, opened, clicked) or where they stopped (bounced, failed).

Everything is read from `status`, the furthest state an email reached (the transitions are monotone):
an opened email was delivered, a clicked one opened. So one grouped count per store answers it,
served by the (created_at, store_id, status) index without touching the rows.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from ...extensions import db
from ...models import EmailLog, EmailStatus, Store
from ...models.base import utcnow
from ..pagination import Page, like_pattern, paginate

PERIODS = (7, 30, 90)
REACHED = {
    "sent": (EmailStatus.SENT, EmailStatus.DELIVERED, EmailStatus.OPENED, EmailStatus.CLICKED, EmailStatus.BOUNCED),
    "delivered": (EmailStatus.DELIVERED, EmailStatus.OPENED, EmailStatus.CLICKED),
    "opened": (EmailStatus.OPENED, EmailStatus.CLICKED),
    "clicked": (EmailStatus.CLICKED,),
    "bounced": (EmailStatus.BOUNCED,),
    "failed": (EmailStatus.FAILED,),
    "pending": (EmailStatus.PENDING,),
}


@dataclass(frozen=True)
class Figures:
    store_id: int | None  # None: the platform's own emails (no store)
    store_name: str
    queued: int
    sent: int
    delivered: int
    opened: int
    clicked: int
    bounced: int
    failed: int
    pending: int

    def rate(self, name: str) -> float | None:
        """A share of the sent emails, or None when nothing was sent."""
        return getattr(self, name) / self.sent if self.sent else None


def _counts():
    return [sa.func.count().label("queued")] + [
        sa.func.count().filter(EmailLog.status.in_([s.value for s in statuses])).label(name)
        for name, statuses in REACHED.items()
    ]


def _figures(row, store_id, name) -> Figures:
    return Figures(store_id, name, *(getattr(row, key) or 0 for key in ("queued", *REACHED)))


def totals(*, days: int) -> Figures:
    since = utcnow() - dt.timedelta(days=days)
    row = db.session.execute(sa.select(*_counts()).where(EmailLog.created_at >= since)).one()
    return _figures(row, None, "All stores and the platform")


def by_store(*, days: int, search: str = "", page: int = 1, per_page: int = 25) -> Page:
    """One page of stores (and the platform's own emails) by emails sent, most first; stores that sent
    nothing in the period are left out. Two queries: the page, and how many there are."""
    since = utcnow() - dt.timedelta(days=days)
    grouped = (
        sa.select(EmailLog.store_id, *_counts()).where(EmailLog.created_at >= since).group_by(EmailLog.store_id)
    ).subquery()
    query = sa.select(grouped, Store.name).outerjoin(Store, Store.id == grouped.c.store_id)
    if search.strip():
        query = query.where(sa.func.lower(Store.name).like(like_pattern(search), escape="\\"))
    rows = paginate(
        query.order_by(grouped.c.sent.desc(), grouped.c.store_id.asc().nulls_first()),
        page=page, per_page=per_page, scalars=False,
    )
    items = [_figures(row, row.store_id, row.name or "Platform (no store)") for row in rows.items]
    return dataclasses.replace(rows, items=items)
