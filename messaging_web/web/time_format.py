"""The one place that formats times: UTC in the database, the viewer's zone on the page."""
from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel import dates as babel_dates
from babel.dates import parse_pattern
from flask import Flask, g
from flask_babel import force_locale, format_decimal, format_percent
from flask_login import current_user
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from ..i18n import _, current_language


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


def format_datetime(value: dt.datetime | None, fmt: str | None = None, zone: ZoneInfo | None = None) -> str:
    """A moment in the viewer's zone, written the way the viewer's language writes it ("Dec 7, 2026, 10:45 PM",
    "7 déc. 2026, 22:45", "07.12.2026, 22:45"); `fmt` (strftime) for a fixed, language-free form."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    local = value.astimezone(zone or viewer_zone())
    if fmt is not None:
        return local.strftime(fmt)
    return moment_formatter(current_language())(local)


def time_tag(value: dt.datetime | None, css_class: str = "", zone: ZoneInfo | None = None,
             language: str | None = None, relative: bool = False) -> Markup:
    """<time datetime="ISO 8601">the viewer's local time</time>, the way every page shows a moment.

    `relative`: "3 minutes ago" / "il y a 3 minutes" for the last day (app.js keeps it current), the date
    before that; the exact moment is the title either way."""
    if value is None:
        return Markup("")
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    language = language or current_language()
    # The ISO stamp is digits and separators only: nothing to escape. Built as a plain string: a list page
    # formats a moment per row (bench/bench_inbox.py).
    stamp = value.isoformat()
    exact = escape(moment_formatter(language)(value.astimezone(zone or viewer_zone())))
    attributes = f' class="{escape(css_class)}"' if css_class else ""
    if relative:
        ago = (dt.datetime.now(dt.UTC) - value).total_seconds()
        if -60 < ago < 86400:
            return Markup(f'<time{attributes} datetime="{stamp}" title="{exact}" data-relative>'
                          f'{relative_phrase(language, ago)}</time>')
    return Markup(f'<time{attributes} datetime="{stamp}">{exact}</time>')


@dataclass(frozen=True)
class _Words:
    """A language's month abbreviations (by month number) and am / pm, read from CLDR once."""

    months: tuple[str, ...]
    periods: tuple[str, str]

    @classmethod
    def of(cls, locale: Locale) -> _Words:
        abbreviated = locale.months["format"]["abbreviated"]
        periods = locale.day_periods["format"]["abbreviated"]
        return cls(("",) + tuple(abbreviated[n] for n in range(1, 13)), (periods["am"], periods["pm"]))


# A moment's text per language: CLDR's medium date and short time, joined as the language joins them. The
# pattern is compiled once per language into a format string and a field table, since Babel's formatter
# re-reads its pattern on every call (five times the cost of the row it formats: bench/bench_inbox.py).
# tests/unit/test_time_format.py holds these equal to Babel's own output.
_FIELDS: dict[str, Callable[[dt.datetime, _Words], str]] = {
    "d": lambda m, _: str(m.day), "dd": lambda m, _: f"{m.day:02d}",
    "M": lambda m, _: str(m.month), "MM": lambda m, _: f"{m.month:02d}",
    "MMM": lambda m, words: words.months[m.month],
    "y": lambda m, _: str(m.year),
    "H": lambda m, _: str(m.hour), "HH": lambda m, _: f"{m.hour:02d}",
    "h": lambda m, _: str(m.hour % 12 or 12), "hh": lambda m, _: f"{m.hour % 12 or 12:02d}",
    "mm": lambda m, _: f"{m.minute:02d}",
    "a": lambda m, words: words.periods[m.hour >= 12],
}


def moment_pattern(language: str) -> str:
    locale = Locale.parse(language)
    return (locale.datetime_formats["medium"].replace("{1}", locale.date_formats["medium"].pattern)
            .replace("{0}", locale.time_formats["short"].pattern))


@functools.cache
def moment_formatter(language: str) -> Callable[[dt.datetime], str]:
    """A function writing a local moment as `language` does (plain text: escape it for HTML)."""
    locale = Locale.parse(language)
    pattern = parse_pattern(moment_pattern(language))
    template = str(pattern.format)
    keys: list[str] = _PATTERN_KEYS.findall(template)
    if any(key not in _FIELDS for key in keys):  # a pattern this table does not know: Babel formats it
        return lambda moment: babel_dates.format_datetime(moment, moment_pattern(language), locale=locale)
    fields, words = {key: _FIELDS[key] for key in keys}, _Words.of(locale)

    def write(moment: dt.datetime) -> str:
        return template % {key: field(moment, words) for key, field in fields.items()}

    return write


_PATTERN_KEYS = re.compile(r"%\((\w+)\)s")


@functools.cache
def _relative_words(language: str, unit: Literal["minute", "hour"], count: int) -> str:
    return str(escape(babel_dates.format_timedelta(
        dt.timedelta(seconds=-count * _UNIT_SECONDS[unit]), granularity=unit, threshold=1, add_direction=True,
        locale=language,
    )))


_UNIT_SECONDS: dict[Literal["minute", "hour"], int] = {"minute": 60, "hour": 3600}


def relative_phrase(language: str, seconds_ago: float) -> str:
    """"3 minutes ago", "il y a 3 minutes", "vor 3 Minuten" (escaped); "just now" under a minute."""
    if seconds_ago < 60:
        return _just_now(language)
    unit: Literal["minute", "hour"] = "minute" if seconds_ago < 3600 else "hour"
    return _relative_words(language, unit, int(seconds_ago // _UNIT_SECONDS[unit]))


@functools.cache
def _just_now(language: str) -> str:
    with force_locale(language):
        return str(escape(_("just now")))


# In templates the zone comes from the render's context, put there once per render: a list page
# formats a moment per row, and each lookup through Flask's `g` and `current_user` proxies costs
# more than the formatting itself (bench/bench_inbox.py, the thread pages).


@pass_context
def _datetime_filter(context: Context, value: dt.datetime | None, fmt: str | None = None) -> str:
    return format_datetime(value, fmt, context.get("viewer_zone"))


@pass_context
def _time_tag_filter(
    context: Context, value: dt.datetime | None, css_class: str = "", relative: bool = False,
) -> Markup:
    return time_tag(value, css_class, context.get("viewer_zone"), context.get("page_language"), relative)


def _number_filter(value) -> str:
    """A count or amount in the viewer's language: 12,345 / 12 345 / 12.345."""
    return "" if value is None else format_decimal(value)


def _percent_filter(value, digits: int = 1) -> str:
    """A ratio (0.143) as the viewer's language writes a percentage: 14.3% / 14,3 % / 14,3 %."""
    if value is None:
        return ""
    return format_percent(value, format=_percent_pattern(current_language(), digits))


@functools.cache
def _percent_pattern(language: str, digits: int) -> str:
    """The language's own percent pattern ("#,##0 %") with `digits` decimals ("#,##0.0 %")."""
    pattern = Locale.parse(language).percent_formats[None].pattern
    return re.sub(r"0(?=[^0#]*$)", "0." + "0" * digits if digits else "0", pattern, count=1)


def register(app: Flask) -> None:
    app.jinja_env.filters["number"] = _number_filter
    app.jinja_env.filters["percent"] = _percent_filter
    app.jinja_env.filters["datetime"] = _datetime_filter
    app.jinja_env.filters["time_tag"] = _time_tag_filter
    app.context_processor(lambda: {"viewer_zone": viewer_zone()})
