"""Template history: every save keeps a version; compare any two, restore any one; revert is a version and
can be undone; emails in the log name the version they were rendered from."""
from __future__ import annotations

import re

import sqlalchemy as sa

from messaging_web.extensions import db
from messaging_web.models import EmailLog, EmailTemplate, StoreEmailTemplate, TemplateVersion
from messaging_web.services.email import outbox
from tests.conftest import csrf_token
from tests.support.query_counter import count_queries


def _versions(app, store_id, code="order_shipped", language="en"):
    with app.app_context():
        stmt = sa.select(TemplateVersion).where(TemplateVersion.template_code == code,
                                                TemplateVersion.language == language)
        stmt = stmt.where(TemplateVersion.store_id.is_(None) if store_id is None else TemplateVersion.store_id == store_id)
        rows = db.session.scalars(stmt.order_by(TemplateVersion.number)).all()
        return [(v.number, v.action, v.subject, v.author_name, v.note, v.id) for v in rows]


def _save_store(client, path, subject, note=""):
    data = {"subject": subject, "body_html": "<p>Merci {{ customer_name }}</p>", "body_text": "", "is_active": "y",
            "note": note, "csrf_token": csrf_token(client, path)}
    return client.post(path, data=data)


def test_a_store_saves_reverts_and_undoes_the_revert_from_its_history(app, client, factory, signed_in, shipped):
    store = factory.store()
    owner = factory.store_user(store)
    signed_in(owner)
    path = f"/store/{store.slug}/templates/order_shipped/en"
    assert _save_store(client, path, "Parcel {{ order_number }} sent", note="shorter").status_code == 302
    assert _save_store(client, path, "Your parcel {{ order_number }} is on its way").status_code == 302
    assert client.post(path + "/revert", data={"csrf_token": csrf_token(client, path)}).status_code == 302
    versions = _versions(app, store.id)
    assert [(n, action, author, note) for n, action, _, author, note, _ in versions] == [
        (1, "saved", owner.name, "shorter"), (2, "saved", owner.name, None), (3, "reverted", owner.name, None)]
    history = client.get(path + "/history").get_data(as_text=True)
    assert "Undo: restore this version" in history and "shorter" in history
    # Undo the revert: version 2 is current again, as version 4.
    undo = client.post(f"{path}/history/{versions[1][5]}/restore", data={"csrf_token": csrf_token(client, path)})
    assert undo.status_code == 302
    with app.app_context():
        override = db.session.scalars(sa.select(StoreEmailTemplate)).one()
        assert override.subject == "Your parcel {{ order_number }} is on its way"
    assert _versions(app, store.id)[-1][:2] == (4, "restored")
    compare = client.get(f"{path}/history/compare?a={versions[0][5]}&b={versions[1][5]}").get_data(as_text=True)
    assert "- Parcel {{ order_number }} sent" in compare and "+ Your parcel {{ order_number }} is on its way" in compare
    previews = re.findall(r'hx-get="([^"]+/preview)"', compare)
    assert len(previews) == 2  # each version rendered, loaded after the diff
    assert all('class="preview"' in client.get(url).get_data(as_text=True) for url in previews)


def test_an_admin_edit_keeps_the_platform_wording_and_restores_it(app, client, factory, signed_in, shipped):
    admin = factory.admin()
    signed_in(admin)
    with app.app_context():
        template = db.session.scalars(sa.select(EmailTemplate).where(
            EmailTemplate.code == "order_shipped", EmailTemplate.language == "en")).one()
        template_id, original = template.id, template.subject
    edit = f"/admin/templates/{template_id}/edit"
    page = client.get(edit).get_data(as_text=True)
    form = {name: value for name, value in re.findall(r'name="(\w+)" value="([^"]*)"', page)}
    data = {"code": "order_shipped", "language": "en", "name": "Order shipped", "category": "orders",
            "subject": "Shipped!", "body_html": "<p>Shipped {{ order_number }}</p>", "body_text": "",
            "variables": "customer_name\norder_number\ntracking_url\nstore_name", "required_variables": "order_number",
            "is_active": "y", "note": "summer wording", "csrf_token": form["csrf_token"]}
    with count_queries(app) as statements:
        assert client.post(edit, data=data).status_code == 302
    assert sum(s.lstrip().upper().startswith("INSERT INTO TEMPLATE_VERSIONS") for s in statements) == 1
    versions = _versions(app, None)
    assert [(n, action, subject) for n, action, subject, *_ in versions] == [
        (1, "created", original), (2, "saved", "Shipped!")]
    restore = client.post(f"/admin/templates/{template_id}/history/{versions[0][5]}/restore",
                          data={"csrf_token": csrf_token(client, edit)})
    assert restore.status_code == 302
    with app.app_context():
        assert db.session.get(EmailTemplate, template_id).subject == original
    assert _versions(app, None)[-1][:2] == (3, "restored")


def test_emails_name_the_version_they_were_rendered_from(app, client, factory, signed_in, shipped):
    store = factory.store()
    signed_in(factory.store_user(store))
    path = f"/store/{store.slug}/templates/order_shipped/en"
    _save_store(client, path, "Parcel {{ order_number }} sent")
    with app.app_context():
        outbox.queue_email("order_shipped", "ana@example.test", {"customer_name": "Ana", "order_number": "A-1"},
                           store_id=store.id, language="en")
        db.session.commit()
        row = db.session.scalars(sa.select(EmailLog)).one()
        version = db.session.get(TemplateVersion, row.template_version_id)
        assert (version.store_id, version.number) == (store.id, 1)
        log_id = row.id
    detail = client.get(f"/store/{store.slug}/email-log/{log_id}").get_data(as_text=True)
    assert "your version 1" in detail and "/templates/order_shipped/en/history" in detail


def test_a_store_never_sees_another_stores_versions(app, client, factory, signed_in, shipped):
    north, south = factory.store(), factory.store()
    signed_in(factory.store_user(south))
    _save_store(client, f"/store/{south.slug}/templates/order_shipped/en", "South secret subject")
    south_version = _versions(app, south.id)[0][5]
    signed_in(factory.store_user(north))
    path = f"/store/{north.slug}/templates/order_shipped/en"
    history = client.get(path + "/history").get_data(as_text=True)
    assert "South secret subject" not in history and "has not customized this template" in history
    assert client.get(f"{path}/history/compare?a={south_version}&b={south_version}").status_code == 404
    restore = client.post(f"{path}/history/{south_version}/restore", data={"csrf_token": csrf_token(client, path)})
    assert restore.status_code == 404
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(StoreEmailTemplate)) == 1  # south's only
