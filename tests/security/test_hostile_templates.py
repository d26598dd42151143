"""A hostile store user cannot crash or stall the platform with a template: the payloads of the probe (a
segfault in CSS inlining, work hidden inside one filter call, memory) are answered in plain words within
their deadline, saving them is refused, and a saved one fails its own emails only, while the server, the
notification run and the other stores' emails carry on."""
from __future__ import annotations

import datetime as dt
import json
import time

import pytest
import sqlalchemy as sa

from messaging_web.actors import Actor
from messaging_web.extensions import db
from messaging_web.models import AdminNotification, ConversationType, EmailLog, EmailTemplate, StoreEmailTemplate
from messaging_web.models.base import utcnow
from messaging_web.services import conversations, template_catalog, templates
from messaging_web.services.conversation_notifications import flush_due_notifications
from messaging_web.services.sandbox.jinja_sandbox import MAX_SECONDS
from tests.conftest import csrf_token

SEGFAULT = "{% for i in range(30000) %}<div>{% endfor %}x"  # css-inline crashed on HTML nested this deep
FILTER_BYPASS = "{% set L = range(100000)|list %}{{ range(100000,200000)|select('in', L)|list|length }}"
DEADLINE = MAX_SECONDS + 1  # the worker is killed then; the answer follows at once


@pytest.fixture
def store_owner(client, factory, signed_in, shipped):
    store = factory.store()
    signed_in(factory.store_user(store))
    return store


def _preview(client, store, body_html: str):
    path = f"/store/{store.slug}/templates/order_shipped/en"
    data = {"subject": "Shipped {{ order_number }}", "body_html": body_html, "csrf_token": csrf_token(client, path),
            "sample": json.dumps(template_catalog.shipped_sample("order_shipped"))}
    started = time.monotonic()
    response = client.post(path + "/preview", data=data, headers={"HX-Request": "true"})
    return response, time.monotonic() - started


def _still_serving(client, store) -> bool:
    return client.get(f"/store/{store.slug}/templates/").status_code == 200


def test_the_segfault_payload_is_refused_as_nested_too_deeply_and_the_server_lives(client, store_owner):
    response, _ = _preview(client, store_owner, SEGFAULT)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="preview-problems"' in body
    assert "nested too deeply" in body
    assert _still_serving(client, store_owner)


def test_work_hidden_in_one_filter_call_is_stopped_at_the_deadline(client, store_owner):
    response, took = _preview(client, store_owner, FILTER_BYPASS)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "takes too long to render (limit 2 s)" in body or "took longer than 2 seconds" in body
    assert took < DEADLINE + 2  # the deadline, and a margin for a busy test machine
    assert _still_serving(client, store_owner)


def test_a_loop_of_hostile_previews_leaves_the_editor_working(client, store_owner):
    for payload in (SEGFAULT, FILTER_BYPASS, SEGFAULT, "{{ cycler(1, 2) }}"):
        response, _ = _preview(client, store_owner, payload)
        assert response.status_code == 200 and 'id="preview-problems"' in response.get_data(as_text=True)
    response, _ = _preview(client, store_owner, "<p>Hello {{ customer_name }}</p>")
    body = response.get_data(as_text=True)
    assert 'id="preview-problems"' not in body and "Hello" in body


def test_objects_print_no_memory_address(client, store_owner):
    for payload in ("{{ range }}", "{{ cycler(1, 2) }}", "{{ joiner() }}", "{{ 'a'.upper }}", "{{ 'a' ~ cycler(1) }}"):
        response, _ = _preview(client, store_owner, payload)
        body = response.get_data(as_text=True)
        assert " at 0x" not in body and "which has no text" in body


@pytest.mark.parametrize("payload, reason", [(SEGFAULT, "nested too deeply"), (FILTER_BYPASS, "too long")])
def test_saving_a_template_that_fails_its_trial_render_is_refused(app, client, store_owner, payload, reason):
    path = f"/store/{store_owner.slug}/templates/order_shipped/en"
    response = client.post(path, data={"subject": "Shipped {{ order_number }}", "body_html": payload,
                                       "csrf_token": csrf_token(client, path)})
    assert response.status_code == 422 and reason in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(StoreEmailTemplate)) == 0


def test_a_subject_with_an_encoded_newline_is_refused_on_save(app, client, store_owner):
    path = f"/store/{store_owner.slug}/templates/order_shipped/en"
    response = client.post(path, data={"subject": "Shipped =?utf-8?q?now=0ABcc:_x@evil.test?=",
                                       "body_html": "<p>x</p>", "csrf_token": csrf_token(client, path)})
    assert response.status_code == 422 and "line breaks" in response.get_data(as_text=True)


def test_a_template_over_the_memory_limit_is_refused_in_plain_words(ctx, monkeypatch):
    from flask import current_app

    monkeypatch.setitem(current_app.config, "SANDBOX_MEMORY_MB", 8)  # a pool of its own, with a small limit
    # Each string is within the sandbox's own limits; together they need more than 8 MB.
    hog = "".join(f"{{% set a{i} = 'x' * 900000 %}}" for i in range(15)) + "{{ a0|length }}"
    with pytest.raises(templates.RenderRefused, match="too much memory"):
        templates.render_email(templates.TemplateSource("s", hog, None).as_resolved(), {})
    assert templates.render_email(templates.TemplateSource("s", "<p>ok</p>", None).as_resolved(), {}).html


# --- a hostile template saved before these checks existed -----------------------------------------------


def _plant_override(store_id: int, body_html: str) -> None:
    """A store's version written straight to the table, as one saved before the trial render existed."""
    base = db.session.scalar(sa.select(EmailTemplate).where(
        EmailTemplate.code == "new_message_notification", EmailTemplate.language == "en"))
    db.session.add(StoreEmailTemplate(store_id=store_id, template_code=base.code, language="en",
                                      subject=base.subject, body_html=body_html, is_active=True))


def _customer_writes(factory, store, text: str) -> None:
    """A team member of `store` writes to a customer of it (the customer gets a notification)."""
    team, customer = factory.store_user(store), factory.customer(store)
    with factory.app.app_context():
        from messaging_web.models import Customer, User

        conversations.start_conversation(
            Actor.for_user(db.session.get(User, team.id)), ConversationType.STORE_CUSTOMER, "Order", text,
            customer=db.session.get(Customer, customer.id),
        )
        db.session.commit()


def _hostile_and_quiet_stores(app, factory, payload: str, hostile_threads: int = 1):
    with app.app_context():
        template_catalog.load_default_templates()
        db.session.commit()
    hostile, quiet = factory.store(), factory.store()
    with app.app_context():
        _plant_override(hostile.id, payload)
        db.session.commit()
    for _ in range(hostile_threads):
        _customer_writes(factory, hostile, "Hello from a hostile store")
    _customer_writes(factory, quiet, "Hello from a quiet store")
    return hostile, quiet


@pytest.mark.parametrize("payload", [FILTER_BYPASS, SEGFAULT])
def test_a_saved_hostile_notification_fails_its_own_emails_and_the_run_sends_the_others(app, factory, payload):
    hostile, quiet = _hostile_and_quiet_stores(app, factory, payload, hostile_threads=3)
    with app.app_context():
        started = time.monotonic()
        report = flush_due_notifications(now=utcnow() + dt.timedelta(hours=1))
        db.session.commit()
        assert time.monotonic() - started < DEADLINE + 5  # one deadline for the template, not one per email

        rows = db.session.scalars(sa.select(EmailLog).order_by(EmailLog.id)).all()
        assert len(report.sent) == len(rows)
        failed = [row for row in rows if row.store_id == hostile.id]
        assert len(failed) >= 3
        assert all(row.status == "failed" and "could not be rendered" in row.error_message for row in failed)
        [sent] = [row for row in rows if row.store_id == quiet.id]
        assert sent.status in ("pending", "sent") and "Hello from a quiet store" in sent.body_html
        notices = db.session.scalars(sa.select(AdminNotification)).all()
        assert len(notices) == 1 and "new_message_notification" in notices[0].title


def test_the_notification_command_survives_a_hostile_template(app, factory, monkeypatch):
    hostile, quiet = _hostile_and_quiet_stores(app, factory, SEGFAULT)
    monkeypatch.setitem(app.config, "CONVERSATION_NOTIFY_DELAY_SECONDS", -3600)  # everything is due
    result = app.test_cli_runner().invoke(args=["messaging", "notify-conversations"])
    assert result.exit_code == 0 and "Queued 2 conversation notification(s)" in result.output
    with app.app_context():
        statuses = dict(db.session.execute(sa.select(EmailLog.store_id, EmailLog.status)).all())
        assert statuses[hostile.id] == "failed" and statuses[quiet.id] in ("pending", "sent")


def test_deeply_nested_sample_values_are_a_message_in_the_preview(client, store_owner):
    path = f"/store/{store_owner.slug}/templates/order_shipped/en"
    data = {"subject": "Shipped", "body_html": "<p>x</p>", "sample": "[" * 100_000,
            "csrf_token": csrf_token(client, path)}
    response = client.post(path + "/preview", data=data, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "Sample values: the JSON is nested too deeply." in response.get_data(as_text=True)
