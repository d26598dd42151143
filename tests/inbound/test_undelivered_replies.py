"""The undelivered replies list: each store sees its own held replies, admins all; accept posts the reply as
its participant, discard sets it aside; emailed messages say so in the thread."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from messaging_web.actors import Actor
from messaging_web.extensions import db
from messaging_web.models import ConversationType, Customer, InboundEmail, Message, ParticipantType
from messaging_web.services import conversations
from messaging_web.services.inbound.receiving import receive
from tests.conftest import csrf_token

from .support import reply_address_of, reply_email


@pytest.fixture
def world(app, factory, shipped, inbound_domain):
    stores = [factory.store(slug="alpha"), factory.store(slug="beta")]
    people = {}
    for store in stores:
        owner = factory.store_user(store)
        customer = factory.customer(store)
        with app.app_context():
            conversation = conversations.start_conversation(
                Actor.for_customer(db.session.get(Customer, customer.id)), ConversationType.STORE_CUSTOMER,
                f"Order at {store.slug}", "Where is my parcel?",
            )
            db.session.commit()
            to = reply_address_of(conversation.id, ParticipantType.CUSTOMER, customer.id)
            # A reply from the customer's other address: held for the store.
            held = receive(reply_email(to, f"other-{store.slug}@elsewhere.test", f"From my work address ({store.slug})"),
                           source="smtp")
            db.session.commit()
            people[store.slug] = {"store": store, "owner": owner, "customer": customer, "to": to,
                                  "conversation_id": conversation.id, "held_id": held.id}
    people["admin"] = factory.admin()
    return people


def held_rows(page: str) -> list[str]:
    return re.findall(r'<tr id="inbound-(\d+)"', page)


def test_a_store_sees_its_held_replies_and_not_another_stores(client, signed_in, world):
    signed_in(world["alpha"]["owner"])
    page = client.get("/store/alpha/undelivered-replies").get_data(as_text=True)
    assert held_rows(page) == [str(world["alpha"]["held_id"])]
    assert "From my work address (alpha)" in page and "(beta)" not in page
    assert "another than the one" not in page and "other than the one the conversation" in page
    assert 'aria-label="1 waiting"' in page  # the nav badge
    assert client.get(f"/store/alpha/undelivered-replies/{world['beta']['held_id']}").status_code == 404


def test_an_admin_sees_every_held_reply(client, signed_in, world):
    signed_in(world["admin"])
    page = client.get("/admin/undelivered-replies").get_data(as_text=True)
    assert sorted(held_rows(page)) == sorted([str(world["alpha"]["held_id"]), str(world["beta"]["held_id"])])
    detail = client.get(f"/admin/undelivered-replies/{world['alpha']['held_id']}").get_data(as_text=True)
    assert "Message-ID" in detail  # the raw headers, for admins


def test_accept_posts_the_reply_as_the_participant_and_records_who_decided(app, client, signed_in, world):
    signed_in(world["alpha"]["owner"])
    held_id = world["alpha"]["held_id"]
    token = csrf_token(client, "/store/alpha/undelivered-replies")
    response = client.post(f"/store/alpha/undelivered-replies/{held_id}/accept", data={"csrf_token": token},
                           headers={"HX-Request": "true"})
    assert response.status_code == 200 and "Accepted" in response.get_data(as_text=True)
    with app.app_context():
        row = db.session.get(InboundEmail, held_id)
        assert (row.status, row.decided_by_type, row.decided_by_id) == ("accepted", "store", world["alpha"]["owner"].id)
        message = db.session.scalars(sa.select(Message).where(Message.inbound_email_id == held_id)).one()
        assert (message.sender_type, message.sender_id) == (ParticipantType.CUSTOMER, world["alpha"]["customer"].id)
        assert message.content == "From my work address (alpha)"
    # The thread shows it as having come by email.
    thread = client.get(f"/store/alpha/conversations/{world['alpha']['conversation_id']}").get_data(as_text=True)
    assert "via email" in thread and "show full email" not in thread
    # Accepting twice is refused with a sentence, not an error page.
    again = client.post(f"/store/alpha/undelivered-replies/{held_id}/accept", data={"csrf_token": token},
                        headers={"HX-Request": "true"})
    assert again.status_code == 200 and "no longer waiting" in again.get_data(as_text=True)


def test_discard_sets_the_reply_aside(app, client, signed_in, world):
    signed_in(world["alpha"]["owner"])
    held_id = world["alpha"]["held_id"]
    token = csrf_token(client, "/store/alpha/undelivered-replies")
    response = client.post(f"/store/alpha/undelivered-replies/{held_id}/discard", data={"csrf_token": token})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(InboundEmail, held_id).status == "discarded"
    assert held_rows(client.get("/store/alpha/undelivered-replies").get_data(as_text=True)) == []
    decided = client.get("/store/alpha/undelivered-replies?status=decided").get_data(as_text=True)
    assert held_rows(decided) == [str(held_id)]


def test_a_reply_whose_participant_lost_access_cannot_be_accepted(app, client, signed_in, world):
    with app.app_context():
        db.session.get(Customer, world["alpha"]["customer"].id).is_active = False
        db.session.commit()
    signed_in(world["alpha"]["owner"])
    page = client.get("/store/alpha/undelivered-replies").get_data(as_text=True)
    assert "no longer has an account" in page and ">Accept<" not in page
    token = csrf_token(client, "/store/alpha/undelivered-replies")
    response = client.post(f"/store/alpha/undelivered-replies/{world['alpha']['held_id']}/accept",
                           data={"csrf_token": token}, follow_redirects=True)
    assert "cannot be accepted" in response.get_data(as_text=True)


def test_customers_have_no_such_list(client, signed_in, world):
    signed_in(world["alpha"]["customer"])
    assert client.get("/inbox/alpha/undelivered-replies").status_code == 404


def test_admins_can_read_the_full_email_of_an_emailed_message(app, client, signed_in, world):
    alpha = world["alpha"]
    with app.app_context():
        from messaging_web.models import Store, User

        admin = Actor.for_user(db.session.get(User, world["admin"].id))
        conversation = conversations.start_conversation(
            admin, ConversationType.ADMIN_STORE, "Your payout", "Please confirm your bank details.",
            store=db.session.get(Store, alpha["store"].id),
        )
        db.session.commit()
        conversation_id = conversation.id
        to = reply_address_of(conversation_id, ParticipantType.STORE, alpha["owner"].id)
        receive(reply_email(to, alpha["owner"].email, "Confirmed.\n\nOn Mon, Platform wrote:\n> Please confirm"),
                source="smtp")
        db.session.commit()
        inbound_id = db.session.scalar(sa.select(Message.inbound_email_id).where(Message.content == "Confirmed."))
    signed_in(world["admin"])
    thread = client.get(f"/admin/conversations/{conversation_id}").get_data(as_text=True)
    assert "via email" in thread and "show full email" in thread
    full = client.get(f"/admin/undelivered-replies/{inbound_id}").get_data(as_text=True)
    assert "On Mon, Platform wrote:" in full and "&gt; Please confirm" in full
