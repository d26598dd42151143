"""Waiting on other processes (Celery workers) through the database the test shares with them."""
from __future__ import annotations

import time

from messaging_web.extensions import db


def poll_database(condition, timeout: float):
    """condition()'s first truthy value, asked every 0.2 s on a fresh read (each ask ends its transaction,
    so that the next one sees what the workers committed meanwhile); None once `timeout` has passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.expire_all()
        value = condition()
        db.session.commit()
        if value:
            return value
        time.sleep(0.2)
    return None
