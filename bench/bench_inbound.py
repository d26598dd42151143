"""Benchmark: replies through our SMTP receiver into PostgreSQL, next to a floor receiver in the same run.

Two receivers run in processes of their own, each aiosmtpd with a thread pool of 4:
- the app's (`services/inbound/smtp_receiver.py`): parse, strip the quoted thread (mail-parser-reply), check
  the signed reply address and the sender, record the InboundEmail row and post the message through
  conversations.post_message (unread counts, notification marks), commit, then 250;
  served as `flask messaging inbound-smtp --processes 2` serves it (BENCH_PROCESSES);
- the floor: one aiosmtpd process whose handler only INSERTs the raw bytes into a table and commits.
This process sends CLIENTS concurrent SMTP sessions of EMAILS replies each (a 20 KB reply: two lines of answer,
an attribution line and the quoted earlier thread), into THREADS different threads, and times each DATA
command: from the end of the data to the server's 250 (what happens after commit is not in it).

    /work/main/.venv/bin/python bench/bench_inbound.py
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/inbound_bench (the default; dropped and recreated)

Targets (issue 12): >= 200 emails/s and p95 <= 50 ms from DATA to committed message, for a 20 KB reply.
"""
from __future__ import annotations

import json
import os
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import threading
import time
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/inbound_bench")
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "8"))
EMAILS = int(os.environ.get("BENCH_EMAILS", "150"))  # per client
THREADS = 200
DOMAIN = "reply.bench.test"
PROCESSES = int(os.environ.get("BENCH_PROCESSES", "2"))  # the app's receiver: `inbound-smtp --processes`


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config() -> dict:
    return {"MESSAGING_ENV": "development", "SECRET_KEY": "bench-secret", "SQLALCHEMY_DATABASE_URI": DATABASE_URL,
            "INBOUND_EMAIL_DOMAIN": DOMAIN, "EMAIL_DISPATCHER": "manual",
            "INSTANCE_DIR": "/tmp/inbound-bench", "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"}


def prepare() -> list[tuple[str, str]]:
    """A fresh database: one store, THREADS customers each with a thread; returns (reply address, sender)."""
    url = sa.make_url(DATABASE_URL)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    from flask_migrate import upgrade

    from messaging_web import create_app
    from messaging_web.actors import Actor
    from messaging_web.extensions import db
    from messaging_web.models import ConversationParticipant, ConversationType, ParticipantType, Store
    from messaging_web.services import accounts, conversations, template_catalog
    from messaging_web.services.inbound.addresses import reply_address

    app = create_app(_config())
    pairs = []
    with app.app_context():
        upgrade()
        template_catalog.load_default_templates()
        store = Store(name="Bench shop", slug="bench", tier="starter", default_language="en")
        db.session.add(store)
        db.session.flush()
        accounts.create_store_user(store, "owner@bench.test", "Owen", "bench-password")
        for i in range(THREADS):
            email = f"c{i}@customers.test"
            customer = Actor.for_customer(accounts.create_customer(store, email, f"Customer {i}", "bench-password"))
            conversation = conversations.start_conversation(
                customer, ConversationType.STORE_CUSTOMER, f"Order {i}", "Where is my parcel?")
            db.session.flush()
            participant = db.session.scalars(sa.select(ConversationParticipant).where(
                ConversationParticipant.conversation_id == conversation.id,
                ConversationParticipant.participant_type == ParticipantType.CUSTOMER)).one()
            pairs.append((reply_address(participant.id), email))
        db.session.commit()
        with db.engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE floor_inbound (id serial PRIMARY KEY, raw bytea NOT NULL, "
                                 "received_at timestamptz NOT NULL DEFAULT now())"))
        db.engine.dispose()
    return pairs


def serve_app(port: int) -> None:
    from messaging_web import create_app
    from messaging_web.services.inbound.smtp_receiver import run_receivers

    app = create_app(_config())
    with app.app_context():
        run_receivers(app, "127.0.0.1", port, processes=PROCESSES, ready=lambda: print("ready", flush=True))


def serve_floor(port: int) -> None:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import psycopg
    from aiosmtpd.controller import Controller

    url = sa.make_url(DATABASE_URL).set(drivername="postgresql")
    local = threading.local()

    def insert(raw: bytes) -> None:
        if not hasattr(local, "conn"):
            local.conn = psycopg.connect(url.render_as_string(hide_password=False))
        with local.conn.transaction():
            local.conn.execute("INSERT INTO floor_inbound (raw) VALUES (%s)", (raw,))

    class Floor:
        def __init__(self):
            self.pool = ThreadPoolExecutor(max_workers=4)

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            await asyncio.get_running_loop().run_in_executor(self.pool, insert, envelope.original_content)
            return "250 2.0.0 Message accepted"

    Controller(Floor(), hostname="127.0.0.1", port=port, decode_data=False).start()
    print("ready", flush=True)
    threading.Event().wait()


def reply(to: str, sender: str, n: int) -> bytes:
    quoted = "\n".join(f"> Line {i} of the earlier message in this thread, as mail clients quote it." for i in range(280))
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, "Re: Your order"
    message["Message-ID"] = make_msgid(domain="customers.test")
    message.set_content(f"Thank you, that works for me (reply {n}).\nSee you on Thursday.\n\n"
                        f"On Wed, Dec 2, 2026 at 10:04 AM Bench shop <shop@bench.test> wrote:\n{quoted}\n")
    raw = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    return raw


def drive(port: int, pairs: list[tuple[str, str]]) -> tuple[list[float], float]:
    latencies: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        try:
            _client(k)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    # Built before the clock starts: composing a 20 KB email costs the client a millisecond or two.
    emails = {k: [(pairs[(k * EMAILS + n) % len(pairs)], reply(*pairs[(k * EMAILS + n) % len(pairs)], n))
                  for n in range(EMAILS)] for k in range(CLIENTS)}

    def _client(k: int) -> None:
        mine = []
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            smtp.ehlo()
            for (to, sender), raw in emails[k]:
                smtp.mail(sender)
                smtp.rcpt(to)
                start = time.perf_counter()
                code, _ = smtp.data(raw)
                mine.append(time.perf_counter() - start)
                assert code == 250, code
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        raise errors[0]
    return latencies, time.perf_counter() - start


def _start(mode: str, port: int) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, __file__, mode, str(port)], stdout=subprocess.PIPE, text=True,
                               start_new_session=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process


def report(name: str, latencies: list[float], seconds: float) -> dict:
    ordered = sorted(latencies)
    figures = {"emails": len(ordered), "per_s": len(ordered) / seconds,
               "p50_ms": statistics.median(ordered) * 1000, "p95_ms": ordered[int(len(ordered) * 0.95) - 1] * 1000}
    print(f"   {name:<6} {figures['emails']:>6} emails  {figures['per_s']:7.0f} emails/s  "
          f"p50 {figures['p50_ms']:6.1f} ms  p95 {figures['p95_ms']:6.1f} ms")
    return figures


def main() -> None:
    pairs = prepare()
    size = len(reply(*pairs[0], 0))
    print(f"== {CLIENTS} SMTP clients x {EMAILS} replies of {size / 1024:.1f} KB into {THREADS} threads "
          f"(PostgreSQL; floor: 1 process, app: {PROCESSES} processes; 4 threads each)")
    results = {}
    for name, mode in (("floor", "floor"), ("app", "app")):
        port = _port()
        server = _start(mode, port)
        try:
            drive(port, pairs[:20])  # warm up connections and caches
            results[name] = report(name, *drive(port, pairs))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait()
    engine = sa.create_engine(DATABASE_URL)
    with engine.connect() as conn:
        posted = conn.scalar(sa.text("SELECT count(*) FROM messages WHERE inbound_email_id IS NOT NULL"))
        held = conn.scalar(sa.text("SELECT count(*) FROM inbound_emails WHERE status <> 'posted'"))
    engine.dispose()
    app, floor = results["app"], results["floor"]
    print(f"   app / floor: {app['per_s'] / floor['per_s']:.2f}x the emails/s, p95 {app['p95_ms'] / floor['p95_ms']:.1f}x;"
          f" posted {posted}, not posted {held}")
    print("   targets: >= 200 emails/s:", "met" if app["per_s"] >= 200 else "NOT met",
          "| p95 <= 50 ms:", "met" if app["p95_ms"] <= 50 else "NOT met")
    print(json.dumps({"app": app, "floor": floor}))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "app":
        serve_app(int(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] == "floor":
        serve_floor(int(sys.argv[2]))
    else:
        main()
