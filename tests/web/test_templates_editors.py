"""The admin and store template editors through the test client: lists with filters, pagination and a
fixed number of queries, create/translate/edit/deactivate, customize/save/revert, and the live preview
fragment."""
from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa

from messaging_web.extensions import db
from messaging_web.models import EmailTemplate, StoreEmailTemplate
from messaging_web.services import template_catalog
from tests.conftest import csrf_token
from tests.support.query_counter import count_queries


def _template_id(app, code, language):
    with app.app_context():
        return db.session.scalar(
            sa.select(EmailTemplate.id).where(EmailTemplate.code == code, EmailTemplate.language == language)
        )


def _form(**values):
    data = dict(code="order_returned", language="en", name="Order returned", description="", category="orders",
                subject="Return {{ order_number }}", body_html="<p>Hello {{ customer_name }}</p>", body_text="",
                variables="customer_name\norder_number", required_variables="order_number", is_active="y",
                sample='{"order_number": "A-1"}')
    data.update(values)
    return data


# --- admin ------------------------------------------------------------------------------------------


def test_admin_list_groups_templates_by_code_with_their_languages(client, factory, signed_in, shipped):
    signed_in(factory.admin())
    page = client.get("/admin/templates/").get_data(as_text=True)
    assert "12 template codes" in page
    row = re.search(r'<tr data-code="order_shipped">.*?</tr>', page, re.S).group(0)
    assert ">en<" in row.replace(" ", "") or ">en" in row
    assert all(f">{lang}" in row for lang in ("de", "en", "fr"))
    assert 'data-code="password_reset"' in page and "platform-only" in page


def test_admin_list_filters_and_searches(client, factory, signed_in, shipped):
    signed_in(factory.admin())
    page = client.get("/admin/templates/?category=billing").get_data(as_text=True)
    assert "2 template codes" in page and 'data-code="payment_failed"' in page and 'data-code="order_shipped"' not in page
    page = client.get("/admin/templates/?q=welcome").get_data(as_text=True)
    assert "1 template code" in page and 'data-code="signup_welcome"' in page
    page = client.get("/admin/templates/?q=ORDER_&language=fr").get_data(as_text=True)
    assert "2 template codes" in page and ">de" not in re.search(r'<tbody>.*</tbody>', page, re.S).group(0)


def test_admin_list_filters_by_active_state(app, client, factory, signed_in, shipped):
    signed_in(factory.admin())
    with app.app_context():
        db.session.execute(sa.update(EmailTemplate).where(EmailTemplate.code == "team_invite", EmailTemplate.language == "de")
                           .values(is_active=False))
        db.session.commit()
    page = client.get("/admin/templates/?active=no").get_data(as_text=True)
    assert "1 template code" in page and "de (inactive)" in page


def test_admin_list_paginates_and_costs_the_same_queries_on_every_page(app, client, factory, signed_in, shipped):
    signed_in(factory.admin())
    client.get("/admin/templates/")  # warm the session user
    with count_queries(app) as first:
        page = client.get("/admin/templates/?per_page=10").get_data(as_text=True)
    assert "Page 1 of 1" not in page and 'data-code="' in page
    for code in ("bulk_a", "bulk_b", "bulk_c"):
        factory.email_template(code=code)
        factory.email_template(code=code, language="fr")
    with count_queries(app) as second:
        page = client.get("/admin/templates/?per_page=10&page=2").get_data(as_text=True)
    assert "Page 2 of 2" in page and page.count("<tr data-code=") == 5
    # session user, nav badges (unread notifications, unread conversations), count, codes, rows
    assert len(first) == len(second) <= 7


def test_admin_list_htmx_returns_only_the_list_fragment(client, factory, signed_in, shipped):
    signed_in(factory.admin())
    response = client.get("/admin/templates/?q=order", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert "<html" not in body and 'id="template-count"' in body and "HX-Request" in response.headers["Vary"]


def test_admin_creates_a_template(app, client, factory, signed_in):
    signed_in(factory.admin())
    token = csrf_token(client, "/admin/templates/new")
    response = client.post("/admin/templates/new", data={**_form(), "csrf_token": token})
    assert response.status_code == 302
    with app.app_context():
        created = db.session.scalar(sa.select(EmailTemplate).where(EmailTemplate.code == "order_returned"))
        assert json.loads(created.variables) == ["customer_name", "order_number"]
        assert json.loads(created.required_variables) == ["order_number"]
        assert created.body_text is None and created.is_active and not created.is_platform_only


def test_admin_save_shows_why_a_template_does_not_compile_and_keeps_the_edit(app, client, factory, signed_in):
    signed_in(factory.admin())
    token = csrf_token(client, "/admin/templates/new")
    body = "<p>ok</p>\n<p>{% for x in %}</p>"
    response = client.post("/admin/templates/new", data={**_form(body_html=body), "csrf_token": token})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "HTML body: syntax error on line 2" in page and "HTML body: HTML body" not in page  # worded once
    assert "{% for x in %}" in page  # the edit is not lost
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EmailTemplate)) == 0


@pytest.mark.parametrize("field,value,message", [
    ("language", "xyz", "Use a language code such as en, fr or de-CH."),
    ("language", "english", "Field cannot be longer than 5 characters"),
    ("code", "Bad Code!", "Use a code of lowercase letters"),
    ("body_html", "<p>{{ undeclared }}</p>", "not declared: undeclared"),
    ("variables", "ok\nnot-valid", "is not a valid variable name"),
    ("body_html", "<p>" + "x" * (512 * 1024 + 1) + "</p>", "larger than 512 KB"),
])
def test_admin_form_errors_are_shown_not_raised(client, factory, signed_in, field, value, message):
    signed_in(factory.admin())
    token = csrf_token(client, "/admin/templates/new")
    response = client.post("/admin/templates/new", data={**_form(**{field: value}), "csrf_token": token})
    assert response.status_code == 422 and message in response.get_data(as_text=True)


def test_admin_duplicate_code_and_language_is_a_form_error(client, factory, signed_in):
    factory.email_template(code="order_returned", language="en")
    signed_in(factory.admin())
    token = csrf_token(client, "/admin/templates/new")
    response = client.post("/admin/templates/new", data={**_form(), "csrf_token": token})
    assert response.status_code == 422 and "exists already" in response.get_data(as_text=True)


def test_admin_adds_a_translation_starting_from_an_existing_language(app, client, factory, signed_in, shipped):
    signed_in(factory.admin())
    en_id = _template_id(app, "order_shipped", "en")
    page = client.get(f"/admin/templates/new?translate={en_id}").get_data(as_text=True)
    assert 'value="order_shipped"' in page and "Your order {{ order_number }} is on its way" in page
    with app.app_context():
        en = db.session.get(EmailTemplate, en_id)
        data = _form(code="order_shipped", language="it", name="Ordine spedito", subject="Ordine {{ order_number }}",
                     body_html="<p>Ciao {{ customer_name }}</p>", category="orders",
                     variables="\n".join(json.loads(en.variables)), required_variables="customer_name\norder_number")
    response = client.post("/admin/templates/new", data={**data, "csrf_token": csrf_token(client, "/admin/templates/new")})
    assert response.status_code == 302
    assert _template_id(app, "order_shipped", "it") is not None


def test_admin_edits_marks_platform_only_and_deactivates(app, client, factory, signed_in):
    template = factory.email_template(code="order_returned")
    signed_in(factory.admin())
    page = client.get(f"/admin/templates/{template.id}/edit").get_data(as_text=True)
    assert 'id="send-test-slot"' in page and "Deactivate" in page
    token = csrf_token(client, f"/admin/templates/{template.id}/edit")
    data = _form(subject="Changed {{ order_number }}", is_platform_only="y")
    response = client.post(f"/admin/templates/{template.id}/edit", data={**data, "csrf_token": token})
    assert response.status_code == 302
    response = client.post(f"/admin/templates/{template.id}/active", data={"active": "no", "csrf_token": token})
    assert response.status_code == 302
    with app.app_context():
        saved = db.session.get(EmailTemplate, template.id)
        assert saved.subject == "Changed {{ order_number }}" and saved.is_platform_only and not saved.is_active


def test_admin_edit_of_a_missing_template_is_404(client, factory, signed_in):
    signed_in(factory.admin())
    assert client.get("/admin/templates/999999/edit").status_code == 404


def test_store_user_cannot_reach_the_admin_editor(client, factory, signed_in):
    store = factory.store()
    signed_in(factory.store_user(store))
    assert client.get("/admin/templates/").status_code == 403


# --- the live preview ---------------------------------------------------------------------------------


def _preview(client, path, **values):
    token = csrf_token(client, "/admin/templates/new")
    return client.post(path, data={**_form(**values), "csrf_token": token}, headers={"HX-Request": "true"})


def test_preview_returns_only_the_fragment_with_the_rendered_email(client, factory, signed_in):
    signed_in(factory.admin())
    response = _preview(client, "/admin/templates/preview", body_html="<style>p{color:red}</style><p>Hi {{ customer_name }}</p>",
                        sample='{"order_number": "A-7", "customer_name": "Ann <b>"}')
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert 'id="preview-subject">Return A-7<' in body
    assert 'sandbox=""' in body and "srcdoc=" in body
    srcdoc = re.search(r'srcdoc="([^"]*)"', body).group(1)
    assert "color: red" in srcdoc and "Ann &amp;lt;b&amp;gt;" in srcdoc  # escaped in the email, then in the attribute
    assert 'id="preview-text">Hi Ann <b>' not in body and "Hi Ann &lt;b&gt;" in body


@pytest.mark.parametrize("values,problem", [
    ({"body_html": "<p>{% if %}</p>"}, "HTML body: syntax error on line 1"),
    ({"sample": "{}"}, "Missing required variables: order_number."),
    ({"body_html": "<p>{{ coupon }}</p>"}, "Uses variables that are not declared: coupon."),
    ({"body_html": "<p>{{ ''.__class__.__mro__ }}</p>"}, "refused by the sandbox"),
    ({"body_html": "{{ 'x' * 10**9 }}"}, "stopped because the template would build a text"),
    ({"sample": "{not json"}, "Sample values: not valid JSON"),
    ({"sample": "[1, 2]"}, "Sample values must be a JSON object"),
    ({"sample": '{"a": "' + "x" * 300_000 + '"}'}, "Sample values: keep them under 256 KB."),
    ({"body_html": "x" * (513 * 1024)}, "The HTML body is larger than 512 KB."),
])
def test_preview_shows_problems_in_the_pane(client, factory, signed_in, values, problem):
    signed_in(factory.admin())
    response = _preview(client, "/admin/templates/preview", **values)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="preview-problems"' in body
    assert problem.replace("'", "&#39;") in body or problem in body


def test_preview_without_csrf_token_is_refused(client, factory, signed_in):
    signed_in(factory.admin())
    response = client.post("/admin/templates/preview", data=_form(), headers={"HX-Request": "true"})
    assert response.status_code == 400


# --- store --------------------------------------------------------------------------------------------


def test_store_list_shows_customizable_templates_marked_per_language(client, factory, signed_in, shipped):
    store = factory.store(language="fr")
    factory.store_template(store, code="order_shipped", language="fr")
    signed_in(factory.store_user(store))
    page = client.get(f"/store/{store.slug}/templates/").get_data(as_text=True)
    assert "8 templates" in page  # the three auth templates are platform-only
    assert 'data-code="password_reset"' not in page
    row = re.search(r'<tr data-code="order_shipped">.*?</tr>', page, re.S).group(0)
    assert re.search(r'data-language="fr">.*?customized<', row, re.S)
    assert re.search(r'data-language="en">.*?platform default<', row, re.S)


def test_store_list_filters_by_status_and_language(client, factory, signed_in, shipped):
    store = factory.store()
    factory.store_template(store, code="order_shipped", language="de")
    signed_in(factory.store_user(store))
    page = client.get(f"/store/{store.slug}/templates/?status=customized").get_data(as_text=True)
    assert "1 template" in page and page.count('data-language="') == 1
    page = client.get(f"/store/{store.slug}/templates/?status=default&language=de").get_data(as_text=True)
    assert "8 templates" not in page and 'data-code="order_shipped"' not in page
    page = client.get(f"/store/{store.slug}/templates/?q=invoice").get_data(as_text=True)
    assert "1 template" in page and 'data-code="invoice_available"' in page


def test_store_list_query_count_does_not_grow_with_overrides(app, client, factory, signed_in, shipped):
    store = factory.store()
    signed_in(factory.store_user(store))
    client.get(f"/store/{store.slug}/templates/")
    with count_queries(app) as before:
        client.get(f"/store/{store.slug}/templates/")
    for code in ("order_shipped", "order_confirmation", "payment_failed"):
        for language in ("en", "fr"):
            factory.store_template(store, code=code, language=language, subject="Custom", body_html="<p>Custom</p>")
    with count_queries(app) as after:
        page = client.get(f"/store/{store.slug}/templates/").get_data(as_text=True)
    assert page.count(">customized<") == 6
    assert len(before) == len(after) <= 8


def test_store_customizes_from_the_platform_text_saves_and_reverts(app, client, factory, signed_in, shipped):
    store = factory.store()
    signed_in(factory.store_user(store))
    path = f"/store/{store.slug}/templates/order_shipped/fr"
    page = client.get(path).get_data(as_text=True)
    assert "platform default" in page and "Votre commande {{ order_number }} est en route" in page
    assert "Revert to the platform default" not in page and 'id="send-test-slot"' in page
    token = csrf_token(client, path)
    data = {"subject": "Colis {{ order_number }} parti !", "body_html": "<p>Merci {{ customer_name }}</p>",
            "body_text": "", "is_active": "y", "csrf_token": token}
    assert client.post(path, data=data).status_code == 302
    page = client.get(path).get_data(as_text=True)
    assert "customized" in page and "Colis {{ order_number }} parti !" in page and "Revert to the platform default" in page
    assert 'data-confirm="Revert to the platform default?' in page
    assert client.post(path + "/revert", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(StoreEmailTemplate)) == 0


def test_store_save_error_keeps_the_edit(client, factory, signed_in, shipped):
    store = factory.store()
    signed_in(factory.store_user(store))
    path = f"/store/{store.slug}/templates/order_shipped/en"
    token = csrf_token(client, path)
    data = {"subject": "Hi", "body_html": "<p>{{ discount_code }}</p>", "is_active": "y", "csrf_token": token}
    response = client.post(path, data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "not declared: discount_code" in page and "{{ discount_code }}" in page


def test_store_saves_an_inactive_override(app, client, factory, signed_in, shipped):
    store = factory.store()
    signed_in(factory.store_user(store))
    path = f"/store/{store.slug}/templates/order_shipped/en"
    token = csrf_token(client, path)
    client.post(path, data={"subject": "Hi {{ order_number }}", "body_html": "<p>x</p>", "csrf_token": token})
    with app.app_context():
        assert db.session.scalar(sa.select(StoreEmailTemplate.is_active)) is False
    assert "customized (inactive)" in client.get(f"/store/{store.slug}/templates/").get_data(as_text=True)


def test_store_preview_uses_the_platform_variables(client, factory, signed_in, shipped):
    store = factory.store()
    signed_in(factory.store_user(store))
    path = f"/store/{store.slug}/templates/order_shipped/en"
    token = csrf_token(client, path)
    data = {"subject": "Shipped {{ order_number }}", "body_html": "<p>{{ tracking_url }} {{ secret }}</p>",
            "sample": json.dumps(template_catalog.shipped_sample("order_shipped")), "csrf_token": token}
    body = client.post(path + "/preview", data=data, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in body and "Uses variables that are not declared: secret." in body


def test_store_cannot_customize_a_platform_only_template(client, factory, signed_in, shipped):
    store = factory.store()
    signed_in(factory.store_user(store))
    assert client.get(f"/store/{store.slug}/templates/password_reset/en").status_code == 404
    token = csrf_token(client, f"/store/{store.slug}/templates/")
    response = client.post(f"/store/{store.slug}/templates/password_reset/en",
                           data={"subject": "x", "body_html": "<p>x</p>", "csrf_token": token})
    assert response.status_code == 404


def test_store_never_sees_or_reverts_another_stores_override(app, client, factory, signed_in, shipped):
    store, other = factory.store(), factory.store()
    factory.store_template(other, code="order_shipped", language="en", subject="Other store secret {{ order_number }}")
    signed_in(factory.store_user(store))
    page = client.get(f"/store/{store.slug}/templates/order_shipped/en").get_data(as_text=True)
    assert "Other store secret" not in page and "platform default" in page
    token = csrf_token(client, f"/store/{store.slug}/templates/")
    assert client.post(f"/store/{store.slug}/templates/order_shipped/en/revert", data={"csrf_token": token}).status_code == 404
    assert client.get(f"/store/{other.slug}/templates/").status_code == 404
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(StoreEmailTemplate)) == 1


def test_store_unknown_template_or_bad_language_is_404(client, factory, signed_in, shipped):
    store = factory.store()
    signed_in(factory.store_user(store))
    assert client.get(f"/store/{store.slug}/templates/nope/en").status_code == 404
    assert client.get(f"/store/{store.slug}/templates/order_shipped/xx-yyyy").status_code == 404


def test_nav_links_to_the_editors(client, factory, signed_in):
    signed_in(factory.admin())
    assert 'href="/admin/templates/"' in client.get("/admin/").get_data(as_text=True)


def test_admin_cannot_change_code_or_language_of_an_existing_template(app, client, factory, signed_in):
    template = factory.email_template(code="order_returned", language="en")
    signed_in(factory.admin())
    path = f"/admin/templates/{template.id}/edit"
    assert 'readonly' in client.get(path).get_data(as_text=True)
    response = client.post(path, data={**_form(code="renamed", language="fr"), "csrf_token": csrf_token(client, path)})
    assert response.status_code == 302
    with app.app_context():
        saved = db.session.get(EmailTemplate, template.id)
        assert (saved.code, saved.language) == ("order_returned", "en")


@pytest.mark.parametrize("query", ["page=abc", "page=-3", "per_page=7", "category=bogus", "active=maybe",
                                   "language=%3Cscript%3E", "q=" + "x" * 500, "page=99999"])
def test_list_pages_take_bad_parameters_without_errors(client, factory, signed_in, shipped, query):
    admin = factory.admin()
    store = factory.store()
    signed_in(admin)
    assert client.get(f"/admin/templates/?{query}").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    signed_in(factory.store_user(store))
    assert client.get(f"/store/{store.slug}/templates/?{query}&status=weird").status_code == 200


def test_store_list_htmx_returns_only_the_list_fragment(client, factory, signed_in, shipped):
    store = factory.store()
    signed_in(factory.store_user(store))
    body = client.get(f"/store/{store.slug}/templates/?q=order", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in body and 'data-code="order_shipped"' in body and "2 templates" in body


def test_store_list_paginates(client, factory, signed_in, shipped):
    store = factory.store()
    for n in range(5):
        factory.email_template(code=f"extra_{n}")
    signed_in(factory.store_user(store))
    page = client.get(f"/store/{store.slug}/templates/?per_page=10").get_data(as_text=True)
    assert "13 templates" in page and "Page 1 of 2" in page and page.count("<tr data-code=") == 10
    page = client.get(f"/store/{store.slug}/templates/?per_page=10&page=2").get_data(as_text=True)
    assert "Page 2 of 2" in page and page.count("<tr data-code=") == 3 and "per_page=10" in page


def test_store_list_names_templates_in_the_store_language(client, factory, signed_in, shipped):
    store = factory.store(language="de")
    signed_in(factory.store_user(store))
    page = client.get(f"/store/{store.slug}/templates/").get_data(as_text=True)
    assert "Bestellung versandt" in page and "Order shipped" not in page


def test_search_treats_like_wildcards_as_text(client, factory, signed_in, shipped):
    signed_in(factory.admin())
    page = client.get("/admin/templates/?q=%25").get_data(as_text=True)
    assert "0 template codes" in page
    page = client.get("/admin/templates/?q=r_s").get_data(as_text=True)
    assert "1 template code" in page and 'data-code="order_shipped"' in page
