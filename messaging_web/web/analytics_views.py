"""The context of the admin's and the store's analytics pages: a report (services/email/email_analytics.py)
and its chart."""
from __future__ import annotations

from ..services.email import email_analytics
from .charts import SERIES_LABELS, line_chart


def analytics_context(report: email_analytics.Report) -> dict:
    return dict(
        days=report.days, daily=report.daily, series_names=email_analytics.CHART_SERIES, series_labels=SERIES_LABELS,
        chart=line_chart(report.daily, email_analytics.CHART_SERIES), totals=report.totals,
        by_template=report.by_template, by_category=report.by_category, page=report.stores,
    )
