"""Platform moderation: admins open store-customer threads read-only, every view audited; stores are told."""
from __future__ import annotations

import re

import sqlalchemy as sa

from messaging_web.extensions import db
from messaging_web.models import ConversationParticipant, ConversationType, ModerationView

P = ConversationParticipant
# The conversation pages' fixtures: two shops with their people, and threads made through the service.


def test_an_admin_finds_a_store_customer_thread_and_reads_it_with_deleted_originals(signed_in, shop, threads, app):
    tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Broken lamp", "It arrived broken.")
    deleted = threads.post(shop["team"], tid, "That is your fault, no refund.")
    threads.delete(shop["team"], deleted)
    threads.start(shop["other_customer"], ConversationType.STORE_CUSTOMER, "Other store thread")
    admin = signed_in(shop["admin"])
    listing = admin.get("/admin/reviews?q=lamp").get_data(as_text=True)
    assert re.findall(r'id="review-row-(\d+)"', listing) == [str(tid)]
    by_customer = admin.get(f"/admin/reviews?q={shop['customer'].email}").get_data(as_text=True)
    assert f'id="review-row-{tid}"' in by_customer
    by_store = admin.get(f"/admin/reviews?store={shop['other'].id}").get_data(as_text=True)
    assert f'id="review-row-{tid}"' not in by_store and "review-row-" in by_store
    page = admin.get(f"/admin/reviews/{tid}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "It arrived broken." in html and "That is your fault, no refund." in html  # the deleted original
    assert "Original, visible to platform admins only" in html
    assert "Delete</button>" not in html and "<textarea" not in html  # read-only
    with app.app_context():
        views = db.session.scalars(sa.select(ModerationView)).all()
        assert [(v.conversation_id, v.admin_user_id, v.store_id) for v in views] == [
            (tid, shop["admin"].id, shop["store"].id)
        ]
        # Reading is not taking part: the admin joins no thread and marks nothing read.
        assert db.session.scalar(sa.select(sa.func.count()).select_from(P).where(
            P.conversation_id == tid, P.participant_type == "admin")) == 0
    audit = admin.get(f"/admin/reviews/audit?conversation={tid}").get_data(as_text=True)
    assert "Broken lamp" in audit and shop["admin"].name in audit


def test_only_admins_review_and_only_store_customer_threads(signed_in, shop, threads):
    store_thread = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Size")
    platform_thread = threads.start(shop["team"], ConversationType.ADMIN_STORE, "Payout")
    admin = signed_in(shop["admin"])
    assert admin.get(f"/admin/reviews/{platform_thread}").status_code == 404  # the admin's own inbox has it
    assert admin.get("/admin/reviews/999999").status_code == 404
    for who in ("team", "customer", "other_team"):
        client = signed_in(shop[who])
        assert client.get(f"/admin/reviews/{store_thread}").status_code in (302, 403, 404)
        assert client.get("/admin/reviews/audit").status_code in (302, 403, 404)


def test_the_platform_setting_turns_reviews_off(signed_in, shop, threads, app):
    tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Size")
    admin = signed_in(shop["admin"])
    assert admin.get(f"/admin/reviews/{tid}").status_code == 200
    app.config["PLATFORM_MODERATION"] = False
    try:
        assert admin.get(f"/admin/reviews/{tid}").status_code == 404
        off = admin.get("/admin/reviews")
        assert off.status_code == 404 and "turned off" in off.get_data(as_text=True)
        assert "Store conversations</a>" not in admin.get("/admin/").get_data(as_text=True)
        audit = admin.get("/admin/reviews/audit").get_data(as_text=True)
        assert "Size" in audit  # earlier reviews stay on record
        team_inbox = signed_in(shop["team"]).get("/store/north/conversations/").get_data(as_text=True)
        assert "may review your conversations" not in team_inbox
    finally:
        app.config["PLATFORM_MODERATION"] = True
    team_inbox = signed_in(shop["team"]).get("/store/north/conversations/").get_data(as_text=True)
    assert "may review your conversations" in team_inbox


def test_the_customer_picker_suggests_the_stores_own_customers_as_you_type(signed_in, shop, factory):
    ana = factory.customer(shop["store"], email="ana.lopez@mail.test", name="Ana Lopez")
    factory.customer(shop["other"], email="ana.other@mail.test", name="Ana Other")
    team = signed_in(shop["team"])
    options = team.get("/store/north/conversations/customers?customer_email=ana").get_data(as_text=True)
    assert f'value="{ana.email}"' in options and "ana.other@mail.test" not in options
    assert team.get("/store/north/conversations/customers?customer_email=%25").get_data(as_text=True).strip() == ""
    page = team.get("/store/north/conversations/new").get_data(as_text=True)
    assert 'list="customer-options"' in page and "/store/north/conversations/customers" in page
    admin = signed_in(shop["admin"])
    found = admin.get(f"/admin/conversations/customers?store_id={shop['other'].id}&customer_email=ana")
    assert "ana.other@mail.test" in found.get_data(as_text=True) and ana.email not in found.get_data(as_text=True)
    assert admin.get("/admin/conversations/customers?customer_email=ana").get_data(as_text=True).strip() == ""
    # "Message this customer" from a review opens the form filled in.
    prefilled = admin.get(f"/admin/conversations/new?store_id={shop['store'].id}&customer={ana.email}")
    html = prefilled.get_data(as_text=True)
    assert f'value="{ana.email}"' in html
    assert re.search(r'<input checked[^>]*value="customer"', html)
    customer = signed_in(shop["customer"])
    assert customer.get("/store/north/conversations/customers?customer_email=ana").status_code in (302, 403, 404)
