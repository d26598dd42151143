"""Moments on pages: in the viewer's zone and written the way the viewer's language writes them."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime as babel_format_datetime

from messaging_web.web.time_format import moment_formatter, moment_pattern, relative_phrase, time_tag

MOMENTS = [dt.datetime(2026, month, day, hour, minute, tzinfo=dt.UTC)
           for month, day, hour, minute in [(1, 1, 0, 0), (3, 9, 9, 5), (7, 14, 12, 0), (12, 7, 22, 45), (12, 31, 23, 59)]]


@pytest.mark.parametrize("language", ["en", "fr", "de"])
def test_moments_are_written_exactly_as_babel_writes_the_language(language):
    write = moment_formatter(language)
    for moment in MOMENTS:
        assert write(moment) == babel_format_datetime(moment, moment_pattern(language), locale=language)


def test_each_language_writes_a_moment_its_own_way():
    moment = dt.datetime(2026, 12, 7, 22, 45, tzinfo=dt.UTC)
    assert moment_formatter("en")(moment) == "Dec 7, 2026, 10:45\u202fPM"
    assert moment_formatter("fr")(moment) == "7 déc. 2026, 22:45"
    assert moment_formatter("de")(moment) == "07.12.2026, 22:45"


def test_a_time_tag_is_in_the_viewers_zone_with_the_utc_moment_as_its_datetime(app):
    moment = dt.datetime(2026, 12, 7, 22, 45, tzinfo=dt.UTC)
    with app.test_request_context():
        tag = time_tag(moment, zone=ZoneInfo("Europe/Paris"), language="fr")
    assert tag == '<time datetime="2026-12-07T22:45:00+00:00">7 déc. 2026, 23:45</time>'


def test_recent_moments_read_as_relative_times_in_the_viewers_language(app):
    with app.test_request_context():
        assert relative_phrase("en", 180) == "3 minutes ago"
        assert relative_phrase("fr", 180) == "il y a 3 minutes"
        assert relative_phrase("de", 2 * 3600 + 5) == "vor 2 Stunden"
        three_minutes_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=3)
        tag = time_tag(three_minutes_ago, zone=ZoneInfo("UTC"), language="fr", relative=True)
    assert "il y a 3 minutes</time>" in tag and "data-relative" in tag and 'title="' in tag


@pytest.mark.parametrize(("language", "written"), [("en", "14.3%"), ("fr", "14,3\u00a0%"), ("de", "14,3\u00a0%")])
def test_rates_are_written_as_the_language_writes_a_percentage(app, language, written):
    from flask_babel import force_locale

    from messaging_web.web.time_format import _percent_filter

    with app.test_request_context(), force_locale(language):
        assert _percent_filter(0.143) == written
