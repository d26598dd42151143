"""Views that only read: on PostgreSQL their queries run outside a transaction.

A read-only page needs no BEGIN and no COMMIT; on PostgreSQL each is a network round trip, as long
as a small query, and pages polled every few seconds (the inbox, the unread badges) pay for them on
every poll. Without a transaction there is no ROLLBACK either when the connection goes back to the
pool, so psycopg keeps its server-side prepared statements and PostgreSQL does not plan the page's
queries afresh. Views opt in with @read_only; anything that writes keeps its transaction.
"""
from __future__ import annotations

from flask import Flask, current_app, request

from ..extensions import db


def read_only(view):
    """Mark a view that never writes (its queries run in autocommit mode on PostgreSQL)."""
    view.reads_only = True
    return view


def writes_one_statement_at_a_time(view):
    """Mark a view that reads and writes, if at all, only statements each complete on its own (the thread
    page marking the thread read: one UPDATE, or the INSERT of a missing reader row). On PostgreSQL it runs
    in autocommit mode too: each write commits as it runs. Its reads lose nothing by it: under READ
    COMMITTED each statement sees its own snapshot inside a transaction as well. Events for after the
    commit (services/live) still go out with the view's session commit."""
    view.autocommits = True
    return view


def register(app: Flask) -> None:
    # App-level, so it runs before the portal guards load the signed-in account.
    app.before_request(_read_outside_a_transaction)


def _read_outside_a_transaction() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    if (getattr(view, "reads_only", False) or getattr(view, "autocommits", False)) \
            and db.engine.dialect.name == "postgresql":
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
