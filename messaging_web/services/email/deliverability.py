"""A store's bounce and complaint rates over the last 7 and 30 days, judged against the thresholds mail
providers hold senders to (Gmail and Yahoo: complaints under 0.3%), with an admin alert above them."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import current_app

from ...extensions import db
from ...i18n import _l
from ...models import NotificationPriority, NotificationType, Store
from ...models.base import utcnow
from .. import notification_texts, notifications
from . import email_stats

WINDOWS = (7, 30)
WARNING, CRITICAL = "warning", "critical"


@dataclass(frozen=True)
class Rates:
    days: int
    sent: int
    bounced: int
    complained: int

    @property
    def bounce_rate(self) -> float | None:
        """In percent of the emails sent; None when nothing was sent."""
        return 100 * self.bounced / self.sent if self.sent else None

    @property
    def complaint_rate(self) -> float | None:
        return 100 * self.complained / self.sent if self.sent else None


@dataclass(frozen=True)
class RateWarning:
    level: str  # warning | critical
    what: str  # "complaint rate" | "hard bounce rate"
    rate: float
    threshold: float
    days: int

    @property
    def advice(self):
        if self.what == "complaint rate":
            return _l("Send marketing emails only to people who asked for them, make the unsubscribe link easy to "
                      "find, and stop mailing addresses that have not opened anything in months.")
        return _l("Remove old or typed-in addresses you have not confirmed, and ask customers to confirm their "
                  "address when they sign up.")


def store_rates(store_id: int, days: int) -> Rates:
    """Over the emails queued today and the days-1 days before, read from the daily roll-up."""
    since = (utcnow() - dt.timedelta(days=days - 1)).date()
    row = db.session.execute(email_stats.summed((), since=since, store_key=store_id)).one()
    return Rates(days, int(row.sent), int(row.bounced), int(row.complained))


def warnings_for(store_id: int) -> list[RateWarning]:
    """The thresholds a store's rates are over, worst first, per window; none below the minimum volume."""
    config = current_app.config
    found: list[RateWarning] = []
    for days in WINDOWS:
        rates = store_rates(store_id, days)
        if rates.sent < config["DELIVERABILITY_MIN_SENT"]:
            continue
        for what, rate, warn, critical in (
            ("complaint rate", rates.complaint_rate, config["COMPLAINT_RATE_WARN"], config["COMPLAINT_RATE_CRITICAL"]),
            ("hard bounce rate", rates.bounce_rate, config["BOUNCE_RATE_WARN"], config["BOUNCE_RATE_CRITICAL"]),
        ):
            if rate is None or rate < warn:
                continue
            level, threshold = (CRITICAL, critical) if rate >= critical else (WARNING, warn)
            found.append(RateWarning(level, what, rate, threshold, days))
    return sorted(found, key=lambda w: (w.level != CRITICAL, w.days))


_RATE_PHRASES = {"complaint rate": "complaint_rate", "hard bounce rate": "bounce_rate"}


def check_store(store_id: int) -> None:
    """After a bounce or a complaint: tell the platform's admins when the store crosses a threshold, once per
    store and level while that notice is unread."""
    found = warnings_for(store_id)
    if not found:
        return
    store = db.session.get_one(Store, store_id)
    for level in (CRITICAL, WARNING):
        at_level = [w for w in found if w.level == level]
        if not at_level:
            continue
        rates = [  # as ratios (0.004), shown as percentages in the reader's language
            notification_texts.phrase(
                "rate_over_threshold", what=notification_texts.phrase(_RATE_PHRASES[w.what]),
                rate=w.rate / 100, days=w.days, threshold=w.threshold / 100,
            )
            for w in at_level
        ]
        notifications.raise_admin_notification_once(
            NotificationType.STORE_ISSUE,
            text=notification_texts.text(f"deliverability_{level}", store=store.name, rates=rates),
            priority=NotificationPriority.CRITICAL if level == CRITICAL else NotificationPriority.HIGH,
            action_url=f"/admin/email-log/analytics?store={store_id}",
            metadata={"store_id": store_id, "kind": "deliverability", "level": level},
        )
        return  # the worst level only: a critical store is not also told it is over the warning line
