"""Structured logs: one JSON line per request and per email event, each with the request id that caused it.

The request id is the caller's X-Request-ID when it is a plain token (a proxy's), else a new one; it is sent
back in the response, and handed to the Celery task that delivers the request's emails, whose lines carry
it too. Lines name the URL rule (`/inbound-email/sendgrid/<secret>`), never the path or the query string,
which may hold a secret or a signed token; nothing else a request sent is logged.

LOG_FORMAT=json (the default outside development) writes these lines to stderr; "text" keeps Python's
usual format.
"""
from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_TOKEN = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}

request_log = logging.getLogger("messaging_web.requests")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname,
            "logger": record.name, "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            line["request_id"] = request_id
        line.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def configure(app: Flask) -> None:
    """JSON lines on stderr (LOG_FORMAT=json), and the request id and request line for every request."""
    if app.config.get("LOG_FORMAT") == "json":
        root = logging.getLogger()
        if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
            handler = logging.StreamHandler()
            handler.setFormatter(JsonFormatter())
            root.handlers = [handler]
            root.setLevel(logging.INFO)
    app.before_request(_begin)
    app.after_request(_end)


def new_request_id(given: str | None = None) -> str:
    return given if given and _TOKEN.match(given) else uuid.uuid4().hex


def _begin() -> None:
    g.request_id = new_request_id(request.headers.get("X-Request-ID"))
    g._request_id_token = request_id_var.set(g.request_id)
    g._request_started = time.perf_counter()


def _end(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id:
        response.headers["X-Request-ID"] = request_id
        started = g.get("_request_started")
        if request_log.isEnabledFor(logging.INFO):  # the line's fields are not gathered for nobody
            request_log.info("request", extra={
                "event": "request", "request_id": request_id, "method": request.method,
                "route": request.url_rule.rule if request.url_rule is not None else "unmatched",
                "endpoint": request.endpoint, "status": response.status_code,
                "ms": round((time.perf_counter() - started) * 1000, 2) if started else None,
            })
        token = g.pop("_request_id_token", None)
        if token is not None:
            request_id_var.reset(token)
    return response


def log_email_events(report, *, logger: logging.Logger) -> None:
    """One line per email of a delivery run: sent, retrying (with when) or failed."""
    request_id = request_id_var.get()
    for email_id in report.sent:
        logger.info("email sent", extra={"event": "email", "request_id": request_id, "email_id": email_id,
                                         "outcome": "sent"})
    for email_id, when in report.retrying:
        logger.info("email retrying", extra={"event": "email", "request_id": request_id, "email_id": email_id,
                                             "outcome": "retrying", "retry_at": when.isoformat()})
    for email_id in report.failed:
        logger.warning("email failed", extra={"event": "email", "request_id": request_id, "email_id": email_id,
                                              "outcome": "failed"})
