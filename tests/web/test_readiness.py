"""/healthz says the process is alive; /readyz says whether it can serve: the database and, where used, Redis."""
from __future__ import annotations

import socket

import pytest


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ready_when_the_database_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "checks": {"database": "ok"}}
    assert client.get("/healthz").status_code == 200


def test_not_ready_when_redis_does_not_answer_and_the_url_is_not_shown(app, client):
    url = f"redis://:s3cret@127.0.0.1:{_closed_port()}/0"
    saved = {key: app.config[key] for key in ("EMAIL_DISPATCHER", "CELERY_BROKER_URL")}
    app.config.update(EMAIL_DISPATCHER="celery", CELERY_BROKER_URL=url)
    try:
        response = client.get("/readyz")
    finally:
        app.config.update(saved)
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "not ready" and body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("unreachable") and "s3cret" not in response.get_data(as_text=True)


def test_ready_with_the_real_redis(app, client):
    import redis

    try:
        redis.Redis(socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    saved = {key: app.config[key] for key in ("EMAIL_DISPATCHER", "CELERY_BROKER_URL")}
    app.config.update(EMAIL_DISPATCHER="celery", CELERY_BROKER_URL="redis://127.0.0.1:6379/0")
    try:
        response = client.get("/readyz")
    finally:
        app.config.update(saved)
    assert response.status_code == 200 and response.get_json()["checks"]["redis"] == "ok"
