"""Counting the SQL statements a block runs, for the constant-query assertions on list pages."""
from __future__ import annotations

import contextlib

import sqlalchemy as sa

from messaging_web.extensions import db


@contextlib.contextmanager
def count_queries(app):
    """Yields a list that receives every SQL statement the app's engine runs inside the block."""
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def _record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", _record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", _record)
