"""The portals' home pages sum up what needs attention: messages, the sending set-up, recent emails by
status (each a link to the filtered log), templates; a store sees only its own figures."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from messaging_web.actors import Actor
from messaging_web.extensions import db
from messaging_web.models import ConversationType, Customer, EmailLog, StoreTier
from messaging_web.services import conversations
from messaging_web.services.email.outbox import queue_email
from tests.support.email_data import NO_SMTP_SERVER, load_templates, smtp_settings


@pytest.fixture
def shops(app, factory):
    """Two stores; the first has a customer thread with two unread messages, three emails (one bounced)."""
    north, south = factory.store(slug="north", tier=StoreTier.BUSINESS), factory.store(slug="south")
    team, customer, admin = factory.store_user(north), factory.customer(north), factory.admin()
    with app.app_context():
        load_templates()
        alice = db.session.get(Customer, customer.id)
        thread = conversations.start_conversation(
            Actor.for_customer(alice), ConversationType.STORE_CUSTOMER, "Gift wrap?", "Can you wrap it?",
        )
        conversations.post_message(Actor.for_customer(alice), thread, "It is a present")
        for n, store in enumerate([north, north, north, south, south]):
            queue_email("settings_test_email", f"kim{n}@customer.example", {"store_name": "x", "provider": "x"},
                        store_id=store.id)
        db.session.commit()
        first_north = db.session.scalar(sa.select(EmailLog).where(EmailLog.store_id == north.id).order_by(EmailLog.id))
        first_north.status = "bounced"
        db.session.commit()
    return {"north": north, "south": south, "team": team, "admin": admin}


def card(page: str, name: str) -> str:
    return re.search(rf'<section class="card" id="overview-{name}">(.*?)</section>', page, re.S).group(1)


def counts(section: str) -> dict[str, int]:
    return {status: int(n) for status, n in re.findall(r'status-(\w+)">\w+</span> (\d+)', section)}


def test_a_store_home_sums_up_its_messages_sending_emails_and_templates(signed_in, shops):
    page = signed_in(shops["team"]).get("/store/north/").get_data(as_text=True)
    assert "<strong>2</strong> unread · 1 open conversation<" in card(page, "messages")
    assert "Not set up: your emails go out through the platform" in card(page, "sending")
    emails = card(page, "emails")
    # Its own three emails only: the south store's two are not counted.
    assert counts(emails) == {"sent": 2, "bounced": 1}
    assert 'href="/store/north/email-log?status=bounced"' in emails
    assert "0 customized" in card(page, "templates")


def test_the_sending_card_follows_the_wizard_from_unverified_to_verified(app, signed_in, shops):
    with app.app_context():
        settings = smtp_settings(shops["north"].id, NO_SMTP_SERVER, verified=False, provider="mailgun")
        settings.verification_error = "Mailgun rejected the API key"
        db.session.commit()
    client = signed_in(shops["team"])
    sending = card(client.get("/store/north/").get_data(as_text=True), "sending")
    assert "Mailgun is set up but not verified yet" in sending and "Mailgun rejected the API key" in sending
    with app.app_context():
        from messaging_web.models import StoreEmailSettings
        from messaging_web.models.base import utcnow

        db.session.execute(sa.update(StoreEmailSettings).values(is_verified=True, last_verified_at=utcnow()))
        db.session.commit()
    sending = card(client.get("/store/north/").get_data(as_text=True), "sending")
    assert "go out through <strong>Mailgun</strong>, verified" in sending


def test_the_admin_home_counts_every_stores_emails_and_links_to_the_filtered_log(signed_in, shops):
    page = signed_in(shops["admin"]).get("/admin/").get_data(as_text=True)
    emails = card(page, "emails")
    assert counts(emails) == {"sent": 4, "bounced": 1}
    assert 'href="/admin/email-log?status=bounced"' in emails
    assert "unread messages" in card(page, "messages")


def test_a_store_with_no_emails_and_no_threads_says_so(signed_in, factory):
    quiet = factory.store(slug="quiet")
    page = signed_in(factory.store_user(quiet)).get("/store/quiet/").get_data(as_text=True)
    assert "No emails in the last 30 days." in card(page, "emails")
    assert "<strong>0</strong> unread · 0 open conversations<" in card(page, "messages")
