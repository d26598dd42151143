"""The providers' inbound webhooks: SendGrid Inbound Parse (a secret in the URL), Mailgun routes (signed) and
SES receiving through SNS (signed; the email inline or in S3), each ending in the one receiving path."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import boto3
import pytest
import sqlalchemy as sa

from messaging_web.actors import Actor
from messaging_web.extensions import db
from messaging_web.models import ConversationType, InboundEmail, Message, ParticipantType, Store
from messaging_web.services import accounts, conversations, template_catalog
from tests.web.test_webhooks_ses import FakeSns, fake_sns  # noqa: F401  (the local SNS signer and its fixture)

from .support import reply_address_of, reply_email

SECRET = "sg-inbound-7f3a9c"
MAILGUN_KEY = "key-mailgun-inbound"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-inbound"


@pytest.fixture
def thread(app, inbound_domain):
    app.config.update(SENDGRID_INBOUND_SECRET=SECRET, MAILGUN_INBOUND_SIGNING_KEY=MAILGUN_KEY,
                      SES_INBOUND_TOPIC_ARN=TOPIC)
    with app.app_context():
        template_catalog.load_default_templates()
        store = Store(name="Maison Claire", slug="claire", tier="starter", default_language="fr")
        db.session.add(store)
        db.session.flush()
        accounts.create_store_user(store, "owner@claire.test", "Olivier", "password-123")
        customer = Actor.for_customer(accounts.create_customer(store, "chloe@shop.test", "Chloé", "password-123"))
        db.session.commit()
        conversation = conversations.start_conversation(
            customer, ConversationType.STORE_CUSTOMER, "Robe bleue", "La robe existe en 38 ?")
        db.session.commit()
        to = reply_address_of(conversation.id, ParticipantType.CUSTOMER, customer.id)
        yield {"conversation_id": conversation.id, "to": to}
    app.config.update(SENDGRID_INBOUND_SECRET="", MAILGUN_INBOUND_SIGNING_KEY="", SES_INBOUND_TOPIC_ARN="")


def contents(app, conversation_id: int) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(
            sa.select(Message.content).where(Message.conversation_id == conversation_id).order_by(Message.id)))


def recorded(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(InboundEmail))


def the_reply(thread, text="Je la prends, merci !", message_id="<r1@shop.test>") -> bytes:
    return reply_email(thread["to"], "chloe@shop.test", text + "\r\n\r\nLe mer., Olivier a écrit :\r\n> 38 ?",
                       message_id=message_id)


# --- SendGrid ------------------------------------------------------------------------------------------


def sendgrid_form(thread, raw: bytes) -> dict:
    return {"email": raw.decode(), "to": thread["to"], "from": "chloe@shop.test",
            "envelope": json.dumps({"to": [thread["to"]], "from": "chloe@shop.test"})}


def test_sendgrid_inbound_parse_posts_the_reply(app, client, thread):
    response = client.post(f"/inbound-email/sendgrid/{SECRET}", data=sendgrid_form(thread, the_reply(thread)),
                           content_type="multipart/form-data")
    assert response.status_code == 200 and response.json["status"] == "posted"
    assert contents(app, thread["conversation_id"])[-1] == "Je la prends, merci !"
    # SendGrid retries: the same email posts once.
    client.post(f"/inbound-email/sendgrid/{SECRET}", data=sendgrid_form(thread, the_reply(thread)),
                content_type="multipart/form-data")
    assert contents(app, thread["conversation_id"]).count("Je la prends, merci !") == 1


def test_sendgrid_with_a_wrong_secret_is_refused_and_records_nothing(app, client, thread):
    response = client.post("/inbound-email/sendgrid/guess", data=sendgrid_form(thread, the_reply(thread)),
                           content_type="multipart/form-data")
    assert response.status_code == 403 and recorded(app) == 0


def test_the_endpoints_are_off_without_their_setting_or_the_inbound_domain(app, client, thread):
    app.config["SENDGRID_INBOUND_SECRET"] = ""
    assert client.post("/inbound-email/sendgrid/anything", data={"email": "x"}).status_code == 404
    app.config["INBOUND_EMAIL_DOMAIN"] = ""
    assert client.post("/inbound-email/mailgun/mime", data={}).status_code == 404


# --- Mailgun -------------------------------------------------------------------------------------------


def mailgun_form(thread, raw: bytes, *, timestamp: int | None = None, key: str = MAILGUN_KEY, token="tok-1") -> dict:
    stamp = str(timestamp or int(time.time()))
    signature = hmac.new(key.encode(), f"{stamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {"body-mime": raw.decode(), "recipient": thread["to"], "sender": "chloe@shop.test",
            "timestamp": stamp, "token": token, "signature": signature}


def test_a_mailgun_route_posts_the_reply(app, client, thread):
    response = client.post("/inbound-email/mailgun/mime", data=mailgun_form(thread, the_reply(thread)))
    assert response.status_code == 200
    assert contents(app, thread["conversation_id"])[-1] == "Je la prends, merci !"


def test_mailgun_posts_forged_stale_or_replayed_are_refused_or_post_nothing_new(app, client, thread):
    forged = mailgun_form(thread, the_reply(thread), key="not-the-key")
    assert client.post("/inbound-email/mailgun/mime", data=forged).status_code == 403
    stale = mailgun_form(thread, the_reply(thread), timestamp=int(time.time()) - 3600)
    assert client.post("/inbound-email/mailgun/mime", data=stale).status_code == 403
    assert recorded(app) == 0
    signed = mailgun_form(thread, the_reply(thread))
    assert client.post("/inbound-email/mailgun/mime", data=signed).status_code == 200
    assert client.post("/inbound-email/mailgun/mime", data=signed).status_code == 200  # replayed
    assert recorded(app) == 1
    assert contents(app, thread["conversation_id"]).count("Je la prends, merci !") == 1


# --- Amazon SES through SNS ----------------------------------------------------------------------------


def ses_notification(fake, thread, action: dict, content: str | None = None, topic: str = TOPIC) -> bytes:
    received = {"notificationType": "Received",
                "mail": {"source": "chloe@shop.test", "destination": [thread["to"]], "messageId": "ses-1"},
                "receipt": {"action": action}}
    if content is not None:
        received["content"] = content
    return fake.notification(received, topic=topic)


def test_ses_receiving_with_the_email_in_the_notification_posts_the_reply(app, client, thread, fake_sns):  # noqa: F811
    body = ses_notification(fake_sns, thread, {"type": "SNS", "encoding": "BASE64"},
                            base64.b64encode(the_reply(thread)).decode())
    response = client.post("/inbound-email/ses", data=body, content_type="text/plain")
    assert response.status_code == 200
    assert contents(app, thread["conversation_id"])[-1] == "Je la prends, merci !"


def test_ses_receiving_with_the_email_in_s3_reads_it_from_the_bucket(app, client, thread, fake_sns, s3_endpoint):  # noqa: F811
    app.config["SES_INBOUND_S3_ENDPOINT_URL"] = s3_endpoint
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.create_bucket(Bucket="inbound-mail")
    s3.put_object(Bucket="inbound-mail", Key="emails/abc", Body=the_reply(thread, text="Depuis S3."))
    body = ses_notification(fake_sns, thread, {"type": "S3", "bucketName": "inbound-mail", "objectKey": "emails/abc"})
    try:
        assert client.post("/inbound-email/ses", data=body, content_type="text/plain").status_code == 200
    finally:
        app.config["SES_INBOUND_S3_ENDPOINT_URL"] = None
    assert contents(app, thread["conversation_id"])[-1] == "Depuis S3."


def test_ses_subscription_is_confirmed_and_foreign_or_forged_messages_refused(app, client, thread, fake_sns):  # noqa: F811
    confirmation = json.dumps(fake_sns.sign({
        "Type": "SubscriptionConfirmation", "MessageId": "c-1", "TopicArn": TOPIC, "Token": "t",
        "Message": "confirm", "SubscribeURL": fake_sns.subscribe_url, "Timestamp": "2026-12-01T10:00:00.000Z",
    })).encode()
    assert client.post("/inbound-email/ses", data=confirmation, content_type="text/plain").status_code == 200
    assert fake_sns.confirmations() == 1
    other_topic = ses_notification(fake_sns, thread, {"type": "SNS", "encoding": "UTF8"},
                                   the_reply(thread).decode(), topic="arn:aws:sns:eu-west-1:1:other")
    assert client.post("/inbound-email/ses", data=other_topic, content_type="text/plain").status_code == 403
    forged = json.loads(ses_notification(fake_sns, thread, {"type": "SNS", "encoding": "UTF8"},
                                         the_reply(thread).decode()))
    forged["Message"] = forged["Message"].replace("chloe", "mallory")
    assert client.post("/inbound-email/ses", data=json.dumps(forged), content_type="text/plain").status_code == 403
    assert client.post("/inbound-email/ses", data=b"[" * 100_000, content_type="text/plain").status_code == 400
    assert recorded(app) == 0
