"""Benchmark of the email pipeline: queueing (queue_email) and delivery (workers into a local SMTP sink).

Prints, each next to its floor measured in the same run:
- queueing: queue_email for N emails (resolve, render, write the log row; commits every 500), on SQLite and
  (when BENCH_PG_URL or the default local PostgreSQL answers) on PostgreSQL, in emails per second; the floor is
  a bulk INSERT of the same pre-rendered rows.
- delivery: running `flask messaging worker` processes draining those rows into a local aiosmtpd sink, against raw
  smtplib sending the same pre-rendered messages over one persistent connection to the same sink.

Run: /work/main/.venv/bin/python bench/bench_delivery.py  [N=5000 by default, BENCH_EMAILS=...]
BENCH_WITHOUT_ROLL_UP=1 drops the analytics roll-up's triggers first, to show what they cost.
"""
from __future__ import annotations

import datetime as dt
import os
import smtplib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from messaging_web import create_app  # noqa: E402
from messaging_web.extensions import db  # noqa: E402
from messaging_web.models import EmailLog, Store, StoreEmailSettings  # noqa: E402
from messaging_web.models.base import utcnow  # noqa: E402

N = int(os.environ.get("BENCH_EMAILS", "5000"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/dlv_bench")
COMMIT_EVERY = 500
ROUND = 1250  # delivery: messages per round of floor / workers

SINK_SCRIPT = r"""
import sys, time, asyncio
from aiosmtpd.controller import Controller
class Sink:
    count = 0
    async def handle_DATA(self, server, session, envelope):
        Sink.count += 1
        return "250 OK"
c = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]), ready_timeout=10)
c.start()
print("ready", flush=True)
sys.stdin.readline()
print(Sink.count, flush=True)
c.stop()
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh_database(kind: str, tmp: Path) -> str | None:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'bench.sqlite3'}"
    url = sa.make_url(PG_URL)
    try:
        admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
        admin.dispose()
    except sa.exc.OperationalError:
        return None
    return url.render_as_string(hide_password=False)


def make_app(url: str, tmp: Path):
    config = {
        "MESSAGING_ENV": "testing", "SECRET_KEY": "bench-secret-key", "SQLALCHEMY_DATABASE_URI": url,
        "INSTANCE_DIR": str(tmp), "MAIL_OUTBOX_DIR": str(tmp / "outbox"), "EMAIL_DISPATCHER": "manual",
        "SMTP_ALLOW_INTERNAL_HOSTS": True,
    }
    app = create_app(config)
    with app.app_context():
        from flask_migrate import upgrade

        from messaging_web.services import template_catalog

        upgrade()
        if os.environ.get("BENCH_WITHOUT_ROLL_UP") == "1":  # what the analytics triggers cost (A/B)
            on = " ON email_logs" if db.engine.dialect.name == "postgresql" else ""
            for trigger in ("email_logs_stats_insert", "email_logs_stats_update", "email_logs_stats_rekey"):
                db.session.execute(sa.text(f"DROP TRIGGER IF EXISTS {trigger}{on}"))
            db.session.commit()
        template_catalog.load_default_templates()
        store = Store(name="Bench Store", slug="bench", tier="business", default_language="en")
        db.session.add(store)
        db.session.commit()
    return app, config


def bench_queueing(app) -> tuple[float, float]:
    from messaging_web.services.email.outbox import batch, queue_email

    with app.app_context():
        store_id = db.session.scalar(sa.select(Store.id))
        context = {"customer_name": "Alice", "store_name": "Bench Store", "order_number": "A-1", "carrier": "DHL",
                   "tracking_number": "JD1", "tracking_url": "https://tracking.example/JD1"}
        started = time.perf_counter()
        for start in range(0, N, COMMIT_EVERY):
            with batch():
                for n in range(start, min(start + COMMIT_EVERY, N)):
                    queue_email("order_shipped", f"buyer{n}@customer.example", {**context, "order_number": f"A-{n}"},
                                store_id=store_id, recipient_name="Alice", related_type="order", related_id=n)
            db.session.commit()
        rate = N / (time.perf_counter() - started)

        # Floor: the same rows, already rendered, written with one executemany per batch.
        columns = [c.name for c in EmailLog.__table__.columns if c.name != "id"]
        rows = [dict(r._mapping) for r in db.session.execute(sa.select(*[EmailLog.__table__.c[c] for c in columns]))]
        db.session.commit()
        started = time.perf_counter()
        for start in range(0, len(rows), COMMIT_EVERY):
            db.session.execute(sa.insert(EmailLog), rows[start:start + COMMIT_EVERY])
            db.session.commit()
        floor = len(rows) / (time.perf_counter() - started)
        db.session.execute(sa.delete(EmailLog).where(EmailLog.id > N))
        db.session.commit()
    return rate, floor


def start_sink() -> tuple[subprocess.Popen, int]:
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", SINK_SCRIPT, str(port)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert sink.stdout.readline().strip() == "ready"
    return sink, port


def stop_sink(sink: subprocess.Popen) -> int:
    sink.stdin.write("\n")
    sink.stdin.flush()
    count = int(sink.stdout.readline().strip())
    sink.wait(10)
    return count


def bench_delivery(app, config: dict, tmp: Path) -> tuple[float, float, int]:
    from messaging_web.services.email import delivery

    sink, port = start_sink()
    with app.app_context():
        store_id = db.session.scalar(sa.select(Store.id))
        db.session.add(StoreEmailSettings(
            store_id=store_id, from_email="shop@bench.example", from_name="Bench", provider="smtp",
            smtp_host="127.0.0.1", smtp_port=port, smtp_use_tls=False, smtp_use_ssl=False, is_configured=True,
            is_verified=True,
        ))
        db.session.execute(sa.update(EmailLog).values(via_store_settings=True, provider="smtp",
                                                      from_email="shop@bench.example"))
        db.session.commit()
        # Floor: the same messages, rendered beforehand, over one persistent smtplib connection.
        from messaging_web.services.email.providers.message import build_message

        messages = [
            (row.from_email, row.recipient_email, build_message(delivery.outgoing_email(row)))
            for row in db.session.scalars(sa.select(EmailLog).order_by(EmailLog.id))
        ]
        db.session.commit()
    env = {**os.environ, "MESSAGING_ENV": "testing", "SECRET_KEY": config["SECRET_KEY"], "FLASK_APP": "wsgi.py",
           "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"], "MESSAGING_INSTANCE_DIR": str(tmp),
           "SMTP_ALLOW_INTERNAL_HOSTS": "1", "EMAIL_DISPATCHER": "manual", "EMAIL_BATCH_SIZE": "50"}
    flask = str(Path(sys.executable).with_name("flask"))
    # Long-running workers, as in production: started (and idle) before any row is due, so that their
    # start-up is not counted.
    with app.app_context():
        later = utcnow() + dt.timedelta(days=1)
        db.session.execute(sa.update(EmailLog).values(next_attempt_at=later))
        ids = db.session.scalars(sa.select(EmailLog.id).order_by(EmailLog.id)).all()
        db.session.commit()
    workers = [subprocess.Popen([flask, "messaging", "worker", "--poll", "0.02"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for _ in range(WORKERS)]
    time.sleep(8)
    # The machine is shared, so its load drifts: the floor and the workers take turns, round by round,
    # on the same number of messages, and each side's times are summed.
    conn = smtplib.SMTP("127.0.0.1", port)
    floor_seconds = worker_seconds = 0.0
    for start in range(0, len(ids), ROUND):
        chunk = ids[start:start + ROUND]
        started = time.perf_counter()
        for sender, recipient, data in messages[start:start + ROUND]:
            conn.sendmail(sender, [recipient], data)
        floor_seconds += time.perf_counter() - started
        with app.app_context():
            db.session.execute(sa.update(EmailLog).where(EmailLog.id.in_(chunk)).values(next_attempt_at=None))
            db.session.commit()
            started = time.perf_counter()
            deadline = started + 600
            # The watch must cost the workers next to nothing (an IN list of the chunk's 1,250 ids, planned a
            # hundred times a second, took a third of a core; a count of its pending rows, a sixth of one): until
            # every row of the chunk is claimed it counts the unclaimed ones in their partial index, then the
            # pending ones, of which only the last claims' are left.
            unclaimed_sql = sa.text("SELECT count(*) FROM email_logs WHERE status = 'pending' AND claimed_at IS NULL "
                                    "AND id BETWEEN :lo AND :hi")
            pending_sql = sa.text("SELECT count(*) FROM email_logs WHERE status = 'pending' AND id BETWEEN :lo AND :hi")
            watched = unclaimed_sql
            while time.perf_counter() < deadline:
                remaining = db.session.scalar(watched, {"lo": chunk[0], "hi": chunk[-1]})
                db.session.commit()
                if not remaining:
                    if watched is pending_sql:
                        break
                    watched = pending_sql
                    continue
                time.sleep(0.01)
            worker_seconds += time.perf_counter() - started
    conn.quit()
    floor = len(messages) / floor_seconds
    elapsed = worker_seconds
    for worker in workers:
        worker.terminate()
    outputs = [w.communicate(timeout=30)[0] for w in workers]
    received = stop_sink(sink) - len(messages)
    with app.app_context():
        sent = db.session.scalar(sa.select(sa.func.count(EmailLog.id)).where(EmailLog.status == "sent"))
    if sent != N or received != N:
        print("worker output:", *outputs, sep="\n")
        raise SystemExit(f"delivery incomplete: {sent} rows sent, {received} received by the sink (expected {N})")
    return N / elapsed, floor, received


def main() -> None:
    print(f"bench_delivery: {N} emails, {WORKERS} worker processes, commits every {COMMIT_EVERY} when queueing; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (the machine is shared)")
    for kind in ("sqlite", "postgresql"):
        tmp = Path(tempfile.mkdtemp(prefix=f"bench-delivery-{kind}-"))
        url = fresh_database(kind, tmp)
        if url is None:
            print(f"{kind}: skipped (no database at {PG_URL})")
            continue
        app, config = make_app(url, tmp)
        rate, floor = bench_queueing(app)
        print(f"{kind:<10} queueing : {rate:8.0f} emails/s   floor (bulk INSERT of the rendered rows): "
              f"{floor:8.0f} rows/s   ratio {rate / floor:.2f}")
        delivered, smtp_floor, _received = bench_delivery(app, config, tmp)
        print(f"{kind:<10} delivery : {delivered:8.0f} emails/s   floor (raw smtplib, one connection):     "
              f"{smtp_floor:8.0f} emails/s   ratio {delivered / smtp_floor:.2f}")
        with app.app_context():
            db.engine.dispose()
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
