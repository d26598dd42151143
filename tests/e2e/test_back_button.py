""""Back" through pages whose URLs htmx pushed (a filtered list and its page 2, the email settings wizard) shows
each page whole, with its layout and navigation, when htmx's history cache no longer holds it and htmx asks
the server for the page again."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in


def go_back_with_a_cold_history_cache(page) -> None:
    """Back, as when htmx's history cache (in sessionStorage, a few pages deep) has lost the page: htmx then
    requests the URL with HX-Request and HX-History-Restore-Request and puts the answer in place of the body."""
    page.evaluate("sessionStorage.removeItem('htmx-history-cache')")
    with page.expect_response(lambda response: response.request.headers.get("hx-history-restore-request") == "true"):
        page.go_back()


def expect_the_whole_page(page, heading: str) -> None:
    expect(page.locator("header.topbar")).to_have_count(1)
    expect(page.locator("nav.nav a").first).to_be_visible()
    expect(page.locator("h1")).to_have_text(heading)


@pytest.fixture
def one_email_a_page(live_app):
    live_app.config["PAGE_SIZE"], before = 1, live_app.config["PAGE_SIZE"]
    yield
    live_app.config["PAGE_SIZE"] = before


def test_back_from_page_two_of_a_filtered_email_log_shows_the_whole_page(page, one_email_a_page):
    sign_in(page, "/admin/login", "admin@platform.example")
    page.wait_for_url("**/admin/")
    page.click("nav.nav >> text=Email log")
    page.wait_for_url("**/admin/email-log")
    page.fill("#store", "Alpine Outfitters")  # the demo's four emails of Alpine
    page.press("#store", "Enter")
    page.wait_for_url("**/admin/email-log?*store=*")
    expect(page.locator("#email-log-results p.muted").first).to_contain_text("4 emails · page 1 of 4")
    page.locator("#email-log-results nav.pagination a", has_text="Next").click()
    page.wait_for_url("**page=2*")
    expect(page.locator("#email-log-results p.muted").first).to_contain_text("page 2 of 4")

    go_back_with_a_cold_history_cache(page)
    expect(page).not_to_have_url(re.compile(r"page=2"))
    expect_the_whole_page(page, "Email log")
    expect(page.locator("#store")).to_have_value("Alpine Outfitters")
    expect(page.locator("#email-log-results p.muted").first).to_contain_text("4 emails · page 1 of 4")

    go_back_with_a_cold_history_cache(page)
    expect(page).to_have_url(re.compile(r"/admin/email-log$"))
    expect_the_whole_page(page, "Email log")
    screenshot(page, "admin-email-log-after-back")


def test_back_through_the_email_settings_wizard_shows_each_step_whole(page):
    sign_in(page, "/store/bergmann/login", "owner@bergmann.example")
    page.wait_for_url("**/store/bergmann/")
    page.goto("/store/bergmann/settings/email/sender")
    page.fill("#from_email", "shop@bergmann.example")
    page.fill("#from_name", "Café Bergmann")
    page.click("button:has-text('Save and continue')")
    expect(page.locator("h2")).to_have_text("2. Provider")
    page.wait_for_url("**/settings/email/provider")
    page.click("button:has-text('Save and continue')")
    expect(page.locator("h2")).to_have_text("3. Credentials for SMTP")
    page.wait_for_url("**/settings/email/credentials")

    go_back_with_a_cold_history_cache(page)
    expect_the_whole_page(page, "Email settings")
    expect(page.locator("h2")).to_have_text("2. Provider")

    go_back_with_a_cold_history_cache(page)
    expect_the_whole_page(page, "Email settings")
    expect(page.locator("h2")).to_have_text("1. Sender")
    expect(page.locator("#from_email")).to_have_value("shop@bergmann.example")
    screenshot(page, "store-email-settings-after-back")
