"""Prometheus metrics at /metrics: requests and their latency per endpoint, emails by status and provider, the
queue's depth and the age of its oldest email, retries, webhook events by provider and verdict, template
render failures and sandbox kills.

Counters live in prometheus_client; under gunicorn (several processes) set PROMETHEUS_MULTIPROC_DIR to an empty
directory shared by the workers and the endpoint adds them up (prometheus_client's multiprocess mode). The
email figures are read from the database when scraped: the EmailLog table is the queue, so every process
and every machine sees the same numbers. The endpoint answers to `Authorization: Bearer <METRICS_TOKEN>`, or,
without a token configured, to requests from this machine only.
"""
from __future__ import annotations

import functools
import hmac
import os
import time

import sqlalchemy as sa
from flask import Flask, Response, abort, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

REQUESTS = Counter("messaging_http_requests_total", "HTTP requests answered", ["endpoint", "method", "status"])
LATENCY = Histogram("messaging_http_request_seconds", "Time to answer a request", ["endpoint"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
WEBHOOK_EVENTS = Counter("messaging_webhook_events_total", "Provider webhook posts", ["provider", "verdict"])
RENDER_FAILURES = Counter("messaging_render_failures_total", "Template renders that failed", ["kind"])
SANDBOX_KILLS = Counter("messaging_sandbox_kills_total", "Sandbox workers killed or lost", ["reason"])

_LOOPBACK = {"127.0.0.1", "::1"}


def register(app: Flask) -> None:
    app.before_request(_start_timer)
    app.after_request(_count_request)
    app.add_url_rule("/metrics", "metrics", metrics_endpoint)


def _start_timer() -> None:
    g._metrics_started = time.perf_counter()


def _count_request(response: Response) -> Response:
    started = g.pop("_metrics_started", None)
    endpoint = request.endpoint or "unmatched"  # an unknown URL is one label, not one per URL tried
    if started is not None and endpoint != "metrics":
        _request_counter(endpoint, request.method, response.status_code).inc()
        _latency_histogram(endpoint).observe(time.perf_counter() - started)
    return response


# The labelled children, looked up once per label values: labels() validates and locks on every call, a
# cost on every request. Bounded: endpoints, methods and statuses are the app's own, few.
@functools.lru_cache(maxsize=4096)
def _request_counter(endpoint: str, method: str, status: int):
    return REQUESTS.labels(endpoint, method, str(status))


@functools.lru_cache(maxsize=1024)
def _latency_histogram(endpoint: str):
    return LATENCY.labels(endpoint)


def metrics_endpoint() -> Response:
    token = current_app.config.get("METRICS_TOKEN") or ""
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            abort(404)
    elif request.remote_addr not in _LOOPBACK:
        abort(404)
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    output = generate_latest(registry) + generate_latest(_email_registry())
    return Response(output, mimetype=CONTENT_TYPE_LATEST)


def _email_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(EmailCollector())
    return registry


class EmailCollector:
    """The email log's state when scraped: counts by status and provider, the pending queue, retries."""

    def collect(self):
        from .extensions import db
        from .models import EmailLog, EmailStatus
        from .models.base import utcnow

        by_status = GaugeMetricFamily("messaging_emails", "Emails in the log", labels=["status", "provider"])
        for status, provider, count in db.session.execute(
            sa.select(EmailLog.status, EmailLog.provider, sa.func.count()).group_by(EmailLog.status, EmailLog.provider)
        ):
            by_status.add_metric([status, provider or ""], count)
        yield by_status
        pending = EmailLog.status == EmailStatus.PENDING.value
        depth, oldest, retrying = db.session.execute(sa.select(
            sa.func.count(), sa.func.min(EmailLog.created_at),
            sa.func.count().filter(EmailLog.retry_count > 0),
        ).where(pending)).one()
        yield GaugeMetricFamily("messaging_email_queue_depth", "Emails waiting to be sent", value=depth)
        age = 0.0
        if oldest is not None:
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=utcnow().tzinfo)
            age = max(0.0, (utcnow() - oldest).total_seconds())
        yield GaugeMetricFamily("messaging_email_queue_oldest_seconds", "Age of the oldest pending email",
                                value=age)
        yield GaugeMetricFamily("messaging_email_retrying", "Pending emails waiting for a retry", value=retrying)
        db.session.rollback()  # a read: end it, whatever the scrape's connection does next
