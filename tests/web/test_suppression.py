"""The suppression list: every way onto it (provider bounces and complaints, soft-bounce runs, unsubscribes),
every way off it (the store's and an admin's removal, audited), and that a suppressed address gets no send
but a log row that says why."""
from __future__ import annotations

import time

import sqlalchemy as sa

from messaging_web.extensions import db
from messaging_web.models import EmailLog, EmailSuppression, SuppressionAudit
from messaging_web.services.email import delivery, outbox
from messaging_web.services.email.outbox import queue_email
from tests.conftest import csrf_token
from tests.support.email_data import load_templates, smtp_settings
from tests.support.query_counter import count_queries
from tests.web.test_webhooks import (  # noqa: F401  (sendgrid_keys is a fixture)
    post,
    sendgrid_keys,
    signed_mailgun,
    signed_sendgrid,
    store_sending_through,
)

pytest_plugins = ["tests.support.fixtures"]
TEST_EMAIL = {"provider": "x"}


def suppressions():
    rows = db.session.execute(sa.select(EmailSuppression.email, EmailSuppression.store_id, EmailSuppression.scope,
                                        EmailSuppression.reason).order_by(EmailSuppression.id)).all()
    db.session.rollback()
    return [tuple(r) for r in rows]


def queue_test_email(to: str, store_id: int | None, code: str = "settings_test_email", **context):
    row = queue_email(code, to, {"store_name": "Shop", **TEST_EMAIL, **context}, store_id=store_id)
    db.session.commit()
    return row.id


def log_row(log_id: int):
    db.session.expire_all()
    row = db.session.get(EmailLog, log_id)
    result = row.status, row.error_message
    db.session.rollback()
    return result


def test_a_sendgrid_hard_bounce_suppresses_the_address_for_every_store(
    ctx, app, client, factory, httpserver, manual_dispatch, sendgrid_keys  # noqa: F811
):
    private, public = sendgrid_keys
    store, log_id = store_sending_through(factory, httpserver, app, "sendgrid", public)
    event = [{"event": "bounce", "type": "bounce", "email_log_id": str(log_id), "timestamp": int(time.time()),
              "reason": "550 5.1.1 no such user"}]
    assert post(client, f"/webhooks/sendgrid/{store.slug}", *signed_sendgrid(private, event)).json == {"applied": 1}
    assert suppressions() == [("kim@customer.example", None, "address", "hard_bounce")]

    other_store = factory.store()
    sends_before = len(httpserver.log)
    for store_id in (store.id, other_store.id, None):
        blocked = queue_test_email("Kim@Customer.example", store_id)
        status, error = log_row(blocked)
        assert status == "suppressed"
        assert error.startswith(f"Suppressed: hard bounce on {time.strftime('%Y-%m-%d', time.gmtime())} via SendGrid")
    delivery.deliver_due()
    assert len(httpserver.log) == sends_before  # nothing was handed to SendGrid


def test_a_sendgrid_spam_report_suppresses_the_address_for_that_store_but_not_its_sign_in_emails(
    ctx, app, client, factory, httpserver, manual_dispatch, sendgrid_keys  # noqa: F811
):
    private, public = sendgrid_keys
    store, log_id = store_sending_through(factory, httpserver, app, "sendgrid", public)
    event = [{"event": "spamreport", "email_log_id": str(log_id), "timestamp": int(time.time())}]
    assert post(client, f"/webhooks/sendgrid/{store.slug}", *signed_sendgrid(private, event)).json == {"applied": 1}
    assert suppressions() == [("kim@customer.example", store.id, "all", "complaint")]
    assert log_row(queue_test_email("kim@customer.example", store.id))[0] == "suppressed"
    reset = queue_email("password_reset", "kim@customer.example",
                        {"customer_name": "Kim", "reset_url": "https://x.example/r", "expires_in_minutes": 30},
                        store_id=store.id)
    db.session.commit()
    assert log_row(reset.id)[0] == "pending"  # auth emails are never blocked by a complaint
    other_store = factory.store()
    assert log_row(queue_test_email("kim@customer.example", other_store.id))[0] == "pending"


def test_mailgun_permanent_failures_complaints_and_runs_of_soft_bounces_suppress(
    ctx, app, client, factory, httpserver, manual_dispatch
):
    app.config["SOFT_BOUNCE_LIMIT"] = 3
    store, log_id = store_sending_through(factory, httpserver, app, "mailgun")
    url = f"/webhooks/mailgun/{store.slug}"

    def event(kind: str, **extra) -> bytes:
        return signed_mailgun({"event": kind, "user-variables": {"email_log_id": str(log_id)},
                               "timestamp": time.time(), **extra})

    post(client, url, event("failed", severity="temporary"))
    post(client, url, event("failed", severity="temporary"))
    post(client, url, event("delivered"))  # a delivery ends the run
    post(client, url, event("failed", severity="temporary"))
    post(client, url, event("failed", severity="temporary"))
    assert suppressions() == []
    post(client, url, event("failed", severity="temporary"))
    assert suppressions() == [("kim@customer.example", None, "address", "soft_bounces")]
    assert log_row(queue_test_email("kim@customer.example", store.id))[1].startswith(
        "Suppressed: 3 soft bounces in a row")

    db.session.execute(sa.delete(EmailSuppression))
    db.session.commit()
    post(client, url, event("complained"))
    assert suppressions() == [("kim@customer.example", store.id, "all", "complaint")]
    post(client, url, event("failed", severity="permanent", **{"delivery-status": {"description": "No such mailbox"}}))
    assert ("kim@customer.example", None, "address", "hard_bounce") in suppressions()


def test_a_replayed_bounce_writes_no_second_suppression_nor_audit_entry(
    ctx, app, client, factory, httpserver, manual_dispatch
):
    store, log_id = store_sending_through(factory, httpserver, app, "mailgun")
    body = signed_mailgun({"event": "failed", "severity": "permanent", "user-variables": {"email_log_id": str(log_id)},
                           "timestamp": time.time()})
    post(client, f"/webhooks/mailgun/{store.slug}", body)
    post(client, f"/webhooks/mailgun/{store.slug}", body)
    assert len(suppressions()) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SuppressionAudit)) == 1


def test_a_batch_checks_the_list_with_one_query_and_sends_only_the_unsuppressed(ctx, app, factory, manual_dispatch):
    load_templates()
    store = factory.store()
    for n in range(0, 20, 2):
        db.session.add(EmailSuppression(email=f"c{n}@shop.example", store_id=None, scope="address",
                                        reason="hard_bounce", detail="hard bounce on 2026-11-30 via SendGrid"))
    db.session.commit()
    with count_queries(app) as statements:
        with outbox.batch() as rows:
            for n in range(20):
                queue_email("settings_test_email", f"c{n}@shop.example", {"store_name": "Shop", **TEST_EMAIL},
                            store_id=store.id)
    suppression_queries = [q for q in statements if "email_suppressions" in q]
    assert len(suppression_queries) == 1
    assert [r.status for r in rows] == ["suppressed", "pending"] * 10
    db.session.commit()


def test_the_store_sees_and_removes_its_own_suppressions_with_a_confirmation_and_an_audit_entry(
    app, client, factory, signed_in
):
    store, other = factory.store(), factory.store()
    user = factory.store_user(store)
    with app.app_context():
        own = EmailSuppression(email="ana@shop.example", store_id=store.id, scope="all", reason="complaint",
                               detail="spam complaint on 2026-12-01 via SendGrid")
        foreign = EmailSuppression(email="bo@shop.example", store_id=other.id, scope="marketing",
                                   reason="unsubscribe", detail="unsubscribed from marketing emails")
        platform = EmailSuppression(email="cy@shop.example", store_id=None, scope="address", reason="hard_bounce",
                                    detail="hard bounce on 2026-11-30 via Mailgun")
        db.session.add_all([own, foreign, platform])
        db.session.commit()
        own_id, foreign_id, platform_id = own.id, foreign.id, platform.id
    signed_in(user)
    page = client.get(f"/store/{store.slug}/suppressions").get_data(as_text=True)
    assert "ana@shop.example" in page and "spam complaint on 2026-12-01" in page
    assert "bo@shop.example" not in page and "cy@shop.example" not in page  # never emailed by this store
    assert "bo@" not in client.get(f"/store/{store.slug}/suppressions?q=bo").get_data(as_text=True)

    confirm = client.get(f"/store/{store.slug}/suppressions/{own_id}/remove")
    assert confirm.status_code == 200 and "Remove ana@shop.example from the list?" in confirm.get_data(as_text=True)
    assert client.get(f"/store/{store.slug}/suppressions/{foreign_id}/remove").status_code == 404
    assert client.get(f"/store/{store.slug}/suppressions/{platform_id}/remove").status_code == 404
    token = csrf_token(client, f"/store/{store.slug}/suppressions")
    assert client.post(f"/store/{store.slug}/suppressions/{foreign_id}/remove",
                       data={"csrf_token": token}).status_code == 404
    response = client.post(f"/store/{store.slug}/suppressions/{own_id}/remove", data={"csrf_token": token})
    assert response.status_code == 302
    with app.app_context():
        assert [row[0] for row in suppressions()] == ["bo@shop.example", "cy@shop.example"]
        audit = db.session.execute(sa.select(SuppressionAudit.email, SuppressionAudit.action, SuppressionAudit.actor)).all()
        assert [tuple(a) for a in audit] == [("ana@shop.example", "removed", "Team Member")]


def test_an_admin_sees_every_list_and_removes_a_platform_wide_bounce(app, client, factory, signed_in):
    store = factory.store()
    admin = factory.admin()
    with app.app_context():
        db.session.add_all([
            EmailSuppression(email="ana@shop.example", store_id=store.id, scope="all", reason="complaint",
                             detail="spam complaint"),
            EmailSuppression(email="cy@shop.example", store_id=None, scope="address", reason="hard_bounce",
                             detail="hard bounce on 2026-11-30 via Mailgun"),
        ])
        db.session.commit()
        platform_id = db.session.scalar(sa.select(EmailSuppression.id).where(EmailSuppression.store_id.is_(None)))
    signed_in(admin)
    page = client.get("/admin/suppressions").get_data(as_text=True)
    assert "ana@shop.example" in page and "cy@shop.example" in page
    platform_only = client.get("/admin/suppressions?list=platform").get_data(as_text=True)
    assert "cy@shop.example" in platform_only and "ana@shop.example" not in platform_only
    one_store = client.get(f"/admin/suppressions?store={store.name}").get_data(as_text=True)
    assert "ana@shop.example" in one_store and "cy@shop.example" not in one_store
    token = csrf_token(client, "/admin/suppressions")
    assert client.post(f"/admin/suppressions/{platform_id}/remove", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        assert [row[0] for row in suppressions()] == ["ana@shop.example"]


def test_suppressed_emails_are_filterable_in_both_email_logs(app, client, factory, signed_in, manual_dispatch):
    store = factory.store()
    user = factory.store_user(store)
    with app.app_context():
        load_templates()
        db.session.add(EmailSuppression(email="gone@shop.example", store_id=None, scope="address",
                                        reason="hard_bounce", detail="hard bounce on 2026-11-30 via SendGrid"))
        db.session.commit()
        queue_test_email("gone@shop.example", store.id)
        queue_test_email("here@shop.example", store.id)
    signed_in(user)
    page = client.get(f"/store/{store.slug}/email-log?status=suppressed").get_data(as_text=True)
    assert "gone@shop.example" in page and "here@shop.example" not in page


def test_smtp_sent_store_emails_never_reach_a_suppressed_address(ctx, app, factory, smtp_sink, manual_dispatch):
    load_templates()
    store = factory.store()
    smtp_settings(store.id, smtp_sink)
    db.session.add(EmailSuppression(email="gone@shop.example", store_id=None, scope="address", reason="hard_bounce",
                                    detail="hard bounce on 2026-11-30 via SendGrid"))
    db.session.commit()
    queue_test_email("gone@shop.example", store.id)
    queue_test_email("here@shop.example", store.id)
    delivery.deliver_due()
    assert [rcpts for _, rcpts in smtp_sink.envelopes] == [["here@shop.example"]]


def test_complaint_and_bounce_rates_above_the_thresholds_alert_the_admins_once_and_warn_the_store(
    app, client, factory, httpserver, manual_dispatch, signed_in, sendgrid_keys  # noqa: F811
):
    from messaging_web.models import AdminNotification, EmailStatus
    from messaging_web.models.base import utcnow
    from messaging_web.services.email import deliverability

    app.config["DELIVERABILITY_MIN_SENT"] = 100
    private, public = sendgrid_keys
    with app.app_context():
        store, log_id = store_sending_through(factory, httpserver, app, "sendgrid", public)
        for n in range(199):  # 200 sent in all, over the last days
            db.session.add(EmailLog(recipient_email=f"r{n}@shop.example", subject="s", from_email="shop@store.example",
                                    status=EmailStatus.DELIVERED.value, store_id=store.id, sent_at=utcnow()))
        db.session.commit()
        assert deliverability.warnings_for(store.id) == []
    url = f"/webhooks/sendgrid/{store.slug}"
    # One complaint in 200: 0.5%, over the 0.3% critical line.
    report = [{"event": "spamreport", "email_log_id": str(log_id), "timestamp": int(time.time())}]
    assert post(client, url, *signed_sendgrid(private, report)).json == {"applied": 1}
    with app.app_context():
        notices = db.session.execute(sa.select(AdminNotification.title, AdminNotification.priority)
                                     .where(AdminNotification.title.like("%deliverability%"))).all()
        assert [tuple(n) for n in notices] == [(f"{store.name}: deliverability critical", "critical")]
        [warning, *_] = deliverability.warnings_for(store.id)
        assert (warning.level, warning.what, warning.days, round(warning.rate, 2)) == ("critical", "complaint rate", 7, 0.5)
        # Another complaint while the notice is unread: no second notice.
        other = queue_test_email("r1@shop.example", store.id)
        delivery.deliver_due()
    report = [{"event": "spamreport", "email_log_id": str(other), "timestamp": int(time.time())}]
    post(client, url, *signed_sendgrid(private, report))
    with app.app_context():
        count = sa.select(sa.func.count()).select_from(AdminNotification).where(
            AdminNotification.title.like("%deliverability%"))
        assert db.session.scalar(count) == 1
    signed_in(factory.store_user(store))
    home = client.get(f"/store/{store.slug}/").get_data(as_text=True)
    assert "Sending at risk: complaint rate" in home and "What to do:" in home


def test_an_email_queued_before_its_address_bounced_is_not_sent_when_its_retry_comes(
    ctx, app, factory, smtp_sink, manual_dispatch
):
    load_templates()
    store = factory.store()
    smtp_settings(store.id, smtp_sink)
    waiting = queue_test_email("late@shop.example", store.id)
    db.session.add(EmailSuppression(email="late@shop.example", store_id=None, scope="address", reason="hard_bounce",
                                    detail="hard bounce on 2026-12-01 via Mailgun"))
    db.session.commit()
    delivery.deliver_due()
    assert smtp_sink.envelopes == []
    assert log_row(waiting) == ("suppressed", "Suppressed: hard bounce on 2026-12-01 via Mailgun")
