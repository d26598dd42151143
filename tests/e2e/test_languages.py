"""In a real browser: a French customer and a German store user read their portals, a form error and the
dates in their own language."""
from __future__ import annotations

import re

import sqlalchemy as sa
from playwright.sync_api import expect

from messaging_web.extensions import db
from messaging_web.models import User
from tests.e2e.conftest import screenshot, sign_in

FRENCH_MOMENT = re.compile(r"^\d{1,2} (janv\.|févr\.|mars|avr\.|mai|juin|juil\.|août|sept\.|oct\.|nov\.|déc\.) \d{4}, \d{2}:\d{2}$")
GERMAN_MOMENT = re.compile(r"^\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2}$")


def test_a_french_customer_reads_the_inbox_a_form_error_and_the_dates_in_french(page):
    sign_in(page, "/inbox/lumiere/login", "alice@customer.example")
    page.wait_for_url("**/inbox/lumiere/")
    assert page.locator("html").get_attribute("lang") == "fr"
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Nouvelle conversation")
    # The inbox row's last activity reads as a relative time ("il y a 2 minutes", "à l'instant").
    expect(page.locator("#inbox-results time").first).to_have_text(re.compile(r"^(il y a \d+ (minute|heure)s?|à l’instant)$"))

    page.click("text=Where is my order #1042?")
    page.wait_for_url("**/inbox/lumiere/conversations/*")
    moment = page.locator("#messages li.message time").first.inner_text()
    assert FRENCH_MOMENT.match(moment), moment
    page.click("#composer button[type=submit]")  # nothing written
    expect(page.locator("#composer")).to_contain_text("Écrivez d’abord un message : un message vide ne peut pas être envoyé.")
    page.set_viewport_size({"width": 390, "height": 800})
    screenshot(page, "customer-thread-french-phone")


def test_a_german_store_user_switches_to_german_and_reads_a_form_error_and_dates_in_german(page, live_app):
    sign_in(page, "/store/bergmann/login", "owner@bergmann.example")
    page.wait_for_url("**/store/bergmann/")
    assert page.locator("html").get_attribute("lang") == "en"  # the browser's language: none saved yet
    try:
        page.select_option("#page-language", "de")  # the header's switcher applies at once
        page.wait_for_function("document.documentElement.lang === 'de'")
        expect(page.get_by_role("button", name="Abmelden")).to_be_visible()

        page.goto("/store/bergmann/conversations/")
        page.click("text=Where is my order #1042?")
        page.wait_for_url("**/store/bergmann/conversations/*")
        moment = page.locator("#messages li.message time").first.inner_text()
        assert GERMAN_MOMENT.match(moment), moment
        page.click("#composer button[type=submit]")
        expect(page.locator("#composer")).to_contain_text("Schreiben Sie zuerst eine Nachricht")

        page.goto("/account/profile")  # the choice is saved on the account
        expect(page.locator("#language")).to_have_value("de")
        expect(page.locator("h1")).to_have_text("Ihr Profil")
        screenshot(page, "store-profile-german")
    finally:
        with live_app.app_context():
            db.session.execute(sa.update(User).where(User.email == "owner@bergmann.example")
                               .values(preferred_language="en", language_saved_at=None))
            db.session.commit()
