"""A store's API provider settings carry its emails end to end: SendGrid, Mailgun, SES, through the worker."""
from __future__ import annotations

import json

import boto3
import sqlalchemy as sa
from werkzeug import Response

from messaging_web.extensions import db
from messaging_web.models import EmailLog, StoreTier
from messaging_web.services import templates
from messaging_web.services.email import delivery
from messaging_web.services.email.outbox import queue_email, queue_template_test
from messaging_web.services.secrets import encrypt_secret
from tests.support.email_data import NO_SMTP_SERVER, load_templates, smtp_settings

pytest_plugins = ["tests.support.fixtures"]


def store_with(factory, sink_like, **settings):
    store = factory.store(tier=StoreTier.BUSINESS)
    smtp_settings(store.id, sink_like, **settings)
    return store


def queue_one(store) -> int:
    log_id = queue_email("settings_test_email", "kim@customer.example", {"store_name": store.name, "provider": "x"},
                         store_id=store.id).id
    db.session.commit()
    return log_id


def status(log_id):
    db.session.expire_all()
    row = db.session.get(EmailLog, log_id)
    return row.status, row.provider_message_id, row.error_message


def test_sendgrid_store_sends_through_the_api(ctx, app, factory, httpserver, manual_dispatch):
    load_templates()
    app.config["SENDGRID_API_URL"] = httpserver.url_for("")
    seen = []

    def handler(request):
        seen.append((request.headers["Authorization"], json.loads(request.data)))
        return Response(status=202, headers={"X-Message-Id": "sg-1"})

    httpserver.expect_request("/v3/mail/send").respond_with_handler(handler)
    store = store_with(factory, NO_SMTP_SERVER, provider="sendgrid", sendgrid_api_key=encrypt_secret("SG.store-key"))
    log_id = queue_one(store)
    delivery.deliver_due()
    assert status(log_id) == ("sent", "sg-1", None)
    [(auth, body)] = seen
    assert auth == "Bearer SG.store-key" and body["from"]["email"] == "shop@store.example"
    assert body["custom_args"] == {"email_log_id": str(log_id)}


def test_sendgrid_429_keeps_the_email_for_a_retry(ctx, app, factory, httpserver, manual_dispatch):
    load_templates()
    app.config["SENDGRID_API_URL"] = httpserver.url_for("")
    httpserver.expect_request("/v3/mail/send").respond_with_data("slow down", status=429)
    store = store_with(factory, NO_SMTP_SERVER, provider="sendgrid", sendgrid_api_key=encrypt_secret("SG.store-key"))
    log_id = queue_one(store)
    delivery.deliver_due()
    state, _id, error = status(log_id)
    assert state == "pending" and "rate limiting" in error


def test_mailgun_eu_store_sends_through_the_eu_endpoint(ctx, app, factory, httpserver, manual_dispatch):
    load_templates()
    app.config["MAILGUN_API_URL_EU"] = httpserver.url_for("")
    app.config["MAILGUN_API_URL_US"] = "http://127.0.0.1:1"
    httpserver.expect_request("/v3/mg.store.example/messages").respond_with_json({"id": "<mg-1@mg.store.example>"})
    store = store_with(factory, NO_SMTP_SERVER, provider="mailgun", mailgun_api_key=encrypt_secret("mg-key"),
                       mailgun_domain="mg.store.example", mailgun_region="eu")
    log_id = queue_one(store)
    delivery.deliver_due()
    assert status(log_id) == ("sent", "<mg-1@mg.store.example>", None)


def test_mailgun_401_fails_with_the_reason(ctx, app, factory, httpserver, manual_dispatch):
    load_templates()
    app.config["MAILGUN_API_URL_US"] = httpserver.url_for("")
    httpserver.expect_request("/v3/mg.store.example/messages").respond_with_data("Forbidden", status=401)
    store = store_with(factory, NO_SMTP_SERVER, provider="mailgun", mailgun_api_key=encrypt_secret("bad"),
                       mailgun_domain="mg.store.example", mailgun_region="us")
    log_id = queue_one(store)
    delivery.deliver_due()
    assert status(log_id) == ("failed", None, "Mailgun rejected the API key (401).")


def test_ses_store_sends_through_sesv2(ctx, app, factory, moto_server, manual_dispatch):
    load_templates()
    app.config["SES_ENDPOINT_URL"] = moto_server
    boto3.client("ses", region_name="eu-central-1", endpoint_url=moto_server, aws_access_key_id="AKIASTORE0000001",
                 aws_secret_access_key="x").verify_email_identity(EmailAddress="shop@store.example")
    store = store_with(factory, NO_SMTP_SERVER, provider="ses", ses_access_key_id="AKIASTORE0000001",
                       ses_secret_access_key=encrypt_secret("ses-secret"), ses_region="eu-central-1")
    log_id = queue_one(store)
    delivery.deliver_due()
    state, message_id, error = status(log_id)
    assert state == "sent" and message_id and error is None


def test_template_editors_test_email_goes_through_the_pipeline_to_their_own_address(ctx, app):
    load_templates()
    draft = templates.TemplateSource("Draft for {{ name }}", "<p>Hello {{ name }}</p>", None, ["name"], ["name"])
    row = queue_template_test(draft.as_resolved(code="order_shipped"), {"name": "Ada"}, "ada@platform.example",
                              user_id=None)
    db.session.commit()
    db.session.refresh(row)
    assert row.status == "sent" and row.subject == "Draft for Ada" and row.recipient_email == "ada@platform.example"
    assert json.loads(row.extra_data)["purpose"] == "template_test"


def test_flask_messaging_worker_once_drains_the_queue(ctx, app, factory, smtp_sink, manual_dispatch):
    load_templates()
    store = factory.store()
    smtp_settings(store.id, smtp_sink)
    ids = [queue_one(store) for _ in range(3)]
    result = app.test_cli_runner().invoke(args=["messaging", "worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "Sent 3, failed 0, retrying later 0." in result.output
    assert {status(i)[0] for i in ids} == {"sent"}
    result = app.test_cli_runner().invoke(args=["messaging", "sweep"])
    assert "Re-dispatched 0 email(s)" in result.output


def test_long_subjects_and_dot_lines_arrive_intact(ctx, factory, smtp_sink, manual_dispatch):
    load_templates()
    store = factory.store()
    smtp_settings(store.id, smtp_sink, signature_text=".\n..leading dots", signature_html=None)
    long_name = "Ünïcödé " * 20
    log_id = queue_email("settings_test_email", "kim@customer.example",
                         {"store_name": long_name.strip(), "provider": "smtp"}, store_id=store.id).id
    db.session.commit()
    delivery.deliver_due()
    [message] = smtp_sink.parsed()
    assert message["Subject"] == f"Test email from {long_name.strip()}"
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n").rstrip().endswith("-- \n.\n..leading dots")
    assert status(log_id)[0] == "sent"
    assert db.session.scalar(sa.select(sa.func.count(EmailLog.id))) == 1
