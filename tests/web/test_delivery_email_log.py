"""The email log pages: the admin's (filters, search, pages, detail, resend) and the store's own."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from messaging_web.extensions import db
from messaging_web.models import EmailLog
from messaging_web.services.email import delivery
from messaging_web.services.email.outbox import queue_email
from tests.conftest import csrf_token
from tests.support.email_data import load_templates, smtp_settings
from tests.support.query_counter import count_queries

pytest_plugins = ["tests.support.fixtures"]



@pytest.fixture
def logs(app, factory):
    """Two stores with emails: sent, failed, ambiguous, pending."""
    app.config["EMAIL_DISPATCHER"] = "manual"
    with app.app_context():
        load_templates()
        first, second = factory.store(), factory.store()
        for n in range(30):
            queue_email("settings_test_email", f"buyer{n}@customer.example",
                        {"store_name": first.name, "provider": "file"}, store_id=first.id)
        queue_email("settings_test_email", "secret@other.example", {"store_name": second.name, "provider": "file"},
                    store_id=second.id)
        db.session.commit()
        ids = db.session.scalars(sa.select(EmailLog.id).order_by(EmailLog.id)).all()
        db.session.commit()
        delivery.deliver(ids[:10])
        rows = db.session.scalars(sa.select(EmailLog).order_by(EmailLog.id)).all()
        rows[10].status, rows[10].error_message = "failed", "The SMTP server refused the recipient (550)."
        rows[11].status, rows[11].delivery_ambiguous = "failed", True
        db.session.commit()
        ids = [r.id for r in rows]
    app.config["EMAIL_DISPATCHER"] = "inprocess"
    return first, second, ids


def test_admin_lists_every_email_in_pages_with_a_fixed_number_of_queries(app, factory, signed_in, logs):
    client = signed_in(factory.admin())
    client.get("/admin/email-log")
    with count_queries(app) as queries:
        page = client.get("/admin/email-log").get_data(as_text=True)
    assert "31 emails" in page and "page 1 of 2" in page
    assert "secret@other.example" in page
    first_count = len(queries)
    with count_queries(app) as queries:
        page2 = client.get("/admin/email-log?page=2").get_data(as_text=True)
    assert len(queries) == first_count
    assert "buyer0@customer.example" in page2


def test_admin_filters_by_status_store_and_search(factory, signed_in, logs):
    first, second, ids = logs
    client = signed_in(factory.admin())
    page = client.get("/admin/email-log?status=failed").get_data(as_text=True)
    assert "2 emails" in page and "may have been delivered" in page
    page = client.get("/admin/email-log?status=ambiguous").get_data(as_text=True)
    assert "1 email" in page
    page = client.get(f"/admin/email-log?store={second.id}").get_data(as_text=True)
    assert "1 email" in page and "secret@other.example" in page
    by_name = client.get(f"/admin/email-log?store={second.name.upper()}").get_data(as_text=True)
    assert "1 email" in by_name and "secret@other.example" in by_name
    page = client.get("/admin/email-log?q=BUYER2").get_data(as_text=True)
    assert "11 emails" in page  # buyer2 and buyer20..29
    page = client.get("/admin/email-log?q=100%25_").get_data(as_text=True)
    assert "0 emails" in page
    response = client.get("/admin/email-log?status=nonsense&page=-4&store=x", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "<html" not in response.get_data(as_text=True)


def test_a_long_log_is_counted_up_to_a_limit_and_says_there_are_more(app, factory, signed_in, logs, monkeypatch):
    from messaging_web.services.email import email_log

    monkeypatch.setattr(email_log, "COUNT_LIMIT", 26)  # of 31, at 25 a page
    client = signed_in(factory.admin())
    page = client.get("/admin/email-log").get_data(as_text=True)
    assert "More than 26 emails: filter or search to narrow them down · page 1 of 2+" in page and ">Next<" in page
    # The pages past the counted ones are not offered: the last counted page has no Next.
    last = client.get("/admin/email-log?page=9").get_data(as_text=True)
    assert "Page 2 of 2+" in last and ">Next<" not in last
    # A search under the limit counts exactly again.
    assert "11 emails" in client.get("/admin/email-log?q=buyer2").get_data(as_text=True)


@pytest.mark.parametrize("term", ["%", "_", "'", "\\", "o'brien", "50%_off"])
def test_search_takes_wildcards_quotes_and_backslashes_literally(app, factory, signed_in, logs, term):
    first, _second, _ids = logs
    with app.app_context():
        queue_email("settings_test_email", "o'brien@customer.example", {"store_name": "x", "provider": "file"},
                    store_id=first.id)
        row = db.session.scalar(sa.select(EmailLog).order_by(EmailLog.id.desc()))
        row.subject = "50%_off for o'brien \\ today"
        db.session.commit()
    client = signed_in(factory.admin())
    page = client.get("/admin/email-log", query_string={"q": term}).get_data(as_text=True)
    assert "1 email" in page and "o&#39;brien@customer.example" in page


def test_admin_sees_the_detail_with_the_html_in_a_sandboxed_frame(factory, signed_in, logs):
    _first, _second, ids = logs
    client = signed_in(factory.admin())
    page = client.get(f"/admin/email-log/{ids[10]}").get_data(as_text=True)
    assert "The SMTP server refused the recipient (550)." in page
    assert '<iframe class="preview" sandbox' in page and "Send again" in page
    page = client.get(f"/admin/email-log/{ids[11]}").get_data(as_text=True)
    assert "Send again anyway" in page and "may already have been delivered" in page
    assert client.get("/admin/email-log/999999").status_code == 404


def test_admin_resends_a_failed_email(app, factory, signed_in, logs):
    _first, _second, ids = logs
    client = signed_in(factory.admin())
    path = f"/admin/email-log/{ids[10]}"
    response = client.post(path + "/resend", data={"csrf_token": csrf_token(client, path)})
    assert response.status_code == 302
    with app.app_context():
        row = db.session.get(EmailLog, ids[10])
        assert row.status == "sent" and row.error_message is None
    # A sent email cannot be "resent" by a crafted post.
    response = client.post(f"/admin/email-log/{ids[0]}/resend", data={"csrf_token": csrf_token(client, path)})
    assert response.status_code == 422


def test_store_sees_only_its_own_emails(app, factory, signed_in, logs):
    first, second, ids = logs
    client = signed_in(factory.store_user(second))
    page = client.get(f"/store/{second.slug}/email-log").get_data(as_text=True)
    assert "1 email" in page and "secret@other.example" in page and "buyer" not in page
    assert client.get(f"/store/{second.slug}/email-log/{ids[-1]}").status_code == 200
    assert client.get(f"/store/{second.slug}/email-log/{ids[0]}").status_code == 404
    with count_queries(app) as queries:
        client.get(f"/store/{second.slug}/email-log?status=pending")
    assert len(queries) <= 8


def test_store_email_log_pages_with_a_fixed_number_of_queries(app, factory, signed_in, logs):
    first, _second, ids = logs
    client = signed_in(factory.store_user(first))
    client.get(f"/store/{first.slug}/email-log")
    with count_queries(app) as queries:
        page = client.get(f"/store/{first.slug}/email-log").get_data(as_text=True)
    assert "30 emails" in page
    with count_queries(app) as second_queries:
        client.get(f"/store/{first.slug}/email-log?page=2")
    assert len(queries) == len(second_queries)


def test_customers_and_store_teams_cannot_open_the_admin_log(factory, signed_in, logs):
    first, _second, _ids = logs
    client = signed_in(factory.store_user(first))
    assert client.get("/admin/email-log").status_code == 403


def test_store_without_smtp_settings_sends_through_the_platform(app, ctx, factory, smtp_sink):
    load_templates()
    store = factory.store()
    smtp_settings(store.id, smtp_sink, verified=False)
    row = queue_email("settings_test_email", "a@customer.example", {"store_name": "S", "provider": "file"},
                      store_id=store.id)
    db.session.commit()
    db.session.refresh(row)
    assert row.status == "sent" and row.provider == "file" and smtp_sink.messages == []


def test_a_store_whose_plan_dropped_below_business_sends_through_the_platform_and_is_told(
        app, factory, smtp_sink, manual_dispatch, signed_in):
    from messaging_web.models import Store, StoreTier
    from messaging_web.services.secrets import encrypt_secret

    store = factory.store(tier=StoreTier.BUSINESS)
    owner = factory.store_user(store)
    params = {"store_name": "S", "provider": "sendgrid"}
    with app.app_context():
        load_templates()
        smtp_settings(store.id, smtp_sink, provider="sendgrid", sendgrid_api_key=encrypt_secret("SG.key"))
        before = queue_email("settings_test_email", "a@customer.example", params, store_id=store.id)
        db.session.commit()
        assert before.via_store_settings and before.provider == "sendgrid"
        db.session.get(Store, store.id).tier = StoreTier.PROFESSIONAL.value
        db.session.commit()
        after = queue_email("settings_test_email", "b@customer.example", params, store_id=store.id)
        db.session.commit()
        assert not after.via_store_settings and after.provider == "file"
        ids = (before.id, after.id)

        report = delivery.deliver_due()  # the one queued before the change too: SendGrid is never called
        assert report.attempted == 2, report
        db.session.rollback()  # end this session's read, which began before the worker wrote
        for log_id in ids:
            sent = db.session.get(EmailLog, log_id)
            assert (sent.status, sent.provider, sent.via_store_settings) == ("sent", "file", False)
            assert sent.from_email == app.config["MAIL_DEFAULT_SENDER_EMAIL"]

    page = signed_in(owner).get(f"/store/{store.slug}/settings/email/provider")
    assert "Your plan no longer includes SendGrid" in page.get_data(as_text=True)
