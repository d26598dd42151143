"""Saved replies in a browser: the team writes one, then inserts it in a thread by typing "/" and choosing it."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in


def test_a_team_inserts_a_saved_reply_with_the_keyboard(live_app, page):
    sign_in(page, "/store/alpine/login", "owner@alpine.example")
    page.goto("/store/alpine/saved-replies/new")
    page.fill("#name", "Size advice")
    page.select_option("#language", "en")
    page.fill("#body", "Hello {customer_name}, our jackets run small: take one size up.")
    page.click("button[type=submit]:has-text('Save')")
    expect(page.locator("#saved-reply-list")).to_contain_text("Size advice")

    page.goto("/store/alpine/conversations/new")
    page.fill("#customer_email", "alice@customer.example")
    page.fill("#subject", "Which size?")
    page.fill("#content", "Hello Alice")
    page.click("button[type=submit]:has-text('Send')")
    page.wait_for_url("**/store/alpine/conversations/*")

    composer = page.locator("#composer textarea")
    composer.focus()
    page.keyboard.type("/")
    search = page.locator("#saved-reply-search")
    expect(search).to_be_focused()
    page.keyboard.type("size")
    # The search's answer, not the list shown on opening (the demo store has another saved reply).
    expect(page.locator("#saved-reply-results li")).to_have_count(1)
    expect(page.locator("#saved-reply-results")).to_contain_text("Size advice")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(composer).to_have_value("Hello Alice, our jackets run small: take one size up.")
    expect(page.locator("#saved-reply-picker")).to_be_hidden()
    screenshot(page, "saved-reply-inserted")
    page.click("#composer button[type=submit]:has-text('Send')")
    expect(page.locator("#messages")).to_contain_text("our jackets run small", timeout=15_000)


def test_enter_right_after_typing_inserts_the_match_for_what_was_typed(live_app, page):
    sign_in(page, "/store/lumiere/login", "owner@lumiere.example")
    page.goto("/store/lumiere/saved-replies/new")
    page.fill("#name", "Zz returns")
    page.select_option("#language", "fr")
    page.fill("#body", "Les retours sont gratuits sous 30 jours.")
    page.click("button[type=submit]:has-text('Save')")
    page.goto("/store/lumiere/conversations/")
    page.locator("#inbox-results a.subject").first.click()
    page.wait_for_url("**/store/lumiere/conversations/*")
    composer = page.locator("#composer textarea")
    composer.focus()
    page.keyboard.type("/")
    expect(page.locator("#saved-reply-search")).to_be_focused()
    page.keyboard.type("retours")
    page.keyboard.press("Enter")  # before the search's own answer has come
    expect(composer).to_have_value("Les retours sont gratuits sous 30 jours.")
