"""Email analytics in the admin console: per store, over 7, 30 or 90 days, how many emails were sent and
how far they got, with rates; searchable by store, paginated, a constant number of queries."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from messaging_web.extensions import db
from messaging_web.models import EmailLog
from messaging_web.models.base import utcnow
from tests.support.query_counter import count_queries


def email(store_id, status, days_ago=1, provider="sendgrid"):
    """An email of the store, sent through its own SendGrid account (which reports deliveries)."""
    return EmailLog(
        recipient_email="kim@customer.example", subject="Hello", from_email="shop@store.example", status=status,
        store_id=store_id, created_at=utcnow() - dt.timedelta(days=days_ago), provider=provider,
        via_store_settings=store_id is not None and provider == "sendgrid", template_code="order_shipped",
        category="orders",
    )


@pytest.fixture
def log(app, factory):
    """North: 4 sent (1 delivered, 1 opened, 1 clicked, 1 bounced) and a failed one; south: 2 sent;
    the platform: 1 pending; and an old north email, 60 days ago."""
    north, south = factory.store(slug="north"), factory.store(slug="south")
    with app.app_context():
        rows = [email(north.id, s) for s in ("delivered", "opened", "clicked", "bounced", "failed")]
        rows += [email(south.id, "sent", provider="smtp"), email(south.id, "sent", provider="smtp"), email(None, "pending"),
                 email(north.id, "clicked", days_ago=60)]
        db.session.add_all(rows)
        db.session.commit()
    return {"north": north, "south": south}


def table_rows(page: str) -> list[list[str]]:
    body = re.search(r'<table class="analytics by-store">.*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        rows.append([re.sub(r"<[^>]+>", "", c).strip() for c in cells])
    return rows


def test_each_store_shows_how_far_its_emails_got_with_rates_most_sending_first(signed_in, factory, log):
    page = signed_in(factory.admin()).get("/admin/email-log/analytics").get_data(as_text=True)
    totals, first, second, third = table_rows(page)
    assert totals[0] == "All stores and the platform" and totals[1:3] == ["8", "6"]
    # North: 4 sent; delivered counts the opened and clicked ones too; rates are shares of sent.
    assert first == ["Store 1", "5", "4", "3 75.0%", "2 50.0%", "1 25.0%", "1 25.0%", "0 0.0%", "0", "1", "0"]
    # South sent through SMTP, which reports no deliveries: no delivery rate rather than a misleading 0%.
    assert second[:3] == ["Store 2", "2", "2"] and second[3] == "0 not reported"
    assert third[:3] == ["Platform (no store)", "1", "0"] and third[3] == "0" and third[-1] == "1"
    assert f'href="/admin/email-log/analytics?store={log["north"].id}&amp;days=30"' in page  # the store's own figures


def test_the_period_and_store_search_narrow_the_table_and_bad_values_fall_back(signed_in, factory, log):
    client = signed_in(factory.admin())
    rows = table_rows(client.get("/admin/email-log/analytics?days=90&q=STORE%201").get_data(as_text=True))
    assert [r[0] for r in rows] == ["All stores and the platform", "Store 1"] and rows[1][1:3] == ["6", "5"]
    for bad in ("days=5", "days=abc", "days=" + "9" * 30, "page=-3", "q=" + "x" * 500):
        response = client.get(f"/admin/email-log/analytics?{bad}")
        assert response.status_code == 200 and "Last 30 days" in response.get_data(as_text=True)
    empty = client.get("/admin/email-log/analytics?q=nowhere").get_data(as_text=True)
    assert "No store matches “nowhere” in this period." in empty


def test_many_stores_are_paginated_with_a_constant_number_of_queries(app, signed_in, factory):
    stores = [factory.store() for _ in range(7)]
    with app.app_context():
        db.session.add_all([email(store.id, "sent") for n, store in enumerate(stores) for _ in range(n + 1)])
        db.session.commit()
    app.config["PAGE_SIZE"] = 3
    try:
        client = signed_in(factory.admin())

        def queries(url):
            with count_queries(app) as statements:
                body = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
            return body, len([s for s in statements if not s.startswith(("BEGIN", "COMMIT", "ROLLBACK"))])

        first, first_count = queries("/admin/email-log/analytics")
        last, last_count = queries("/admin/email-log/analytics?page=3")
        assert "Page 1 of 3" in first and "Page 3 of 3" in last and first_count == last_count
        assert [r[2] for r in table_rows(first)[1:]] == ["7", "6", "5"] and [r[2] for r in table_rows(last)[1:]] == ["1"]
    finally:
        app.config["PAGE_SIZE"] = 25


def test_only_platform_admins_see_the_analytics(signed_in, factory, log):
    response = signed_in(factory.store_user(log["north"])).get("/admin/email-log/analytics")
    assert response.status_code == 403


def test_one_store_and_the_stores_own_page_chart_each_day_with_tables_per_template_and_category(
    app, signed_in, factory, log
):
    client = signed_in(factory.admin())
    page = client.get(f"/admin/email-log/analytics?store={log['north'].id}&days=7").get_data(as_text=True)
    assert '<svg viewBox="0 0 720 260" role="img"' in page and "Sent: 4;" in page  # the chart says its totals
    assert 'class="analytics by-store"' not in page and 'class="analytics by-template"' in page
    assert "<th scope=\"row\">order_shipped</th>" in page and "<th scope=\"row\">orders</th>" in page
    days = re.findall(r'<tr><th scope="row">(\d{4}-\d\d-\d\d)</th>', page)
    assert len(days) == 7 and days == sorted(days)  # every day of the period, zeros included

    store_client = signed_in(factory.store_user(log["south"]))
    own = store_client.get(f"/store/{log['south'].slug}/email-log/analytics?days=30").get_data(as_text=True)
    assert "Store 2, last 30 days: 2 queued, 2 sent." in own and "not reported" in own and "Store 1" not in own


def test_the_roll_up_matches_the_log_after_random_events_late_ones_included(app, factory):
    import random

    import sqlalchemy as sa

    from messaging_web.models import (
        EmailDailyStats,
        EmailDailyStatsAllStores,
        EmailDailyStatsPerStore,
        EmailStatDelta,
        EmailWeeklyStatsPerStore,
    )
    from messaging_web.models.email_stats import STAGE_STATUSES
    from messaging_web.services.email import email_analytics, email_stats

    rng = random.Random(13)
    stores = [factory.store().id for _ in range(3)] + [None]
    moves = {"pending": ["sent", "failed", "pending"], "sent": ["delivered", "opened", "clicked", "bounced"],
             "delivered": ["opened", "clicked"], "opened": ["clicked"], "failed": ["pending"]}
    with app.app_context():
        rows = [email(rng.choice(stores), rng.choice(["pending", "suppressed", "sent"]), days_ago=rng.randrange(0, 40),
                      provider=rng.choice(["sendgrid", "smtp"])) for _ in range(300)]
        for row in rows:
            row.template_code = rng.choice(["order_shipped", "store_newsletter", None])
        db.session.add_all(rows)
        db.session.commit()
        for step in range(900):
            row = rng.choice(rows)
            chance = rng.random()
            if chance < 0.1:
                row.complained_at = row.complained_at or utcnow()
            elif chance < 0.15:  # a plan change: the platform's sender takes over (the key changes)
                row.via_store_settings, row.provider = False, "smtp"
            elif moves.get(row.status):
                row.status = rng.choice(moves[row.status])
            if step % 97 == 0:
                db.session.commit()
                email_stats.fold()  # folds in between, as the scheduled job does
        db.session.commit()
        email_stats.fold_all()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EmailStatDelta)) == 0

        zero = dict.fromkeys(["queued", "sent", "delivered", "opened", "clicked", "bounced", "complained",
                              "suppressed", "failed"], 0)
        roll_ups = {EmailDailyStats: ("day", "store_key", "template_code", "reports_delivery"),
                    EmailDailyStatsAllStores: ("day", "template_code", "reports_delivery"),
                    EmailDailyStatsPerStore: ("day", "store_key", "reports_delivery"),
                    EmailWeeklyStatsPerStore: ("week", "store_key", "reports_delivery")}
        for model, keys in roll_ups.items():
            expected: dict = {}
            for r in rows:
                day = r.created_at.date()
                values = {"day": day, "week": day - dt.timedelta(days=day.weekday()), "store_key": r.store_id or 0,
                          "template_code": r.template_code or "",
                          "reports_delivery": bool(r.via_store_settings and r.provider == "sendgrid")}
                counts = expected.setdefault(tuple(values[k] for k in keys), dict(zero))
                counts["queued"] += 1
                counts["complained"] += r.complained_at is not None
                for stage, statuses in STAGE_STATUSES.items():
                    counts[stage] += r.status in statuses
            actual: dict = {}
            for s in db.session.execute(sa.select(model)).scalars():
                if not any(getattr(s, stage) for stage in zero):
                    continue  # a key whose emails all moved to another key
                counts = actual.setdefault(tuple(getattr(s, k) for k in keys), dict(zero))
                for stage in counts:
                    counts[stage] += getattr(s, stage)
            assert actual == expected, model.__name__

        # The table of stores adds whole weeks and the days around them: the same as counting the log.
        for days in (1, 7, 10, 30, 90):
            since = (utcnow() - dt.timedelta(days=days - 1)).date()
            listed = {f.store_id or 0: (f.queued, f.sent, f.opened)
                      for f in email_analytics.by_store(days=days, per_page=100).items}
            counted: dict = {}
            for r in rows:
                if r.created_at.date() >= since:
                    queued, sent, opened = counted.get(r.store_id or 0, (0, 0, 0))
                    counted[r.store_id or 0] = (queued + 1, sent + (r.status in STAGE_STATUSES["sent"]),
                                                opened + (r.status in STAGE_STATUSES["opened"]))
            assert listed == counted, days
