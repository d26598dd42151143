"""Soak test with faults: the production processes under simulated users while things fail, then a reckoning.

Starts what `make stack` runs (gunicorn, two supervised Celery workers, Celery beat, the SMTP receiver for
replies) against the local PostgreSQL (database messaging_soak, made afresh) and Redis, with an SMTP sink
that records every Message-ID it receives. Then, for SOAK_SECONDS (180), SOAK_USERS (200) threads play
customers and store teams posting messages (some with an image), store teams previewing templates, admins
reading the email log and providers posting signed webhooks, while the platform queues emails. At known
times it injects: `kill -9` of a Celery worker in the middle of a batch, a Redis restart, a PostgreSQL
restart, the SMTP sink down for 20 s (5 s in the short run) and one gunicorn worker killed.

Afterwards, with every email drained, it reconciles and prints:
- every email queued was received once by the sink and is recorded sent (or later), or is failed with its
  reason ("may have been delivered" only for what was in flight when its worker died), or is suppressed
  (never sent: its address is on the suppression list); none is pending;
- every message whose POST was answered 2xx is in the database, once;
- no 5xx outside the PostgreSQL restart window; how long each fault took to recover from (target 10 s);
- requests/s, p50/p95/p99 per page, emails/s.
It exits 1 when an invariant fails.

Run: make soak   (SOAK_SECONDS=30 SOAK_USERS=40 for the short run: make soak-short)
Restarts the machine's Redis and PostgreSQL: run it alone.
"""
from __future__ import annotations

import collections
import datetime as dt
import hashlib
import hmac
import io
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
SECONDS = float(os.environ.get("SOAK_SECONDS", "180"))
USERS = int(os.environ.get("SOAK_USERS", "200"))
SHORT = SECONDS < 60
SINK_DOWN_SECONDS = 5.0 if SHORT else 20.0
RECOVERY_TARGET = 10.0
DB_NAME = os.environ.get("SOAK_DB_NAME", "messaging_soak")
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PASSWORD = "soak-password-1"
MAILGUN_KEY = "soak-mailgun-signing-key"
PG_VERSION = (sorted(os.listdir("/etc/postgresql")) or ["15"])[-1] if os.path.isdir("/etc/postgresql") else "15"
REDIS_START = ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379", "--save", "",
               "--appendonly", "no", "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


WORK = Path(tempfile.mkdtemp(prefix="soak-"))
WEB_PORT, SINK_PORT, REPLIES_PORT = free_port(), free_port(), free_port()
BASE = f"http://127.0.0.1:{WEB_PORT}"
ENV = {
    "MESSAGING_ENV": "production", "FLASK_APP": "wsgi.py", "SECRET_KEY": secrets.token_urlsafe(32),
    "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB_NAME}",
    "EMAIL_DISPATCHER": "celery", "CELERY_BROKER_URL": "redis://127.0.0.1:6379/4", "CELERY_QUEUE": "soak",
    "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/5", "PUBLIC_BASE_URL": BASE, "SESSION_COOKIE_SECURE": "0",
    "MAIL_PROVIDER": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(SINK_PORT), "SMTP_ALLOW_INTERNAL_HOSTS": "1",
    # Short clocks, so that retries, the sweep and abandoned claims play out within the run.
    "EMAIL_RETRY_BASE_SECONDS": "2", "EMAIL_MAX_ATTEMPTS": "8", "EMAIL_CLAIM_TIMEOUT_SECONDS": "15",
    "EMAIL_SWEEP_AFTER_SECONDS": "15", "EMAIL_SWEEP_EVERY_SECONDS": "5",
    # Every user comes from this one address: the per-address limits would otherwise be the test.
    "LOGIN_RATE_LIMIT": "100000 per minute", "LOGIN_ADDRESS_RATE_LIMIT": "100000 per minute",
    "MESSAGE_POST_RATE_LIMIT": "100000 per minute", "UPLOAD_RATE_LIMIT": "100000 per minute",
    "TEMPLATE_PREVIEW_RATE_LIMIT": "100000 per minute",
    "INBOUND_EMAIL_DOMAIN": "reply.localhost", "LOG_FORMAT": "json",
    "MESSAGING_INSTANCE_DIR": str(WORK / "instance"), "UPLOAD_DIR": str(WORK / "uploads"),
    "PROMETHEUS_MULTIPROC_DIR": str(WORK / "prometheus"),
    "WEB_PORT": str(WEB_PORT), "WEB_WORKERS": "3",
    "LIVE_BUS_URL": "redis://127.0.0.1:6379/6", "LIVE_BUS_CHANNEL": "soak:live",
    "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
}


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


ENV["MESSAGING_ENCRYPTION_KEYS"] = _fernet_key()
os.environ.update(ENV)  # this process queues emails and reads the database through the app too

SINK_SCRIPT = r"""
import sys, time
from email.parser import BytesHeaderParser
from aiosmtpd.controller import Controller
out = open(sys.argv[2], "a", buffering=1)
class Sink:
    async def handle_DATA(self, server, session, envelope):
        headers = BytesHeaderParser().parsebytes(envelope.content)
        out.write(f"{time.time():.3f} {headers.get('Message-ID', '-')}\n")
        return "250 OK"
c = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]), ready_timeout=10)
c.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
"""


# --- the processes ---------------------------------------------------------------------------------------

class Processes:
    def __init__(self):
        self.logs = WORK / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **ENV}, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.running[name] = process
        return process

    def start_sink(self) -> None:
        self.start("sink", [sys.executable, "-c", SINK_SCRIPT, str(SINK_PORT), str(WORK / "sink.txt")])
        wait_until(lambda: _port_open(SINK_PORT), 10, "the SMTP sink did not start")

    def stop_sink(self) -> None:
        sink = self.running.pop("sink")
        sink.kill()
        sink.wait()

    def start_stack(self) -> None:
        (WORK / "prometheus").mkdir(exist_ok=True)
        # As production runs it: gevent workers (gunicorn.conf.py), live events through Redis.
        self.start("web", ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"])
        for n in (1, 2):
            self.start(f"worker{n}", [sys.executable, "-m", "messaging_web.supervise", "celery", "-A",
                                      "messaging_web.tasks", "worker", "--loglevel", "INFO", "--concurrency", "2",
                                      "-n", f"soak{n}@localhost"])
        self.start("beat", [sys.executable, "-m", "messaging_web.supervise", "celery", "-A", "messaging_web.tasks",
                            "beat", "--loglevel", "INFO", "--schedule", str(WORK / "celerybeat-schedule")])
        self.start("replies", [sys.executable, "-m", "messaging_web.supervise", "flask", "messaging", "inbound-smtp",
                               "--host", "127.0.0.1", "--port", str(REPLIES_PORT)])
        wait_until(lambda: _get_status("/readyz") == 200, 60, "the web server did not become ready")

    def stop_all(self) -> None:
        for process in self.running.values():
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for process in self.running.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in found]


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _get_status(path: str) -> int | None:
    try:
        return requests.get(BASE + path, timeout=5).status_code
    except requests.RequestException:
        return None


def wait_until(condition, timeout: float, failure: str, every: float = 0.2) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if condition():
                return time.monotonic() - start
        except Exception:  # a probe during a fault
            pass
        time.sleep(every)
    raise SystemExit(f"soak: {failure}")


# --- the data --------------------------------------------------------------------------------------------

@dataclass
class Cast:
    customers: list[tuple[str, str, int]] = field(default_factory=list)  # (store slug, email, conversation id)
    team: list[tuple[str, str, str]] = field(default_factory=list)  # (store slug, email, language)
    admins: list[str] = field(default_factory=list)


def prepare_database() -> None:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{DB_NAME}"'))
    admin.dispose()
    env = {**os.environ, **ENV}
    for command in (["flask", "db", "upgrade"], ["flask", "messaging", "seed-demo"]):
        subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def cast_users(app) -> Cast:
    from messaging_web.actors import Actor
    from messaging_web.extensions import db
    from messaging_web.models import ConversationType, Store, StoreEmailSettings
    from messaging_web.services import accounts, conversations
    from messaging_web.services.secrets import encrypt_secret

    cast = Cast(admins=["admin@platform.example"])
    with app.app_context():
        stores = db.session.scalars(sa.select(Store).order_by(Store.id)).all()
        for store in stores:
            settings = db.session.scalar(sa.select(StoreEmailSettings).where(StoreEmailSettings.store_id == store.id))
            if settings is None:
                settings = StoreEmailSettings(store_id=store.id)
                db.session.add(settings)
            settings.provider, settings.from_email, settings.from_name = "smtp", f"shop@{store.slug}.example", store.name
            settings.smtp_host, settings.smtp_port, settings.smtp_use_tls, settings.smtp_use_ssl = (
                "127.0.0.1", SINK_PORT, False, False)
            settings.smtp_username, settings.smtp_password = None, None
            settings.mailgun_webhook_signing_key = encrypt_secret(MAILGUN_KEY)
            settings.is_configured = settings.is_verified = True
        db.session.commit()
        n_team = max(3, USERS * 3 // 10)
        n_customers = max(3, USERS - n_team - max(2, USERS // 20) - max(2, USERS // 20))
        for i in range(n_team):
            store = stores[i % len(stores)]
            email = f"team{i}@{store.slug}.example"
            accounts.create_store_user(store, email, f"Team member {i}", PASSWORD)
            cast.team.append((store.slug, email, store.default_language or "en"))
        for i in range(n_customers):
            store = stores[i % len(stores)]
            email = f"customer{i}@soak.example"
            customer = accounts.create_customer(store, email, f"Customer {i}", PASSWORD, store.default_language or "en")
            db.session.flush()
            thread = conversations.start_conversation(
                Actor.for_customer(customer), ConversationType.STORE_CUSTOMER, f"Order question {i}",
                "Hello, where is my order?", store=store)
            db.session.commit()
            cast.customers.append((store.slug, email, thread.id))
    return cast


# --- the users -------------------------------------------------------------------------------------------

CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
CONVERSATION_LINK = re.compile(r'/conversations/(\d+)"')


def tiny_png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(out, "PNG")
    return out.getvalue()


PNG = tiny_png()


@dataclass
class Record:
    at: float
    page: str
    status: int | None  # None: no answer (connection reset, timeout)
    seconds: float


class Run:
    def __init__(self):
        self.started = time.time()
        self.stop = threading.Event()
        self.records: list[Record] = []
        self.posted: list[str] = []  # the text of every message whose POST was answered 2xx
        self.queued: list[int] = []
        self.lock = threading.Lock()
        self.sent_log_ids: list[int] = []

    def note(self, page: str, started: float, status: int | None) -> None:
        with self.lock:
            self.records.append(Record(started, page, status, time.time() - started))


class User(threading.Thread):
    def __init__(self, run: Run, kind: str, who: tuple, delay: float):
        super().__init__(daemon=True)
        self.run_, self.kind, self.who, self.delay = run, kind, who, delay
        self.http = requests.Session()
        self.token = ""

    def call(self, page: str, method: str, path: str, **kwargs) -> requests.Response | None:
        started = time.time()
        try:
            response = self.http.request(method, BASE + path, timeout=30, allow_redirects=False, **kwargs)
        except requests.RequestException:
            self.run_.note(page, started, None)
            return None
        self.run_.note(page, started, response.status_code)
        found = CSRF.search(response.text) if "text/html" in response.headers.get("Content-Type", "") else None
        if found:
            self.token = found.group(1)
        return response

    def sign_in(self, login_path: str, email: str) -> bool:
        for _ in range(20):
            if self.run_.stop.is_set():
                return False
            page = self.call("sign-in form", "GET", login_path)
            if page is not None and page.status_code == 200:
                done = self.call("sign in", "POST", login_path,
                                 data={"csrf_token": self.token, "email": email, "password": PASSWORD})
                if done is not None and done.status_code == 302:
                    return True
            time.sleep(1)
        return False

    def think(self) -> None:
        self.run_.stop.wait(random.uniform(2.0, 6.0))

    def post_message(self, path: str) -> None:
        text = f"soak {uuid.uuid4().hex} about my order"
        files = [("attachments", ("photo.png", PNG, "image/png"))] if random.random() < 0.2 else None
        response = self.call("post message", "POST", path, data={"content": text, "after": "0"}, files=files,
                             headers={"HX-Request": "true", "X-CSRFToken": self.token})
        if response is not None and 200 <= response.status_code < 300:
            with self.run_.lock:
                self.run_.posted.append(text)

    def run(self) -> None:
        self.run_.stop.wait(self.delay)
        try:
            getattr(self, f"play_{self.kind}")()
        except Exception as exc:  # a bug in the driver must show, not hang the run
            print(f"soak: a {self.kind} user stopped: {exc!r}", file=sys.stderr)

    def play_customer(self) -> None:
        slug, email, conversation_id = self.who
        if not self.sign_in(f"/inbox/{slug}/login", email):
            return
        thread = f"/inbox/{slug}/conversations/{conversation_id}"
        while not self.run_.stop.is_set():
            roll = random.random()
            if roll < 0.45:
                self.call("customer thread", "GET", thread)
            elif roll < 0.85:
                self.post_message(f"{thread}/messages")
            else:
                self.call("customer inbox", "GET", f"/inbox/{slug}/")
            self.think()

    def play_team(self) -> None:
        slug, email, language = self.who
        if not self.sign_in(f"/store/{slug}/login", email):
            return
        threads: list[str] = []
        while not self.run_.stop.is_set():
            roll = random.random()
            if roll < 0.3 or not threads:
                inbox = self.call("store inbox", "GET", f"/store/{slug}/conversations/")
                if inbox is not None and inbox.status_code == 200:
                    threads = sorted(set(CONVERSATION_LINK.findall(inbox.text)))
            elif roll < 0.5:
                self.call("store thread", "GET", f"/store/{slug}/conversations/{random.choice(threads)}")
            elif roll < 0.8:
                self.post_message(f"/store/{slug}/conversations/{random.choice(threads)}/messages")
            else:
                self.call("template preview", "POST", f"/store/{slug}/templates/order_shipped/{language}/preview",
                          data={"subject": "Your order {{ order_number }} is on its way",
                                "body_html": "<p>Hello {{ customer_name }}, {{ order_number }} left today.</p>",
                                "csrf_token": self.token}, headers={"HX-Request": "true", "X-CSRFToken": self.token})
            self.think()

    def play_admin(self) -> None:
        email = self.who[0]
        if not self.sign_in("/admin/login", email):
            return
        while not self.run_.stop.is_set():
            roll = random.random()
            if roll < 0.5:
                self.call("email log", "GET", f"/admin/email-log?page={random.randint(1, 5)}")
            elif roll < 0.8:
                listing = self.call("email log", "GET", "/admin/email-log?status=sent")
                ids = re.findall(r"/admin/email-log/(\d+)", listing.text) if listing is not None else []
                if ids:
                    self.call("email log entry", "GET", f"/admin/email-log/{random.choice(ids)}")
            else:
                self.call("admin home", "GET", "/admin/")
            self.think()

    def play_webhook(self) -> None:
        while not self.run_.stop.is_set():
            with self.run_.lock:
                known = list(self.run_.sent_log_ids[-500:])
            log_id = random.choice(known) if known else 1
            now = f"{time.time():.0f}"
            token = uuid.uuid4().hex
            signature = hmac.new(MAILGUN_KEY.encode(), f"{now}{token}".encode(), hashlib.sha256).hexdigest()
            event = random.choice(["delivered", "opened", "clicked"])
            body = {"signature": {"timestamp": now, "token": token, "signature": signature},
                    "event-data": {"event": event, "timestamp": time.time(),
                                   "user-variables": {"email_log_id": str(log_id)}}}
            slug = random.choice(["alpine", "lumiere", "bergmann"])
            self.call("webhook", "POST", f"/webhooks/mailgun/{slug}", data=json.dumps(body),
                      headers={"Content-Type": "application/json"})
            self.think()


# --- the platform queueing emails ------------------------------------------------------------------------

class Producer(threading.Thread):
    """What the shop's other modules do: queue transactional emails (queue_email + commit + hand-off)."""

    def __init__(self, app, run: Run, per_second: float):
        super().__init__(daemon=True)
        self.app, self.run_, self.per_second = app, run, per_second
        self.refused = 0

    def queue(self, n: int) -> list[int]:
        from messaging_web.extensions import db
        from messaging_web.services.email.outbox import queue_email

        ids = []
        try:
            for _ in range(n):
                row = queue_email("settings_test_email", f"buyer{random.randint(1, 10_000)}@soak.example",
                                  {"store_name": "Soak", "provider": "smtp"}, store_id=None)
                ids.append(row.id)
            db.session.commit()
        except Exception:  # the database is restarting: the caller is told, nothing was queued
            db.session.rollback()
            self.refused += n
            return []
        with self.run_.lock:
            self.run_.queued.extend(ids)
        return ids

    def run(self) -> None:
        from messaging_web.extensions import db

        with self.app.app_context():
            while not self.run_.stop.is_set():
                self.queue(1)
                self.run_.stop.wait(1.0 / self.per_second)
            db.session.remove()


# --- the faults ------------------------------------------------------------------------------------------

@dataclass
class Fault:
    name: str
    at: float  # seconds into the run
    began: float = 0.0
    ended: float = 0.0
    recovered_after: float | None = None
    detail: str = ""
    held: list = field(default_factory=list)  # (email id, started) of a killed worker's claim


def claims_older_than(app, moment: float) -> list[tuple[int, bool]]:
    from messaging_web.extensions import db
    from messaging_web.models import EmailLog

    cutoff = dt.datetime.fromtimestamp(moment, dt.UTC)
    with app.app_context():
        try:
            return [(row.id, row.send_started_at is not None) for row in db.session.execute(
                sa.select(EmailLog.id, EmailLog.send_started_at)
                .where(EmailLog.status == "pending", EmailLog.claimed_at < cutoff)).all()]
        finally:
            db.session.remove()


def email_sent(app, log_id: int) -> bool:
    from messaging_web.extensions import db
    from messaging_web.models import EmailLog

    with app.app_context():
        try:
            return db.session.scalar(sa.select(EmailLog.status).where(EmailLog.id == log_id)) not in (None, "pending",
                                                                                                     "failed")
        finally:
            db.session.remove()


def recovery_by_email(app, producer: Producer, fault: Fault) -> None:
    """Recovered once an email queued after the fault is delivered."""
    def delivered():
        with app.app_context():
            ids = producer.queue(1)
        return bool(ids) and wait_until(lambda: email_sent(app, ids[0]), 30, "", every=0.1) is not None
    try:
        fault.recovered_after = wait_until(delivered, 60, f"{fault.name}: no email delivered after it", every=0.1)
    except SystemExit as exc:
        fault.detail = str(exc)


def recovery_by_page(fault: Fault) -> None:
    try:
        fault.recovered_after = wait_until(lambda: _get_status("/readyz") == 200, 60,
                                           f"{fault.name}: not ready again", every=0.1)
    except SystemExit as exc:
        fault.detail = str(exc)


def inject(fault: Fault, processes: Processes, app, producer: Producer) -> None:
    fault.began = time.time()
    if fault.name == "celery worker kill -9":
        # A backlog, so that the worker is in the middle of a batch when it dies.
        with app.app_context():
            producer.queue(1000)
        time.sleep(0.3)
        killed_at = time.time()
        supervisor = processes.running["worker1"]
        celery_main = children(supervisor.pid)
        victims = celery_main + [c for pid in celery_main for c in children(pid)]
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        fault.ended = time.time()
        recovery_by_email(app, producer, fault)
        # What the killed worker held: claims older than the kill still open a few seconds later (the other
        # worker finishes a batch in well under a second).
        time.sleep(max(0.0, fault.ended + 3 - time.time()))
        held = claims_older_than(app, killed_at)
        fault.held = held
        started = sum(1 for _id, was_started in held if was_started)
        fault.detail = f"killed pids {victims}, which held {len(held)} claimed emails ({started} started)"
    elif fault.name == "redis restart":
        subprocess.run(["redis-cli", "shutdown", "nosave"], capture_output=True)
        time.sleep(0.5)
        subprocess.run(REDIS_START, check=True, capture_output=True)
        wait_until(lambda: subprocess.run(["redis-cli", "ping"], capture_output=True).returncode == 0, 20, "redis")
        fault.ended = time.time()
        recovery_by_email(app, producer, fault)
    elif fault.name == "postgresql restart":
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", PG_VERSION, "main", "restart"], check=True,
                       capture_output=True)
        fault.ended = time.time()
        recovery_by_page(fault)
    elif fault.name == "smtp sink down":
        processes.stop_sink()
        time.sleep(SINK_DOWN_SECONDS)
        processes.start_sink()
        fault.ended = time.time()
        recovery_by_email(app, producer, fault)
    elif fault.name == "gunicorn worker kill -9":
        workers = children(processes.running["web"].pid)
        os.kill(workers[0], signal.SIGKILL)
        fault.detail = f"killed pid {workers[0]} of {len(workers)}"
        fault.ended = time.time()
        recovery_by_page(fault)


def fault_plan() -> list[Fault]:
    names = ["celery worker kill -9", "redis restart", "postgresql restart", "smtp sink down",
             "gunicorn worker kill -9"]
    return [Fault(name, SECONDS * (i + 1) / (len(names) + 1)) for i, name in enumerate(names)]


# --- the reckoning ---------------------------------------------------------------------------------------

def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else 0.0


def reckon(app, run: Run, faults: list[Fault], load_seconds: float, producer: Producer) -> bool:
    from messaging_web.extensions import db
    from messaging_web.models import EmailLog, Message

    ok = True
    print("\n== emails")
    received = collections.Counter(line.split(" ", 1)[1].strip()
                                   for line in (WORK / "sink.txt").read_text().splitlines() if " " in line)
    with app.app_context():
        rows = db.session.execute(sa.select(EmailLog.id, EmailLog.status, EmailLog.delivery_ambiguous,
                                            EmailLog.error_message, EmailLog.sent_at)).all()
        messages = collections.Counter(db.session.scalars(
            sa.select(Message.content).where(Message.content.like("soak %"))).all())
    by_status = collections.Counter(r.status for r in rows)
    header = {r.id: f"<email-log-{r.id}@messaging-web>" for r in rows}
    # Suppressed emails are never sent (their address is on the suppression list; the demo data has one).
    delivered = {r.id for r in rows if r.status not in ("pending", "failed", "suppressed")}
    ambiguous = {r.id for r in rows if r.status == "failed" and r.delivery_ambiguous}
    duplicates = {mid: n for mid, n in received.items() if n > 1}
    missing = [i for i in delivered if header[i] not in received]
    unexplained = [mid for mid in received if mid not in {header[i] for i in delivered | ambiguous}]
    print(f"rows: {len(rows)} ({dict(by_status)}); queued by the platform during the run: {len(run.queued)}, "
          f"refused while the database restarted: {producer.refused}")
    print(f"received by the sink: {sum(received.values())} ({len(received)} distinct Message-IDs)")
    failures = collections.Counter((r.error_message or "")[:70] for r in rows if r.status == "failed")
    for reason, n in failures.most_common():
        print(f"  failed x{n}: {reason}")
    checks = [
        ("no email pending", by_status.get("pending", 0) == 0, f"{by_status.get('pending', 0)} pending"),
        ("no email received twice", not duplicates, f"{len(duplicates)} duplicated: {list(duplicates)[:5]}"),
        ("every email recorded sent was received", not missing, f"{len(missing)} missing: {missing[:5]}"),
        ("every email received is recorded sent (or in doubt)", not unexplained,
         f"{len(unexplained)}: {unexplained[:5]}"),
    ]
    kill = next(f for f in faults if f.name == "celery worker kill -9")
    started = {i for i, was_started in kill.held if was_started}
    resent = [i for i, was_started in kill.held if not was_started]
    final = {r.id: r.status for r in rows}
    print(f"the killed worker's claim: {len(kill.held)} emails, {len(started)} in flight; afterwards "
          f"{collections.Counter(final.get(i) for i in resent)} of the others, "
          f"{len(ambiguous)} in doubt in all")
    checks += [
        ("in doubt only what was in flight at the worker kill", ambiguous <= started,
         f"{sorted(ambiguous - started)[:5]} in doubt but not in flight"),
        ("the rest of the killed worker's claim is sent again", all(final.get(i) != "failed" for i in resent),
         f"{[i for i in resent if final.get(i) == 'failed'][:5]} failed"),
    ]
    print("\n== messages")
    twice = [t for t in run.posted if messages[t] > 1]
    lost = [t for t in run.posted if messages[t] == 0]
    print(f"posts answered 2xx: {len(run.posted)}; in the database: {len(run.posted) - len(lost)}; twice: {len(twice)}")
    checks += [("every message answered 2xx is stored", not lost, f"{len(lost)} lost"),
               ("no message stored twice", not twice, f"{len(twice)} twice")]
    print("  (the simulated users poll; delivery to open streams is measured by bench/bench_live.py)")

    print("\n== faults")
    pg = next(f for f in faults if f.name == "postgresql restart")
    pg_window = (pg.began - 1, pg.ended + RECOVERY_TARGET)
    for fault in faults:
        took = f"{fault.recovered_after:.1f} s" if fault.recovered_after is not None else "NOT RECOVERED"
        print(f"{fault.name:26} at {fault.began - run.started:6.1f} s, lasted {fault.ended - fault.began:5.1f} s, "
              f"recovered {took} after {fault.detail}")
        checks.append((f"{fault.name} recovered within {RECOVERY_TARGET:.0f} s",
                       fault.recovered_after is not None and fault.recovered_after <= RECOVERY_TARGET, took))
    server_errors = [r for r in run.records if r.status is not None and r.status >= 500]
    outside = [r for r in server_errors if not pg_window[0] <= r.at <= pg_window[1]]
    unanswered = [r for r in run.records if r.status is None]
    print(f"5xx: {len(server_errors)} ({len(server_errors) - len(outside)} inside the PostgreSQL restart window); "
          f"unanswered (connection reset or timeout): {len(unanswered)}, at "
          f"{sorted({round(r.at - run.started) for r in unanswered})[:20]} s")
    statuses = collections.Counter((r.page, r.status) for r in outside)
    checks.append(("no 5xx outside the PostgreSQL restart window", not outside, f"{dict(statuses)}"))

    print("\n== figures")
    answered = [r for r in run.records if r.status is not None]
    print(f"requests: {len(run.records)} in {load_seconds:.0f} s = {len(run.records) / load_seconds:.1f}/s "
          f"({USERS} users)")
    pages = collections.defaultdict(list)
    for r in answered:
        pages[r.page].append(r.seconds * 1000)
    print(f"  {'page':20} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for page, times in sorted(pages.items()):
        print(f"  {page:20} {len(times):6} {percentile(times, 50):8.1f} {percentile(times, 95):8.1f} "
              f"{percentile(times, 99):8.1f}")
    sent_times = sorted(r.sent_at.timestamp() for r in rows if r.sent_at is not None)
    if len(sent_times) > 1:
        span = sent_times[-1] - sent_times[0]
        print(f"emails: {len(sent_times)} sent over {span:.0f} s = {len(sent_times) / max(span, 1):.1f}/s")

    print("\n== verdict")
    for name, passed, detail in checks:
        print(f"{'PASS' if passed else 'FAIL'}  {name}" + ("" if passed else f": {detail}"))
        ok = ok and passed
    return ok


# --- the run ---------------------------------------------------------------------------------------------

def main() -> int:
    for tool in ("redis-cli", "redis-server", "pg_ctlcluster", "pgrep"):
        if shutil.which(tool) is None:
            print(f"soak: {tool} is not on this machine; the soak needs the local Redis and PostgreSQL")
            return 2
    print(f"soak: {SECONDS:.0f} s, {USERS} users, work dir {WORK}")
    prepare_database()
    from messaging_web import create_app

    app = create_app()
    cast = cast_users(app)
    processes = Processes()
    run = Run()
    try:
        processes.start_sink()
        processes.start_stack()
        print(f"soak: stack up on {BASE}: {len(cast.customers)} customers, {len(cast.team)} team members, "
              f"{max(2, USERS // 20)} admins, {max(2, USERS // 20)} webhook senders")
        users = [User(run, "customer", who, random.uniform(0, 10)) for who in cast.customers]
        users += [User(run, "team", who, random.uniform(0, 10)) for who in cast.team]
        users += [User(run, "admin", (cast.admins[0],), random.uniform(0, 10)) for _ in range(max(2, USERS // 20))]
        users += [User(run, "webhook", (), random.uniform(0, 10)) for _ in range(max(2, USERS // 20))]
        producer = Producer(app, run, per_second=10)
        run.started = time.time()
        for user in users:
            user.start()
        producer.start()
        faults = fault_plan()
        watcher = threading.Thread(target=watch_sent, args=(app, run), daemon=True)
        watcher.start()
        for fault in faults:
            time.sleep(max(0.0, run.started + fault.at - time.time()))
            print(f"soak: {time.time() - run.started:6.1f} s  {fault.name}", flush=True)
            inject(fault, processes, app, producer)
        time.sleep(max(0.0, run.started + SECONDS - time.time()))
        run.stop.set()
        load_seconds = time.time() - run.started
        for user in users:
            user.join(35)
        producer.join(10)
        print("soak: load stopped; waiting for every email to be delivered or failed", flush=True)
        drain(app)
        time.sleep(2)
        ok = reckon(app, run, faults, load_seconds, producer)
    finally:
        processes.stop_all()
    print(f"\nlogs: {processes.logs}")
    return 0 if ok else 1


def watch_sent(app, run: Run) -> None:
    """The ids webhooks talk about: emails the system recorded as sent."""
    from messaging_web.extensions import db
    from messaging_web.models import EmailLog

    while not run.stop.is_set():
        try:
            with app.app_context():
                ids = db.session.scalars(sa.select(EmailLog.id).where(EmailLog.status == "sent")
                                         .order_by(EmailLog.id.desc()).limit(500)).all()
                db.session.remove()
            with run.lock:
                run.sent_log_ids = list(ids)
        except Exception:
            pass
        run.stop.wait(2)


def drain(app) -> None:
    from messaging_web.extensions import db
    from messaging_web.models import EmailLog

    def none_pending():
        with app.app_context():
            try:
                return not db.session.scalar(sa.select(sa.func.count()).where(EmailLog.status == "pending"))
            finally:
                db.session.remove()
    try:
        took = wait_until(none_pending, 240, "emails still pending 240 s after the load", every=1)
        print(f"soak: drained {took:.0f} s after the load")
    except SystemExit as exc:
        print(exc)


if __name__ == "__main__":
    sys.exit(main())
