"""queue_email: one code path composes every email and queues it in the caller's transaction."""
from __future__ import annotations

import json
from email import message_from_bytes, policy

import pytest
import sqlalchemy as sa

from messaging_web.extensions import db
from messaging_web.models import EmailLog, Store
from messaging_web.services.email.outbox import queue_email
from messaging_web.services.errors import ValidationError
from tests.support.email_data import load_templates, smtp_settings

pytest_plugins = ["tests.support.fixtures"]


def outbox_files(app):
    from pathlib import Path

    directory = Path(app.config["MAIL_OUTBOX_DIR"])
    return sorted(directory.glob("*.eml")) if directory.exists() else []


def test_queued_email_is_pending_with_the_full_snapshot_until_commit(ctx, app, factory, manual_dispatch):
    load_templates()
    store = factory.store()
    row = queue_email(
        "order_shipped", "Kim@Customer.Example", {"customer_name": "Kim", "order_number": "A-1", "store_name": "Shop",
                                                   "tracking_url": "https://track.example/1"},
        store_id=store.id, recipient_name="Kim", related_type="order", related_id=7, extra_data={"campaign": "x"},
    )
    assert row.id is not None and row.status == "pending"
    assert row.recipient_email == "Kim@customer.example"  # the domain is normalised, the local part kept
    assert "A-1" in row.subject and "A-1" in row.body_html and row.body_text
    assert row.template_code == "order_shipped" and row.template_id is not None
    assert (row.related_type, row.related_id, row.store_id) == ("order", 7, store.id)
    assert json.loads(row.extra_data)["campaign"] == "x"
    # Store without verified settings: the platform's sender, under the store's name.
    assert row.from_email == app.config["MAIL_DEFAULT_SENDER_EMAIL"] and row.from_name == store.name
    assert row.via_store_settings is False
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(EmailLog.id))) == 0


def test_missing_required_variable_queues_nothing(ctx, factory):
    load_templates()
    store = factory.store()
    with pytest.raises(ValidationError) as info:
        queue_email("order_shipped", "kim@customer.example", {"customer_name": "Kim"}, store_id=store.id)
    assert "order_number" in info.value.message
    assert db.session.scalar(sa.select(sa.func.count(EmailLog.id))) == 0


@pytest.mark.parametrize("address", ["a@example.com, b@example.com", "x@example.com\r\nBcc: y@example.com",
                                     "Name <a@example.com>", "nobody"])
def test_recipient_must_be_exactly_one_address(ctx, address):
    load_templates()
    with pytest.raises(ValidationError):
        queue_email("settings_test_email", address, {"store_name": "S", "provider": "smtp"})
    assert db.session.scalar(sa.select(sa.func.count(EmailLog.id))) == 0


def test_encoded_line_break_in_the_recipient_name_is_refused(ctx):
    load_templates()
    with pytest.raises(ValidationError, match="line breaks"):
        queue_email("settings_test_email", "a@example.com", {"store_name": "S", "provider": "smtp"},
                    recipient_name="=?UTF-8?Q?Eve=0ABcc:_all@example.com?=")


def test_after_commit_the_email_lands_in_the_file_outbox_in_process(ctx, app):
    load_templates()
    before = len(outbox_files(app))
    row = queue_email("settings_test_email", "ops@platform.example", {"store_name": "Platform", "provider": "file"})
    assert len(outbox_files(app)) == before
    db.session.commit()
    files = outbox_files(app)
    assert len(files) == before + 1
    db.session.refresh(row)
    assert row.status == "sent" and row.sent_at is not None and row.provider == "file"
    parsed = message_from_bytes(files[-1].read_bytes(), policy=policy.default)
    assert parsed["Message-ID"] == f"<email-log-{row.id}@messaging-web>"
    assert parsed["To"] == "ops@platform.example"


def test_rolled_back_transaction_sends_nothing(ctx, app):
    load_templates()
    before = len(outbox_files(app))
    queue_email("settings_test_email", "ops@platform.example", {"store_name": "Platform", "provider": "file"})
    db.session.rollback()
    db.session.commit()
    assert len(outbox_files(app)) == before


def test_verified_store_settings_send_from_the_store_with_its_signature(ctx, factory, smtp_sink):
    load_templates()
    store = factory.store()
    smtp_settings(store.id, smtp_sink)
    row = queue_email("settings_test_email", "kim@customer.example", {"store_name": store.name, "provider": "smtp"},
                      store_id=store.id)
    assert row.via_store_settings and row.provider == "smtp"
    assert row.from_email == "shop@store.example" and row.reply_to == "help@store.example"
    assert row.body_text.rstrip().endswith("-- \nThe Store team")
    assert '<div class="store-signature"><p><b>The Store</b> team</p></div></body>' in row.body_html
    db.session.commit()
    db.session.refresh(row)
    assert row.status == "sent", row.error_message
    assert smtp_sink.envelopes == [("shop@store.example", ["kim@customer.example"])]


def test_unverified_store_settings_fall_back_to_the_platform_sender(ctx, factory, smtp_sink):
    load_templates()
    store = factory.store()
    smtp_settings(store.id, smtp_sink, verified=False)
    row = queue_email("settings_test_email", "kim@customer.example", {"store_name": "S", "provider": "smtp"},
                      store_id=store.id)
    assert not row.via_store_settings and row.provider == "file"
    assert row.reply_to == "help@store.example"


def test_store_language_picks_the_translated_template(ctx, factory):
    load_templates()
    store = factory.store(language="de")
    row = queue_email("settings_test_email", "kim@customer.example", {"store_name": "Laden", "provider": "smtp"},
                      store_id=store.id)
    assert json.loads(row.extra_data)["language"] == "de"
    assert db.session.get(Store, store.id) is not None


def test_a_batch_writes_its_rows_at_the_end_and_delivers_them_after_commit(ctx, app):
    from messaging_web.services.email.outbox import batch

    load_templates()
    before = len(outbox_files(app))
    with batch() as rows:
        for n in range(3):
            queue_email("settings_test_email", f"ops{n}@platform.example", {"store_name": "P", "provider": "file"})
        assert all(row.id is None for row in rows)
    assert len({row.id for row in rows}) == 3 and all(row.id for row in rows)
    assert len(outbox_files(app)) == before
    db.session.commit()
    assert len(outbox_files(app)) == before + 3
    db.session.expire_all()
    assert {r.status for r in db.session.scalars(sa.select(EmailLog))} == {"sent"}


def test_a_failed_batch_queues_nothing(ctx, app):
    from messaging_web.services.email.outbox import batch

    load_templates()
    with pytest.raises(ValidationError):
        with batch():
            queue_email("settings_test_email", "ok@platform.example", {"store_name": "P", "provider": "file"})
            queue_email("settings_test_email", "not an address", {"store_name": "P", "provider": "file"})
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(EmailLog.id))) == 0
