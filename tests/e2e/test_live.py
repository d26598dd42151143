"""Live conversations in two browsers: a message arrives within a second by push, typing shows and clears, a
colleague's reply during a draft is warned of, and an idle thread asks the server nothing but its stream."""
from __future__ import annotations

import time

from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in
from tests.e2e.test_conversations import start_as_customer


def open_thread(page, login: str, email: str, inbox: str, subject: str) -> None:
    sign_in(page, login, email)
    page.goto(inbox)
    page.locator("a.subject", has_text=subject).first.click()
    page.wait_for_selector("body[data-live=connected]")


def start_thread(page, subject: str, content: str) -> None:
    start_as_customer(page, subject, content)
    page.wait_for_selector("body[data-live=connected]")


def test_a_message_reaches_the_other_browser_within_a_second_and_typing_shows_then_clears(browser, live_server, page):
    customer = page
    owner_context = browser.new_context(base_url=live_server, viewport={"width": 1200, "height": 800})
    owner = owner_context.new_page()
    try:
        start_thread(customer, "Push delivery", "Hello, are you open on Sunday?")
        open_thread(owner, "/store/alpine/login", "owner@alpine.example", "/store/alpine/conversations/", "Push delivery")
        owner.evaluate("window.__noReload = true")

        # The customer types: the owner sees who, the customer does not see themselves.
        customer.type("#content", "We would come at 11", delay=20)
        expect(owner.locator("#typing")).to_contain_text("is typing", timeout=3000)
        expect(customer.locator("#typing")).to_have_text("")

        # Sent: it appears on the owner's page in under a second, without a reload, and the typing line clears.
        sent_at = time.monotonic()
        customer.click("#composer button[type=submit]")
        expect(owner.locator("#messages")).to_contain_text("We would come at 11", timeout=3000)
        arrived_after = time.monotonic() - sent_at
        assert arrived_after < 1.0, f"the message took {arrived_after:.2f} s"
        assert owner.evaluate("window.__noReload === true")
        expect(owner.locator("#typing")).to_have_text("", timeout=6000)

        # Only one copy, and the owner's draft and the nav badge are untouched by the push.
        owner.fill("#content", "Half-written answer")
        customer.fill("#content", "Or at noon")
        customer.click("#composer button[type=submit]")
        expect(owner.locator("#messages")).to_contain_text("Or at noon", timeout=3000)
        assert owner.locator("li.message", has_text="We would come at 11").count() == 1
        expect(owner.locator("#content")).to_have_value("Half-written answer")
        screenshot(owner, "live-thread")
    finally:
        owner_context.close()


def test_a_colleagues_reply_during_a_draft_is_warned_of_and_the_second_send_goes_through(browser, live_server, page):
    customer = page
    staff_context = browser.new_context(base_url=live_server, viewport={"width": 1200, "height": 800})
    owner_context = browser.new_context(base_url=live_server, viewport={"width": 1200, "height": 800})
    staff, owner = staff_context.new_page(), owner_context.new_page()
    try:
        start_thread(customer, "Collision check", "Is the blue tent in stock?")
        open_thread(owner, "/store/alpine/login", "owner@alpine.example", "/store/alpine/conversations/", "Collision check")
        open_thread(staff, "/store/alpine/login", "staff@alpine.example", "/store/alpine/conversations/", "Collision check")
        expect(owner.locator("#presence")).to_contain_text("also viewing", timeout=3000)

        owner.fill("#content", "Yes, we have it!")
        owner.locator("#content").dispatch_event("input")
        staff.fill("#content", "Sorry, it is sold out.")
        staff.click("#composer button[type=submit]")

        # The owner is told before sending, with the colleague's reply.
        expect(owner.locator("#composer-status")).to_contain_text("replied while you were typing", timeout=3000)
        expect(owner.locator("#composer-status")).to_contain_text("sold out")
        # "Send" asks once more ...
        owner.click("#composer button[type=submit]")
        expect(owner.locator("#composer-status")).to_contain_text("Press “Send” again")
        expect(owner.locator("#content")).to_have_value("Yes, we have it!")
        expect(customer.locator("#messages")).not_to_contain_text("Yes, we have it!")
        # ... and the second one goes through.
        owner.click("#composer button[type=submit]")
        expect(customer.locator("#messages")).to_contain_text("Yes, we have it!", timeout=3000)
        expect(owner.locator("#content")).to_have_value("")
        screenshot(owner, "live-collision")
    finally:
        staff_context.close()
        owner_context.close()


def test_an_idle_open_thread_makes_no_request_but_its_stream(page):
    start_thread(page, "Idle tab", "Just looking")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    page.wait_for_timeout(7000)  # more than two poll intervals of the old page (3 s)

    assert requests == [], requests


def test_where_push_is_impossible_the_thread_falls_back_to_polls_and_misses_nothing(browser, live_server, page):
    customer = page
    owner_context = browser.new_context(base_url=live_server, viewport={"width": 1200, "height": 800})
    # A proxy that lets no stream through: every attempt fails.
    owner_context.route("**/conversations/live*", lambda route: route.abort())
    owner = owner_context.new_page()
    try:
        start_thread(customer, "No push here", "Hello, anyone?")
        sign_in(owner, "/store/alpine/login", "owner@alpine.example")
        owner.goto("/store/alpine/conversations/")
        owner.locator("a.subject", has_text="No push here").first.click()
        expect(owner.locator("body")).to_have_attribute("data-live", "reconnecting", timeout=5000)

        customer.fill("#content", "Are you there?")
        customer.click("#composer button[type=submit]")
        expect(owner.locator("#messages")).to_contain_text("Are you there?", timeout=10_000)
        assert owner.locator("li.message", has_text="Are you there?").count() == 1
    finally:
        owner_context.close()
