"""A platform admin reads the demo alerts and marks one read; the nav badge follows without a reload."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in


def test_admin_marks_a_notification_read_and_the_badge_drops(page):
    sign_in(page, "/admin/login", "admin@platform.example")
    page.wait_for_url("**/admin/")
    page.click("nav >> text=Notifications")
    page.wait_for_url("**/admin/notifications")
    badge = page.locator("#admin-notification-badge")
    before = int(badge.inner_text())
    assert before >= 1
    first = page.locator("li.notification.unread").first
    assert "Product import failed" in first.inner_text()  # critical first
    screenshot(page, "admin-notifications")
    first.locator("button", has_text="Mark as read").click()
    # expect() polls from Python: wait_for_function with a string needs eval, which the CSP forbids.
    expect(badge).to_have_text(str(before - 1))
    assert page.locator("li.notification").first.locator("button", has_text="Mark as unread").count() == 1
