"""A Redis restart under a busy Celery worker: the worker reconnects and goes on delivering.

The worker holds an unacknowledged message (a retry waiting for its ETA, the normal state with late acks)
when its broker restarts. Celery 5.7.0 exits for good there ("Unrecoverable error: AttributeError(...
'hostname')"); the pin in pyproject.toml keeps a version that reconnects. The broker is a redis-server of
this test's own, on a port of its own, so that restarting it disturbs no other test.
"""
from __future__ import annotations

import datetime as dt
import functools
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from celery import Celery

from messaging_web import tasks
from messaging_web.extensions import db
from messaging_web.models import EmailLog
from messaging_web.services.email.outbox import queue_email
from tests.support.email_data import load_templates, smtp_settings
from tests.support.mail_servers import free_port
from tests.support.waiting import poll_database

pytest_plugins = ["tests.support.fixtures"]

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = shutil.which("redis-server")

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")


class PrivateRedis:
    def __init__(self, tmp_path: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tmp_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(self.dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise AssertionError("the private redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def worker_on(app, private_redis, manual_dispatch, tmp_path):
    """A worker on the private broker; the test hands work to it itself (queued emails are not dispatched)."""
    queue = "broker-restart"
    log = open(tmp_path / "worker.log", "w+")
    env = {
        **os.environ,
        "MESSAGING_ENV": "testing", "SECRET_KEY": app.config["SECRET_KEY"],
        "MESSAGING_ENCRYPTION_KEYS": app.config["MESSAGING_ENCRYPTION_KEYS"],
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "MESSAGING_INSTANCE_DIR": app.config["INSTANCE_DIR"],
        "MAIL_OUTBOX_DIR": app.config["MAIL_OUTBOX_DIR"], "CELERY_BROKER_URL": private_redis.url,
        "CELERY_QUEUE": queue, "EMAIL_DISPATCHER": "celery", "SMTP_ALLOW_INTERNAL_HOSTS": "1",
    }
    # As the Procfile runs it: the prefork pool, with gossip, mingle and heartbeats.
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "messaging_web.tasks", "worker", "-Q", queue, "--concurrency", "1",
         "-n", f"{queue}-{os.getpid()}@localhost", "-l", "info"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    worker.log = log
    yield worker
    worker.terminate()
    try:
        worker.wait(15)
    except subprocess.TimeoutExpired:
        worker.kill()
    log.close()


def test_a_worker_holding_a_retry_survives_a_redis_restart_and_delivers_afterwards(
        ctx, app, factory, smtp_sink, private_redis, worker_on):
    load_templates()
    store = factory.store()
    smtp_settings(store.id, smtp_sink)
    params = {"store_name": store.name, "provider": "smtp"}
    before = queue_email("settings_test_email", "first@customer.example", params, store_id=store.id).id
    waiting = queue_email("settings_test_email", "later@customer.example", params, store_id=store.id).id
    db.session.execute(sa.update(EmailLog).where(EmailLog.id == waiting)
                       .values(next_attempt_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)))
    db.session.commit()
    producer = Celery("broker-restart-test", broker=private_redis.url)  # not the app's: its pool outlives a test
    deliver = functools.partial(producer.send_task, tasks.deliver_emails.name, queue="broker-restart")
    deliver(args=([before],))
    # The retry the worker holds, unacknowledged, until its time comes.
    deliver(args=([waiting],), eta=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))
    assert poll_database(lambda: db.session.get(EmailLog, before).status == "sent", timeout=60), "worker never started"
    time.sleep(1)  # the ETA message is reserved by now

    private_redis.stop()
    time.sleep(0.5)
    private_redis.start()

    after = queue_email("settings_test_email", "after@customer.example", params, store_id=store.id).id
    db.session.commit()
    for _ in range(3):  # the hand-off may meet the worker between reconnection attempts
        deliver(args=([after],))
        if poll_database(lambda: db.session.get(EmailLog, after).status == "sent", timeout=15):
            break
    worker_on.log.seek(0)
    output = worker_on.log.read()
    assert worker_on.poll() is None, f"the worker exited after the Redis restart:\n{output[-3000:]}"
    assert "Unrecoverable error" not in output
    assert db.session.get(EmailLog, after).status == "sent"
