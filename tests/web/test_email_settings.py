"""The store email settings wizard through the test client: steps, tier gating, secrets, verification."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from messaging_web.extensions import db
from messaging_web.models import EmailLog, StoreEmailSettings, StoreTier
from tests.conftest import csrf_token
from tests.support.email_data import load_templates
from tests.support.mail_servers import SMTP_PASSWORD, SMTP_USER

pytest_plugins = ["tests.support.fixtures"]

BASE = "/store/{slug}/settings/email"


@pytest.fixture
def team(app, factory, signed_in):
    with app.app_context():
        load_templates()

    def make(tier=StoreTier.STARTER):
        store = factory.store(tier=tier)
        user = factory.store_user(store)
        client = signed_in(user)
        return store, user, client
    return make


def post(client, store, step, data, htmx=False):
    path = BASE.format(slug=store.slug) + f"/{step}"
    data = {"csrf_token": csrf_token(client, path), **data}
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(path, data=data, headers=headers)


def saved(app, store) -> StoreEmailSettings:
    with app.app_context():
        settings = db.session.scalar(sa.select(StoreEmailSettings).where(StoreEmailSettings.store_id == store.id))
        if settings is not None:
            db.session.expunge(settings)
        return settings


def fill_smtp(client, store, sink, password=SMTP_PASSWORD):
    assert post(client, store, "sender", {"from_email": "shop@store.example", "from_name": "My Shop",
                                          "reply_to_email": "help@store.example"}).status_code == 302
    assert post(client, store, "provider", {"provider": "smtp"}).status_code == 302
    response = post(client, store, "credentials", {
        "smtp_host": sink.host, "smtp_port": sink.port, "smtp_security": "none", "smtp_username": SMTP_USER,
        "smtp_password": password,
    })
    assert response.status_code == 302, response.get_data(as_text=True)


def test_every_step_renders_and_the_start_sends_a_new_store_to_the_sender_step(team):
    store, _user, client = team()
    response = client.get(BASE.format(slug=store.slug))
    assert response.status_code == 302 and response.headers["Location"].endswith("/settings/email/sender")
    page = client.get(BASE.format(slug=store.slug) + "/sender").get_data(as_text=True)
    assert "1. Sender" in page and "Not configured yet." in page
    # Later steps need the sender first.
    assert client.get(BASE.format(slug=store.slug) + "/credentials").status_code == 302


def test_sender_step_validates_addresses_and_keeps_what_was_typed(team):
    store, _user, client = team()
    response = post(client, store, "sender", {"from_email": "not an address", "from_name": "My Shop"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'value="My Shop"' in page
    response = post(client, store, "sender", {"from_email": "a@example.com, b@example.com", "from_name": "Shop"},
                    htmx=True)
    assert response.status_code == 422
    assert 'id="wizard"' in response.get_data(as_text=True) and "<html" not in response.get_data(as_text=True)


def test_htmx_save_returns_the_next_step_and_pushes_its_url(team):
    store, _user, client = team()
    response = post(client, store, "sender", {"from_email": "shop@store.example", "from_name": "My Shop"}, htmx=True)
    assert response.status_code == 200
    assert response.headers["HX-Push-Url"].endswith("/settings/email/provider")
    assert "2. Provider" in response.get_data(as_text=True)


def test_back_saves_the_step_and_returns_to_the_previous_one(team, app):
    store, _user, client = team()
    post(client, store, "sender", {"from_email": "shop@store.example", "from_name": "My Shop"})
    response = post(client, store, "provider", {"provider": "smtp", "go": "back"})
    assert response.headers["Location"].endswith("/settings/email/sender")
    page = client.get(BASE.format(slug=store.slug) + "/sender").get_data(as_text=True)
    assert 'value="shop@store.example"' in page


def test_api_providers_are_shown_disabled_below_business_and_refused_by_the_server(team, app):
    store, _user, client = team(StoreTier.PROFESSIONAL)
    post(client, store, "sender", {"from_email": "shop@store.example", "from_name": "My Shop"})
    page = client.get(BASE.format(slug=store.slug) + "/provider").get_data(as_text=True)
    assert re.search(r'<input[^>]*disabled[^>]*value="sendgrid"|<input[^>]*value="sendgrid"[^>]*disabled', page)
    assert "Business plan" in page
    response = post(client, store, "provider", {"provider": "sendgrid"})
    assert response.status_code == 403
    assert saved(app, store).provider == "smtp"


def test_business_store_may_choose_sendgrid_and_its_key_is_never_shown_again(team, app):
    store, _user, client = team(StoreTier.BUSINESS)
    post(client, store, "sender", {"from_email": "shop@store.example", "from_name": "My Shop"})
    assert post(client, store, "provider", {"provider": "sendgrid"}).status_code == 302
    assert post(client, store, "credentials", {"sendgrid_api_key": "SG.very-secret-key-4321"}).status_code == 302
    settings = saved(app, store)
    assert settings.is_configured and "very-secret" not in settings.sendgrid_api_key
    page = client.get(BASE.format(slug=store.slug) + "/credentials").get_data(as_text=True)
    assert "Saved, ending in 4321" in page and "very-secret-key" not in page
    # Leaving the field empty keeps the key.
    assert post(client, store, "credentials", {"sendgrid_api_key": ""}).status_code == 302
    assert saved(app, store).sendgrid_api_key == settings.sendgrid_api_key


def sendgrid_verification_key() -> str:
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    return base64.b64encode(
        public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ).decode()


def test_sendgrid_step_shows_the_stores_webhook_url_and_takes_a_verification_key_that_must_be_one(team, app):
    store, _user, client = team(StoreTier.BUSINESS)
    post(client, store, "sender", {"from_email": "shop@store.example", "from_name": "My Shop"})
    post(client, store, "provider", {"provider": "sendgrid"})
    page = client.get(BASE.format(slug=store.slug) + "/credentials").get_data(as_text=True)
    assert f"http://127.0.0.1:5000/webhooks/sendgrid/{store.slug}</code>" in page

    refused = post(client, store, "credentials", {"sendgrid_api_key": "SG.k", "sendgrid_webhook_public_key": "hello"})
    assert refused.status_code == 422 and "This is not a verification key" in refused.get_data(as_text=True)
    assert saved(app, store).sendgrid_webhook_public_key is None

    key = sendgrid_verification_key()
    assert post(client, store, "credentials", {"sendgrid_api_key": "SG.k", "sendgrid_webhook_public_key": key}).status_code == 302
    settings = saved(app, store)
    assert settings.sendgrid_webhook_public_key == key and settings.is_configured
    # A public key: shown again as saved; emptied, it is removed.
    assert key in client.get(BASE.format(slug=store.slug) + "/credentials").get_data(as_text=True)
    assert post(client, store, "credentials", {"sendgrid_webhook_public_key": ""}).status_code == 302
    assert saved(app, store).sendgrid_webhook_public_key is None


def test_mailgun_webhook_signing_key_is_optional_encrypted_and_never_shown_again(team, app):
    store, _user, client = team(StoreTier.BUSINESS)
    post(client, store, "sender", {"from_email": "shop@store.example", "from_name": "My Shop"})
    post(client, store, "provider", {"provider": "mailgun"})
    fields = {"mailgun_api_key": "key-api", "mailgun_domain": "mg.store.example", "mailgun_region": "eu"}
    assert post(client, store, "credentials", fields).status_code == 302
    assert saved(app, store).mailgun_webhook_signing_key is None and saved(app, store).is_configured

    assert post(client, store, "credentials", {**fields, "mailgun_webhook_signing_key": "sign-key-9876"}).status_code == 302
    stored = saved(app, store).mailgun_webhook_signing_key
    assert stored and "sign-key" not in stored
    page = client.get(BASE.format(slug=store.slug) + "/credentials").get_data(as_text=True)
    assert f"/webhooks/mailgun/{store.slug}</code>" in page
    assert "Saved, ending in 9876" in page and "sign-key-9876" not in page
    assert post(client, store, "credentials", {**fields, "mailgun_webhook_signing_key": ""}).status_code == 302
    assert saved(app, store).mailgun_webhook_signing_key == stored


def test_ses_step_takes_an_optional_sns_topic_arn_for_events_and_refuses_anything_else(team, app):
    store, _user, client = team(StoreTier.BUSINESS)
    post(client, store, "sender", {"from_email": "shop@store.example", "from_name": "My Shop"})
    post(client, store, "provider", {"provider": "ses"})
    page = client.get(BASE.format(slug=store.slug) + "/credentials").get_data(as_text=True)
    assert f"/webhooks/ses/{store.slug}</code>" in page
    fields = {"ses_access_key_id": "AKIASTORE0000001", "ses_secret_access_key": "secret", "ses_region": "eu-west-1"}
    refused = post(client, store, "credentials", {**fields, "ses_sns_topic_arn": "https://sns.example/topic"})
    assert refused.status_code == 422 and "the topic&#39;s ARN" in refused.get_data(as_text=True)
    topic = "arn:aws:sns:eu-west-1:123456789012:ses-events"
    assert post(client, store, "credentials", {**fields, "ses_sns_topic_arn": topic}).status_code == 302
    assert saved(app, store).ses_sns_topic_arn == topic and saved(app, store).is_configured


def test_wizard_verifies_against_the_local_smtp_server(team, app, smtp_sink):
    store, user, client = team()
    fill_smtp(client, store, smtp_sink)
    assert saved(app, store).is_configured and not saved(app, store).is_verified
    response = post(client, store, "verify", {"to_email": "owner@store.example"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Your settings are verified" in page
    settings = saved(app, store)
    assert settings.is_verified and settings.last_verified_at is not None and settings.verification_error is None
    [message] = smtp_sink.parsed()
    assert message["Subject"] == f"Test email from {store.name}" and message["To"] == "owner@store.example"
    with app.app_context():
        log = db.session.scalar(sa.select(EmailLog))
        assert log.status == "sent" and log.template_code == "settings_test_email" and log.user_id == user.id


def test_wrong_password_shows_the_plain_words_error_and_stays_unverified(team, app, smtp_sink):
    store, _user, client = team()
    fill_smtp(client, store, smtp_sink, password="wrong-password")
    page = post(client, store, "verify", {"to_email": "owner@store.example"}).get_data(as_text=True)
    assert "The SMTP server rejected the username or password." in page
    settings = saved(app, store)
    assert not settings.is_verified
    assert settings.verification_error == "The SMTP server rejected the username or password."


@pytest.mark.parametrize("far_end,security", [
    ("closed_port", "none"), ("silent_server", "none"), ("banner_server", "none"), ("smtp_sink", "ssl"),
])
def test_a_failed_connection_says_only_that_it_could_not_connect(team, app, request, monkeypatch, caplog,
                                                                  far_end, security):
    """Refused, timed out, another protocol, a TLS mismatch: the store learns the same thing (the wizard
    must not tell a port scanner which ports are open), never what the far end said; our log has the reason."""
    monkeypatch.setitem(app.config, "SMTP_TIMEOUT", 0.5)
    server = request.getfixturevalue(far_end)
    port = server if isinstance(server, int) else server.port
    store, _user, client = team()
    post(client, store, "sender", {"from_email": "shop@store.example", "from_name": "My Shop"})
    post(client, store, "provider", {"provider": "smtp"})
    post(client, store, "credentials", {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": security})
    page = post(client, store, "verify", {"to_email": "owner@store.example"}, htmx=True).get_data(as_text=True)
    expected = f"Could not connect to 127.0.0.1 on port {port}; check the host, the port and the security setting."
    assert saved(app, store).verification_error == expected
    assert expected in page and "SSH" not in page and "bastion" not in page
    assert f"SMTP connection to 127.0.0.1:{port} failed" in caplog.text


def test_test_emails_are_limited_per_account_with_the_message_beside_the_button(team, app, smtp_sink, monkeypatch):
    monkeypatch.setitem(app.config, "EMAIL_SETTINGS_VERIFY_RATE_LIMIT", "2 per minute")
    store, _user, client = team()
    fill_smtp(client, store, smtp_sink)
    verify = {"to_email": "owner@store.example"}
    assert [post(client, store, "verify", verify, htmx=True).status_code for _ in range(2)] == [200, 200]
    refused = post(client, store, "verify", verify, htmx=True)
    assert refused.status_code == 429 and refused.headers["HX-Retarget"] == "#verify-status"
    assert "You have sent several test emails just now." in refused.get_data(as_text=True)
    assert len(smtp_sink.messages) == 2
    # The page's slot for it, next to the button; the form stays as the owner left it.
    page = client.get(BASE.format(slug=store.slug) + "/verify").get_data(as_text=True)
    assert 'id="verify-status"' in page
    # Only sending counts: going back and the other steps still work.
    assert post(client, store, "verify", {"go": "back"}).status_code == 302
    assert post(client, store, "signature", {"signature_text": "Cheers"}).status_code == 302
    # Another store's owner tests their settings meanwhile.
    other, _other_user, other_client = team()
    fill_smtp(other_client, other, smtp_sink)
    assert post(other_client, other, "verify", verify).status_code == 200


def test_changing_credentials_clears_verification(team, app, smtp_sink):
    store, _user, client = team()
    fill_smtp(client, store, smtp_sink)
    post(client, store, "verify", {"to_email": "owner@store.example"})
    assert saved(app, store).is_verified
    # Same values again: still verified.
    post(client, store, "credentials", {"smtp_host": smtp_sink.host, "smtp_port": smtp_sink.port,
                                        "smtp_security": "none", "smtp_username": SMTP_USER})
    assert saved(app, store).is_verified
    post(client, store, "credentials", {"smtp_host": smtp_sink.host, "smtp_port": smtp_sink.port,
                                        "smtp_security": "none", "smtp_username": SMTP_USER,
                                        "smtp_password": "a-new-password"})
    assert not saved(app, store).is_verified


def test_signature_preview_and_save(team, app):
    store, _user, client = team()
    post(client, store, "sender", {"from_email": "shop@store.example", "from_name": "My Shop"})
    response = post(client, store, "signature", {"signature_text": "Cheers", "signature_html": "<p>Cheers</p>",
                                                 "go": "preview"})
    assert response.status_code == 200 and 'srcdoc="&lt;p&gt;Cheers&lt;/p&gt;"' in response.get_data(as_text=True)
    assert saved(app, store).signature_html is None
    assert post(client, store, "signature", {"signature_text": "Cheers", "signature_html": "<p>Cheers</p>"}).status_code == 302
    assert saved(app, store).signature_html == "<p>Cheers</p>"


def test_store_host_on_the_local_network_is_refused_outside_development(team, app, smtp_sink):
    app.config["SMTP_ALLOW_INTERNAL_HOSTS"] = False
    try:
        store, _user, client = team()
        fill_smtp(client, store, smtp_sink)
        page = post(client, store, "verify", {"to_email": "owner@store.example"}).get_data(as_text=True)
    finally:
        app.config["SMTP_ALLOW_INTERNAL_HOSTS"] = True
    assert "private or local network address" in page
    assert smtp_sink.logins == []


def test_another_stores_team_cannot_reach_the_wizard(team, factory):
    store, _user, client = team()
    other = factory.store()
    assert client.get(BASE.format(slug=other.slug) + "/sender").status_code == 404
