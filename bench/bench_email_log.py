"""Benchmark: the email log's pages, its analytics and the home pages on PostgreSQL with 1,000,000 emails.

Builds 1,000 stores (a team member each), a platform admin and 1,000,000 email logs spread over 90 days
with set-based SQL, then serves each page through the real app (Flask test client, signed in through
the login form) and reports SQL queries per page and p50 / p95 server time (request to rendered HTML),
then the floors: the hand-written query of the rows a page shows, alone.

    /work/main/.venv/bin/python bench/bench_email_log.py
    BENCH_REUSE=1 ...   # measure again on the database of the previous run (no regeneration)

BENCH_EMAIL_LOG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/email_log_bench) names the
database; it is dropped and recreated unless BENCH_REUSE=1.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
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

URL = os.environ.get("BENCH_EMAIL_LOG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/email_log_bench")
EMAILS = int(os.environ.get("BENCH_EMAILS", "1000000"))
STORES = 1000
RUNS = int(os.environ.get("BENCH_RUNS", "30"))

PAGES = [
    ("admin", "admin email log, page 1", "/admin/email-log"),
    ("admin", "admin email log, page 400", "/admin/email-log?page=400"),
    ("admin", "admin search, rare address", "/admin/email-log?q=customer123457@"),
    ("admin", "admin search, common word", "/admin/email-log?q=order"),
    ("admin", "admin filter: bounced", "/admin/email-log?status=bounced"),
    ("admin", "admin filter: one store", "/admin/email-log?store=7"),
    ("admin", "admin analytics, 30 days", "/admin/email-log/analytics"),
    ("admin", "admin analytics, 90 days", "/admin/email-log/analytics?days=90"),
    ("admin", "admin home", "/admin/"),
    ("store", "store email log", "/store/store-7/email-log"),
    ("store", "store search, rare address", "/store/store-7/email-log?q=customer1007@"),
    ("store", "store home", "/store/store-7/"),
]


ADDRESS_PARTS = ("((reverse(split_part(lower(recipient_email), '@', 1)) LIKE '{reversed_local}%' "
                 "AND recipient_email LIKE '%@%') "
                 "OR (recipient_email LIKE '%@%@%' AND recipient_email ILIKE '%{contains}%'))")

# Each page's floor: the one hand-written query it cannot do without (its 25 rows), run in the same process.
FLOORS = [
    ("floor: the newest 25 rows", "SELECT id, recipient_email, subject, status, created_at FROM email_logs "
                                  "ORDER BY id DESC LIMIT 25"),
    # An address search: by trigrams (as until migration 0020), then by the address's parts as the app searches now
    # (services/email/email_log.py: the local part reversed and the domain, plus the addresses with several '@').
    ("floor: rare address, its rows", "SELECT id, recipient_email, subject, status, created_at FROM email_logs "
                                      "WHERE recipient_email ILIKE '%customer123457@%' ORDER BY id DESC LIMIT 25"),
    ("floor: rare address, by parts", "SELECT id, recipient_email, subject, status, created_at FROM email_logs "
                                      "WHERE " + ADDRESS_PARTS.format(reversed_local="754321remotsuc",
                                                                      contains="customer123457@") +
                                      " ORDER BY id DESC LIMIT 25"),
    ("floor: store rare, trigrams", "SELECT id, recipient_email, subject, status, created_at FROM email_logs "
                                    "WHERE store_id = 7 AND recipient_email ILIKE '%customer1007@%' "
                                    "ORDER BY id DESC LIMIT 25"),
    ("floor: store rare, by parts", "SELECT id, recipient_email, subject, status, created_at FROM email_logs "
                                    "WHERE store_id = 7 AND " + ADDRESS_PARTS.format(reversed_local="7001remotsuc",
                                                                                     contains="customer1007@") +
                                    " ORDER BY id DESC LIMIT 25"),
    ("floor: one store's newest 25", "SELECT id, recipient_email, subject, status, created_at FROM email_logs "
                                     "WHERE store_id = 7 ORDER BY id DESC LIMIT 25"),
]


def generate(conn, password_hash: str) -> None:
    """The rows with the analytics triggers off, then the roll-ups built from them (as the migration does for an
    existing log): a million trigger calls would only slow the set-up."""
    params = {"stores": STORES, "emails": EMAILS, "hash": password_hash}
    conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
    for sql in (
        """INSERT INTO stores (id, name, slug, tier, default_language, created_at, updated_at)
           SELECT g, 'Store ' || g, 'store-' || g, 'business', 'en', now(), now()
           FROM generate_series(1, CAST(:stores AS integer)) g""",
        """INSERT INTO users (id, email, name, password_hash, is_platform_admin, store_id, is_active, session_version,
                              preferred_language, timezone, created_at, updated_at)
           SELECT 1, 'admin@bench.test', 'Bench Admin', :hash, true, NULL, true, 1, 'en', 'UTC', now(), now()
           UNION ALL
           SELECT 1 + s, 'team@store-' || s || '.test', 'Team of ' || s, :hash, false, s, true, 1, 'en', 'UTC',
                  now(), now()
           FROM generate_series(1, CAST(:stores AS integer)) s""",
        # Email g: store g % stores + 1 (every 50th the platform's own), statuses in a realistic mix.
        """INSERT INTO email_logs (template_code, recipient_email, recipient_name, subject, body_html, body_text,
                                   from_email, status, retry_count, store_id, via_store_settings, delivery_ambiguous,
                                   created_at, updated_at, sent_at)
           SELECT 'order_shipped', 'customer' || g || '@example.com', 'Customer ' || g,
                  'Your order A-' || g || ' is on its way', '<p>Shipped</p>', 'Shipped', 'shop@store.example',
                  (ARRAY['sent','sent','delivered','delivered','opened','opened','clicked','bounced','failed','pending'])[1 + g % 10],
                  0, CASE WHEN g % 50 = 0 THEN NULL ELSE g % CAST(:stores AS integer) + 1 END, g % 3 = 0, false,
                  now() - (g % 90) * interval '1 day' - (g % 1440) * interval '1 minute', now(), now()
           FROM generate_series(1, CAST(:emails AS integer)) g""",
    ):
        conn.execute(sa.text(sql), params)
    conn.execute(sa.text("SET LOCAL session_replication_role = origin"))
    for sql in migration_backfill():
        conn.execute(sa.text(sql))


def main() -> None:
    reuse = os.environ.get("BENCH_REUSE") == "1"
    url = URL if reuse else fresh_database(sa.make_url(URL).database)
    app = bench_app(url, "email-log")
    with app.app_context():
        from flask_migrate import upgrade
        from werkzeug.security import generate_password_hash

        started = time.perf_counter()
        if not reuse:
            upgrade()
            with db.engine.begin() as conn:
                generate(conn, generate_password_hash(PASSWORD, PASSWORD_HASH_METHOD))
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        count = db.session.scalar(sa.text("SELECT count(*) FROM email_logs"))
        version = db.session.scalar(sa.text("SHOW server_version"))
        engine = db.engine
        db.session.remove()
    print(f"== {count:,} email logs, {STORES:,} stores (generated + VACUUM ANALYZE in "
          f"{time.perf_counter() - started:.1f} s); PostgreSQL {version}, server defaults")

    timer, clock = SqlTimer(engine), ServerClock(app)
    clients = signed_in_clients(app)
    print(f"   {'page':30} {'queries':>7} {'p50 ms':>8} {'p95 ms':>8}")
    for who, label, path in PAGES:
        queries, _sql_times, times = time_page(clients[who], path, timer, clock, RUNS)
        print(f"   {label:30} {queries:>7} {percentile(times, 50):>8.1f} {percentile(times, 95):>8.1f}")
    with engine.connect() as conn:
        for label, sql in FLOORS:
            times = time_query(conn, sql, RUNS)
            print(f"   {label:30} {1:>7} {percentile(times, 50):>8.1f} {percentile(times, 95):>8.1f}")
    print(f"   load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
