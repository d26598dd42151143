"""The template editors in a real browser: typing updates the live preview (subject, sandboxed iframe, text),
problems appear in the pane, and a store customizes and reverts a template."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in


def test_admin_types_and_the_preview_iframe_changes(page):
    sign_in(page, "/admin/login", "admin@platform.example")
    page.wait_for_url("**/admin/")
    page.click("text=Email templates")
    page.wait_for_url("**/admin/templates/")
    assert page.locator('tr[data-code="order_shipped"]').count() == 1
    screenshot(page, "admin-templates-list")

    page.locator('tr[data-code="order_shipped"] a', has_text="en").first.click()
    expect(page.frame_locator("#preview-html").locator("h1")).to_have_text("Good news, Alice Martin!")
    assert page.locator("#preview-html").get_attribute("sandbox") == ""

    body = page.locator("#body_html")
    body.fill(body.input_value().replace("Good news", "Great news"))
    expect(page.locator("#preview-html")).to_have_attribute("srcdoc", re.compile("Great news"))
    expect(page.frame_locator("#preview-html").locator("h1")).to_have_text("Great news, Alice Martin!")

    page.locator("#subject").fill("Parcel {{ order_number }} {{ ''.__class__ }}")
    expect(page.locator("#preview-problems")).to_contain_text("refused by the sandbox")
    screenshot(page, "admin-template-editor-problem")

    page.locator("#subject").fill("Parcel {{ order_number }} is on its way")
    expect(page.locator("#preview-subject")).to_have_text("Parcel A-10045 is on its way")
    screenshot(page, "admin-template-editor")


def test_scripts_in_a_template_never_run_in_the_preview(page):
    sign_in(page, "/admin/login", "admin@platform.example")
    page.goto("/admin/templates/new")
    messages = []
    page.on("console", lambda msg: messages.append(msg.text))
    page.fill("#code", "script_probe")
    page.fill("#name", "Probe")
    page.fill("#subject", "Probe")
    page.fill("#body_html", "<p id='probe'>static</p><script>document.getElementById('probe').textContent='ran'; console.log('ran')</script>")
    expect(page.locator("#preview-html")).to_have_attribute("srcdoc", re.compile("probe"))
    expect(page.frame_locator("#preview-html").locator("#probe")).to_have_text("static")
    page.wait_for_timeout(300)
    expect(page.frame_locator("#preview-html").locator("#probe")).to_have_text("static")
    assert "ran" not in messages


def test_store_customizes_previews_saves_and_reverts(page):
    sign_in(page, "/store/lumiere/login", "owner@lumiere.example")
    page.wait_for_url("**/store/lumiere/")
    page.click("text=Email templates")
    page.wait_for_url("**/store/lumiere/templates/")
    screenshot(page, "store-templates-list")
    page.locator('tr[data-code="order_shipped"] li[data-language="fr"] a').click()
    expect(page.frame_locator("#preview-html").locator("h1")).to_contain_text("Bonne nouvelle")
    page.locator("#subject").fill("Votre colis {{ order_number }} arrive !")
    expect(page.locator("#preview-subject")).to_have_text("Votre colis A-10045 arrive !")
    page.click("button:has-text('Save my version')")
    page.wait_for_selector("text=is saved")
    assert page.locator("#override-status").inner_text() == "customized"
    screenshot(page, "store-template-editor")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Revert to the platform default')")
    page.wait_for_selector("text=back to the platform default")
    assert page.locator("#override-status").inner_text() == "platform default"
    assert page.locator("#subject").input_value() == "Votre commande {{ order_number }} est en route"


def test_sample_values_typed_for_a_template_are_kept_in_the_browser(page):
    sign_in(page, "/store/alpine/login", "owner@alpine.example")
    page.wait_for_url("**/store/alpine/")
    page.goto("/store/alpine/templates/order_shipped/en")
    expect(page.frame_locator("#preview-html").locator("h1")).to_have_text("Good news, Alice Martin!")
    sample = page.locator("#sample")
    sample.fill(sample.input_value().replace("Alice Martin", "Zoé Keller"))
    expect(page.frame_locator("#preview-html").locator("h1")).to_have_text("Good news, Zoé Keller!")
    page.reload()
    expect(page.locator("#sample")).to_have_value(re.compile("Zoé Keller"))
    expect(page.frame_locator("#preview-html").locator("h1")).to_have_text("Good news, Zoé Keller!")
    page.click("#sample-reset")
    expect(page.frame_locator("#preview-html").locator("h1")).to_have_text("Good news, Alice Martin!")
    page.reload()
    expect(page.locator("#sample")).to_have_value(re.compile("Alice Martin"))
