"""The floor for bench/bench_http.py: a bare WSGI function serving the store inbox's one hand-written query.

No framework, no session, no templates: one psycopg connection per worker process (autocommit, prepared
statements as the app's), bench_inbox.FLOOR_SQL for store 1 as read by its team member 2, and the 25 rows as
escaped HTML. What the store inbox page cannot cost less than, served by the same gunicorn the same way:

    FLOOR_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/conv_bench_large \\
        gunicorn --workers 2 --worker-class sync --chdir bench floor_app:app
"""
from __future__ import annotations

import html
import os
import sys
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_inbox import FLOOR_SQL, STORE_SCOPE  # noqa: E402

DATABASE_URL = os.environ.get("FLOOR_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/conv_bench_large")
SQL = FLOOR_SQL.format(scope=STORE_SCOPE, keyset="")
PARAMS = {"kind": "store", "actor": 2, "store": 1}
HEAD = b"<!doctype html><html><head><meta charset=\"utf-8\"><title>Inbox</title></head><body><table>"
TAIL = b"</table></body></html>"

_connection: psycopg.Connection | None = None


def _conn() -> psycopg.Connection:
    # One per worker, opened on its first request (gunicorn forks the workers after importing this module).
    global _connection
    if _connection is None or _connection.closed:
        _connection = psycopg.connect(DATABASE_URL, autocommit=True)
    return _connection


def app(environ, start_response):
    rows = _conn().execute(SQL, PARAMS).fetchall()
    out = [HEAD]
    for (thread_id, subject, _kind, is_closed, last_at, _count, _store, customer, unread, preview, deleted,
         _sender) in rows[:25]:
        out.append((
            f'<tr id="inbox-row-{thread_id}"><td><a href="/store/store-1/conversations/{thread_id}">'
            f"{html.escape(subject)}</a>{' closed' if is_closed else ''}"
            f"<div>{'Message deleted' if deleted else html.escape(preview or '')}</div></td>"
            f"<td>{html.escape(customer or 'Customer')}</td><td>{last_at.isoformat()}</td>"
            f"<td>{unread or ''}</td></tr>"
        ).encode())
    out.append(TAIL)
    body = b"".join(out)
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]
