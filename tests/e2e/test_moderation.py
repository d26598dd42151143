"""Moderation in a browser: an admin finds a store's conversation with a customer, reads it, sees the audit."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in


def test_an_admin_reviews_a_store_conversation_and_the_view_is_audited(live_app, page):
    # The store writes to Alice.
    sign_in(page, "/store/alpine/login", "owner@alpine.example")
    page.goto("/store/alpine/conversations/new")
    page.fill("#customer_email", "alice@customer.example")
    page.fill("#subject", "Refund for the torn tent")
    page.fill("#content", "We cannot refund a tent you damaged.")
    page.click("button[type=submit]:has-text('Send')")
    page.wait_for_url("**/store/alpine/conversations/*")
    page.goto("/store/alpine/conversations/")
    expect(page.locator("body")).to_contain_text("may review your conversations")
    page.context.clear_cookies()  # sign out

    # The platform admin searches for it and opens it, read-only.
    sign_in(page, "/admin/login", "admin@platform.example")
    page.click("nav >> text=Store conversations")
    page.fill("#q", "torn tent")
    page.press("#q", "Enter")
    row = page.locator("#review-results tr", has_text="Refund for the torn tent")
    expect(row).to_have_count(1)
    row.get_by_role("link", name="Refund for the torn tent").click()
    expect(page.locator("#messages")).to_contain_text("We cannot refund a tent you damaged.")
    expect(page.locator("textarea")).to_have_count(0)
    screenshot(page, "moderation-thread")
    page.click("text=review audit")
    expect(page.locator("#audit-results")).to_contain_text("Refund for the torn tent")


def test_the_store_picks_a_customer_by_typing_part_of_a_name(live_app, page):
    sign_in(page, "/store/alpine/login", "owner@alpine.example")
    page.goto("/store/alpine/conversations/new")
    page.locator("#customer_email").press_sequentially("alic", delay=40)
    expect(page.locator("#customer-options option[value='alice@customer.example']")).to_have_count(1)
    page.fill("#customer_email", "alice@customer.example")  # what choosing the suggestion fills in
    page.fill("#subject", "Picked from the list")
    page.fill("#content", "Hello Alice")
    page.click("button[type=submit]:has-text('Send')")
    page.wait_for_url("**/store/alpine/conversations/*")
    expect(page.locator("h1")).to_contain_text("Picked from the list")
