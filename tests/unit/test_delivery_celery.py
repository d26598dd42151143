"""Real Celery workers on the real Redis deliver queued emails: each exactly once, retries included."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from messaging_web.extensions import db
from messaging_web.models import EmailLog
from messaging_web.services.email import dispatcher
from messaging_web.services.email.outbox import queue_email
from tests.support.email_data import load_templates, smtp_settings
from tests.support.waiting import poll_database

pytest_plugins = ["tests.support.fixtures"]

BROKER = os.environ.get("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/2")
ROOT = Path(__file__).resolve().parents[2]


def _redis_up() -> bool:
    try:
        return redis.Redis.from_url(BROKER, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


pytestmark = pytest.mark.skipif(not _redis_up(), reason=f"Redis is not reachable at {BROKER}")


@pytest.fixture
def celery_setup(app):
    queue = f"dlv-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{os.getpid()}"
    saved = {k: app.config[k] for k in ("EMAIL_DISPATCHER", "CELERY_BROKER_URL", "CELERY_QUEUE", "EMAIL_BATCH_SIZE")}
    app.config.update(EMAIL_DISPATCHER="celery", CELERY_BROKER_URL=BROKER, CELERY_QUEUE=queue, EMAIL_BATCH_SIZE=3)
    env = {
        **os.environ,
        "MESSAGING_ENV": "testing", "SECRET_KEY": app.config["SECRET_KEY"],
        "MESSAGING_ENCRYPTION_KEYS": app.config["MESSAGING_ENCRYPTION_KEYS"],
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "MESSAGING_INSTANCE_DIR": app.config["INSTANCE_DIR"],
        "MAIL_OUTBOX_DIR": app.config["MAIL_OUTBOX_DIR"], "CELERY_BROKER_URL": BROKER, "CELERY_QUEUE": queue,
        "EMAIL_DISPATCHER": "celery", "EMAIL_RETRY_BASE_SECONDS": "1", "SMTP_ALLOW_INTERNAL_HOSTS": "1",
        "EMAIL_BATCH_SIZE": "3",
    }
    workers = []

    def start(n: int = 2):
        for i in range(n):
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "messaging_web.tasks", "worker", "-Q", queue, "--pool=solo",
                 "-n", f"{queue}-{i}@localhost", "--without-gossip", "--without-mingle", "--without-heartbeat",
                 "-l", "warning"],
                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            ))

    yield start
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()
    redis.Redis.from_url(BROKER).delete(queue)
    app.config.update(saved)


def wait_for(condition, timeout: float = 60.0):
    value = poll_database(condition, timeout)
    if not value:
        raise AssertionError("timed out waiting for the workers")
    return value


def statuses(ids):
    return db.session.scalars(sa.select(EmailLog.status).where(EmailLog.id.in_(ids))).all()


def test_two_celery_workers_deliver_every_email_exactly_once(ctx, factory, smtp_sink, celery_setup):
    load_templates()
    store = factory.store()
    smtp_settings(store.id, smtp_sink)
    celery_setup(2)
    ids = [queue_email("settings_test_email", f"buyer{n}@customer.example",
                       {"store_name": store.name, "provider": "smtp"}, store_id=store.id).id for n in range(30)]
    db.session.commit()
    # A duplicated hand-off (as after a sweep) must not produce a second send.
    dispatcher.dispatch(ids)
    wait_for(lambda: set(statuses(ids)) == {"sent"})
    time.sleep(1)
    message_ids = [m["Message-ID"] for m in smtp_sink.parsed()]
    assert sorted(message_ids) == sorted(f"<email-log-{i}@messaging-web>" for i in ids)


def test_celery_worker_retries_a_transient_failure_later(ctx, factory, smtp_sink, celery_setup):
    load_templates()
    store = factory.store()
    smtp_settings(store.id, smtp_sink)
    smtp_sink.fault = "451-rcpt"
    celery_setup(1)
    log_id = queue_email("settings_test_email", "kim@customer.example", {"store_name": store.name, "provider": "smtp"},
                         store_id=store.id).id
    db.session.commit()
    wait_for(lambda: db.session.get(EmailLog, log_id).retry_count >= 1)
    smtp_sink.fault = None
    wait_for(lambda: db.session.get(EmailLog, log_id).status == "sent")
    assert len(smtp_sink.messages) == 1
