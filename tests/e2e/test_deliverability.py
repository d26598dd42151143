"""In a real browser: the unsubscribe preference page in French, and the analytics chart at phone width."""
from __future__ import annotations

import sqlalchemy as sa

from messaging_web.extensions import db
from messaging_web.models import EmailSuppression, Store
from messaging_web.services.email import unsubscribe
from tests.e2e.conftest import screenshot, sign_in


def test_a_french_customer_turns_off_marketing_emails_on_the_preference_page(page, live_app):
    with live_app.app_context():
        store_id = db.session.scalar(sa.select(Store.id).where(Store.slug == "lumiere"))
        url = unsubscribe.url_for_recipient("alice@customer.example", store_id, "marketing")
    page.goto(url[url.index("/u/"):])
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.locator("h1").inner_text() == "Préférences d’e-mail"
    assert "Boutique Lumière" in page.locator(".brand").inner_text()
    assert "Toujours envoyés" in page.content()
    page.set_viewport_size({"width": 390, "height": 800})
    page.get_by_label("Actualités et offres").uncheck()
    page.get_by_role("button", name="Enregistrer mes préférences").click()
    page.wait_for_url("**saved=1")
    assert "Vos préférences sont enregistrées." in page.locator("[role=status]").inner_text()
    assert not page.get_by_label("Actualités et offres").is_checked()
    assert page.get_by_label("E-mails de conversation").is_checked()
    screenshot(page, "preferences-fr-phone")
    with live_app.app_context():
        rows = db.session.execute(sa.select(EmailSuppression.scope, EmailSuppression.reason)
                                  .where(EmailSuppression.email == "alice@customer.example",
                                         EmailSuppression.store_id == store_id)).all()
        assert [tuple(r) for r in rows] == [("marketing", "unsubscribe")]
        db.session.execute(sa.delete(EmailSuppression))
        db.session.commit()


def test_the_analytics_chart_fits_a_phone_and_its_figures_are_readable_as_a_table(page):
    sign_in(page, "/store/bergmann/login", "owner@bergmann.example")
    page.wait_for_url("**/store/bergmann/")
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto("/store/bergmann/email-log/analytics?days=7")
    chart = page.locator("figure.chart > svg")
    box = chart.bounding_box()
    assert box is not None and 0 < box["width"] <= 390 and box["x"] >= 0
    assert chart.get_attribute("role") == "img" and "Sent:" in page.locator("#chart-desc").text_content()
    page.locator("details.chart-data summary").click()
    assert page.locator("table.analytics-days tbody tr").count() == 7
    page.select_option("#days", "30")  # HTMX swaps the results in place
    page.locator("table.analytics-days tbody tr").nth(29).wait_for(state="attached")
    assert "days=30" in page.url
    screenshot(page, "store-analytics-phone")
