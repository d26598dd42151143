"""The schema holds what the spec promises: uniques and not-nulls raise, timestamps are UTC-aware."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from messaging_web.extensions import db
from messaging_web.models import (
    AdminNotification,
    Conversation,
    ConversationParticipant,
    ConversationType,
    EmailTemplate,
    ParticipantType,
    Store,
    StoreEmailSettings,
    StoreEmailTemplate,
)


def _template(**overrides) -> EmailTemplate:
    values = dict(code="signup_welcome", language="en", name="Welcome", subject="Hi", body_html="<p>Hi</p>")
    values.update(overrides)
    return EmailTemplate(**values)


@pytest.fixture
def store(ctx):
    store = Store(name="Shop", slug="shop")
    db.session.add(store)
    db.session.commit()
    return store


def test_email_template_code_and_language_are_unique(ctx):
    db.session.add(_template())
    db.session.commit()
    db.session.add(_template(name="Again"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_same_code_in_another_language_is_allowed(ctx):
    db.session.add_all([_template(), _template(language="fr")])
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EmailTemplate)) == 2


def test_store_override_is_unique_per_store_code_and_language(store):
    fields = dict(store_id=store.id, template_code="order_shipped", language="en", subject="S", body_html="B")
    db.session.add(StoreEmailTemplate(**fields))
    db.session.commit()
    db.session.add(StoreEmailTemplate(**fields))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_one_email_settings_row_per_store(store):
    db.session.add(StoreEmailSettings(store_id=store.id, from_email="a@shop.test", from_name="Shop"))
    db.session.commit()
    db.session.add(StoreEmailSettings(store_id=store.id, from_email="b@shop.test", from_name="Shop"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_participant_is_unique_per_conversation(store):
    conversation = Conversation(conversation_type=ConversationType.ADMIN_STORE, subject="Hello", store_id=store.id)
    db.session.add(conversation)
    db.session.flush()
    for _ in range(2):
        db.session.add(
            ConversationParticipant(
                conversation_id=conversation.id, participant_type=ParticipantType.ADMIN, participant_id=1
            )
        )
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


@pytest.mark.parametrize(
    "model, values",
    [
        (EmailTemplate, dict(code="x", name="X", subject=None, body_html="b")),
        (AdminNotification, dict(type="system_alert", title="T", message=None)),
        (Conversation, dict(conversation_type=ConversationType.ADMIN_STORE, subject=None)),
    ],
)
def test_not_null_columns_refuse_null(ctx, model, values):
    db.session.add(model(**values))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_unknown_status_values_are_refused_by_the_database(ctx):
    db.session.add(AdminNotification(type="not-a-type", title="T", message="M"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_defaults_match_the_spec(store):
    template = _template()
    settings = StoreEmailSettings(store_id=store.id, from_email="a@shop.test", from_name="Shop")
    db.session.add_all([template, settings])
    db.session.commit()
    assert template.category == "system" and template.is_active and not template.is_platform_only
    assert settings.provider == "smtp" and settings.smtp_port == 587 and settings.ses_region == "eu-west-1"
    assert settings.smtp_use_tls and not settings.smtp_use_ssl and not settings.is_verified


def test_timestamps_are_set_in_utc_and_updated_at_moves(store):
    db.session.expire_all()
    loaded = db.session.get(Store, store.id)
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at.utcoffset() == dt.timedelta(0)
    first_update = loaded.updated_at
    loaded.name = "Renamed"
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Store, store.id).updated_at > first_update
