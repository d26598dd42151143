"""A customer and a store team member talk in two browsers: messages and badges arrive without reloads."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in

WAIT_MS = 15_000


def badge(page) -> int:
    return int(page.locator("#unread-total").get_attribute("data-unread"))


def mark_loaded(page) -> None:
    """A flag that a full page load would wipe: it proves later changes came without a reload."""
    page.evaluate("window.__noReload = true")


def still_same_page(page) -> bool:
    return page.evaluate("window.__noReload === true")


def start_as_customer(page, subject: str, content: str) -> None:
    """Alice signs in to Alpine's inbox and opens a conversation with the store."""
    sign_in(page, "/inbox/alpine/login", "alice@customer.example")
    page.wait_for_url("**/inbox/alpine/")
    page.click("text=New conversation")
    page.fill("#subject", subject)
    page.fill("#content", content)
    page.click("button[type=submit]:has-text('Send')")
    page.wait_for_url("**/inbox/alpine/conversations/*")


def test_customer_and_store_exchange_messages_live(browser, live_server, page):
    customer = page
    store_context = browser.new_context(base_url=live_server, viewport={"width": 1200, "height": 800})
    store = store_context.new_page()
    try:
        # The customer opens a new conversation with the store.
        start_as_customer(customer, "Live chat about my jacket", "Hello, is the red jacket back in stock?")
        expect(customer.locator("#messages")).to_contain_text("is the red jacket back in stock?")

        # The store owner sees it in the inbox and opens it.
        sign_in(store, "/store/alpine/login", "owner@alpine.example")
        store.goto("/store/alpine/conversations/")
        row = store.locator("tr.inbox-row", has_text="Live chat about my jacket")
        expect(row.locator(".row-badge")).to_have_text("1")
        row.locator("a.subject").click()
        expect(store.locator("#messages")).to_contain_text("is the red jacket back in stock?")
        mark_loaded(store)
        mark_loaded(customer)

        # The customer writes; it shows at once on their side and within seconds on the store's.
        customer.fill("#content", "I need it in size <M> by Friday")
        customer.click("#composer button[type=submit]")
        expect(customer.locator("#messages")).to_contain_text("I need it in size <M> by Friday")
        expect(customer.locator("#content")).to_have_value("")
        expect(store.locator("#messages")).to_contain_text("I need it in size <M> by Friday", timeout=WAIT_MS)

        # The store answers; the customer's open thread shows it by polling.
        store.fill("#content", "Yes! Size M arrives Wednesday: https://alpine.example/jacket")
        store.click("#composer button[type=submit]")
        expect(customer.locator("#messages")).to_contain_text("Size M arrives Wednesday", timeout=WAIT_MS)
        expect(customer.locator("#messages a[href='https://alpine.example/jacket']")).to_be_visible()
        assert still_same_page(store) and still_same_page(customer)
        screenshot(customer, "conversation-customer-thread")
        screenshot(store, "conversation-store-thread")

        # Badges: the store goes to its inbox; a new customer message raises its badges there.
        store.goto("/store/alpine/conversations/")
        mark_loaded(store)
        before = badge(store)
        customer.fill("#content", "Great, please reserve one for me.")
        customer.click("#composer button[type=submit]")
        expect(customer.locator("#messages")).to_contain_text("please reserve one")
        row = store.locator("tr.inbox-row", has_text="Live chat about my jacket")
        expect(row.locator(".row-badge")).to_have_text("1", timeout=WAIT_MS)
        expect(row.locator(".preview")).to_contain_text("please reserve one")
        expect(store.locator("#unread-total")).to_have_attribute("data-unread", str(before + 1), timeout=WAIT_MS)
        assert still_same_page(store)
        screenshot(store, "conversation-store-inbox-badge")

        # And the other way: the customer waits in the inbox while the store replies.
        customer.click("nav >> text=Inbox")
        customer.wait_for_url("**/inbox/alpine/")
        mark_loaded(customer)
        customer_before = badge(customer)
        row.locator("a.subject").click()
        store.fill("#content", "Reserved under your name.")
        store.click("#composer button[type=submit]")
        expect(store.locator("#messages")).to_contain_text("Reserved under your name.")
        customer_row = customer.locator("tr.inbox-row", has_text="Live chat about my jacket")
        expect(customer_row.locator(".row-badge")).to_have_text("1", timeout=WAIT_MS)
        expect(customer.locator("#unread-total")).to_have_attribute(
            "data-unread", str(customer_before + 1), timeout=WAIT_MS
        )
        assert still_same_page(customer)
        customer.set_viewport_size({"width": 390, "height": 800})
        screenshot(customer, "conversation-customer-inbox-phone")
    finally:
        store_context.close()


def test_admin_reads_the_original_of_a_deleted_message(browser, live_server, page):
    sign_in(page, "/store/bergmann/login", "owner@bergmann.example")
    page.goto("/store/bergmann/conversations/")
    page.locator("tr.inbox-row", has_text="Welcome to the platform").locator("a.subject").click()
    page.fill("#content", "Our SMTP password is hunter2, oops")
    page.click("#composer button[type=submit]")
    message = page.locator("li.message.mine", has_text="hunter2")
    page.once("dialog", lambda dialog: dialog.accept())
    message.locator("button:has-text('Delete')").click()
    expect(page.locator("li.message.deleted").last).to_contain_text("Message deleted")
    expect(page.locator("#messages")).not_to_contain_text("hunter2")

    admin_context = browser.new_context(base_url=live_server, viewport={"width": 1200, "height": 800})
    admin = admin_context.new_page()
    try:
        sign_in(admin, "/admin/login", "admin@platform.example")
        admin.goto("/admin/conversations/")
        admin.locator("tr.inbox-row", has_text="Welcome to the platform, Café Bergmann").locator("a.subject").click()
        expect(admin.locator("li.message.deleted .original")).to_contain_text("hunter2")
        screenshot(admin, "conversation-admin-deleted-original")
    finally:
        admin_context.close()


def test_a_message_the_customer_deletes_shows_as_deleted_in_the_stores_open_thread(browser, live_server, page):
    customer = page
    store_context = browser.new_context(base_url=live_server, viewport={"width": 1200, "height": 800})
    store = store_context.new_page()
    try:
        start_as_customer(customer, "Wrong card number", "Please charge my other card.")
        customer.fill("#content", "The card is 4111 1111 1111 1111")
        customer.click("#composer button[type=submit]")
        mine = customer.locator("li.message.mine", has_text="4111 1111")
        expect(mine).to_be_visible()
        message_id = mine.get_attribute("data-message-id")

        sign_in(store, "/store/alpine/login", "owner@alpine.example")
        store.goto("/store/alpine/conversations/")
        store.locator("tr.inbox-row", has_text="Wrong card number").locator("a.subject").click()
        on_store_page = store.locator(f"#message-{message_id}")
        expect(on_store_page).to_contain_text("4111 1111")
        mark_loaded(store)
        polls, console_errors = [], []
        store.on("request", lambda request: polls.append(request.url) if "/messages?" in request.url else None)
        store.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)

        # The customer deletes it; the store's open thread shows the change, pushed by its live stream.
        customer.once("dialog", lambda dialog: dialog.accept())
        mine.locator("button:has-text('Delete')").click()
        expect(customer.locator(f"#message-{message_id}")).to_contain_text("Message deleted")

        expect(on_store_page).to_contain_text("Message deleted", timeout=WAIT_MS)
        expect(on_store_page).to_have_class(re.compile(r"\bdeleted\b"))
        expect(store.locator("#messages")).not_to_contain_text("4111 1111")
        expect(store.locator("#messages")).to_contain_text("Please charge my other card.")
        expect(store.locator("li.message[data-message-id]")).to_have_count(2)
        assert still_same_page(store)
        # Pushed, not polled (polls are the fallback while the stream is down: tests/e2e/test_live.py).
        assert store.evaluate("document.body.dataset.live") == "connected" and polls == []
        assert console_errors == []
        screenshot(store, "conversation-store-sees-live-delete")
    finally:
        store_context.close()


def test_the_nav_badge_is_hidden_on_every_page_while_nothing_is_unread(live_app, page):
    import sqlalchemy as sa

    from messaging_web.extensions import db
    from messaging_web.models import Store
    from messaging_web.services import accounts, demo

    with live_app.app_context():
        if db.session.scalar(sa.select(Store.id).where(Store.slug == "quiet")) is None:
            store = Store(name="Quiet Shop", slug="quiet", tier="starter", default_language="en")
            db.session.add(store)
            db.session.flush()
            accounts.create_store_user(store, "owner@quiet.example", "Quiet Owner", demo.DEMO_PASSWORD)
            db.session.commit()
    sign_in(page, "/store/quiet/login", "owner@quiet.example")
    for path in ("/store/quiet/", "/store/quiet/settings/email/sender", "/store/quiet/email-log",
                 "/store/quiet/conversations/"):
        page.goto(path)
        assert page.locator("#unread-total").get_attribute("data-unread") == "0"
        expect(page.locator("#unread-total")).to_be_hidden()
