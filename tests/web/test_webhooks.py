"""Provider event webhooks: a store's SendGrid or Mailgun account reports delivered, opened, clicked and
bounced, and the email log follows; unsigned, forged, stale or foreign events change nothing."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from werkzeug import Response

from messaging_web.extensions import db
from messaging_web.models import EmailLog, StoreEmailSettings, StoreTier
from messaging_web.services.email import delivery
from messaging_web.services.email.outbox import queue_email
from messaging_web.services.secrets import encrypt_secret
from tests.support.email_data import NO_SMTP_SERVER, load_templates, smtp_settings

MAILGUN_KEY = "key-mailgun-webhook-signing"


@pytest.fixture
def sendgrid_keys():
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(public).decode()


def signed_sendgrid(private, events, *, timestamp: str | None = None) -> tuple[bytes, dict]:
    body = json.dumps(events).encode()
    timestamp = timestamp or str(int(time.time()))
    signature = private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return body, {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    }


def signed_mailgun(event_data: dict, *, key: str = MAILGUN_KEY, timestamp: str | None = None) -> bytes:
    timestamp = timestamp or str(int(time.time()))
    token = "a" * 50
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return json.dumps({"signature": {"timestamp": timestamp, "token": token, "signature": signature},
                       "event-data": event_data}).encode()


def store_sending_through(factory, httpserver, app, provider: str, sendgrid_public_key: str | None = None):
    """A Business store whose own SendGrid or Mailgun account (a local stand-in) has sent one email."""
    store = factory.store(tier=StoreTier.BUSINESS)
    if provider == "sendgrid":
        app.config["SENDGRID_API_URL"] = httpserver.url_for("")
        httpserver.expect_request("/v3/mail/send").respond_with_response(Response(status=202, headers={"X-Message-Id": "sg-1"}))
        smtp_settings(store.id, NO_SMTP_SERVER, provider="sendgrid", sendgrid_api_key=encrypt_secret("SG.key"),
                      sendgrid_webhook_public_key=sendgrid_public_key)
    else:
        app.config["MAILGUN_API_URL_US"] = httpserver.url_for("")
        httpserver.expect_request("/v3/mg.store.example/messages").respond_with_json({"id": "<mg-1>"})
        smtp_settings(store.id, NO_SMTP_SERVER, provider="mailgun", mailgun_api_key=encrypt_secret("mg-key"),
                      mailgun_domain="mg.store.example", mailgun_webhook_signing_key=encrypt_secret(MAILGUN_KEY))
    load_templates()
    log_id = queue_email("settings_test_email", "kim@customer.example", {"store_name": store.name, "provider": "x"},
                         store_id=store.id).id
    db.session.commit()
    delivery.deliver_due()
    sent = json.loads(httpserver.log[-1][0].data) if provider == "sendgrid" else dict(httpserver.log[-1][0].form)
    carried = sent["custom_args"]["email_log_id"] if provider == "sendgrid" else sent["v:email_log_id"]
    assert carried == str(log_id) and log_state(log_id)[0] == "sent"
    return store, log_id


def log_state(log_id: int):
    db.session.expire_all()
    row = db.session.get(EmailLog, log_id)
    state = row.status, row.delivered_at, row.opened_at, row.clicked_at, row.error_message
    db.session.rollback()  # ends the read, which on SQLite would hold off the next test step's writes
    return state


def post(client, path: str, body: bytes, headers: dict | None = None):
    return client.post(path, data=body, headers=headers or {}, content_type="application/json")


def test_sendgrid_events_move_the_log_to_delivered_opened_clicked_and_never_back(
    ctx, app, client, factory, httpserver, manual_dispatch, sendgrid_keys
):
    private, public = sendgrid_keys
    store, log_id = store_sending_through(factory, httpserver, app, "sendgrid", public)
    now = int(time.time())
    events = [
        {"event": "processed", "email_log_id": str(log_id), "timestamp": now - 30},
        {"event": "delivered", "email_log_id": str(log_id), "timestamp": now - 20},
        {"event": "open", "email_log_id": str(log_id), "timestamp": now - 10},
    ]
    response = post(client, f"/webhooks/sendgrid/{store.slug}", *signed_sendgrid(private, events))
    assert response.status_code == 200 and response.json == {"applied": 2}
    status, delivered_at, opened_at, clicked_at, _ = log_state(log_id)
    assert status == "opened" and delivered_at.timestamp() == now - 20 and opened_at.timestamp() == now - 10
    assert clicked_at is None

    click = [{"event": "click", "email_log_id": str(log_id), "timestamp": now, "url": "https://x.example"}]
    assert post(client, f"/webhooks/sendgrid/{store.slug}", *signed_sendgrid(private, click)).status_code == 200
    # A delivery report arriving late (or replayed) does not move the email back.
    late = [{"event": "delivered", "email_log_id": str(log_id), "timestamp": now + 5}]
    assert post(client, f"/webhooks/sendgrid/{store.slug}", *signed_sendgrid(private, late)).status_code == 200
    status, delivered_at, _, clicked_at, _ = log_state(log_id)
    assert status == "clicked" and clicked_at.timestamp() == now and delivered_at.timestamp() == now - 20


@pytest.mark.parametrize("event", [{"event": "bounce", "reason": "550 5.1.1 mailbox unknown"},
                                   {"event": "dropped", "reason": "Bounced Address"},
                                   {"event": "bounce", "reason": "\u0000", "response": "550 gone\u0000"}])
def test_a_sendgrid_bounce_or_drop_ends_the_email_as_bounced_with_the_reason(
    ctx, app, client, factory, httpserver, manual_dispatch, sendgrid_keys, event
):
    private, public = sendgrid_keys
    store, log_id = store_sending_through(factory, httpserver, app, "sendgrid", public)
    events = [{**event, "email_log_id": str(log_id), "timestamp": int(time.time())}]
    assert post(client, f"/webhooks/sendgrid/{store.slug}", *signed_sendgrid(private, events)).status_code == 200
    status, *_, error = log_state(log_id)
    assert status == "bounced" and error == ("550 gone" if "response" in event else event["reason"])


def test_sendgrid_posts_that_are_unsigned_forged_stale_or_unconfigured_are_refused_and_change_nothing(
    ctx, app, client, factory, httpserver, manual_dispatch, sendgrid_keys
):
    private, public = sendgrid_keys
    store, log_id = store_sending_through(factory, httpserver, app, "sendgrid", public)
    url = f"/webhooks/sendgrid/{store.slug}"
    events = [{"event": "bounce", "email_log_id": str(log_id), "timestamp": int(time.time())}]
    body, headers = signed_sendgrid(private, events)
    forger = ec.generate_private_key(ec.SECP256R1())

    assert post(client, url, body).status_code == 403
    assert post(client, url, body.replace(b"bounce", b"delivered"), headers).status_code == 403
    assert post(client, url, *signed_sendgrid(forger, events)).status_code == 403
    assert post(client, url, *signed_sendgrid(private, events, timestamp=str(int(time.time()) - 3600))).status_code == 403
    assert post(client, url, body, {**headers, "X-Twilio-Email-Event-Webhook-Signature": "!!"}).status_code == 403
    db.session.execute(sa.update(StoreEmailSettings).values(sendgrid_webhook_public_key=None))
    db.session.commit()
    refused = post(client, url, body, headers)
    assert refused.status_code == 403 and "No SendGrid verification key" in refused.json["error"]
    assert log_state(log_id)[0] == "sent"


def test_a_signed_post_that_is_not_json_is_a_400_and_odd_events_are_skipped(
    ctx, app, client, factory, httpserver, manual_dispatch, sendgrid_keys
):
    private, public = sendgrid_keys
    store, log_id = store_sending_through(factory, httpserver, app, "sendgrid", public)
    url = f"/webhooks/sendgrid/{store.slug}"
    timestamp = str(int(time.time()))
    garbage = b"not json"
    signature = base64.b64encode(private.sign(timestamp.encode() + garbage, ec.ECDSA(hashes.SHA256()))).decode()
    assert post(client, url, garbage, {"X-Twilio-Email-Event-Webhook-Signature": signature,
                                       "X-Twilio-Email-Event-Webhook-Timestamp": timestamp}).status_code == 400
    odd = ["text", None, {"event": "delivered"}, {"event": "delivered", "email_log_id": "x"},
           {"event": "delivered", "email_log_id": "99999999999999"}, {"event": "delivered", "email_log_id": True},
           {"event": "deferred", "email_log_id": str(log_id)},
           {"event": "delivered", "email_log_id": str(log_id), "timestamp": "soon"}]
    response = post(client, url, *signed_sendgrid(private, odd))
    assert response.status_code == 200 and response.json == {"applied": 1}
    assert log_state(log_id)[0] == "delivered"


def test_mailgun_events_move_the_log_and_a_permanent_failure_bounces_it(
    ctx, app, client, factory, httpserver, manual_dispatch
):
    store, log_id = store_sending_through(factory, httpserver, app, "mailgun")
    url = f"/webhooks/mailgun/{store.slug}"
    variables = {"email_log_id": str(log_id)}
    temporary = {"event": "failed", "severity": "temporary", "user-variables": variables, "timestamp": time.time()}
    # A soft bounce: counted towards the address's run, the email stays sent.
    assert post(client, url, signed_mailgun(temporary)).json == {"applied": 1}
    assert log_state(log_id)[0] == "sent"

    delivered = {"event": "delivered", "user-variables": variables, "timestamp": time.time()}
    assert post(client, url, signed_mailgun(delivered)).json == {"applied": 1}
    assert log_state(log_id)[0] == "delivered"

    permanent = {"event": "failed", "severity": "permanent", "user-variables": variables, "timestamp": time.time(),
                 "delivery-status": {"description": "No such mailbox", "code": 550}}
    assert post(client, url, signed_mailgun(permanent)).json == {"applied": 1}
    status, *_, error = log_state(log_id)
    assert status == "bounced" and error == "No such mailbox"


def test_mailgun_posts_with_a_wrong_or_stale_signature_are_refused(ctx, app, client, factory, httpserver, manual_dispatch):
    store, log_id = store_sending_through(factory, httpserver, app, "mailgun")
    url = f"/webhooks/mailgun/{store.slug}"
    event = {"event": "delivered", "user-variables": {"email_log_id": str(log_id)}}
    assert post(client, url, signed_mailgun(event, key="someone else's key")).status_code == 403
    assert post(client, url, signed_mailgun(event, timestamp=str(int(time.time()) - 3600))).status_code == 403
    assert post(client, url, json.dumps({"event-data": event}).encode()).status_code == 403
    assert post(client, url, b"[]").status_code == 403
    assert post(client, url, signed_mailgun(event, timestamp="nan")).status_code == 403
    assert log_state(log_id)[0] == "sent"
    # A signing key saved under an encryption key no longer configured counts as none: 403, not 500.
    db.session.execute(sa.update(StoreEmailSettings).values(mailgun_webhook_signing_key="gAAAAA-not-a-token"))
    db.session.commit()
    assert post(client, url, signed_mailgun(event)).status_code == 403


def test_a_store_accounts_events_never_move_another_stores_emails(
    ctx, app, client, factory, httpserver, manual_dispatch, sendgrid_keys
):
    private, public = sendgrid_keys
    victim, victim_log = store_sending_through(factory, httpserver, app, "sendgrid", public)
    # Another store, with a verification key of its own, names the first store's email.
    attacker_private = ec.generate_private_key(ec.SECP256R1())
    attacker_public = base64.b64encode(attacker_private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    attacker, _ = store_sending_through(factory, httpserver, app, "sendgrid", attacker_public)
    events = [{"event": "bounce", "email_log_id": str(victim_log), "timestamp": int(time.time())}]
    response = post(client, f"/webhooks/sendgrid/{attacker.slug}", *signed_sendgrid(attacker_private, events))
    assert response.status_code == 200 and response.json == {"applied": 0}
    # Nor do the right key's events through another store's URL, or another provider's URL.
    assert post(client, f"/webhooks/sendgrid/{attacker.slug}", *signed_sendgrid(private, events)).status_code == 403
    assert post(client, f"/webhooks/mailgun/{victim.slug}", *signed_sendgrid(private, events)).status_code == 403
    assert log_state(victim_log)[0] == "sent"


@pytest.mark.parametrize("path", ["/webhooks/sendgrid/no-such-store", "/webhooks/ses/any", "/webhooks/smtp/any",
                                  "/webhooks/sendgrid"])
def test_unknown_webhooks_are_404(client, path):
    assert client.post(path, data=b"[]", content_type="application/json").status_code == 404


def test_the_store_reads_what_the_webhook_reported_in_its_email_log(
    app, factory, httpserver, manual_dispatch, sendgrid_keys, signed_in
):
    private, public = sendgrid_keys
    with app.app_context():
        store, log_id = store_sending_through(factory, httpserver, app, "sendgrid", public)
    client = signed_in(factory.store_user(store))
    events = [{"event": "delivered", "email_log_id": str(log_id), "timestamp": int(time.time()) - 60},
              {"event": "open", "email_log_id": str(log_id), "timestamp": int(time.time())}]
    assert post(client, f"/webhooks/sendgrid/{store.slug}", *signed_sendgrid(private, events)).status_code == 200
    page = client.get(f"/store/{store.slug}/email-log/{log_id}").get_data(as_text=True)
    assert "<dt>Delivered</dt>" in page and "<dt>Opened</dt>" in page and "<dt>Clicked</dt>" not in page
    assert "opened" in client.get(f"/store/{store.slug}/email-log").get_data(as_text=True).lower()


def test_a_body_larger_than_a_provider_ever_sends_is_refused_unread(client, factory):
    store = factory.store()
    response = client.post(f"/webhooks/mailgun/{store.slug}", data=b"[" + b" " * (2 * 1024 * 1024) + b"]",
                           content_type="application/json")
    assert response.status_code == 413


def test_a_spam_report_marks_the_email_and_tells_the_admins_once_while_unread(
    ctx, app, client, factory, httpserver, manual_dispatch, sendgrid_keys
):
    from messaging_web.models import AdminNotification

    private, public = sendgrid_keys
    store, log_id = store_sending_through(factory, httpserver, app, "sendgrid", public)
    url = f"/webhooks/sendgrid/{store.slug}"
    now = int(time.time())
    events = [{"event": "delivered", "email_log_id": str(log_id), "timestamp": now - 10},
              {"event": "spamreport", "email_log_id": str(log_id), "timestamp": now}]
    assert post(client, url, *signed_sendgrid(private, events)).json == {"applied": 2}
    # Replayed: nothing more.
    assert post(client, url, *signed_sendgrid(private, events[1:])).status_code == 200
    status, *_, error = log_state(log_id)
    assert status == "delivered" and error == "The recipient reported this email as spam."
    notices = db.session.scalars(sa.select(AdminNotification)).all()
    assert [(n.type, n.priority, n.action_url) for n in notices] == [("store_issue", "high", f"/admin/email-log/{log_id}")]
    assert "reported an email as spam" in notices[0].title and store.name in notices[0].title

    def complaint_about_another_email():
        other = queue_email("settings_test_email", "lee@customer.example", {"store_name": "x", "provider": "x"},
                            store_id=store.id).id
        db.session.commit()
        delivery.deliver_due()
        report = [{"event": "spamreport", "email_log_id": str(other), "timestamp": int(time.time())}]
        assert post(client, url, *signed_sendgrid(private, report)).json == {"applied": 1}
        return log_state(other)[-1]

    # While the notice is unread, a report about another email marks that email only.
    assert complaint_about_another_email() == "The recipient reported this email as spam."
    assert db.session.scalar(sa.select(sa.func.count(AdminNotification.id))) == 1
    db.session.execute(sa.update(AdminNotification).values(is_read=True))
    db.session.commit()
    complaint_about_another_email()
    assert db.session.scalar(sa.select(sa.func.count(AdminNotification.id))) == 2
    db.session.rollback()


NESTED = b"[" * 100_000  # the JSON decoder's recursion limit, not a JSON error


def test_deeply_nested_json_is_a_400_before_and_after_the_signature_check(
    ctx, app, client, factory, httpserver, manual_dispatch, sendgrid_keys
):
    private, public = sendgrid_keys
    store, log_id = store_sending_through(factory, httpserver, app, "sendgrid", public)
    url = f"/webhooks/sendgrid/{store.slug}"
    assert post(client, url, NESTED).status_code == 403  # unsigned: refused before it is read as JSON
    timestamp = str(int(time.time()))
    signature = base64.b64encode(private.sign(timestamp.encode() + NESTED, ec.ECDSA(hashes.SHA256()))).decode()
    response = post(client, url, NESTED, {"X-Twilio-Email-Event-Webhook-Signature": signature,
                                          "X-Twilio-Email-Event-Webhook-Timestamp": timestamp})
    assert response.status_code == 400 and response.json == {"error": "The body is not JSON."}
    assert log_state(log_id)[0] == "sent"
    assert post(client, url, *signed_sendgrid(private, [{"event": "delivered", "email_log_id": str(log_id)}])).json \
        == {"applied": 1}


def test_a_signed_sendgrid_event_with_an_infinite_or_huge_log_id_applies_to_nothing(
    ctx, app, client, factory, httpserver, manual_dispatch, sendgrid_keys
):
    # The store enters its own verification key, so a hostile store can sign anything it likes.
    private, public = sendgrid_keys
    store, log_id = store_sending_through(factory, httpserver, app, "sendgrid", public)
    url = f"/webhooks/sendgrid/{store.slug}"
    body = b'[{"event": "delivered", "email_log_id": 1e999, "timestamp": 1e999}, ' \
           b'{"event": "delivered", "email_log_id": "9223372036854775808"}, {"event": "open", "email_log_id": -1}]'
    timestamp = str(int(time.time()))
    signature = base64.b64encode(private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
    response = post(client, url, body, {"X-Twilio-Email-Event-Webhook-Signature": signature,
                                        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp})
    assert response.status_code == 200 and response.json == {"applied": 0}
    assert post(client, url, *signed_sendgrid(private, [{"event": "delivered", "email_log_id": str(log_id)}])).json \
        == {"applied": 1}


def test_deeply_nested_json_to_mailgun_is_a_400(ctx, app, client, factory, httpserver, manual_dispatch):
    store, log_id = store_sending_through(factory, httpserver, app, "mailgun")
    url = f"/webhooks/mailgun/{store.slug}"
    # Mailgun's signature is inside the JSON: the body is read first.
    response = post(client, url, NESTED)
    assert response.status_code == 400 and response.json == {"error": "The body is not JSON."}
    assert log_state(log_id)[0] == "sent"
    delivered = {"event": "delivered", "user-variables": {"email_log_id": str(log_id)}, "timestamp": time.time()}
    assert post(client, url, signed_mailgun(delivered)).json == {"applied": 1}
