"""Saved replies: a team keeps named answers per language and inserts them, filled in, from the composer."""
from __future__ import annotations

import html
import re

import sqlalchemy as sa

from messaging_web.extensions import db
from messaging_web.models import ConversationType, SavedReply
from tests.conftest import CSRF_META

# The conversation pages' fixtures: two shops with their people, and threads made through the service.


def _post(client, url: str, form_page: str, **data):
    token = CSRF_META.search(client.get(form_page).get_data(as_text=True)).group(1)
    return client.post(url, data={**data, "csrf_token": token})


def test_a_team_keeps_replies_and_inserts_one_filled_in_for_the_thread(signed_in, shop, threads, app):
    team = signed_in(shop["team"])
    created = _post(team, "/store/north/saved-replies/new", "/store/north/saved-replies/new", name="Shipping times",
                    language="en", body="Hello {customer_name}, order {order_reference} leaves {store_name} today.")
    assert created.status_code == 302
    _post(team, "/store/north/saved-replies/new", "/store/north/saved-replies/new", name="Délais",
          language="fr", body="Bonjour {customer_name}, votre commande part aujourd'hui.")
    listing = team.get("/store/north/saved-replies").get_data(as_text=True)
    assert "Shipping times" in listing and "Délais" in listing
    assert "Délais" not in team.get("/store/north/saved-replies?language=en").get_data(as_text=True)
    tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Where is order #1042?")
    thread = team.get(f"/store/north/conversations/{tid}").get_data(as_text=True)
    assert "data-saved-replies" in thread and "saved_replies.js" in thread
    found = team.get(f"/store/north/conversations/{tid}/saved-replies?q=ship").get_data(as_text=True)
    text = html.unescape(re.search(r'data-text="([^"]*)"', found).group(1))
    assert text == f"Hello {shop['customer'].name}, order #1042 leaves {shop['store'].name} today."
    # The conversation's language first (the customer reads English here).
    both = team.get(f"/store/north/conversations/{tid}/saved-replies").get_data(as_text=True)
    assert both.index("Shipping times") < both.index("Délais")


def test_names_are_unique_per_language_and_bad_input_is_a_field_error(signed_in, shop):
    team = signed_in(shop["team"])
    page = "/store/north/saved-replies/new"
    _post(team, page, page, name="Thanks", language="en", body="Thank you!")
    again = _post(team, page, page, name="thanks", language="en", body="Thanks again")
    assert again.status_code == 422 and "exists in this language already" in again.get_data(as_text=True)
    assert _post(team, page, page, name="Thanks", language="de", body="Danke!").status_code == 302
    empty = _post(team, page, page, name="", language="en", body="")
    assert empty.status_code == 422 and "Give the reply a name." in empty.get_data(as_text=True)
    assert _post(team, page, page, name="X", language="xx", body="y").status_code == 422


def test_a_store_never_sees_another_stores_replies_and_customers_have_none(signed_in, shop, threads, app):
    other = signed_in(shop["other_team"])
    _post(other, "/store/south/saved-replies/new", "/store/south/saved-replies/new", name="South secret",
          language="en", body="Only for the south")
    with app.app_context():
        reply_id = db.session.scalar(sa.select(SavedReply.id).where(SavedReply.name == "South secret"))
    team = signed_in(shop["team"])
    assert "South secret" not in team.get("/store/north/saved-replies").get_data(as_text=True)
    assert team.get(f"/store/north/saved-replies/{reply_id}/edit").status_code == 404
    deleted = _post(team, f"/store/north/saved-replies/{reply_id}/delete", "/store/north/saved-replies")
    assert deleted.status_code in (302, 404)
    tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Hello")
    assert "South secret" not in team.get(f"/store/north/conversations/{tid}/saved-replies").get_data(as_text=True)
    admin = signed_in(shop["admin"])
    assert "South secret" not in admin.get("/admin/saved-replies").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(SavedReply, reply_id) is not None
    customer = signed_in(shop["customer"])
    assert customer.get(f"/inbox/north/conversations/{tid}/saved-replies").status_code == 404
    assert "data-saved-replies" not in customer.get(f"/inbox/north/conversations/{tid}").get_data(as_text=True)


def test_the_platform_team_keeps_its_own_and_edits_and_deletes(signed_in, shop, app):
    admin = signed_in(shop["admin"])
    page = "/admin/saved-replies/new"
    _post(admin, page, page, name="Payout delay", language="en", body="Payouts take 3 days.")
    with app.app_context():
        reply = db.session.scalars(sa.select(SavedReply)).one()
        assert reply.store_id is None
    edited = _post(admin, f"/admin/saved-replies/{reply.id}/edit", f"/admin/saved-replies/{reply.id}/edit",
                   name="Payout delay", language="en", body="Payouts take 2 days.")
    assert edited.status_code == 302
    assert "Payouts take 2 days." in admin.get("/admin/saved-replies").get_data(as_text=True)
    assert _post(admin, f"/admin/saved-replies/{reply.id}/delete", "/admin/saved-replies").status_code == 302
    with app.app_context():
        assert db.session.scalars(sa.select(SavedReply)).all() == []
