"""messaging_web: email templates, email sending and conversations for a multi-tenant shop platform."""
from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, g, has_request_context, request

from .config import load_config
from .extensions import csrf, db, limiter, login_manager, mail, migrate
from .i18n import PortalTemplates
from .web.htmx import VARY_HEADERS
from .web.portal import RowIdConverter
from .web.request_text import NulFreeRequest

MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "migrations")

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # Email HTML (previews, signatures) carries inline styles; scripts stay blocked.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "frame-src 'self'",
        "frame-ancestors 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    ]
)


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.jinja_environment = PortalTemplates  # before anything reads app.jinja_env: the pages per language
    app.request_class = NulFreeRequest
    app.url_map.converters["int"] = RowIdConverter  # before any route is added
    app.config.update(load_config(config))
    _check_required_settings(app)
    Path(app.config["INSTANCE_DIR"]).mkdir(parents=True, exist_ok=True)

    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {
            "pool_size": app.config["DATABASE_POOL_SIZE"],
            "max_overflow": app.config["DATABASE_POOL_OVERFLOW"],
            "pool_timeout": app.config["DATABASE_POOL_TIMEOUT"],
        })
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True, compare_type=True)
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    csrf.init_app(app)
    mail.init_app(app)
    limiter.init_app(app)

    from . import actors, i18n, metrics, models, structured_logs, tasks  # noqa: F401  (the user loader, the mappers)
    from .cli import register_cli
    from .services.email import dispatcher
    from .web import register_blueprints, time_format

    # The composition root hands the task layer to the dispatcher: services never import tasks.
    dispatcher.use_task_queue(app, tasks.CeleryTaskQueue())
    metrics.register(app)
    structured_logs.configure(app)
    i18n.register(app)
    register_blueprints(app)
    register_cli(app)
    time_format.register(app)

    with app.app_context():
        _tune_sqlite(db.engine)
        _ping_idle_connections(db.engine, app.config["DATABASE_PING_AFTER_IDLE_SECONDS"])

    app.after_request(_security_headers)
    if app.config["EMBEDDED_SCHEDULER"]:
        from .services.scheduler import EmbeddedScheduler

        # `make run`: no Celery beat, so the periodic jobs run in this process.
        app.extensions["embedded_scheduler"] = EmbeddedScheduler(app).start()
    return app


def _check_required_settings(app: Flask) -> None:
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError(
            "SECRET_KEY is not set. Set it to a long random value, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
        )
    from .services.secrets import check_keys

    check_keys(app.config)


def _request_writes() -> bool:
    # A GET that writes says so in g.writes: a live stream marking what it delivered as read.
    return has_request_context() and (request.method not in ("GET", "HEAD", "OPTIONS") or g.get("writes", False))


def _tune_sqlite(engine: sa.Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not pysqlite, decide where transactions begin (savepoints work), and
        # enforce foreign keys as PostgreSQL does.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            # SQLite's advice for WAL: a commit survives the process (a killed worker), without an fsync each;
            # a power cut may lose the last few, as PostgreSQL's synchronous_commit = off would.
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn):
        # A request that writes (a POST) takes the write lock when its transaction begins. Begun deferred, its
        # reads would fix a snapshot, and once another request committed after it, its first write fails at
        # once with "database is locked" (SQLite does not wait on a stale snapshot): concurrent posts with
        # images, each reading, then resizing, then writing, lost one in four.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _request_writes() else "BEGIN")


def _ping_idle_connections(engine: sa.Engine, idle_seconds: float) -> None:
    """SQLAlchemy's pool_pre_ping, only for connections that sat idle in the pool.

    A ping is a round trip to the database, as long as a small query: pinging before every request
    would cost every page that much. A connection returned less than `idle_seconds` ago is used as
    is (HikariCP skips its check the same way); if the server went away meanwhile, that request
    fails once and SQLAlchemy renews the pool.
    """
    if engine.dialect.name == "sqlite":
        return

    @sa.event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record):
        record.info["checked_in_at"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy):
        checked_in_at = record.info.get("checked_in_at")
        if checked_in_at is not None and time.monotonic() - checked_in_at < idle_seconds:
            return
        dialect = engine.dialect
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if not dialect.is_disconnect(error, dbapi_connection, None):
                raise
            # The pool discards this connection and checks out (or opens) another.
            raise sa.exc.DisconnectionError("the database connection did not answer a ping") from error


def _security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    # Keeps the origin on same-site HTTPS posts, which Flask-WTF's referrer check needs.
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if "HX-Request" in request.headers or response.mimetype == "text/html":
        response.vary.update(VARY_HEADERS)
    return response


__all__ = ["create_app"]
