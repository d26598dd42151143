"""No row of one store, or of one customer, reaches another account, whatever URL it types.

A crawler walks one account's portal in the demo data (with a photo attached in a thread) and keeps
every page and form that names a row by id. Each is then tried by another account in its own portal:
the answer must be a 404, the same as for a row that does not exist, and nothing may change.
"""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from messaging_web.actors import Actor
from messaging_web.extensions import db
from messaging_web.models import Conversation, ConversationParticipant, Customer, EmailSuppression, Message, Store
from messaging_web.services import conversations, templates
from messaging_web.services.attachments import Upload
from tests import sample_files
from tests.support.crawler import crawl, csrf_from, reply_by_email_off, seed_demo_data, send, signed_in_client

NAMES_A_ROW = re.compile(r"/\d+(/|$)")
# A thread's live stream names its row in the query: /conversations/live?conversation=<id>&after=...
A_THREAD_STREAM = re.compile(r"/live\?conversation=\d+")

# owner (login, email, portal prefix) -> intruder (login, email, portal prefix)
PAIRS = {
    "another store's team": (
        ("/store/bergmann/login", "owner@bergmann.example", "/store/bergmann/"),
        ("/store/lumiere/login", "owner@lumiere.example", "/store/lumiere/"),
    ),
    "another customer of the same store": (
        ("/inbox/bergmann/login", "alice@customer.example", "/inbox/bergmann/"),
        ("/inbox/bergmann/login", "bob@customer.example", "/inbox/bergmann/"),
    ),
    "the same email as a customer of another store": (
        ("/inbox/bergmann/login", "alice@customer.example", "/inbox/bergmann/"),
        ("/inbox/lumiere/login", "alice@customer.example", "/inbox/lumiere/"),
    ),
}


@pytest.fixture
def demo_data_with_a_photo(app):
    seed_demo_data(app)
    with app.app_context():
        alice = db.session.scalar(
            sa.select(Customer).join(Store, Store.id == Customer.store_id)
            .where(Store.slug == "bergmann", Customer.email == "alice@customer.example")
        )
        thread = db.session.scalar(sa.select(Conversation).where(Conversation.customer_id == alice.id).limit(1))
        conversations.post_message(
            Actor.for_customer(alice), thread, "Here is the damaged parcel",
            [Upload.from_bytes("parcel.png", sample_files.image("PNG"))],
        )
        # A store version of a template, saved twice: its history pages and restore forms name versions by id.
        store = db.session.scalar(sa.select(Store).where(Store.slug == "bergmann"))
        base = templates.customizable_platform_template("order_shipped", store.default_language)
        for subject in ("Paket {{ order_number }} unterwegs", "Ihr Paket {{ order_number }}"):
            templates.save_store_override(store.id, base, templates.OverrideInput(
                subject=subject, body_html="<p>{{ customer_name }}</p>", body_text=None))
        # A row of the store's own suppression list: its removal page and form name it by id.
        db.session.add(EmailSuppression(email="alice@customer.example", store_id=store.id, scope="marketing",
                                        reason="unsubscribe", detail="unsubscribed from marketing emails"))
        db.session.commit()
    yield
    reply_by_email_off(app)


def snapshot(app) -> dict:
    with app.app_context():
        return {
            "conversations": db.session.execute(
                sa.select(Conversation.id, Conversation.is_closed, Conversation.message_count).order_by(Conversation.id)
            ).all(),
            "messages": db.session.execute(sa.select(Message.id, Message.is_deleted).order_by(Message.id)).all(),
            "readers": db.session.execute(
                sa.select(
                    ConversationParticipant.id, ConversationParticipant.unread_count, ConversationParticipant.muted,
                    ConversationParticipant.email_notifications,
                ).order_by(ConversationParticipant.id)
            ).all(),
        }


@pytest.mark.parametrize("pair", PAIRS)
def test_every_url_and_form_naming_a_row_of_one_account_is_a_404_for_another(app, demo_data_with_a_photo, pair):
    (owner_login, owner_email, owner_prefix), (intruder_login, intruder_email, intruder_prefix) = PAIRS[pair]
    owner = signed_in_client(app, owner_login, owner_email)
    # The crawl opens a few pages of each shape; the history of the template the fixture saved is one.
    starts = [owner_prefix] + ([f"{owner_prefix}templates/order_shipped/de/history"]
                               if owner_prefix.startswith("/store/") else [])
    pages, forms = crawl(owner, starts, owner_prefix)
    streams = [url for url in pages if A_THREAD_STREAM.search(url)]
    pages = [url for url in pages if NAMES_A_ROW.search(url.split("?")[0])]
    forms = [form for form in forms if NAMES_A_ROW.search(form.action.split("?")[0])]
    # The photo's download and thumbnail are among them; the owner itself opens every page.
    assert {"attachments", "thumbnail"} <= {part for url in pages for part in url.split("/")}, pages
    assert forms and all(owner.get(url).status_code == 200 for url in pages)
    # Each open thread's live stream is among them, and opens for the owner.
    assert streams and all(owner.get(url).status_code == 200 for url in streams), pages
    if owner_prefix.startswith("/store/"):
        # The team's saved replies and its template versions are among them too.
        assert any("/saved-replies/" in url for url in pages), pages
        assert any("/suppressions/" in url for url in pages), pages
        assert any("/history/" in form.action and form.action.endswith("/restore") for form in forms), forms

    intruder = signed_in_client(app, intruder_login, intruder_email)
    token = csrf_from(intruder.get(intruder_prefix).get_data(as_text=True))
    before = snapshot(app)
    answers = {}
    for url in pages:
        answers[f"GET {url}"] = send(intruder, "get", url.replace(owner_prefix, intruder_prefix, 1), []).status_code
    for url in streams:  # the thread named in the query, which send() would drop
        answers[f"GET {url}"] = intruder.get(url.replace(owner_prefix, intruder_prefix, 1)).status_code
    for form in forms:
        fields = [(n, v) for n, v in form.fields if n != "csrf_token"] + [("csrf_token", token)]
        action = form.action.replace(owner_prefix, intruder_prefix, 1)
        answers[f"{form.method.upper()} {form.action}"] = send(intruder, form.method, action, fields).status_code
    assert {request: status for request, status in answers.items() if status != 404} == {}
    assert snapshot(app) == before
