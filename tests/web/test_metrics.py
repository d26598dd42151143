"""/metrics: request counts and latency, the email log's state, webhook verdicts; a token or this machine only."""
from __future__ import annotations

import re

from messaging_web.extensions import db
from messaging_web.services import template_catalog
from messaging_web.services.email import outbox


def _value(text: str, name: str, **labels) -> float:
    label_text = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(label_text) + r"\}" if labels else "") + r" ([0-9.e+-]+)"
    found = re.search(pattern, text)
    assert found, (name, labels)
    return float(found.group(1))


def test_metrics_count_requests_and_read_the_email_queue(app, client):
    app.config["EMAIL_DISPATCHER"] = "manual"  # queued emails stay pending
    try:
        with app.app_context():
            template_catalog.load_default_templates()
            outbox.queue_email("signup_welcome", "ana@example.test", {"customer_name": "Ana", "store_name": "Shop"})
            db.session.commit()
    finally:
        app.config["EMAIL_DISPATCHER"] = "inprocess"
    client.get("/healthz")
    client.get("/no-such-page")
    text = client.get("/metrics").get_data(as_text=True)
    assert _value(text, "messaging_http_requests_total", endpoint="public.healthz", method="GET", status="200") >= 1
    assert _value(text, "messaging_http_requests_total", endpoint="unmatched", method="GET", status="404") >= 1
    assert "messaging_http_request_seconds_bucket" in text
    assert _value(text, "messaging_email_queue_depth") == 1
    pending = re.findall(r'messaging_emails\{provider="([^"]*)",status="pending"\} ([0-9.]+)', text)
    assert [float(count) for _, count in pending] == [1.0]
    assert _value(text, "messaging_email_queue_oldest_seconds") >= 0


def test_a_refused_webhook_is_counted_by_provider_and_verdict(client):
    before = client.get("/metrics").get_data(as_text=True)
    start = 0.0
    if 'provider="sendgrid",verdict="refused 404"' in before:
        start = _value(before, "messaging_webhook_events_total", provider="sendgrid", verdict="refused 404")
    client.post("/webhooks/sendgrid/no-such-store", data="[]", content_type="application/json")
    text = client.get("/metrics").get_data(as_text=True)
    verdicts = re.findall(r'messaging_webhook_events_total\{provider="sendgrid",verdict="([^"]+)"\}', text)
    assert verdicts and all(v.startswith("refused") or v == "applied" for v in verdicts)
    assert sum(float(v) for v in re.findall(
        r'messaging_webhook_events_total\{provider="sendgrid",verdict="refused[^"]*"\} ([0-9.]+)', text)) > start


def test_only_with_the_token_or_from_this_machine(app, client):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 404
    app.config["METRICS_TOKEN"] = "scrape-secret"
    try:
        assert client.get("/metrics").status_code == 404
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
        good = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"},
                          environ_base={"REMOTE_ADDR": "10.1.2.3"})
        assert good.status_code == 200 and "messaging_email_queue_depth" in good.get_data(as_text=True)
    finally:
        app.config["METRICS_TOKEN"] = ""
