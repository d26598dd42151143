"""Public pages: the landing page that points to the three portals."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, redirect, render_template, url_for

from ..extensions import db
from ..models import Store

bp = Blueprint("public", __name__)


@bp.get("/")
def index():
    stores = db.session.scalars(sa.select(Store).order_by(Store.name).limit(50)).all()
    return render_template("public/index.html", stores=stores)


@bp.get("/healthz")
def healthz():
    db.session.execute(sa.text("SELECT 1"))
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """Whether this process can serve: the database answers, and Redis does where the configuration uses it
    (the Celery broker, the shared rate limits). 503 with the failing checks otherwise, for a load balancer
    or an orchestrator to take the process out of rotation."""
    checks = readiness_checks()
    ready = all(result == "ok" for result in checks.values())
    return {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503


def readiness_checks() -> dict[str, str]:
    checks: dict[str, str] = {}
    try:
        db.session.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except sa.exc.SQLAlchemyError as exc:
        db.session.rollback()
        checks["database"] = f"unreachable: {type(exc).__name__}"
    config = current_app.config
    redis_urls = {url for url in (
        config["CELERY_BROKER_URL"] if config["EMAIL_DISPATCHER"] == "celery" else None,
        config["RATELIMIT_STORAGE_URI"],
    ) if url and url.startswith(("redis://", "rediss://"))}
    for n, url in enumerate(sorted(redis_urls)):
        import redis

        name = "redis" if len(redis_urls) == 1 else f"redis {n + 1}"
        try:
            redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).ping()
            checks[name] = "ok"
        except redis.RedisError as exc:
            checks[name] = f"unreachable: {type(exc).__name__}"  # never the URL: it may hold a password
    return checks


@bp.get("/favicon.ico")
def favicon():
    # Browsers ask for /favicon.ico on their own (error pages, downloads); pages name the SVG.
    return redirect(url_for("static", filename="favicon.svg"), code=301)
