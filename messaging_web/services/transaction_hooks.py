"""State that lives as long as the session's current transaction, with work for its end: after a commit (hand
the new emails to the worker) or when it ends without one (remove files written for it); and whether the
transaction has written anything yet.

The one place that listens to the session's transaction events; features ask for their state by name:

    pending = transaction_hooks.per_transaction(session, "emails_to_dispatch", on_commit=dispatch)
    pending.extend(ids)
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..extensions import AnySession

_STATE = "messaging_web.transaction_state"
_WROTE = "messaging_web.transaction_wrote"


@dataclass
class _Entry:
    value: Any
    on_commit: Callable[[Any], None] | None
    on_rollback: Callable[[Any], None] | None


def per_transaction(session: AnySession, name: str, *, factory: Callable[[], Any] = list,
                    on_commit: Callable[[Any], None] | None = None,
                    on_rollback: Callable[[Any], None] | None = None) -> Any:
    """The value named `name` for the current transaction, made by `factory` on first use. When the
    transaction commits, `on_commit(value)` runs; when it ends without a commit, `on_rollback(value)`; either
    way the value is forgotten (a value that is empty or falsy is not handed to either)."""
    entries: dict[str, _Entry] = session.info.setdefault(_STATE, {})
    entry = entries.get(name)
    if entry is None:
        entry = entries[name] = _Entry(factory(), on_commit, on_rollback)
    return entry.value


def existing(session: AnySession, name: str) -> Any | None:
    """The value of `name` in the current transaction, or None if nobody asked for it yet."""
    entry = session.info.get(_STATE, {}).get(name)
    return entry.value if entry is not None else None


def forget(session: AnySession, name: str) -> None:
    """Drop the value of `name` now (a cache whose sources changed)."""
    session.info.get(_STATE, {}).pop(name, None)


def has_written(session: AnySession) -> bool:
    """Whether the current transaction has flushed or executed an INSERT, UPDATE or DELETE."""
    return bool(session.info.get(_WROTE))


def _end(session: Session, committed: bool) -> None:
    session.info.pop(_WROTE, None)
    entries: dict[str, _Entry] = session.info.pop(_STATE, {})
    for entry in entries.values():
        callback = entry.on_commit if committed else entry.on_rollback
        if callback is not None and entry.value:
            callback(entry.value)


@sa.event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    # SQLAlchemy fires after_commit for a released SAVEPOINT too: only the outermost commit ends the work.
    if session.in_nested_transaction():
        return
    _end(session, committed=True)


@sa.event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction, ended without a commit (after_commit ran first)
        _end(session, committed=False)


@sa.event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context) -> None:
    session.info[_WROTE] = True


@sa.event.listens_for(Session, "do_orm_execute")
def _executed(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = True
