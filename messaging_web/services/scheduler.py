"""The periodic jobs, and the embedded scheduler that runs them where no Celery beat does.

Production runs them from Celery beat (tasks.py builds its schedule from SCHEDULE). `make run` has no beat and
no worker: there, create_app starts EmbeddedScheduler (EMBEDDED_SCHEDULER=1), a thread that runs the same
jobs on the same schedule in the web process, so that batched notifications, retries and sweeps happen on
the embedded default too.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask

log = logging.getLogger(__name__)

# Read from the environment (not the app config): Celery beat builds its schedule from this at import.
SWEEP_EVERY_SECONDS = int(os.environ.get("EMAIL_SWEEP_EVERY_SECONDS", "60"))
NOTIFY_EVERY_SECONDS = 15
# The analytics read the deltas not folded yet too: folding often keeps that part small, not the figures right.
FOLD_STATS_EVERY_SECONDS = int(os.environ.get("EMAIL_STATS_FOLD_EVERY_SECONDS", "15"))


def sweep_outbox() -> int:
    """Re-dispatch pending rows whose hand-off was lost (and retries that are due); mark abandoned claims
    ambiguous. In an app context; commits."""
    from .email import delivery, dispatcher

    report = delivery.sweep()
    if report.redispatch:
        dispatcher.dispatch(report.redispatch)
    return len(report.redispatch)


def notify_conversations() -> int:
    """Queue the batched new-message emails whose window has passed. In an app context; commits."""
    from ..extensions import db
    from . import conversation_notifications

    report = conversation_notifications.flush_due_notifications()
    db.session.commit()
    return len(report.sent)


def fold_email_stats() -> int:
    """Sum the email log's stage deltas into the daily roll-up. In an app context; commits."""
    from .email import email_stats

    return email_stats.fold_all()


@dataclass(frozen=True)
class Job:
    name: str  # the Celery task's name
    every_seconds: float
    run: Callable[[], int]


SCHEDULE = (
    Job("messaging_web.sweep_outbox", SWEEP_EVERY_SECONDS, sweep_outbox),
    Job("messaging_web.notify_conversations", NOTIFY_EVERY_SECONDS, notify_conversations),
    Job("messaging_web.fold_email_stats", FOLD_STATS_EVERY_SECONDS, fold_email_stats),
)


class EmbeddedScheduler:
    """Runs SCHEDULE in a daemon thread of this process, each job in an app context of its own."""

    def __init__(self, app: Flask, schedule: tuple[Job, ...] = SCHEDULE):
        self.app = app
        self.schedule = schedule
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="embedded-scheduler", daemon=True)

    def start(self) -> EmbeddedScheduler:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)

    def run_due(self, due: dict[str, float], now: float) -> None:
        """Run every job whose time has come; `due` maps a job to when it runs next."""
        for job in self.schedule:
            if now < due.get(job.name, 0.0):
                continue
            due[job.name] = now + job.every_seconds
            self.run_job(job)

    def run_job(self, job: Job) -> None:
        from ..extensions import db

        with self.app.app_context():
            try:
                job.run()
            except Exception:  # one failing run must not end the schedule; the next run tries again
                db.session.rollback()
                log.exception("Scheduled job %s failed", job.name)
            finally:
                db.session.remove()

    def _run(self) -> None:
        due: dict[str, float] = {}
        while not self.stopped.is_set():
            self.run_due(due, time.monotonic())
            self.stopped.wait(1.0)
