""""Send a test" in the admin and store template editors: the unsaved draft, rendered with its sample values,
goes to the signed-in user's own address through the normal pipeline; a broken draft is refused."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from messaging_web.extensions import db
from messaging_web.models import EmailLog
from messaging_web.services import template_catalog
from tests.conftest import csrf_token

HTMX = {"HX-Request": "true"}


def _logs(app) -> list[EmailLog]:
    with app.app_context():
        rows = db.session.scalars(sa.select(EmailLog).order_by(EmailLog.id)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def _outbox_files_containing(app, marker: str) -> list[Path]:
    directory = Path(app.config["MAIL_OUTBOX_DIR"])
    return [path for path in directory.glob("*.eml") if marker in path.read_text(errors="replace")]


def _admin_draft(token: str, **values) -> dict:
    data = dict(code="ignored", language="xx", name="Order shipped", description="", category="orders",
                subject="Draft {{ order_number }}", body_html="<p>Hello {{ customer_name }}</p>", body_text="",
                variables="customer_name\norder_number", required_variables="order_number", is_active="y",
                sample='{"order_number": "A-1", "customer_name": "Ann"}', csrf_token=token)
    data.update(values)
    return data


def _admin_editor(client, factory, signed_in, email: str = "ops@platform.test"):
    admin = factory.admin(email)
    signed_in(admin)
    template = factory.email_template()
    path = f"/admin/templates/{template.id}/edit"
    return admin, template, path, csrf_token(client, path)


def test_admin_editor_shows_the_send_a_test_button_with_the_users_address(client, factory, signed_in):
    _, template, path, _ = _admin_editor(client, factory, signed_in)
    page = client.get(path).get_data(as_text=True)
    assert f'hx-post="/admin/templates/{template.id}/send-test"' in page
    assert 'hx-include="#template-form"' in page and "Send a test to ops@platform.test" in page


def test_admin_sends_a_test_of_the_unsaved_draft_to_their_own_address(app, client, factory, signed_in):
    admin, template, path, token = _admin_editor(client, factory, signed_in)
    marker = uuid.uuid4().hex
    response = client.post(f"/admin/templates/{template.id}/send-test", headers=HTMX, data=_admin_draft(
        token, subject=f"Draft {{{{ order_number }}}} {marker}", body_html="<p>Unsaved hello {{ customer_name }}</p>",
    ))
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    [row] = _logs(app)
    assert "Test email queued to ops@platform.test" in body and f'href="/admin/email-log/{row.id}"' in body
    assert row.recipient_email == "ops@platform.test" and row.user_id == admin.id and row.store_id is None
    assert row.subject == f"Draft A-1 {marker}" and "Unsaved hello Ann" in row.body_html
    assert row.template_code == template.code and json.loads(row.extra_data)["purpose"] == "template_test"
    assert row.status == "sent"  # dispatched in-process after the commit
    [eml] = _outbox_files_containing(app, marker)
    assert "To: ops@platform.test" in eml.read_text()
    # The saved template is untouched: the test sends the draft, it does not save it.
    assert "Unsaved" not in client.get(path).get_data(as_text=True)


def test_a_to_field_in_the_form_is_ignored(app, client, factory, signed_in):
    _, template, _, token = _admin_editor(client, factory, signed_in)
    data = _admin_draft(token, to="victim@elsewhere.test", to_email="victim@elsewhere.test",
                        recipient_email="victim@elsewhere.test")
    assert client.post(f"/admin/templates/{template.id}/send-test", headers=HTMX, data=data).status_code == 200
    [row] = _logs(app)
    assert row.recipient_email == "ops@platform.test"


@pytest.mark.parametrize("values,problem", [
    ({"sample": '{"customer_name": "Ann"}'}, "Missing required variables: order_number."),
    ({"body_html": "<p>{% if %}</p>"}, "HTML body: syntax error on line 1"),
    ({"body_html": "<p>{{ secret }}</p>"}, "Uses variables that are not declared: secret."),
    ({"sample": "{not json"}, "Sample values: not valid JSON"),
])
def test_a_draft_the_preview_would_flag_is_refused_and_nothing_is_queued(app, client, factory, signed_in,
                                                                         values, problem):
    _, template, _, token = _admin_editor(client, factory, signed_in)
    response = client.post(f"/admin/templates/{template.id}/send-test", headers=HTMX, data=_admin_draft(token, **values))
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "The test was not sent" in body and problem in body
    # The same message the preview pane shows for the same draft.
    preview = client.post("/admin/templates/preview", headers=HTMX, data=_admin_draft(token, **values))
    assert problem in preview.get_data(as_text=True)
    assert _logs(app) == []


def test_send_a_test_without_csrf_token_is_refused(app, client, factory, signed_in):
    _, template, _, _ = _admin_editor(client, factory, signed_in)
    data = _admin_draft("")
    del data["csrf_token"]
    assert client.post(f"/admin/templates/{template.id}/send-test", headers=HTMX, data=data).status_code == 400
    assert _logs(app) == []


def test_send_a_test_of_a_missing_template_is_not_found(client, factory, signed_in):
    _, _, path, token = _admin_editor(client, factory, signed_in)
    assert client.post("/admin/templates/999999/send-test", headers=HTMX, data=_admin_draft(token)).status_code == 404


def test_send_a_test_is_rate_limited_per_user(app, client, factory, signed_in):
    _, template, _, token = _admin_editor(client, factory, signed_in)
    limit = int(app.config["TEMPLATE_TEST_RATE_LIMIT"].split()[0])
    statuses = [client.post(f"/admin/templates/{template.id}/send-test", headers=HTMX, data=_admin_draft(token)).status_code
                for _ in range(limit + 1)]
    assert statuses[:limit] == [200] * limit and statuses[-1] == 429
    assert len(_logs(app)) == limit
    response = client.post(f"/admin/templates/{template.id}/send-test", headers=HTMX, data=_admin_draft(token))
    assert "wait a minute" in response.get_data(as_text=True)


# --- store ----------------------------------------------------------------------------------------------


def _store_draft(token: str, **values) -> dict:
    sample = {**template_catalog.shipped_sample("order_shipped"), "order_number": "S-9"}
    data = dict(subject="Shipped {{ order_number }}", body_html="<p>Our draft for {{ customer_name }}</p>",
                body_text="", name="", is_active="y", sample=json.dumps(sample), csrf_token=token)
    data.update(values)
    return data


def test_store_user_sends_a_test_of_the_unsaved_draft_through_the_store(app, client, factory, signed_in, shipped):
    store = factory.store()
    user = factory.store_user(store, email="team@shop.test")
    signed_in(user)
    path = f"/store/{store.slug}/templates/order_shipped/en"
    page = client.get(path).get_data(as_text=True)
    assert f'hx-post="{path}/send-test"' in page and "Send a test to team@shop.test" in page
    marker = uuid.uuid4().hex
    token = csrf_token(client, path)
    response = client.post(path + "/send-test", headers=HTMX, data=_store_draft(
        token, subject=f"Shipped {{{{ order_number }}}} {marker}", to="victim@elsewhere.test",
    ))
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    [row] = _logs(app)
    assert f'href="/store/{store.slug}/email-log/{row.id}"' in body and "Test email queued to team@shop.test" in body
    assert row.recipient_email == "team@shop.test" and row.store_id == store.id and row.user_id == user.id
    assert row.subject == f"Shipped S-9 {marker}" and "Our draft for" in row.body_html
    assert json.loads(row.extra_data)["purpose"] == "template_test" and row.status == "sent"
    assert len(_outbox_files_containing(app, marker)) == 1
    assert client.get(f"/store/{store.slug}/email-log/{row.id}").status_code == 200


def test_store_draft_missing_a_required_variable_is_refused(app, client, factory, signed_in, shipped):
    store = factory.store()
    signed_in(factory.store_user(store))
    path = f"/store/{store.slug}/templates/order_shipped/en"
    token = csrf_token(client, path)
    response = client.post(path + "/send-test", headers=HTMX, data=_store_draft(token, sample="{}"))
    assert response.status_code == 422 and "Missing required variables" in response.get_data(as_text=True)
    assert _logs(app) == []


def test_store_user_cannot_send_a_test_for_another_store(app, client, factory, signed_in, shipped):
    store, other = factory.store(), factory.store()
    signed_in(factory.store_user(store))
    token = csrf_token(client, f"/store/{store.slug}/templates/order_shipped/en")
    response = client.post(f"/store/{other.slug}/templates/order_shipped/en/send-test", headers=HTMX,
                           data=_store_draft(token))
    assert response.status_code == 404
    assert _logs(app) == []


def test_store_user_cannot_send_a_test_of_a_platform_only_template(app, client, factory, signed_in, shipped):
    store = factory.store()
    signed_in(factory.store_user(store))
    token = csrf_token(client, f"/store/{store.slug}/templates/order_shipped/en")
    data = _store_draft(token, subject="Reset", body_html="<p>{{ reset_url }}</p>", sample='{"reset_url": "x"}')
    response = client.post(f"/store/{store.slug}/templates/password_reset/en/send-test", headers=HTMX, data=data)
    assert response.status_code == 404
    assert _logs(app) == []


def test_store_user_cannot_use_the_admin_send_a_test(app, client, factory, signed_in, shipped):
    store = factory.store()
    signed_in(factory.store_user(store))
    template = factory.email_template(code="custom_notice")
    token = csrf_token(client, f"/store/{store.slug}/templates/order_shipped/en")
    response = client.post(f"/admin/templates/{template.id}/send-test", headers=HTMX, data=_admin_draft(token))
    assert response.status_code in (302, 403, 404)
    assert _logs(app) == []
