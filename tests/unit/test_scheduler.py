"""The embedded scheduler of `make run`: the same periodic jobs as Celery beat, on the same schedule."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from messaging_web import create_app
from messaging_web.actors import Actor
from messaging_web.extensions import db
from messaging_web.models import ConversationParticipant, ConversationType, EmailLog, Store
from messaging_web.models.base import utcnow
from messaging_web.services import accounts, conversations, template_catalog
from messaging_web.services.scheduler import SCHEDULE, EmbeddedScheduler, Job
from messaging_web.tasks import celery_settings


def test_beat_and_the_embedded_scheduler_share_one_schedule(app):
    beat = celery_settings(app.config)["beat_schedule"]
    assert {name: entry["schedule"] for name, entry in beat.items()} == {j.name: j.every_seconds for j in SCHEDULE}
    assert all(entry["task"] == name for name, entry in beat.items())


def test_a_due_notification_is_sent_by_the_scheduler_and_not_twice(app):
    with app.app_context():
        template_catalog.load_default_templates()
        store = Store(name="Maison Claire", slug="claire", tier="starter", default_language="fr")
        db.session.add(store)
        db.session.flush()
        accounts.create_store_user(store, "owner@claire.test", "Olivier", "password-123")
        customer = Actor.for_customer(accounts.create_customer(store, "chloe@shop.test", "Chloé", "password-123"))
        conversation = conversations.start_conversation(customer, ConversationType.STORE_CUSTOMER, "Robe", "Bonjour")
        db.session.flush()
        # The batching window has passed.
        db.session.execute(sa.update(ConversationParticipant).where(
            ConversationParticipant.conversation_id == conversation.id,
            ConversationParticipant.notify_pending_since.is_not(None),
        ).values(notify_pending_since=utcnow() - dt.timedelta(hours=1)))
        db.session.commit()
    scheduler = EmbeddedScheduler(app)
    due: dict[str, float] = {}
    scheduler.run_due(due, now=1000.0)
    scheduler.run_due(due, now=1001.0)  # nothing is due again before its interval
    with app.app_context():
        emails = db.session.scalars(sa.select(EmailLog).where(EmailLog.template_code == "new_message_notification"))
        assert [e.recipient_email for e in emails] == ["owner@claire.test"]
    assert due == {job.name: 1000.0 + job.every_seconds for job in SCHEDULE}


def test_a_failing_job_does_not_stop_the_others(app):
    ran = []

    def broken() -> int:
        raise RuntimeError("the database went away")

    scheduler = EmbeddedScheduler(app, (Job("broken", 1, broken), Job("fine", 1, lambda: ran.append(1) or 1)))
    scheduler.run_due({}, now=0.0)
    assert ran == [1]


def test_create_app_starts_it_only_when_asked(app):
    assert "embedded_scheduler" not in app.extensions
    scheduled = create_app({**app.config, "EMBEDDED_SCHEDULER": True})
    scheduler = scheduled.extensions["embedded_scheduler"]
    try:
        assert scheduler.thread.is_alive()
    finally:
        scheduler.stop()
    assert not scheduler.thread.is_alive()
