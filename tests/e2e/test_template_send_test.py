""""Send a test" in a real browser: an admin edits a template without saving, clicks the button, and sees
where the test went, with a link to its email log row."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in


def test_admin_sends_a_test_of_the_draft_and_sees_the_confirmation(page):
    sign_in(page, "/admin/login", "admin@platform.example")
    page.wait_for_url("**/admin/")
    page.goto("/admin/templates/")
    page.locator('tr[data-code="order_shipped"] a', has_text="en").first.click()
    expect(page.locator("#preview-subject")).not_to_be_empty()

    page.locator("#subject").fill("Draft test {{ order_number }}")
    expect(page.locator("#preview-subject")).to_have_text("Draft test A-10045")
    button = page.locator("#send-test")
    expect(button).to_have_text("Send a test to admin@platform.example")
    button.click()
    result = page.locator("#send-test-result")
    expect(result).to_contain_text("Test email queued to admin@platform.example")
    screenshot(page, "admin-template-send-test")

    result.locator("a", has_text="see it in the email log").click()
    page.wait_for_url("**/admin/email-log/*")
    expect(page.locator("body")).to_contain_text("Draft test A-10045")
