"""Celery on Redis: the background worker's entry points, thin wrappers over services/email/delivery.py.

Run `celery -A messaging_web.tasks worker` (and `celery -A messaging_web.tasks beat` for the sweep)
with the same environment as the web app (DATABASE_URL, CELERY_BROKER_URL, EMAIL_DISPATCHER=celery, ...).
"""
from __future__ import annotations

import datetime as dt

from celery import Celery
from flask import Flask, current_app, has_app_context

from .config import load_config
from .services.scheduler import SCHEDULE
from .structured_logs import new_request_id, request_id_var


def celery_settings(config: dict) -> dict:
    return {
        "broker_url": config["CELERY_BROKER_URL"],
        "task_default_queue": config.get("CELERY_QUEUE", "messaging_web"),
        "task_ignore_result": True,
        # A task is acknowledged after it ran: a worker killed mid-task leaves it for another worker;
        # the claim on the row keeps a second worker from sending what the first already claimed.
        "task_acks_late": True,
        "worker_prefetch_multiplier": 4,
        "broker_connection_retry_on_startup": True,
        # The same jobs on the same schedule as the embedded scheduler of `make run` (services/scheduler.py).
        "beat_schedule": {job.name: {"task": job.name, "schedule": float(job.every_seconds)} for job in SCHEDULE},
    }


celery_app = Celery("messaging_web")
celery_app.conf.update(celery_settings(load_config()))

_worker_app: Flask | None = None


def configure_from(app: Flask) -> None:
    """Point the producer side at the web app's broker (called before the first hand-off)."""
    if celery_app.conf.broker_url != app.config["CELERY_BROKER_URL"]:
        celery_app.conf.broker_url = app.config["CELERY_BROKER_URL"]
    celery_app.conf.task_default_queue = app.config.get("CELERY_QUEUE", "messaging_web")


class CeleryTaskQueue:
    """The dispatcher's task queue (services/email/dispatcher.TaskQueue) on this Celery app."""

    def deliver(self, app: Flask, ids: list[int]) -> None:
        configure_from(app)
        # The request id goes with the task, so that the worker's lines name the request that queued them.
        deliver_emails.delay(ids, request_id=request_id_var.get())

    def deliver_at(self, app: Flask, log_id: int, when: dt.datetime) -> None:
        configure_from(app)
        deliver_emails.apply_async(([log_id],), {"request_id": request_id_var.get()}, eta=when)


def _flask_app() -> Flask:
    global _worker_app
    if has_app_context():
        return current_app._get_current_object()  # type: ignore[attr-defined]  # the proxy's own method
    if _worker_app is None:
        from . import create_app

        _worker_app = create_app()
    return _worker_app


@celery_app.task(name="messaging_web.deliver_emails")
def deliver_emails(ids: list[int], request_id: str | None = None) -> int:
    """Deliver these EmailLog rows (those still due and unclaimed); schedule retries of transient failures."""
    from .services.email import delivery, dispatcher

    request_id_var.set(new_request_id(request_id))  # a task runs in a context of its own
    with _flask_app().app_context():
        report = delivery.deliver(ids)
        dispatcher.schedule_retries(report.retrying)
        return report.attempted


@celery_app.task(name="messaging_web.sweep_outbox")
def sweep_outbox() -> int:
    """Re-dispatch pending rows whose hand-off was lost; mark abandoned claims ambiguous."""
    from .services import scheduler

    with _flask_app().app_context():
        return scheduler.sweep_outbox()


@celery_app.task(name="messaging_web.notify_conversations")
def notify_conversations() -> int:
    """Queue the batched new-message emails whose window has passed (services/conversation_notifications.py)."""
    from .services import scheduler

    with _flask_app().app_context():
        return scheduler.notify_conversations()


@celery_app.task(name="messaging_web.fold_email_stats")
def fold_email_stats() -> int:
    """Sum the email log's stage deltas into the daily roll-up (services/email/email_stats.py)."""
    from .services import scheduler

    with _flask_app().app_context():
        return scheduler.fold_email_stats()
