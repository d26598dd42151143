"""What the admin's and the store's analytics pages show of one scope: totals, the chart, per template and per
category (services/email/email_analytics.py read through its roll-up)."""
from __future__ import annotations

from ..services.email import email_analytics
from .charts import line_chart


def analytics_report(days: int, store_key: int | None, label: str) -> dict:
    daily = email_analytics.daily(days=days, store_key=store_key)
    return dict(
        days=days, daily=daily, series_names=email_analytics.CHART_SERIES,
        chart=line_chart(daily, email_analytics.CHART_SERIES),
        totals=email_analytics.totals(days=days, store_key=store_key, label=label),
        by_template=email_analytics.by_template(days=days, store_key=store_key),
        by_category=email_analytics.by_category(days=days, store_key=store_key),
    )
