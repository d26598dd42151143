"""Benchmark: the analytics pages over 10,000,000 email logs on PostgreSQL, read from the daily roll-ups.

Builds 1,000 stores (a team member each), a platform admin and BENCH_EMAILS (10,000,000) email logs spread at
random over 90 days, the stores (one in a thousand: the platform's own) and eight templates in five categories,
a third of the stores on SendGrid (which reports deliveries), with
set-based SQL and the roll-up triggers off; then builds the roll-ups with the migration's own back-fill, as
an upgrade of an existing log does. Only the log's primary key is kept: these pages never read the log.

Each page is served through the real app (Flask test client, signed in through the login form) and
reported with its SQL queries and p50 / p95 server time, next to its floors measured in the same run:
the hand-written query that a page of the scope cannot do without (one GROUP BY over the roll-up), and, once,
the same figures counted from the log itself (what the pages did before the roll-ups).

    /work/main/.venv/bin/python bench/bench_analytics.py
    BENCH_REUSE=1 ...   # measure again on the database of the previous run
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_inbox import ServerClock, SqlTimer, fresh_database, percentile  # noqa: E402
from bench_pages import (  # noqa: E402
    PASSWORD,
    PASSWORD_HASH_METHOD,
    bench_app,
    migration_backfill,
    signed_in_clients,
    time_page,
    time_query,
)

from messaging_web.extensions import db  # noqa: E402

URL = os.environ.get("BENCH_ANALYTICS_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/analytics_bench")
EMAILS = int(os.environ.get("BENCH_EMAILS", "10000000"))
STORES = 1000
RUNS = int(os.environ.get("BENCH_RUNS", "30"))
CHUNK = 1_000_000
TEMPLATES = "ARRAY['order_confirmation','order_shipped','invoice_available','payment_failed','new_message_notification'," \
            "'store_newsletter','password_reset','team_invite']"
CATEGORIES = "ARRAY['orders','orders','billing','billing','system','marketing','auth','system']"

PAGES = [
    ("admin", "admin analytics, 7 days", "/admin/email-log/analytics?days=7"),
    ("admin", "admin analytics, 30 days", "/admin/email-log/analytics?days=30"),
    ("admin", "admin analytics, 90 days", "/admin/email-log/analytics?days=90"),
    ("admin", "admin, one store, 90 days", "/admin/email-log/analytics?days=90&store=7"),
    ("store", "store analytics, 30 days", "/store/store-7/email-log/analytics?days=30"),
    ("store", "store analytics, 90 days", "/store/store-7/email-log/analytics?days=90"),
]
FLOORS = [
    ("floor: all stores per day, 90 days",
     "SELECT day, sum(sent), sum(delivered), sum(opened) FROM email_daily_stats_all_stores "
     "WHERE day >= current_date - 89 GROUP BY day"),
    ("floor: one store per day, 90 days",
     "SELECT day, sum(sent), sum(delivered), sum(opened) FROM email_daily_stats_per_store "
     "WHERE store_key = 7 AND day >= current_date - 89 GROUP BY day"),
]
FROM_THE_LOG = [
    ("from the log: all stores per day, 90 days",
     "SELECT (created_at AT TIME ZONE 'UTC')::date, count(*), count(*) FILTER (WHERE status IN "
     "('delivered','opened','clicked')) FROM email_logs WHERE created_at >= now() - interval '90 days' GROUP BY 1"),
]


def generate(engine, password_hash: str) -> None:
    params = {"stores": STORES, "hash": password_hash}
    with engine.begin() as conn:
        conn.execute(sa.text(
            """INSERT INTO stores (id, name, slug, tier, default_language, created_at, updated_at)
               SELECT g, 'Store ' || g, 'store-' || g, 'business', 'en', now(), now()
               FROM generate_series(1, CAST(:stores AS integer)) g"""), params)
        conn.execute(sa.text(
            """INSERT INTO users (id, email, name, password_hash, is_platform_admin, store_id, is_active,
                                  session_version, preferred_language, timezone, created_at, updated_at)
               SELECT 1, 'admin@bench.test', 'Bench Admin', :hash, true, NULL, true, 1, 'en', 'UTC', now(), now()
               UNION ALL
               SELECT 1 + s, 'team@store-' || s || '.test', 'Team of ' || s, :hash, false, s, true, 1, 'en', 'UTC',
                      now(), now()
               FROM generate_series(1, CAST(:stores AS integer)) s"""), params)
        # The log's other indexes cost the generation hours and these pages nothing.
        for name in conn.execute(sa.text(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'email_logs' AND indexname <> 'pk_email_logs'"
        )).scalars().all():
            conn.execute(sa.text(f'DROP INDEX "{name}"'))
    for start in range(0, EMAILS, CHUNK):
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))  # the roll-up triggers off
            conn.execute(sa.text(f"""
                INSERT INTO email_logs (template_code, category, recipient_email, subject, from_email, status,
                                        retry_count, store_id, provider, via_store_settings, delivery_ambiguous,
                                        complained_at, created_at, updated_at)
                SELECT ({TEMPLATES})[t], ({CATEGORIES})[t], 'customer' || g || '@example.com', 'Email ' || g,
                       'shop@store.example',
                       (ARRAY['sent','sent','delivered','delivered','opened','opened','clicked','bounced','failed',
                              'suppressed'])[1 + (g / 7) % 10],
                       0, CASE WHEN s = 0 THEN NULL ELSE s END,
                       CASE WHEN s % 3 = 0 THEN 'sendgrid' ELSE 'smtp' END, s % 3 = 0,
                       false, CASE WHEN g % 997 = 0 THEN now() END,
                       now() - d * interval '1 day' - (g % 1440) * interval '1 minute', now()
                FROM (SELECT g, 1 + floor(random() * 8)::int AS t, floor(random() * {STORES})::int AS s,
                             floor(random() * 90)::int AS d
                      FROM generate_series(CAST(:start AS bigint) + 1, CAST(:end AS bigint)) g) spread
"""),
                {"start": start, "end": min(EMAILS, start + CHUNK)})
        print(f"   {min(EMAILS, start + CHUNK):>11,} emails ({time.perf_counter() - started:.1f} s)", flush=True)
    started = time.perf_counter()
    with engine.begin() as conn:
        for statement in migration_backfill():
            conn.execute(sa.text(statement))
    print(f"   roll-ups built in {time.perf_counter() - started:.1f} s", flush=True)


def main() -> None:
    reuse = os.environ.get("BENCH_REUSE") == "1"
    url = URL if reuse else fresh_database(sa.make_url(URL).database)
    app = bench_app(url, "analytics")
    with app.app_context():
        from flask_migrate import upgrade
        from werkzeug.security import generate_password_hash

        started = time.perf_counter()
        if not reuse:
            upgrade()
            generate(db.engine, generate_password_hash(PASSWORD, PASSWORD_HASH_METHOD))
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        counts = {table: db.session.scalar(sa.text(f"SELECT count(*) FROM {table}")) for table in (
            "email_logs", "email_daily_stats", "email_daily_stats_all_stores", "email_daily_stats_per_store")}
        engine = db.engine
        db.session.remove()
    print(f"== {counts['email_logs']:,} email logs, {STORES:,} stores (ready in {time.perf_counter() - started:.1f} s); "
          f"roll-up rows: {counts['email_daily_stats']:,} per store and template, "
          f"{counts['email_daily_stats_all_stores']:,} all stores, {counts['email_daily_stats_per_store']:,} per store")

    timer, clock = SqlTimer(engine), ServerClock(app)
    clients = signed_in_clients(app)
    print(f"   {'page':42} {'queries':>7} {'SQL p50':>8} {'p50 ms':>8} {'p95 ms':>8}")
    for who, label, path in PAGES:
        queries, sql_times, times = time_page(clients[who], path, timer, clock, RUNS)
        print(f"   {label:42} {queries:>7} {percentile(sql_times, 50):>8.1f} {percentile(times, 50):>8.1f} "
              f"{percentile(times, 95):>8.1f}")
    with engine.connect() as conn:
        for label, sql in FLOORS:
            times = time_query(conn, sql, RUNS)
            print(f"   {label:42} {1:>7} {'':>8} {percentile(times, 50):>8.1f} {percentile(times, 95):>8.1f}")
        for label, sql in FROM_THE_LOG:
            times = time_query(conn, sql, 2, warm_up=0)
            print(f"   {label:42} {1:>7} {'':>8} {min(times):>8.1f} {'(best of 2)':>8}")
    print(f"   load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
