"""Each portal's demo login works in a real browser and shows the portal's home."""
from __future__ import annotations

from tests.e2e.conftest import screenshot, sign_in


def test_admin_signs_in_to_the_console(page):
    sign_in(page, "/admin/login", "admin@platform.example")
    page.wait_for_url("**/admin/")
    assert page.locator("h1").inner_text() == "Platform console"
    screenshot(page, "admin-home")


def test_store_owner_signs_in_to_the_store_portal(page):
    sign_in(page, "/store/bergmann/login", "owner@bergmann.example")
    page.wait_for_url("**/store/bergmann/")
    assert "Café Bergmann" in page.locator("h1").inner_text()
    screenshot(page, "store-home")


def test_customer_signs_in_to_the_inbox_and_out_again(page):
    sign_in(page, "/inbox/lumiere/login", "alice@customer.example")
    page.wait_for_url("**/inbox/lumiere/")
    assert "Boutique Lumière" in page.locator("h1").inner_text()
    page.set_viewport_size({"width": 390, "height": 800})
    screenshot(page, "customer-home-phone")
    # A customer of a French store who chose no language reads its inbox in French, and still does once out.
    assert page.locator("html").get_attribute("lang") == "fr"
    page.click("text=Se déconnecter")
    page.wait_for_url("**/inbox/lumiere/login")
    assert "Vous êtes déconnecté." in page.content()
    assert page.locator("html").get_attribute("lang") == "fr"


def test_wrong_password_shows_a_clear_message(page):
    sign_in(page, "/admin/login", "admin@platform.example", "wrong-password")
    assert "The email or password is not correct." in page.content()


TOURS = {
    "admin": ("/admin/login", "admin@platform.example",
              ["/admin/", "/admin/conversations/", "/admin/conversations/new", "/admin/templates/", "/admin/email-log",
               "/admin/email-log/analytics", "/admin/suppressions", "/admin/notifications"]),
    "store": ("/store/bergmann/login", "owner@bergmann.example",
              ["/store/bergmann/", "/store/bergmann/conversations/", "/store/bergmann/templates/",
               "/store/bergmann/email-log", "/store/bergmann/email-log/analytics", "/store/bergmann/suppressions",
               "/store/bergmann/settings/email/sender"]),
    "customer": ("/inbox/bergmann/login", "alice@customer.example",
                 ["/inbox/bergmann/", "/inbox/bergmann/conversations/new"]),
}


def test_each_portals_pages_load_with_no_console_error_and_no_failed_request(page):
    problems = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("response", lambda response: problems.append(f"{response.status} {response.url}") if response.status >= 400 else None)
    for login, email, paths in TOURS.values():
        page.context.clear_cookies()
        sign_in(page, login, email)
        for path in paths:
            page.goto(path)
            page.wait_for_load_state("networkidle")
    assert problems == []
