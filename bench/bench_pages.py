"""What the page benchmarks share (bench_email_log.py, bench_analytics.py): the app on a bench database, the
bench admin and store-7 team member signed in, a page or a query timed over repeated runs, and the roll-up
back-fill of migration 0015."""
from __future__ import annotations

import importlib.util
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from messaging_web import create_app

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-password"
PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
WARM_UP = 3  # runs left out of the figures


def bench_app(url: str, name: str):
    return create_app({
        "MESSAGING_ENV": "testing", "TESTING": True, "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url,
        "INSTANCE_DIR": tempfile.mkdtemp(prefix=f"bench-{name}-"), "WTF_CSRF_ENABLED": False,
        "PASSWORD_HASH_METHOD": PASSWORD_HASH_METHOD, "RATELIMIT_ENABLED": False,
    })


def signed_in_clients(app) -> dict:
    """Test clients signed in through the login forms: the platform admin, and store 7's team member."""
    clients = {"admin": app.test_client(), "store": app.test_client()}
    assert clients["admin"].post("/admin/login", data={"email": "admin@bench.test", "password": PASSWORD}).status_code == 302
    assert clients["store"].post(
        "/store/store-7/login", data={"email": "team@store-7.test", "password": PASSWORD}
    ).status_code == 302
    return clients


def time_page(client, path: str, timer, clock, runs: int) -> tuple[int, list[float], list[float]]:
    """(SQL statements per request, SQL ms per request, server ms per request) over `runs` requests after the
    warm-up; timer and clock are bench_inbox's SqlTimer and ServerClock."""
    times, sql_times, queries = [], [], 0
    for run in range(runs + WARM_UP):
        timer.reset()
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        if run >= WARM_UP:
            statements = [(s, t) for s, t in timer.statements if not s.startswith(("BEGIN", "COMMIT", "ROLLBACK"))]
            queries = len(statements)
            sql_times.append(sum(t for _s, t in statements) * 1000)
            times.append(clock.last * 1000)
    return queries, sql_times, times


def time_query(conn, sql: str, runs: int, warm_up: int = WARM_UP) -> list[float]:
    """Milliseconds per run of one hand-written query (a page's floor), after the warm-up."""
    times = []
    for run in range(runs + warm_up):
        started = time.perf_counter()
        conn.execute(sa.text(sql)).all()
        if run >= warm_up:
            times.append((time.perf_counter() - started) * 1000)
    return times


def migration_backfill() -> list[str]:
    """Migration 0015's statements that build the roll-ups from the log (as its upgrade of an existing log does)."""
    path = ROOT / "migrations" / "versions" / "0015_email_daily_stats.py"
    spec = importlib.util.spec_from_file_location("roll_up_migration", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.backfill_statements("postgresql")
