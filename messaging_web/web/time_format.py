"""The one place that formats times: UTC in the database, the viewer's zone on the page."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import g
from flask_login import current_user


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


def iso_datetime(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat()
