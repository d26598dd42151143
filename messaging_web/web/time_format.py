"""The one place that formats times: UTC in the database, the viewer's zone on the page."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import g
from flask_login import current_user
from markupsafe import Markup


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


def format_datetime(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(viewer_zone()).strftime(fmt)


def time_tag(value: dt.datetime | None, css_class: str = "") -> Markup:
    """<time datetime="ISO 8601">the viewer's local time</time>, the way every page shows a moment."""
    if value is None:
        return Markup("")
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    local = value.astimezone(viewer_zone()).strftime("%Y-%m-%d %H:%M")
    if css_class:
        return Markup('<time class="%s" datetime="%s">%s</time>') % (css_class, value.isoformat(), local)
    return Markup('<time datetime="%s">%s</time>') % (value.isoformat(), local)
