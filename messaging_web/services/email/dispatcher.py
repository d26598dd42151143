"""Hands committed EmailLog ids to the worker: in-process right after commit, or to Celery on Redis.

queue_email registers the new row's id on the session; only when that transaction commits are the
ids handed over (a rollback forgets them), so a worker never looks for a row that is not there yet.
A lost hand-off (a crash between commit and dispatch, a broker outage) is found again by the sweep.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Protocol

from flask import Flask, current_app, has_app_context

from ...extensions import AnySession
from .. import transaction_hooks

log = logging.getLogger(__name__)

DISPATCHERS = ("inprocess", "celery", "manual")


class TaskQueue(Protocol):
    """Where EMAIL_DISPATCHER=celery hands emails: tasks.py provides it, create_app registers it, so that
    services never import the task layer (which imports services)."""

    def deliver(self, app: Flask, ids: list[int]) -> None: ...

    def deliver_at(self, app: Flask, log_id: int, when: dt.datetime) -> None: ...


_TASK_QUEUE_KEY = "messaging_web.task_queue"


def use_task_queue(app: Flask, task_queue: TaskQueue) -> None:
    app.extensions[_TASK_QUEUE_KEY] = task_queue


def _task_queue() -> TaskQueue:
    task_queue = current_app.extensions.get(_TASK_QUEUE_KEY)
    if task_queue is None:
        raise RuntimeError("EMAIL_DISPATCHER=celery, but no task queue is registered (see create_app)")
    return task_queue


def dispatch_after_commit(session: AnySession, ids: Iterable[int]) -> None:
    transaction_hooks.per_transaction(session, "emails_to_dispatch", on_commit=_dispatch_committed).extend(ids)


def _dispatch_committed(ids: list[int]) -> None:
    if has_app_context():
        dispatch(ids)


def _chunks(ids: list[int], size: int):
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def dispatch(ids: Iterable[int]) -> None:
    """Hand these committed ids over; never raises (the rows stay pending for the sweep)."""
    ids = list(ids)
    mode = current_app.config.get("EMAIL_DISPATCHER", "inprocess")
    size = current_app.config.get("EMAIL_BATCH_SIZE", 50)
    try:
        if mode == "celery":
            task_queue = _task_queue()
            for chunk in _chunks(ids, size):
                task_queue.deliver(current_app, chunk)
        elif mode == "inprocess":
            from . import delivery

            for chunk in _chunks(ids, size):
                delivery.deliver(chunk)
        elif mode != "manual":
            log.error("EMAIL_DISPATCHER=%r is not one of %s; emails stay queued", mode, DISPATCHERS)
    except Exception:
        log.exception("Handing %d email(s) to the %s dispatcher failed; the sweep will pick them up", len(ids), mode)


def schedule_retries(retrying: list[tuple[int, dt.datetime]]) -> None:
    """With Celery, ask for each retry at its time; in-process, the worker loop or sweep finds them."""
    if current_app.config.get("EMAIL_DISPATCHER") != "celery" or not retrying:
        return
    try:
        task_queue = _task_queue()
        for log_id, when in retrying:
            task_queue.deliver_at(current_app, log_id, when)
    except Exception:
        log.exception("Scheduling %d retries failed; the sweep will pick them up", len(retrying))
