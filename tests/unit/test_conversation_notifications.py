"""Batched new-message emails: one per thread and reader per window, skipped when read, muted or turned off."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from messaging_web.actors import Actor
from messaging_web.extensions import db
from messaging_web.models import (
    ConversationParticipant,
    ConversationType,
    EmailLog,
    Message,
    ParticipantType,
    Store,
)
from messaging_web.models.base import utcnow
from messaging_web.services import accounts, conversations, template_catalog
from messaging_web.services.conversation_notifications import flush_due_notifications

P = ConversationParticipant
WINDOW = dt.timedelta(seconds=120)


@pytest.fixture
def people(ctx):
    template_catalog.load_default_templates()
    store = Store(name="Maison Claire", slug="claire", tier="starter", default_language="fr")
    db.session.add(store)
    db.session.flush()
    admin = Actor.for_user(accounts.create_admin("ada@platform.test", "Ada", "password-123"))
    owner = Actor.for_user(accounts.create_store_user(store, "owner@claire.test", "Olivier", "password-123"))
    staff = Actor.for_user(accounts.create_store_user(store, "staff@claire.test", "Sam", "password-123"))
    customer = Actor.for_customer(accounts.create_customer(store, "chloe@shop.test", "Chloé", "password-123", "fr"))
    db.session.commit()
    return {"store": store, "admin": admin, "owner": owner, "staff": staff, "customer": customer}


def emails(to: str | None = None) -> list[EmailLog]:
    stmt = sa.select(EmailLog).where(EmailLog.template_code == "new_message_notification").order_by(EmailLog.id)
    if to:
        stmt = stmt.where(EmailLog.recipient_email == to)
    return list(db.session.scalars(stmt))


def flush(at: dt.datetime):
    report = flush_due_notifications(now=at)
    db.session.commit()
    return report


def test_nothing_is_sent_before_the_window_and_one_email_per_reader_after_it(people):
    conversation = conversations.start_conversation(
        people["customer"], ConversationType.STORE_CUSTOMER, "Robe bleue", "Bonjour, la robe existe en 38 ?"
    )
    db.session.commit()
    assert flush(utcnow()).sent == []
    report = flush(utcnow() + WINDOW + dt.timedelta(seconds=1))
    assert len(report.sent) == 2
    assert {e.recipient_email for e in emails()} == {"owner@claire.test", "staff@claire.test"}
    email = emails("owner@claire.test")[0]
    assert email.related_type == "conversation" and email.related_id == conversation.id
    assert "Bonjour, la robe existe en 38 ?" in email.body_html
    assert f"/store/claire/conversations/{conversation.id}" in email.body_html
    assert "Chloé" in email.body_html and "Robe bleue" in email.subject
    # The same window passing again sends nothing more.
    assert flush(utcnow() + 2 * WINDOW).sent == []


def test_several_messages_in_the_window_make_one_email_listing_them_all(people):
    conversation = conversations.start_conversation(
        people["owner"], ConversationType.STORE_CUSTOMER, "Votre commande", "Elle est partie.",
        customer=db.session.get(accounts.Customer, people["customer"].id),
    )
    conversations.post_message(people["owner"], conversation, "Numéro de suivi : 42")
    conversations.post_message(people["staff"], conversation, "Livraison jeudi")
    db.session.commit()
    flush(utcnow() + WINDOW)
    to_customer = emails("chloe@shop.test")
    assert len(to_customer) == 1
    body = to_customer[0].body_html
    assert body.index("Elle est partie.") < body.index("Numéro de suivi : 42") < body.index("Livraison jeudi")
    assert "3 nouveaux messages" in body  # the customer's language
    assert to_customer[0].subject == "[Maison Claire] Votre commande"  # one subject per thread
    assert json.loads(to_customer[0].extra_data)["language"] == "fr"
    assert "/inbox/claire/conversations/" in body
    # Olivier gets only Sam's message; Sam wrote last, so he has seen everything and gets nothing.
    to_owner = emails("owner@claire.test")[0].body_html
    assert "Livraison jeudi" in to_owner and "Numéro de suivi" not in to_owner
    assert emails("staff@claire.test") == []


def test_a_long_batch_counts_every_message_and_lists_the_latest(people):
    conversation = conversations.start_conversation(
        people["owner"], ConversationType.STORE_CUSTOMER, "Votre commande", "Message 1",
        customer=db.session.get(accounts.Customer, people["customer"].id),
    )
    for n in range(2, 46):
        conversations.post_message(people["owner"], conversation, f"Message {n}")
    db.session.commit()
    flush(utcnow() + WINDOW)
    body = emails("chloe@shop.test")[0].body_html
    assert "45 nouveaux messages" in body and "Voici les 20 plus récents." in body
    assert "Message 45" in body and "Message 26" in body and "Message 25<" not in body


def test_a_reader_who_opened_the_thread_meanwhile_gets_no_email(people):
    conversation = conversations.start_conversation(
        people["customer"], ConversationType.STORE_CUSTOMER, "Question", "Avez-vous des gants ?"
    )
    db.session.commit()
    conversations.mark_read(people["owner"], conversation)
    db.session.commit()
    report = flush(utcnow() + WINDOW)
    assert [e.recipient_email for e in emails()] == ["staff@claire.test"]
    assert report.skipped == 0  # the read cleared the pending mark: nothing was even considered


def test_muted_or_email_off_readers_get_no_email(people):
    conversation = conversations.start_conversation(
        people["customer"], ConversationType.STORE_CUSTOMER, "Question", "Premier message"
    )
    conversations.update_reader_settings(people["owner"], conversation, muted=True, email_notifications=True)
    conversations.update_reader_settings(people["staff"], conversation, muted=False, email_notifications=False)
    conversations.post_message(people["customer"], conversation, "Second message")
    db.session.commit()
    flush(utcnow() + WINDOW)
    assert emails() == []


def test_after_an_email_the_next_one_waits_a_new_window_and_lists_only_new_messages(people):
    conversation = conversations.start_conversation(
        people["customer"], ConversationType.STORE_CUSTOMER, "Retour", "Je voudrais retourner un article"
    )
    db.session.commit()
    first_flush = utcnow() + WINDOW
    flush(first_flush)
    assert len(emails("owner@claire.test")) == 1
    conversations.post_message(people["customer"], conversation, "C'est la taille qui ne va pas")
    db.session.commit()
    pending_since = db.session.scalar(
        sa.select(P.notify_pending_since).where(
            P.conversation_id == conversation.id, P.participant_type == ParticipantType.STORE,
            P.participant_id == people["owner"].id,
        )
    )
    assert flush(pending_since.replace(tzinfo=dt.UTC) + WINDOW - dt.timedelta(seconds=1)).sent == []
    flush(pending_since.replace(tzinfo=dt.UTC) + WINDOW)
    second = emails("owner@claire.test")
    assert len(second) == 2
    assert "taille" in second[1].body_html and "retourner un article" not in second[1].body_html
    assert second[1].subject == "[Chloé] Retour"  # one subject per thread, so that mail clients group them


def test_the_window_is_configurable(people, app):
    conversations.start_conversation(people["customer"], ConversationType.STORE_CUSTOMER, "Vite", "Urgent")
    db.session.commit()
    app.config["CONVERSATION_NOTIFY_DELAY_SECONDS"] = 5
    try:
        assert flush(utcnow() + dt.timedelta(seconds=6)).sent
    finally:
        app.config["CONVERSATION_NOTIFY_DELAY_SECONDS"] = 120


def test_platform_threads_link_each_reader_to_their_own_portal(people):
    conversations.start_conversation(
        people["owner"], ConversationType.ADMIN_STORE, "Facturation", "Question sur la facture"
    )
    db.session.commit()
    flush(utcnow() + WINDOW)
    to_admin = emails("ada@platform.test")
    assert len(to_admin) == 1 and "/admin/conversations/" in to_admin[0].body_html
    assert to_admin[0].store_id is None and to_admin[0].user_id == people["admin"].id


def test_deleted_and_system_messages_are_not_listed(people):
    conversation = conversations.start_conversation(
        people["customer"], ConversationType.STORE_CUSTOMER, "Oups", "mot de passe: secret"
    )
    conversations.post_message(people["customer"], conversation, "Pardon, ignorez le message précédent")
    first = db.session.scalars(
        sa.select(Message).where(Message.conversation_id == conversation.id)
        .order_by(Message.id)
    ).first()
    conversations.delete_message(people["customer"], first)
    conversations.close_conversation(people["owner"], conversation)
    db.session.commit()
    flush(utcnow() + WINDOW)
    body = emails("staff@claire.test")[0].body_html
    assert "secret" not in body and "Pardon" in body and "closed" not in body


def test_message_markup_arrives_escaped_in_the_email(people):
    conversations.start_conversation(
        people["customer"], ConversationType.STORE_CUSTOMER, "Balises", '<img src=x onerror="alert(1)"> <b>gras</b>'
    )
    db.session.commit()
    flush(utcnow() + WINDOW)
    body = emails("owner@claire.test")[0].body_html
    assert "<img src=x" not in body and "<b>gras</b>" not in body
    assert "&lt;b&gt;gras&lt;/b&gt;" in body
