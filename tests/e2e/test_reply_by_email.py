"""Reply by email in a browser: a customer's reply sent to our SMTP receiver appears in the store's open thread."""
from __future__ import annotations

import smtplib
import socket

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from messaging_web.extensions import db
from messaging_web.models import ConversationParticipant, Customer, ParticipantType, Store
from messaging_web.services.inbound.addresses import reply_address
from messaging_web.services.inbound.smtp_receiver import start_receiver
from tests.e2e.conftest import screenshot, sign_in
from tests.inbound.support import reply_email

WAIT_MS = 15_000


@pytest.fixture
def receiver(live_app):
    live_app.config["INBOUND_EMAIL_DOMAIN"] = "reply.platform.test"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = start_receiver(live_app, "127.0.0.1", port)
    yield port
    controller.stop()
    live_app.config["INBOUND_EMAIL_DOMAIN"] = ""


def test_an_emailed_reply_appears_in_the_open_thread_of_the_store(live_app, page, receiver):
    # The store owner opens a thread with Alice from the store's inbox.
    sign_in(page, "/store/alpine/login", "owner@alpine.example")
    page.goto("/store/alpine/conversations/new")
    page.fill("#customer_email", "alice@customer.example")
    page.fill("#subject", "Your jacket by email")
    page.fill("#content", "Hello Alice, which size do you need?")
    page.click("button[type=submit]:has-text('Send')")
    page.wait_for_url("**/store/alpine/conversations/*")
    conversation_id = int(page.url.rstrip("/").rsplit("/", 1)[1])

    # Alice answers the notification email from her mail client.
    with live_app.app_context():
        alice = db.session.scalars(sa.select(Customer).join(Store).where(
            Store.slug == "alpine", Customer.email == "alice@customer.example")).one()
        reader = db.session.scalars(sa.select(ConversationParticipant).where(
            ConversationParticipant.conversation_id == conversation_id,
            ConversationParticipant.participant_type == ParticipantType.CUSTOMER,
            ConversationParticipant.participant_id == alice.id)).one()
        to = reply_address(reader.id)
    with smtplib.SMTP("127.0.0.1", receiver) as smtp:
        smtp.sendmail("alice@customer.example", [to], reply_email(
            to, "Alice <alice@customer.example>", "Size M please!\n\nOn Wed, Alpine wrote:\n> which size do you need?",
            subject="Re: [Alpine Outfitters] Your jacket by email"))

    # The open thread shows it without a reload, marked as having come by email.
    expect(page.locator("#messages")).to_contain_text("Size M please!", timeout=WAIT_MS)
    expect(page.locator("#messages .message", has_text="Size M please!").locator(".tag")).to_have_text("via email")
    screenshot(page, "reply-by-email-in-store-thread")
