"""Reply by email: a reply to a notification lands in its thread as a message from that participant; an
email that cannot be placed is held (and its sender told once); machine-sent mail is never posted."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from messaging_web.actors import Actor
from messaging_web.extensions import db
from messaging_web.models import (
    Conversation,
    ConversationType,
    Customer,
    EmailLog,
    InboundEmail,
    Message,
    ParticipantType,
    Store,
)
from messaging_web.services import accounts, conversations, template_catalog
from messaging_web.services.inbound import decisions
from messaging_web.services.inbound.receiving import receive
from tests.sample_files import EXECUTABLE, image

from .support import headers_of, notify_now, reply_address_of, reply_email

CUSTOMER = ParticipantType.CUSTOMER


@pytest.fixture
def thread(ctx, inbound_domain):
    template_catalog.load_default_templates()
    store = Store(name="Maison Claire", slug="claire", tier="starter", default_language="fr")
    db.session.add(store)
    db.session.flush()
    owner = Actor.for_user(accounts.create_store_user(store, "owner@claire.test", "Olivier", "password-123"))
    customer = Actor.for_customer(accounts.create_customer(store, "chloe@shop.test", "Chloé", "password-123", "fr"))
    db.session.commit()
    conversation = conversations.start_conversation(
        customer, ConversationType.STORE_CUSTOMER, "Robe bleue", "Bonjour, la robe existe en 38 ?"
    )
    db.session.commit()
    return {"store": store, "owner": owner, "customer": customer, "conversation_id": conversation.id}


def posted(conversation_id: int) -> list[Message]:
    return list(db.session.scalars(
        sa.select(Message).where(Message.conversation_id == conversation_id, Message.is_system_message.is_(False))
        .order_by(Message.id)
    ))


def bounces() -> list[EmailLog]:
    return list(db.session.scalars(sa.select(EmailLog).where(EmailLog.template_code == "inbound_reply_not_delivered")))


def customer_reply(thread, text="Parfait, je la prends !\n\nLe mer. 2 déc. 2026 à 10:04, Olivier a écrit :\n> La robe existe en 38.", **options):
    to = reply_address_of(thread["conversation_id"], CUSTOMER, thread["customer"].id)
    return reply_email(to, "Chloé <chloe@shop.test>", text, **options)


def test_notifications_carry_the_threads_reply_address_and_threading_headers(thread):
    conversations.post_message(thread["owner"], db.session.get(Conversation, thread["conversation_id"]),
                               "Oui, en 38 et 40.")
    db.session.commit()
    [email] = [e for e in notify_now() if e.recipient_email == "chloe@shop.test"]
    assert email.reply_to == reply_address_of(thread["conversation_id"], CUSTOMER, thread["customer"].id)
    assert email.reply_to.endswith("@reply.platform.test") and email.reply_to.startswith("reply+")
    headers = headers_of(email)
    reference = f"<conversation-{thread['conversation_id']}@messaging-web>"
    assert headers["In-Reply-To"] == reference and headers["References"] == reference
    assert "Répondez à cet e-mail pour répondre" in email.body_html
    # One subject per thread, however many messages the email lists.
    assert email.subject == "[Maison Claire] Robe bleue"


def test_without_an_inbound_domain_notifications_keep_the_senders_reply_to(thread, app):
    app.config["INBOUND_EMAIL_DOMAIN"] = ""
    conversations.post_message(thread["owner"], db.session.get(Conversation, thread["conversation_id"]), "Oui.")
    db.session.commit()
    [email] = [e for e in notify_now() if e.recipient_email == "chloe@shop.test"]
    assert email.reply_to is None
    assert "Répondez à cet e-mail" not in email.body_html


def test_a_reply_is_posted_as_the_participant_without_the_quoted_thread(thread):
    row = receive(customer_reply(thread), source="smtp")
    db.session.commit()
    assert row.status == "posted"
    message = posted(thread["conversation_id"])[-1]
    assert message.content == "Parfait, je la prends !"
    assert (message.sender_type, message.sender_id) == (CUSTOMER, thread["customer"].id)
    assert message.inbound_email_id == row.id
    assert "Olivier a écrit" in decisions.full_text(row)  # the whole email is kept for admins
    # The store team sees it unread (after the customer's first message) and will be emailed about it, as
    # for a message typed in the portal.
    owner_row = conversations.participant_row(thread["owner"], db.session.get(Conversation, thread["conversation_id"]))
    assert owner_row.unread_count == 2 and owner_row.notify_pending_since is not None


def test_a_reply_to_a_closed_conversation_reopens_it(thread):
    conversation = db.session.get(Conversation, thread["conversation_id"])
    conversations.close_conversation(thread["owner"], conversation)
    db.session.commit()
    receive(customer_reply(thread, text="Encore une question."), source="smtp")
    db.session.commit()
    db.session.refresh(conversation)
    assert not conversation.is_closed
    assert posted(thread["conversation_id"])[-1].content == "Encore une question."


def test_the_same_email_delivered_twice_posts_once(thread):
    raw = customer_reply(thread, message_id="<same-123@mail.example>")
    first = receive(raw, source="sendgrid")
    db.session.commit()
    again = receive(raw, source="sendgrid")
    db.session.commit()
    assert again.id == first.id
    assert [m.content for m in posted(thread["conversation_id"])].count("Parfait, je la prends !") == 1


def test_a_forged_reply_address_is_held_and_its_sender_told_once(thread):
    to = reply_address_of(thread["conversation_id"], CUSTOMER, thread["customer"].id)
    participant, _, rest = to.partition("-")
    forged = f"{participant}-aaaaaaaaaaaaaaaa@{rest.partition('@')[2]}"
    row = receive(reply_email(forged, "chloe@shop.test", "Hello"), source="smtp")
    db.session.commit()
    assert (row.status, row.reason, row.conversation_id) == ("held", "forged_address", None)
    assert len(posted(thread["conversation_id"])) == 1
    # A second one within the hour gets no second answer.
    receive(reply_email(forged, "chloe@shop.test", "Hello again"), source="smtp")
    db.session.commit()
    assert [b.recipient_email for b in bounces()] == ["chloe@shop.test"]
    assert headers_of(bounces()[0])["Auto-Submitted"] == "auto-replied"


def test_a_token_moved_to_another_participant_is_forged(thread):
    to = reply_address_of(thread["conversation_id"], CUSTOMER, thread["customer"].id)
    local, _, domain = to.partition("@")
    number, _, signature = local.removeprefix("reply+").partition("-")
    moved = f"reply+{int(number) + 1}-{signature}@{domain}"
    assert receive(reply_email(moved, "chloe@shop.test", "Hi"), source="smtp").reason == "forged_address"


def test_a_reply_from_another_address_is_held_for_the_store(thread):
    to = reply_address_of(thread["conversation_id"], CUSTOMER, thread["customer"].id)
    row = receive(reply_email(to, "mallory@evil.test", "Send it to me instead"), source="smtp")
    db.session.commit()
    assert (row.status, row.reason) == ("held", "wrong_sender")
    assert row.store_id == thread["store"].id and row.conversation_id == thread["conversation_id"]
    assert row.reply_text == "Send it to me instead"
    assert len(posted(thread["conversation_id"])) == 1
    assert [b.recipient_email for b in bounces()] == ["mallory@evil.test"]


def test_a_participant_who_lost_access_is_held(thread):
    db.session.get(Customer, thread["customer"].id).is_active = False
    db.session.commit()
    row = receive(customer_reply(thread), source="smtp")
    assert (row.status, row.reason) == ("held", "no_access")


@pytest.mark.parametrize("headers", [
    {"Auto-Submitted": "auto-replied"},
    {"Precedence": "bulk"},
    {"X-Autoreply": "yes"},
    {"List-Id": "<news.shop.test>"},
    {"Return-Path": "<>"},
])
def test_machine_sent_mail_is_never_posted_nor_answered(thread, headers):
    row = receive(customer_reply(thread, text="I am out of the office until Monday.", headers=headers), source="smtp")
    db.session.commit()
    assert (row.status, row.reason) == ("ignored", "automatic")
    assert len(posted(thread["conversation_id"])) == 1
    assert bounces() == []


def test_our_own_email_coming_back_is_ignored(thread):
    raw = customer_reply(thread, message_id="<email-log-42@messaging-web>")
    assert receive(raw, source="smtp").reason == "own"
    assert bounces() == []


def test_an_empty_envelope_sender_is_a_bounce_and_ignored(thread):
    row = receive(customer_reply(thread), source="smtp", envelope_sender="")
    assert row.status == "ignored"


def test_files_the_rules_refuse_are_named_and_the_others_kept(thread):
    png = image("PNG", size=(40, 30))
    raw = customer_reply(thread, text="Photos attached.", files=(
        ("dress.png", "image/png", png), ("invoice.exe", "application/octet-stream", EXECUTABLE),
    ))
    row = receive(raw, source="smtp")
    db.session.commit()
    assert row.status == "posted"
    message = posted(thread["conversation_id"])[-1]
    files = db.session.scalars(sa.select(Message).where(Message.id == message.id)).one()
    names = [a.original_filename for a in conversations.thread_message(
        db.session.get(Conversation, thread["conversation_id"]), files.id).attachments]
    assert names == ["dress.png"]
    assert message.attachment_note == "1 file not accepted: invoice.exe"
    assert files.refused_files == ["invoice.exe"]  # the names, for the note in each reader's language


def test_an_html_only_reply_is_read_as_text(thread):
    to = reply_address_of(thread["conversation_id"], CUSTOMER, thread["customer"].id)
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "chloe@shop.test", to, "Re: Robe bleue"
    message.set_content("<html><body><p>Merci <b>beaucoup</b> !</p></body></html>", subtype="html")
    receive(message.as_bytes(), source="smtp")
    db.session.commit()
    assert posted(thread["conversation_id"])[-1].content == "Merci beaucoup !"


def test_malformed_oversized_and_many_part_emails_are_held_not_posted(thread, app):
    row = receive(b"\x00\xff not an email at all \r\n\r\n\x00", source="smtp")
    assert row.status == "held"
    app.config["INBOUND_EMAIL_MAX_BYTES"] = 1000
    big = receive(customer_reply(thread, text="x" * 5000), source="smtp")
    assert (big.status, big.reason, big.raw) == ("held", "too_large", None)
    app.config["INBOUND_EMAIL_MAX_BYTES"] = 20 * 1024 * 1024
    many = customer_reply(thread, text="Many files", files=tuple(
        (f"note{i}.txt", "text/plain", b"hello") for i in range(150)
    ))
    row = receive(many, source="smtp")
    db.session.commit()
    assert (row.status, row.reason) == ("held", "malformed")
    assert "more than 100 parts" in row.reason_detail
    assert len(posted(thread["conversation_id"])) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(InboundEmail)) == 3
