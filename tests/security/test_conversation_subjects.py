"""A conversation subject with a line break hidden in an encoded word no longer silences the thread's
notification emails: it is made safe when saved, and the header rule refuses only where a header is built."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from messaging_web.auth import Actor
from messaging_web.extensions import db
from messaging_web.models import ConversationType, EmailLog, Store
from messaging_web.models.base import utcnow
from messaging_web.services import accounts, conversations, template_catalog
from messaging_web.services.conversation_notifications import flush_due_notifications

ENCODED_NEWLINE = "Order =?utf-8?q?42=0ABcc:_victim@example.test?="


def test_an_encoded_line_break_in_a_subject_is_defused_and_the_notification_is_sent(ctx):
    template_catalog.load_default_templates()
    store = Store(name="Maison Claire", slug="claire", tier="starter", default_language="en")
    db.session.add(store)
    db.session.flush()
    accounts.create_store_user(store, "owner@claire.test", "Olivier", "password-123")
    customer = Actor.for_customer(accounts.create_customer(store, "chloe@shop.test", "Chloé", "password-123", "en"))
    db.session.commit()

    conversation = conversations.start_conversation(customer, ConversationType.STORE_CUSTOMER, ENCODED_NEWLINE,
                                                    "Where is my parcel?")
    db.session.commit()
    assert conversation.subject == "Order = ?utf-8?q?42=0ABcc:_victim@example.test?="

    report = flush_due_notifications(now=utcnow() + dt.timedelta(hours=1))
    db.session.commit()
    [email] = db.session.scalars(sa.select(EmailLog)).all()
    assert report.sent == [email.id] and email.status in ("pending", "sent")
    assert email.recipient_email == "owner@claire.test" and "42=0ABcc" in email.subject
