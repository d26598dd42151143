"""The email log's daily roll-ups for analytics and rates, kept by triggers on email_logs.

Each insert into email_logs, and each update that moves its status (or marks a complaint, or changes who sends
it), writes delta rows: +1 for every stage the email now counts in, -1 for every stage it left, filed under
the day it was queued. A periodic fold (services/email/email_stats.py) sums the deltas into three roll-ups,
each as fine as its pages need and no finer, so that a page sums hundreds of rows, not millions:
- per store, template and category (a store's own analytics, the admin's view of one store);
- per template and category, all stores together (the platform's chart and tables);
- per store alone, by day and by week (the admin's table of stores: a 90-day period is 13 weeks and a few
  days per store, not 90 days).
Written by the database itself, so that every path that moves a status (the delivery workers' raw UPDATEs,
webhooks, sweeps, resends) counts, and with no shared row to lock until the fold: sending never waits on a
counter.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model

# The stages an email counts in, and which statuses put it there (the status is the furthest stage reached).
STAGES = ("queued", "sent", "delivered", "opened", "clicked", "bounced", "complained", "suppressed", "failed")
STAGE_STATUSES = {
    "sent": ("sent", "delivered", "opened", "clicked", "bounced"),
    "delivered": ("delivered", "opened", "clicked"),
    "opened": ("opened", "clicked"),
    "clicked": ("clicked",),
    "bounced": ("bounced",),
    "suppressed": ("suppressed",),
    "failed": ("failed",),
}
# Providers whose event webhooks report deliveries (the platform's SMTP or file outbox report nothing).
REPORTING_PROVIDERS = ("sendgrid", "mailgun", "ses")


class StageCounts:
    """How many emails reached each stage."""

    queued: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    sent: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    delivered: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    opened: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    clicked: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    bounced: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    complained: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    suppressed: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    failed: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)


class RollUp(StageCounts):
    """A roll-up row: whether the emails' provider reports deliveries is part of every roll-up's key."""

    reports_delivery: Mapped[bool] = mapped_column(sa.Boolean, primary_key=True)


class EmailDailyStats(RollUp, Model):
    """Per day, store (its id; 0 for the platform's own emails), template ('' when none) and category."""

    __tablename__ = "email_daily_stats"
    __table_args__ = (sa.Index("ix_email_daily_stats_store_key_day", "store_key", "day"),)

    day: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    store_key: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    template_code: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    category: Mapped[str] = mapped_column(sa.String(50), primary_key=True)


class EmailDailyStatsAllStores(RollUp, Model):
    """Per day, template and category, every store and the platform together."""

    __tablename__ = "email_daily_stats_all_stores"

    day: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    template_code: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    category: Mapped[str] = mapped_column(sa.String(50), primary_key=True)


class EmailDailyStatsPerStore(RollUp, Model):
    """Per day and store, whatever the template."""

    __tablename__ = "email_daily_stats_per_store"
    __table_args__ = (sa.Index("ix_email_daily_stats_per_store_store_key_day", "store_key", "day"),)

    day: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    store_key: Mapped[int] = mapped_column(sa.Integer, primary_key=True)


class EmailWeeklyStatsPerStore(RollUp, Model):
    """Per week (its Monday) and store, whatever the template."""

    __tablename__ = "email_weekly_stats_per_store"

    week: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    store_key: Mapped[int] = mapped_column(sa.Integer, primary_key=True)


class EmailStatDelta(StageCounts, Model):
    """A change the triggers recorded and the fold has not summed yet."""

    __tablename__ = "email_stat_deltas"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(sa.Date, nullable=False)
    store_key: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    template_code: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    category: Mapped[str] = mapped_column(sa.String(50), nullable=False)
    reports_delivery: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
