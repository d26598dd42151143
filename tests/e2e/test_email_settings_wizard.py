"""The email settings wizard in a real browser, against a real SMTP server on localhost."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in
from tests.support.mail_servers import SMTP_PASSWORD, SMTP_USER

pytest_plugins = ["tests.support.fixtures"]


def walk_to_verification(page, slug: str, sink, password: str) -> None:
    sign_in(page, f"/store/{slug}/login", f"owner@{slug}.example")
    page.wait_for_url(f"**/store/{slug}/")
    page.click("text=Email settings")
    page.wait_for_url("**/settings/email/sender")
    page.fill("#from_email", f"shop@{slug}.example")
    page.fill("#from_name", "Our shop")
    page.fill("#reply_to_email", f"help@{slug}.example")
    page.click("button:has-text('Save and continue')")
    expect(page.locator("h2")).to_have_text("2. Provider")
    expect(page).to_have_url(f"{page.url.split('/store/')[0]}/store/{slug}/settings/email/provider")
    page.click("button:has-text('Save and continue')")
    expect(page.locator("h2")).to_have_text("3. Credentials for SMTP")
    page.fill("#smtp_host", sink.host)
    page.fill("#smtp_port", str(sink.port))
    page.select_option("#smtp_security", "none")
    page.fill("#smtp_username", SMTP_USER)
    page.fill("#smtp_password", password)
    page.click("button:has-text('Save and continue')")
    expect(page.locator("h2")).to_have_text("4. Signature")
    page.fill("#signature_text", "The team")
    page.fill("#signature_html", "<p><b>The team</b></p>")
    page.click("button:has-text('Save and continue')")
    expect(page.locator("h2")).to_have_text("5. Verification")


def test_store_owner_reaches_verified_against_the_local_smtp_server(page, smtp_sink):
    walk_to_verification(page, "alpine", smtp_sink, SMTP_PASSWORD)
    # Back to the credentials: the password is not shown, only its last characters.
    page.click("a:has-text('3. Credentials')")
    expect(page.locator("#smtp_password-state")).to_have_text("Saved, ending in 9876. Leave empty to keep it.")
    assert page.input_value("#smtp_password") == ""
    page.click("button:has-text('Save and continue')")
    expect(page.locator("h2")).to_have_text("4. Signature")
    page.click("button:has-text('Save and continue')")
    expect(page.locator("h2")).to_have_text("5. Verification")
    page.fill("#to_email", "owner@alpine.example")
    page.click("button:has-text('Send test email')")
    expect(page.locator("#verify-result")).to_contain_text("Your settings are verified")
    expect(page.locator("#verification-state")).to_contain_text("Verified")
    screenshot(page, "store-email-settings-verified")
    [message] = smtp_sink.parsed()
    assert message["To"] == "owner@alpine.example"
    assert "The team" in message.get_body(("plain",)).get_content()


def test_wrong_password_shows_a_plain_words_error(page, smtp_sink):
    walk_to_verification(page, "lumiere", smtp_sink, "not-the-password")
    page.fill("#to_email", "owner@lumiere.example")
    page.click("button:has-text('Send test email')")
    expect(page.locator("#verify-result")).to_have_text(
        "The test email could not be sent: The SMTP server rejected the username or password."
    )
    screenshot(page, "store-email-settings-wrong-password")


def test_api_providers_are_disabled_with_an_upgrade_explanation_below_business(page):
    sign_in(page, "/store/lumiere/login", "owner@lumiere.example")
    page.wait_for_url("**/store/lumiere/")
    page.goto("/store/lumiere/settings/email/sender")
    page.fill("#from_email", "shop@lumiere.example")
    page.fill("#from_name", "Lumière")
    page.click("button:has-text('Save and continue')")
    expect(page.locator("input[value=sendgrid]")).to_be_disabled()
    expect(page.locator("#upgrade-explanation")).to_contain_text("Business plan")
    screenshot(page, "store-email-settings-provider-starter")


def test_admin_reads_the_email_log(page):
    sign_in(page, "/admin/login", "admin@platform.example")
    page.wait_for_url("**/admin/")
    page.click("text=Email log")
    expect(page.locator("h1")).to_have_text("Email log")
    page.select_option("#status", "sent")
    page.wait_for_url("**status=sent**")
    page.click("text=Your order A-10045 is on its way")
    expect(page.locator("h1")).to_contain_text("Email #")
    screenshot(page, "admin-email-log-detail")
