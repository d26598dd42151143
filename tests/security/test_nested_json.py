"""100,000 nested `[` typed into the template editors (sample values, a variable list): a plain message in the
editor, never a RecursionError, and the editor answers as before. (The provider webhooks: tests/web/
test_webhooks.py and test_webhooks_ses.py.)"""
from __future__ import annotations

import sqlalchemy as sa

from messaging_web.extensions import db
from messaging_web.models import EmailLog
from tests.conftest import csrf_token

NESTED = "[" * 100_000
NESTED_MESSAGE = "Sample values: the JSON is nested too deeply."
HTMX = {"HX-Request": "true"}


def _admin_draft(token: str, **values) -> dict:
    data = dict(code="order_shipped", language="en", name="Order shipped", description="", category="orders",
                subject="Shipped {{ order_number }}", body_html="<p>Hello {{ customer_name }}</p>", body_text="",
                variables="customer_name\norder_number", required_variables="order_number", is_active="y",
                sample='{"order_number": "A-1", "customer_name": "Ann"}', csrf_token=token)
    data.update(values)
    return data


def _emails_queued(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(EmailLog.id)))


def test_nested_sample_values_in_the_admin_editor_are_a_message_in_the_preview_and_the_test_send(
    app, client, factory, signed_in
):
    signed_in(factory.admin())
    template = factory.email_template()
    path = f"/admin/templates/{template.id}/edit"
    token = csrf_token(client, path)

    preview = client.post("/admin/templates/preview", headers=HTMX, data=_admin_draft(token, sample=NESTED))
    assert preview.status_code == 200 and NESTED_MESSAGE in preview.get_data(as_text=True)
    test_send = client.post(f"/admin/templates/{template.id}/send-test", headers=HTMX,
                            data=_admin_draft(token, sample=NESTED))
    assert test_send.status_code == 422 and NESTED_MESSAGE in test_send.get_data(as_text=True)
    assert _emails_queued(app) == 0

    preview = client.post("/admin/templates/preview", headers=HTMX, data=_admin_draft(token))
    assert preview.status_code == 200 and "Hello Ann" in preview.get_data(as_text=True)


def test_a_nested_variable_list_saves_as_no_variables_rather_than_failing(client, factory, signed_in):
    signed_in(factory.admin())
    template = factory.email_template()
    path = f"/admin/templates/{template.id}/edit"
    token = csrf_token(client, path)
    response = client.post(path, data=_admin_draft(token, variables=NESTED, required_variables=NESTED))
    assert response.status_code < 500
    assert client.get(path).status_code == 200


def test_nested_sample_values_in_the_store_editor_are_a_message_in_the_test_send(
    app, client, factory, signed_in, shipped
):
    store = factory.store()
    signed_in(factory.store_user(store))
    path = f"/store/{store.slug}/templates/order_shipped/en"
    data = {"subject": "Shipped", "body_html": "<p>x</p>", "sample": NESTED, "csrf_token": csrf_token(client, path)}
    response = client.post(path + "/send-test", data=data, headers=HTMX)
    assert response.status_code == 422 and NESTED_MESSAGE in response.get_data(as_text=True)
    assert _emails_queued(app) == 0
    assert client.get(path).status_code == 200
