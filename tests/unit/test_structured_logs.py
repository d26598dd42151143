"""Structured logs: a JSON line per request and per email outcome, with the request id, and no secrets."""
from __future__ import annotations

import json
import logging

from messaging_web import structured_logs
from messaging_web.services.email.delivery import DeliveryReport


def _json_lines(caplog) -> list[dict]:
    formatter = structured_logs.JsonFormatter()
    return [json.loads(formatter.format(record)) for record in caplog.records]


def test_a_request_is_one_line_with_its_id_and_its_route_not_its_path(client, caplog):
    caplog.set_level(logging.INFO, logger="messaging_web.requests")
    response = client.get("/inbox/nowhere/login?next=/secret-token-123", headers={"X-Request-ID": "abc12345-proxy"})
    assert response.headers["X-Request-ID"] == "abc12345-proxy"
    [line] = [entry for entry in _json_lines(caplog) if entry.get("event") == "request"]
    assert line["request_id"] == "abc12345-proxy" and line["method"] == "GET"
    assert line["route"] == "/inbox/<slug>/login" and isinstance(line["status"], int)
    assert "secret-token-123" not in json.dumps(line)


def test_an_unusable_request_id_is_replaced(client):
    given = "x" * 300
    assert client.get("/healthz", headers={"X-Request-ID": given}).headers["X-Request-ID"] != given


def test_each_email_outcome_is_a_line_with_the_request_id_of_its_run(caplog):
    caplog.set_level(logging.INFO)
    token = structured_logs.request_id_var.set("run-42-abcdef")
    try:
        import datetime as dt

        report = DeliveryReport(sent=[1, 2], retrying=[(3, dt.datetime(2026, 12, 3, tzinfo=dt.UTC))], failed=[4])
        structured_logs.log_email_events(report, logger=logging.getLogger("messaging_web.test"))
    finally:
        structured_logs.request_id_var.reset(token)
    lines = [entry for entry in _json_lines(caplog) if entry.get("event") == "email"]
    assert [(e["email_id"], e["outcome"]) for e in lines] == [(1, "sent"), (2, "sent"), (3, "retrying"), (4, "failed")]
    assert all(e["request_id"] == "run-42-abcdef" for e in lines)


def test_the_request_id_goes_with_the_delivery_task(app, monkeypatch):
    from messaging_web import tasks

    sent = []
    monkeypatch.setattr(tasks.deliver_emails, "delay", lambda ids, **kwargs: sent.append((ids, kwargs)))
    token = structured_logs.request_id_var.set("req-abcdef12")
    try:
        tasks.CeleryTaskQueue().deliver(app, [7, 8])
    finally:
        structured_logs.request_id_var.reset(token)
    assert sent == [([7, 8], {"request_id": "req-abcdef12"})]
    # The task takes it up for its own lines.
    monkeypatch.setattr("messaging_web.services.email.delivery.deliver", lambda ids: DeliveryReport())
    with app.app_context():
        tasks.deliver_emails.run([7], request_id="req-abcdef12")
    assert structured_logs.request_id_var.get() == "req-abcdef12"
    structured_logs.request_id_var.set(None)  # as the next task would
