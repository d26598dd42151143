"""A conversation subject with a line break, plain or hidden in an encoded word, no longer silences the
thread's notification emails: it is made safe for a header when saved, and the header rule refuses only
where a header is built."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from messaging_web.extensions import db
from messaging_web.models import Conversation, EmailLog
from messaging_web.models.base import utcnow
from messaging_web.services import template_catalog
from messaging_web.services.conversation_notifications import flush_due_notifications
from messaging_web.services.email.providers.message import UnsafeHeader, check_header_text
from tests.conftest import csrf_token

SUBJECTS = {
    "an encoded word hiding a line break": (
        "Order =?utf-8?q?42=0ABcc:_victim@example.test?=", "Order = ?utf-8?q?42=0ABcc:_victim@example.test?="
    ),
    "a base64 encoded word hiding CR LF": (
        "=?utf-8?b?SGVsbG8NCkJjYzogeEB5LnRlc3Q=?=", "= ?utf-8?b?SGVsbG8NCkJjYzogeEB5LnRlc3Q= ?="
    ),
    "an encoded word in an unknown charset": ("Hi =?x-unknown?q?there?=", "Hi = ?x-unknown?q?there?="),
    "a plain CR LF": ("Hello\r\nBcc: x@y.test", "Hello Bcc: x@y.test"),
    "a NUL": ("Hello\x00Bcc", "HelloBcc"),  # the request itself drops NUL (web/request_text.py)
    "a harmless encoded word, kept": ("Caf=?utf-8?q?=C3=A9?= order", "Caf=?utf-8?q?=C3=A9?= order"),
}


@pytest.fixture
def shop(app, factory):
    with app.app_context():
        template_catalog.load_default_templates()
        db.session.commit()
    store = factory.store()
    return factory.store_user(store, "owner@claire.test"), factory.customer(store)


@pytest.mark.parametrize("typed, saved", SUBJECTS.values(), ids=SUBJECTS.keys())
def test_a_subject_a_header_could_not_carry_is_cleaned_and_the_notification_is_sent(
    app, client, signed_in, shop, typed, saved
):
    owner, customer = shop
    signed_in(customer)
    with app.app_context():
        slug = db.session.get(type(customer), customer.id).store.slug
    path = f"/inbox/{slug}/conversations/new"
    response = client.post(path, data={"subject": typed, "content": "Where is my parcel?",
                                       "csrf_token": csrf_token(client, path)})
    assert response.status_code == 302
    thread = response.location
    response = client.post(thread + "/messages", data={"content": "It is a gift, please hurry.",
                                                      "csrf_token": csrf_token(client, thread)})
    assert response.status_code in (200, 302)
    assert client.get(thread).status_code == 200

    with app.app_context():
        assert db.session.scalar(sa.select(Conversation.subject)) == saved
        report = flush_due_notifications(now=utcnow() + dt.timedelta(hours=1))
        db.session.commit()
        [email] = db.session.scalars(sa.select(EmailLog)).all()
        assert report.sent == [email.id] and email.status in ("pending", "sent")
        assert email.recipient_email == owner.email and saved in email.subject
        check_header_text(email.subject, "subject")  # what the sender checks: no UnsafeHeader


def test_the_header_rule_still_refuses_an_encoded_line_break_where_the_header_is_built():
    with pytest.raises(UnsafeHeader):
        check_header_text(SUBJECTS["an encoded word hiding a line break"][0], "subject")
