"""The one place that formats times: UTC in the database, the viewer's zone on the page."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, g
from flask_login import current_user
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape


def viewer_zone() -> ZoneInfo:
    """The signed-in viewer's zone, looked up once per request (a list page formats dozens of times)."""
    zone = g.get("viewer_zone")
    if zone is None:
        zone = g.viewer_zone = _zone(getattr(current_user, "timezone", None))
    return zone


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def format_datetime(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M", zone: ZoneInfo | None = None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(zone or viewer_zone()).strftime(fmt)


def time_tag(value: dt.datetime | None, css_class: str = "", zone: ZoneInfo | None = None) -> Markup:
    """<time datetime="ISO 8601">the viewer's local time</time>, the way every page shows a moment."""
    if value is None:
        return Markup("")
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    # Digits and separators only (ISO 8601): nothing to escape. Built as a plain string from isoformat
    # (strftime costs twice as much, and a list page formats a moment per row: bench/bench_inbox.py).
    stamp = value.isoformat()
    local = value.astimezone(zone or viewer_zone()).isoformat()
    attributes = f' class="{escape(css_class)}"' if css_class else ""
    return Markup(f'<time{attributes} datetime="{stamp}">{local[:10]} {local[11:16]}</time>')


# In templates the zone comes from the render's context, put there once per render: a list page
# formats a moment per row, and each lookup through Flask's `g` and `current_user` proxies costs
# more than the formatting itself (bench/bench_inbox.py, the thread pages).


@pass_context
def _datetime_filter(context: Context, value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return format_datetime(value, fmt, context.get("viewer_zone"))


@pass_context
def _time_tag_filter(context: Context, value: dt.datetime | None, css_class: str = "") -> Markup:
    return time_tag(value, css_class, context.get("viewer_zone"))


def register(app: Flask) -> None:
    app.jinja_env.filters["datetime"] = _datetime_filter
    app.jinja_env.filters["time_tag"] = _time_tag_filter
    app.context_processor(lambda: {"viewer_zone": viewer_zone()})
