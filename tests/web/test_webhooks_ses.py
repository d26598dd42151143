"""Amazon SES events through SNS: a store's topic confirms its subscription and reports delivered, opened,
clicked and bounced; messages not signed by SNS's certificate, or from another topic, change nothing.

SNS is played by a local HTTP server that publishes a signing certificate and a subscription URL
(SNS_URL_PATTERN admits it); SES itself is moto, so the message id in the events is the one SES gave.
"""
from __future__ import annotations

import base64
import datetime as dt
import json

import boto3
import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from messaging_web.extensions import db
from messaging_web.models import EmailLog, EmailSuppression, StoreTier
from messaging_web.services.email import delivery, sns
from messaging_web.services.email.outbox import queue_email
from messaging_web.services.secrets import encrypt_secret
from tests.support.email_data import NO_SMTP_SERVER, load_templates, smtp_settings

pytest_plugins = ["tests.support.fixtures"]

TOPIC = "arn:aws:sns:eu-central-1:123456789012:ses-events"
SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}


class FakeSns:
    """Signs messages as SNS does, with a certificate served by the local HTTP server."""

    def __init__(self, httpserver):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        now = dt.datetime.now(dt.UTC)
        certificate = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(self.key, hashes.SHA256())
        )
        httpserver.expect_request("/SimpleNotificationService-test.pem").respond_with_data(
            certificate.public_bytes(serialization.Encoding.PEM)
        )
        self.cert_url = httpserver.url_for("/SimpleNotificationService-test.pem")
        self.subscribe_url = httpserver.url_for("/confirm")
        httpserver.expect_request("/confirm").respond_with_data("<ConfirmSubscriptionResponse/>")
        self.httpserver = httpserver

    def sign(self, message: dict, version: str = "1", key=None) -> dict:
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        text = "".join(f"{k}\n{message[k]}\n" for k in SIGNED[message["Type"]] if k in message)
        signature = (key or self.key).sign(text.encode(), padding.PKCS1v15(), algorithm)
        return {**message, "SignatureVersion": version, "Signature": base64.b64encode(signature).decode(),
                "SigningCertURL": self.cert_url}

    def notification(self, event: dict, topic: str = TOPIC, **signing) -> bytes:
        return json.dumps(self.sign({
            "Type": "Notification", "MessageId": "sns-1", "TopicArn": topic, "Message": json.dumps(event),
            "Timestamp": "2026-12-01T10:00:00.000Z",
        }, **signing)).encode()

    def confirmations(self) -> int:
        return sum(1 for request, _ in self.httpserver.log if request.path == "/confirm")


@pytest.fixture
def fake_sns(app, httpserver):
    app.config["SNS_URL_PATTERN"] = r"^http://(localhost|127\.0\.0\.1):\d+/"
    sns._certificates.clear()
    yield FakeSns(httpserver)
    app.config["SNS_URL_PATTERN"] = r"^https://sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/"


@pytest.fixture
def sent_through_ses(ctx, app, factory, moto_server, manual_dispatch):
    """A Business store whose own SES account (moto) has sent one email; its topic is TOPIC."""
    load_templates()
    app.config["SES_ENDPOINT_URL"] = moto_server
    boto3.client("ses", region_name="eu-central-1", endpoint_url=moto_server, aws_access_key_id="AKIASTORE0000001",
                 aws_secret_access_key="x").verify_email_identity(EmailAddress="shop@store.example")
    store = factory.store(tier=StoreTier.BUSINESS)
    smtp_settings(store.id, NO_SMTP_SERVER, provider="ses", ses_access_key_id="AKIASTORE0000001",
                  ses_secret_access_key=encrypt_secret("ses-secret"), ses_region="eu-central-1",
                  ses_sns_topic_arn=TOPIC)
    log_id = queue_email("settings_test_email", "kim@customer.example", {"store_name": store.name, "provider": "x"},
                         store_id=store.id).id
    db.session.commit()
    delivery.deliver_due()
    row = db.session.get(EmailLog, log_id)
    assert row.status == "sent" and row.provider_message_id
    message_id = row.provider_message_id
    db.session.rollback()
    return store, log_id, message_id


def state(log_id: int):
    db.session.expire_all()
    row = db.session.get(EmailLog, log_id)
    result = row.status, row.delivered_at, row.opened_at, row.clicked_at, row.error_message
    db.session.rollback()
    return result


def suppressed():
    rows = db.session.execute(sa.select(EmailSuppression.email, EmailSuppression.store_id, EmailSuppression.scope,
                                        EmailSuppression.reason, EmailSuppression.detail)).all()
    db.session.rollback()
    return [tuple(row) for row in rows]


def post(client, store, body: bytes):
    return client.post(f"/webhooks/ses/{store.slug}", data=body, content_type="text/plain; charset=UTF-8")


def test_the_stores_topic_subscription_is_confirmed_once_sns_signed_it(client, fake_sns, sent_through_ses):
    store, *_ = sent_through_ses
    confirmation = fake_sns.sign({
        "Type": "SubscriptionConfirmation", "MessageId": "sns-0", "Token": "tok", "TopicArn": TOPIC,
        "Message": "You have chosen to subscribe", "SubscribeURL": fake_sns.subscribe_url,
        "Timestamp": "2026-12-01T10:00:00.000Z",
    })
    assert post(client, store, json.dumps(confirmation).encode()).status_code == 200
    assert fake_sns.confirmations() == 1
    # Unsigned, or sending us to a host that is not SNS's: nothing is visited.
    assert post(client, store, json.dumps({**confirmation, "Signature": "AAAA"}).encode()).status_code == 403
    elsewhere = fake_sns.sign({**{k: v for k, v in confirmation.items() if k in SIGNED["SubscriptionConfirmation"]},
                               "SubscribeURL": "https://evil.example/confirm"})
    assert post(client, store, json.dumps(elsewhere).encode()).status_code == 403
    assert fake_sns.confirmations() == 1


@pytest.mark.parametrize("version", ["1", "2"])
def test_ses_events_move_the_email_to_delivered_opened_clicked(client, fake_sns, sent_through_ses, version):
    store, log_id, message_id = sent_through_ses
    mail = {"messageId": message_id, "timestamp": "2026-12-01T09:59:00.000Z"}
    for event_type, key in (("Delivery", "delivery"), ("Open", "open"), ("Click", "click")):
        event = {"eventType": event_type, "mail": mail, key: {"timestamp": "2026-12-01T10:00:00.000Z"}}
        response = post(client, store, fake_sns.notification(event, version=version))
        assert response.status_code == 200 and response.json == {"applied": 1}
    status, delivered_at, opened_at, clicked_at, _ = state(log_id)
    assert status == "clicked" and delivered_at and opened_at and clicked_at


def test_a_permanent_ses_bounce_ends_the_email_with_the_diagnostic_and_a_transient_one_does_not(
    client, fake_sns, sent_through_ses
):
    store, log_id, message_id = sent_through_ses
    transient = {"notificationType": "Bounce", "mail": {"messageId": message_id},
                 "bounce": {"bounceType": "Transient", "bouncedRecipients": [{"diagnosticCode": "mailbox full"}]}}
    # Counted towards the address's run of soft bounces; the email stays sent.
    assert post(client, store, fake_sns.notification(transient)).json == {"applied": 1}
    assert state(log_id)[0] == "sent"
    permanent = {"notificationType": "Bounce", "mail": {"messageId": message_id},
                 "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"diagnosticCode": "smtp; 550 no such user"}]}}
    assert post(client, store, fake_sns.notification(permanent)).json == {"applied": 1}
    status, *_, error = state(log_id)
    assert status == "bounced" and error == "smtp; 550 no such user"
    [(email, store_id, scope, reason, detail)] = suppressed()
    assert (email, store_id, scope, reason) == ("kim@customer.example", None, "address", "hard_bounce")
    assert "via Amazon SES (smtp; 550 no such user)" in detail


def test_forged_foreign_or_unconfigured_sns_messages_change_nothing(client, fake_sns, sent_through_ses):
    store, log_id, message_id = sent_through_ses
    event = {"eventType": "Bounce", "mail": {"messageId": message_id}, "bounce": {"bounceType": "Permanent"}}
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert post(client, store, fake_sns.notification(event, key=forger)).status_code == 403
    # A genuine SNS message, but from someone else's topic.
    other_topic = "arn:aws:sns:eu-central-1:999999999999:ses-events"
    assert post(client, store, fake_sns.notification(event, topic=other_topic)).status_code == 403
    tampered = json.loads(fake_sns.notification(event))
    tampered["Message"] = tampered["Message"].replace("Bounce", "Delivery")
    assert post(client, store, json.dumps(tampered).encode()).status_code == 403
    assert post(client, store, b"{not json").status_code == 400
    assert post(client, store, json.dumps({"Type": "Other"}).encode()).status_code == 400
    assert state(log_id)[0] == "sent"


def test_a_store_without_a_topic_refuses_ses_events(client, fake_sns, sent_through_ses):
    store, log_id, message_id = sent_through_ses
    from messaging_web.models import StoreEmailSettings

    db.session.execute(StoreEmailSettings.__table__.update().values(ses_sns_topic_arn=None))
    db.session.commit()
    event = {"eventType": "Delivery", "mail": {"messageId": message_id}, "delivery": {}}
    response = post(client, store, fake_sns.notification(event))
    assert response.status_code == 403 and "No Amazon SNS topic" in response.json["error"]


def test_an_ses_complaint_marks_the_email_as_reported_spam(client, fake_sns, sent_through_ses):
    store, log_id, message_id = sent_through_ses
    complaint = {"notificationType": "Complaint", "mail": {"messageId": message_id},
                 "complaint": {"complaintFeedbackType": "abuse", "timestamp": "2026-12-01T10:00:00.000Z"}}
    assert post(client, store, fake_sns.notification(complaint)).json == {"applied": 1}
    status, *_, error = state(log_id)
    assert status == "sent" and error == "The recipient reported this email as spam."
    assert suppressed() == [("kim@customer.example", store.id, "all", "complaint",
                             "spam complaint on 2026-12-01 via Amazon SES")]


def test_deeply_nested_json_is_a_400_outside_and_skipped_inside_a_signed_message(
    client, fake_sns, sent_through_ses
):
    store, log_id, _message_id = sent_through_ses
    response = post(client, store, b"[" * 100_000)
    assert response.status_code == 400 and response.json == {"error": "The body is not JSON."}
    nested = fake_sns.sign({"Type": "Notification", "MessageId": "sns-nested", "TopicArn": TOPIC,
                            "Message": "[" * 100_000, "Timestamp": "2026-12-01T10:00:00.000Z"})
    response = post(client, store, json.dumps(nested).encode())
    assert response.status_code == 200 and response.json == {"applied": 0}
    assert state(log_id)[0] == "sent"
    delivery_event = {"eventType": "Delivery", "mail": {"messageId": _message_id},
                      "delivery": {"timestamp": "2026-12-01T10:00:00.000Z"}}
    assert post(client, store, fake_sns.notification(delivery_event)).json == {"applied": 1}


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "not a time"])
def test_an_ses_event_at_the_ends_of_time_is_applied_at_the_time_it_arrives(
    client, fake_sns, sent_through_ses, moment
):
    # The store names its own SNS topic, and may publish to it whatever it likes.
    store, log_id, message_id = sent_through_ses
    event = {"eventType": "Delivery", "mail": {"messageId": message_id}, "delivery": {"timestamp": moment}}
    response = post(client, store, fake_sns.notification(event))
    assert response.status_code == 200 and response.json == {"applied": 1}
    status, delivered_at, *_ = state(log_id)
    assert status == "delivered" and delivered_at.year == dt.datetime.now(dt.UTC).year
