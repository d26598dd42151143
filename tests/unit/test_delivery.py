"""The worker's state machine: claim, send, record sent / retry with backoff / failed / ambiguous."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from messaging_web.extensions import db
from messaging_web.models import AdminNotification, EmailLog
from messaging_web.models.base import utcnow
from messaging_web.services.email import delivery
from messaging_web.services.email.outbox import queue_email
from tests.support.email_data import load_templates, smtp_settings

pytest_plugins = ["tests.support.fixtures"]


@pytest.fixture
def store_with_smtp(ctx, factory, smtp_sink, manual_dispatch):
    load_templates()
    store = factory.store()
    smtp_settings(store.id, smtp_sink)
    return store


def queue(store, n: int = 1, to: str = "kim@customer.example") -> list[int]:
    ids = [
        queue_email("settings_test_email", to, {"store_name": store.name, "provider": "smtp"}, store_id=store.id).id
        for _ in range(n)
    ]
    db.session.commit()
    return ids


def row(log_id: int) -> EmailLog:
    db.session.expire_all()
    return db.session.get(EmailLog, log_id)


def make_due(log_id: int) -> None:
    db.session.execute(sa.update(EmailLog).where(EmailLog.id == log_id).values(next_attempt_at=utcnow()))
    db.session.commit()


def notifications() -> list[AdminNotification]:
    return db.session.scalars(sa.select(AdminNotification).order_by(AdminNotification.id)).all()


def test_worker_sends_and_records_sent_with_a_message_id_derived_from_the_log(store_with_smtp, smtp_sink):
    [log_id] = queue(store_with_smtp)
    report = delivery.deliver_due()
    assert report.sent == [log_id]
    sent = row(log_id)
    assert sent.status == "sent" and sent.sent_at is not None and sent.claimed_at is None
    assert sent.provider_message_id == f"<email-log-{log_id}@messaging-web>"
    assert smtp_sink.parsed()[0]["Message-ID"] == f"<email-log-{log_id}@messaging-web>"


def test_transient_failure_schedules_a_retry_with_exponential_backoff(store_with_smtp, smtp_sink, app):
    [log_id] = queue(store_with_smtp)
    smtp_sink.fault = "451-rcpt"
    started = utcnow()
    delivery.deliver_due()
    first = row(log_id)
    assert first.status == "pending" and first.retry_count == 1
    assert "451" in first.error_message and "Next attempt scheduled" in first.error_message
    base = app.config["EMAIL_RETRY_BASE_SECONDS"]
    assert started + dt.timedelta(seconds=base - 1) <= first.next_attempt_at <= utcnow() + dt.timedelta(seconds=base)
    # Not due yet: a worker passing by leaves it alone.
    assert delivery.deliver_due().attempted == 0
    make_due(log_id)
    delivery.deliver_due()
    second = row(log_id)
    assert second.retry_count == 2
    assert second.next_attempt_at - utcnow() > dt.timedelta(seconds=2 * base - 5)
    smtp_sink.fault = None
    make_due(log_id)
    delivery.deliver_due()
    assert row(log_id).status == "sent"
    assert len(smtp_sink.messages) == 1
    assert notifications() == []


def test_last_attempt_marks_failed_and_raises_a_store_issue(store_with_smtp, smtp_sink, app):
    [log_id] = queue(store_with_smtp)
    smtp_sink.fault = "451-rcpt"
    for _ in range(app.config["EMAIL_MAX_ATTEMPTS"]):
        make_due(log_id)
        delivery.deliver_due()
    failed = row(log_id)
    assert failed.status == "failed" and failed.retry_count == app.config["EMAIL_MAX_ATTEMPTS"]
    assert failed.error_message.startswith(f"Gave up after {app.config['EMAIL_MAX_ATTEMPTS']} attempts")
    [note] = notifications()
    assert note.type == "store_issue" and note.action_url == f"/admin/email-log/{log_id}"
    assert note.notification_metadata["email_log_id"] == log_id


def test_permanent_failure_fails_at_once_with_a_readable_error(store_with_smtp, smtp_sink):
    [log_id] = queue(store_with_smtp)
    smtp_sink.fault = "550-rcpt"
    delivery.deliver_due()
    failed = row(log_id)
    assert failed.status == "failed" and failed.retry_count == 1  # the email log says "Attempts failed: 1"
    assert failed.error_message == "The SMTP server refused the recipient kim@customer.example (550)."
    assert [n.type for n in notifications()] == ["store_issue"]


def test_wrong_password_fails_every_email_of_the_batch_without_retrying(ctx, factory, smtp_sink, manual_dispatch):
    load_templates()
    store = factory.store()
    smtp_settings(store.id, smtp_sink, password="not-the-password")
    ids = queue(store, 3)
    delivery.deliver_due()
    assert {row(i).error_message for i in ids} == {"The SMTP server rejected the username or password."}
    assert len(smtp_sink.logins) == 1


def test_connection_lost_after_data_is_recorded_as_ambiguous_and_not_resent(store_with_smtp, smtp_sink):
    [log_id] = queue(store_with_smtp)
    smtp_sink.fault = "drop-after-data"
    delivery.deliver_due()
    ambiguous = row(log_id)
    assert ambiguous.status == "failed" and ambiguous.delivery_ambiguous
    assert "may have been delivered" in ambiguous.error_message
    smtp_sink.fault = None
    assert delivery.deliver_due().attempted == 0
    assert delivery.sweep().redispatch == []
    assert [n.priority for n in notifications()] == ["high"]


def test_admin_resend_of_an_ambiguous_email_sends_it_again(store_with_smtp, smtp_sink, app):
    [log_id] = queue(store_with_smtp)
    smtp_sink.fault = "drop-after-data"
    delivery.deliver_due()
    smtp_sink.fault = None
    app.config["EMAIL_DISPATCHER"] = "inprocess"
    delivery.requeue_failed(row(log_id))
    db.session.commit()
    resent = row(log_id)
    assert resent.status == "sent" and not resent.delivery_ambiguous
    assert len(smtp_sink.messages) == 1


def test_two_workers_never_send_the_same_email(store_with_smtp, smtp_sink, app):
    ids = queue(store_with_smtp, 40)
    errors = []

    def work():
        try:
            with app.app_context():
                while delivery.deliver_due(limit=3).attempted:
                    pass
        except Exception as exc:  # surfaced below
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert errors == []
    message_ids = [m["Message-ID"] for m in smtp_sink.parsed()]
    assert sorted(message_ids) == sorted(f"<email-log-{i}@messaging-web>" for i in ids)
    assert {row(i).status for i in ids} == {"sent"}


def test_claimed_rows_are_skipped_by_another_worker(store_with_smtp):
    ids = queue(store_with_smtp, 4)
    from sqlalchemy.orm import Session

    with Session(db.engine) as first:
        _token, mine = delivery.claim(first, limit=2)
    with Session(db.engine) as second:
        _token, theirs = delivery.claim(second, limit=10)
    assert mine == ids[:2] and theirs == ids[2:]


def test_sweep_redelivers_a_pending_email_whose_hand_off_was_lost(store_with_smtp, smtp_sink, app):
    [log_id] = queue(store_with_smtp)
    old = utcnow() - dt.timedelta(seconds=app.config["EMAIL_SWEEP_AFTER_SECONDS"] + 5)
    db.session.execute(sa.update(EmailLog).values(updated_at=old))
    db.session.commit()
    report = delivery.sweep()
    assert report.redispatch == [log_id]
    delivery.deliver(report.redispatch)
    assert row(log_id).status == "sent"


def test_sweep_leaves_a_freshly_queued_email_to_its_hand_off(store_with_smtp):
    queue(store_with_smtp)
    assert delivery.sweep().redispatch == []


def test_sweep_marks_the_email_a_vanished_worker_was_sending_as_ambiguous(store_with_smtp, app):
    [log_id] = queue(store_with_smtp)
    stale = utcnow() - dt.timedelta(seconds=app.config["EMAIL_CLAIM_TIMEOUT_SECONDS"] + 5)
    db.session.execute(sa.update(EmailLog).values(claimed_at=stale, claimed_by="gone", send_started_at=stale))
    db.session.commit()
    assert delivery.sweep().abandoned == [log_id]
    abandoned = row(log_id)
    assert abandoned.status == "failed" and abandoned.delivery_ambiguous


def test_sweep_sends_again_the_emails_of_a_vanished_claim_that_were_never_started(store_with_smtp, smtp_sink, app):
    ids = queue(store_with_smtp, 4)
    stale = utcnow() - dt.timedelta(seconds=app.config["EMAIL_CLAIM_TIMEOUT_SECONDS"] + 5)
    db.session.execute(sa.update(EmailLog).values(claimed_at=stale, claimed_by="gone"))
    db.session.execute(sa.update(EmailLog).where(EmailLog.id == ids[1]).values(send_started_at=stale))
    db.session.commit()
    report = delivery.sweep()
    assert report.abandoned == [ids[1]]
    assert report.released == [ids[0], ids[2], ids[3]] and set(report.released) <= set(report.redispatch)
    delivery.deliver(report.redispatch)
    assert [row(i).status for i in ids] == ["sent", "failed", "sent", "sent"]
    assert not row(ids[0]).delivery_ambiguous and row(ids[1]).delivery_ambiguous
    assert len(smtp_sink.parsed()) == 3


def test_each_email_is_marked_started_in_a_commit_before_its_send(store_with_smtp, smtp_sink):
    # What another process sees when the SMTP server receives each message: this row started, the earlier ones
    # sent, the later ones still only claimed. A worker killed here leaves exactly one row in doubt. (The mark is
    # written while the envelope goes out, and confirmed before the DATA command.)
    from sqlalchemy.orm import Session

    ids = queue(store_with_smtp, 3)
    seen, engine = [], db.engine  # the server's thread has no application context

    def observe():
        with Session(engine) as observer:
            states = observer.execute(
                sa.select(EmailLog.id, EmailLog.status, EmailLog.send_started_at.is_not(None))
                .where(EmailLog.id.in_(ids)).order_by(EmailLog.id)).all()
        seen.append([(status, started) for _id, status, started in states])

    smtp_sink.on_data = observe
    delivery.deliver_due()
    assert seen == [
        [("pending", True), ("pending", False), ("pending", False)],
        [("sent", True), ("pending", True), ("pending", False)],
        [("sent", True), ("sent", True), ("pending", True)],
    ]


def test_a_database_lost_before_the_handover_hands_nothing_over(store_with_smtp, smtp_sink, monkeypatch):
    # The mark is sent ahead while the envelope goes out; if the database cannot confirm it (gone for good), the
    # message is not handed over, and the error ends the run as if the write had failed before the send.
    ids = queue(store_with_smtp, 3)
    real_write = delivery.Progress._write

    def database_gone_after_the_first(progress, starting, durable, **how):
        if starting == ids[1] or progress.steps >= 1:
            raise db.engine.dialect.dbapi.OperationalError("server closed the connection unexpectedly")
        real_write(progress, starting, durable, **how)

    monkeypatch.setattr(delivery.Progress, "_write", database_gone_after_the_first)
    monkeypatch.setattr(delivery, "OUTCOME_WRITE_PAUSES", (0.0,))
    with pytest.raises(db.engine.dialect.dbapi.OperationalError):
        delivery.deliver_due()
    assert len(smtp_sink.parsed()) == 1  # the first only: the second was never handed over


def test_unreachable_server_keeps_the_email_for_a_retry(ctx, factory, closed_port, manual_dispatch):
    load_templates()
    store = factory.store()
    from tests.support.mail_servers import SmtpSink

    sink = SmtpSink.__new__(SmtpSink)
    sink.host, sink.port = "127.0.0.1", closed_port
    smtp_settings(store.id, sink)
    [log_id] = queue(store)
    delivery.deliver_due()
    kept = row(log_id)
    assert kept.status == "pending" and kept.retry_count == 1
    assert f"could not connect to 127.0.0.1 on port {closed_port}" in kept.error_message


def test_outcomes_are_recorded_on_a_new_connection_when_the_database_drops_meanwhile(
        store_with_smtp, smtp_sink, monkeypatch):
    # A PostgreSQL restart between the send and the write of its outcome: the outcome is known, so it is
    # written again on a fresh connection, not left for the sweep to call "may have been delivered".
    ids = queue(store_with_smtp, 3)
    real_write = delivery.Progress._write
    drops = []

    def write_after_a_drop(progress, starting, durable, **how):
        if progress.unconfirmed and not drops:
            drops.append(True)
            raise db.engine.dialect.dbapi.OperationalError("server closed the connection unexpectedly")
        real_write(progress, starting, durable, **how)

    monkeypatch.setattr(delivery.Progress, "_write", write_after_a_drop)
    monkeypatch.setattr(delivery, "OUTCOME_WRITE_PAUSES", (0.0,))
    report = delivery.deliver_due()
    assert drops and sorted(report.sent) == ids
    rows = [row(i) for i in ids]
    assert [r.status for r in rows] == ["sent"] * 3
    assert not any(r.delivery_ambiguous for r in rows) and all(r.claimed_at is None for r in rows)
    assert len(smtp_sink.parsed()) == 3  # each sent once


def test_after_a_database_crash_the_outcomes_of_commits_not_waited_for_are_written_again(
        store_with_smtp, smtp_sink, monkeypatch):
    # Only one commit in DURABLE_EVERY waits for PostgreSQL's WAL flush. A crash loses the others; the worker
    # still knows those outcomes and writes them again, rather than leaving sent emails looking never started.
    from sqlalchemy.orm import Session

    ids = queue(store_with_smtp, 4)
    real_write = delivery.Progress._write
    crashed = []

    def crash_before_writing_the_third(progress, starting, durable, **how):
        if [s["id"] for s in progress.unconfirmed[progress.written:]] == [ids[2]] and not crashed:
            crashed.append(True)
            with Session(db.engine) as survivor:  # what the database holds after the crash
                survivor.execute(sa.update(EmailLog).where(EmailLog.id.in_(ids[:2])).values(
                    status="pending", sent_at=None, provider_message_id=None))
                survivor.commit()
            raise db.engine.dialect.dbapi.OperationalError("server closed the connection unexpectedly")
        real_write(progress, starting, durable, **how)

    monkeypatch.setattr(delivery.Progress, "_write", crash_before_writing_the_third)
    monkeypatch.setattr(delivery, "OUTCOME_WRITE_PAUSES", (0.0,))
    delivery.deliver_due()
    assert crashed
    assert [row(i).status for i in ids] == ["sent"] * 4
    assert len(smtp_sink.parsed()) == 4
