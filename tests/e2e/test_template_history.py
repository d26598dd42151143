"""Template history in a browser: a store edits and saves its version twice, compares, and restores the first."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in


def test_a_store_saves_twice_compares_and_restores_an_older_version(page):
    sign_in(page, "/store/alpine/login", "owner@alpine.example")
    page.goto("/store/alpine/templates/order_shipped/en")
    for subject, note in (("First try {{ order_number }}", "first"), ("Second try {{ order_number }}", "")):
        page.locator("#subject").fill(subject)
        page.locator("#note").fill(note)
        page.click("button[type=submit]:has-text('Save')")
        expect(page.locator(".flash-success")).to_contain_text("is saved")
    page.click("a:has-text('History')")
    rows = page.locator("table.template-history tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("current")
    # The history page fully loaded first: once, under a loaded CI machine, a click made while its scripts
    # were still loading submitted nothing.
    page.wait_for_load_state("load")
    with page.expect_navigation(url="**/compare?*"):
        page.get_by_role("button", name="Compare the two chosen versions").click()
    expect(page.locator("pre.diff").first).to_contain_text("- First try {{ order_number }}")
    expect(page.locator("pre.diff").first).to_contain_text("+ Second try {{ order_number }}")
    expect(page.locator("iframe.preview")).to_have_count(2)
    screenshot(page, "template-history-compare")
    page.go_back()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#version-1").get_by_role("button", name="Restore this version").click()
    expect(page.locator(".flash-success")).to_contain_text("restored")
    expect(rows).to_have_count(3)
    expect(page.locator("#version-3")).to_contain_text("Version 1 restored")
    page.click("text=Back to the editor")
    expect(page.locator("#subject")).to_have_value("First try {{ order_number }}")
