"""Hands committed EmailLog ids to the worker: in-process right after commit, or to Celery on Redis.

queue_email registers the new row's id on the session; only when that transaction commits are the
ids handed over (a rollback forgets them), so a worker never looks for a row that is not there yet.
A lost hand-off (a crash between commit and dispatch, a broker outage) is found again by the sweep.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_PENDING_KEY = "messaging_web.emails_to_dispatch"
DISPATCHERS = ("inprocess", "celery", "manual")


def dispatch_after_commit(session: Session, ids: Iterable[int]) -> None:
    session.info.setdefault(_PENDING_KEY, []).extend(ids)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    ids = session.info.pop(_PENDING_KEY, None)
    if ids and has_app_context():
        dispatch(ids)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


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
            from .. import tasks

            tasks.configure_from(current_app)
            for chunk in _chunks(ids, size):
                tasks.deliver_emails.delay(chunk)
        elif mode == "inprocess":
            from . import delivery

            for chunk in _chunks(ids, size):
                delivery.deliver(chunk)
        elif mode != "manual":
            log.error("EMAIL_DISPATCHER=%r is not one of %s; emails stay queued", mode, DISPATCHERS)
    except Exception:
        log.exception("Handing %d email(s) to the %s dispatcher failed; the sweep will pick them up", len(ids), mode)


def schedule_retries(retrying: list[tuple[int, object]]) -> None:
    """With Celery, ask for each retry at its time; in-process, the worker loop or sweep finds them."""
    if current_app.config.get("EMAIL_DISPATCHER") != "celery" or not retrying:
        return
    from .. import tasks

    tasks.configure_from(current_app)
    try:
        for log_id, when in retrying:
            tasks.deliver_emails.apply_async(([log_id],), eta=when)
    except Exception:
        log.exception("Scheduling %d retries failed; the sweep will pick them up", len(retrying))
