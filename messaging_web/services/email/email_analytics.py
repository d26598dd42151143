"""Email analytics: over a recent period, how many emails were queued and how far they got (sent, delivered,
opened, clicked) or where they stopped (bounced, complained, suppressed, failed): per day for the chart, per
store, per template and per category, for the platform (all stores, one store) and for each store.

Read from the daily roll-up (services/email/email_stats.py), never from the log itself: a 90-day page costs
the same at ten million emails as at ten. An email counts once per stage it reached (an opened email was
delivered, a clicked one opened). A delivery rate is given only over the emails whose provider reports
deliveries (the stores' SendGrid, Mailgun and SES accounts): the platform's sender reports none.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from ...extensions import db
from ...i18n import _l
from ...models import Store
from ...models.base import utcnow
from ...models.email_stats import STAGES
from ..pagination import Page, clamp_page, like_pattern
from .email_stats import summed, summed_per_store

# What the report names rows by when they are not one store (lazy: in the reader's language).
ALL_STORES = _l("All stores and the platform")
PLATFORM_ONLY = _l("Platform (no store)")

PERIODS = (7, 30, 90)
PLATFORM_KEY = 0  # the roll-up's store key of the platform's own emails
CHART_SERIES = ("sent", "delivered", "opened", "clicked", "bounced", "complained", "suppressed")


@dataclass(frozen=True)
class Figures:
    label: str  # a store's name, or a lazy string (ALL_STORES, PLATFORM_ONLY)
    store_id: int | None  # None: the platform's own emails, or a total
    queued: int = 0
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    bounced: int = 0
    complained: int = 0
    suppressed: int = 0
    failed: int = 0
    sent_reporting: int = 0  # sent through a provider that reports deliveries

    @property
    def pending(self) -> int:
        return max(0, self.queued - self.sent - self.failed - self.suppressed)

    @property
    def delivery_reported(self) -> bool:
        return self.sent_reporting > 0

    def rate(self, name: str) -> float | None:
        """A share of the sent emails (deliveries: of those whose provider reports them), or None when unknown."""
        if name == "delivered":
            return self.delivered / self.sent_reporting if self.sent_reporting else None
        return getattr(self, name) / self.sent if self.sent else None


@dataclass(frozen=True)
class Day:
    day: dt.date
    figures: Figures


def _since(days: int) -> dt.date:
    return (utcnow() - dt.timedelta(days=days - 1)).date()


def _figures(row, label: str, store_id: int | None) -> Figures:
    counts = {stage: int(getattr(row, stage) or 0) for stage in STAGES}
    return Figures(label, store_id, **counts, sent_reporting=int(row.sent_reporting or 0))


def totals(*, days: int, store_key: int | None = None, label=ALL_STORES) -> Figures:
    row = db.session.execute(summed((), since=_since(days), store_key=store_key)).one()
    return _figures(row, label, store_key or None)


def daily(*, days: int, store_key: int | None = None) -> list[Day]:
    """One entry per day of the period, oldest first, zeros included."""
    since = _since(days)
    rows = {row.day: row for row in db.session.execute(summed(("day",), since=since, store_key=store_key))}
    result = []
    for offset in range(days):
        day = since + dt.timedelta(days=offset)
        row = rows.get(day)
        figures = _figures(row, day.isoformat(), None) if row is not None else Figures(day.isoformat(), None)
        result.append(Day(day, figures))
    return result


def by_template(*, days: int, store_key: int | None = None) -> list[Figures]:
    rows = db.session.execute(summed(("template_code",), since=_since(days), store_key=store_key))
    found = [_figures(row, row.template_code or "(no template)", None) for row in rows]
    return sorted(found, key=lambda f: (-f.queued, f.label))


def by_category(*, days: int, store_key: int | None = None) -> list[Figures]:
    rows = db.session.execute(summed(("category",), since=_since(days), store_key=store_key))
    found = [_figures(row, row.category or "(unknown)", None) for row in rows]
    return sorted(found, key=lambda f: (-f.queued, f.label))


def store_label(store_key: int):
    """The name a store's figures go by (the platform's own emails have store key 0)."""
    if not store_key:
        return PLATFORM_ONLY
    name = db.session.scalar(sa.select(Store.name).where(Store.id == store_key))
    return name or _l("Store #%(id)s (deleted)", id=store_key)


def by_store(*, days: int, search: str = "", page: int = 1, per_page: int = 25) -> Page:
    """One page of stores (and the platform's own emails) by emails sent, most first; stores that sent
    nothing in the period are left out. One query counts them and reads the page (a second only for a page
    number past the end)."""
    grouped = summed_per_store(since=_since(days), today=utcnow().date()).subquery()
    query = sa.select(grouped, Store.name, sa.func.count().over().label("total")).outerjoin(
        Store, Store.id == grouped.c.store_key)
    if search.strip():
        query = query.where(sa.func.lower(Store.name).like(like_pattern(search), escape="\\"))
    query = query.order_by(grouped.c.sent.desc(), grouped.c.store_key.asc())
    page = max(1, page)
    rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    if not rows and page > 1:  # past the end: the last page
        total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())) or 0
        page = clamp_page(page, total, per_page)
        rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    total = rows[0].total if rows else 0
    items = [_figures(row, row.name or PLATFORM_ONLY, row.store_key or None) for row in rows]
    return Page(items=items, page=page, per_page=per_page, total=total)


@dataclass(frozen=True)
class Report:
    """What an analytics page shows of one scope (all stores, one store, or the platform's own emails)."""

    days: int
    totals: Figures
    daily: list[Day]
    by_template: list[Figures]
    by_category: list[Figures]
    stores: Page | None = None  # the admin's table of stores, for all stores only


def report(*, days: int, store_key: int | None, label: str, stores: Page | None = None) -> Report:
    return Report(
        days=days, totals=totals(days=days, store_key=store_key, label=label),
        daily=daily(days=days, store_key=store_key), by_template=by_template(days=days, store_key=store_key),
        by_category=by_category(days=days, store_key=store_key), stores=stores,
    )


def platform_report(*, days: int, store_key: int | None, search: str, page: int, per_page: int) -> Report:
    """The admin's page: every store with the table of stores, or one store (0: the platform's own emails)."""
    if store_key is not None:
        return report(days=days, store_key=store_key, label=store_label(store_key))
    stores = by_store(days=days, search=search, page=page, per_page=per_page)
    return report(days=days, store_key=None, label=ALL_STORES, stores=stores)
