"""Platform admins read, filter and mark admin notifications; nobody else can reach them."""
from __future__ import annotations

import html

import pytest
import sqlalchemy as sa

from messaging_web.extensions import db
from messaging_web.models import AdminNotification, NotificationPriority, NotificationType
from messaging_web.services import notification_texts
from messaging_web.services.notifications import raise_admin_notification, raise_admin_notification_once
from tests.conftest import csrf_token


def _raise(app, title, priority=NotificationPriority.NORMAL, **kwargs):
    with app.app_context():
        notification = raise_admin_notification(NotificationType.SYSTEM_ALERT, title, f"About {title}.",
                                                priority=priority, **kwargs)
        db.session.commit()
        return notification.id


@pytest.fixture
def admin_client(signed_in, factory):
    return signed_in(factory.admin())


def test_unread_notifications_are_listed_most_urgent_first(app, admin_client):
    _raise(app, "Low thing", NotificationPriority.LOW)
    _raise(app, "Critical thing", NotificationPriority.CRITICAL, action_required=True)
    _raise(app, "Normal thing")
    page = admin_client.get("/admin/notifications").get_data(as_text=True)
    assert page.index("Critical thing") < page.index("Normal thing") < page.index("Low thing")
    assert "action required" in page
    assert 'id="admin-notification-badge"' in page and ">3</span>" in page


def test_marking_read_with_htmx_swaps_the_row_and_the_badge(app, admin_client):
    notification_id = _raise(app, "Disk almost full", NotificationPriority.HIGH)
    token = csrf_token(admin_client, "/admin/notifications")
    response = admin_client.post(f"/admin/notifications/{notification_id}/read",
                                 headers={"HX-Request": "true", "X-CSRFToken": token})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert f'id="notification-{notification_id}"' in body and "Mark as unread" in body
    assert 'hx-swap-oob="true"' in body and ">0</span>" in body
    with app.app_context():
        row = db.session.get(AdminNotification, notification_id)
        assert row.is_read and row.read_at is not None and row.read_by_user_id is not None


def test_marking_unread_again_clears_the_read_state(app, admin_client):
    notification_id = _raise(app, "Flaky webhook")
    token = csrf_token(admin_client, "/admin/notifications")
    admin_client.post(f"/admin/notifications/{notification_id}/read", data={"csrf_token": token})
    admin_client.post(f"/admin/notifications/{notification_id}/unread", data={"csrf_token": token})
    with app.app_context():
        row = db.session.get(AdminNotification, notification_id)
        assert not row.is_read and row.read_at is None and row.read_by_user_id is None


def test_mark_all_as_read(app, admin_client):
    for n in range(3):
        _raise(app, f"Alert {n}")
    token = csrf_token(admin_client, "/admin/notifications")
    response = admin_client.post("/admin/notifications/read-all", data={"csrf_token": token}, follow_redirects=True)
    assert "3 notifications marked as read." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(AdminNotification.is_read.is_(False))) == 0


def test_filters_and_search(app, admin_client):
    _raise(app, "Payment gateway down", NotificationPriority.CRITICAL)
    _raise(app, "Newsletter sent", NotificationPriority.LOW)
    page = admin_client.get("/admin/notifications?priority=critical").get_data(as_text=True)
    assert "Payment gateway down" in page and "Newsletter sent" not in page
    page = admin_client.get("/admin/notifications?q=newsletter").get_data(as_text=True)
    assert "Newsletter sent" in page and "Payment gateway down" not in page
    fragment = admin_client.get("/admin/notifications?state=all&q=100%25", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "No notifications match." in fragment.get_data(as_text=True)


def test_bad_filter_values_fall_back_instead_of_failing(admin_client):
    response = admin_client.get("/admin/notifications?state=nope&priority=%00&page=-4")
    assert response.status_code == 200


def test_the_list_costs_the_same_queries_for_3_or_60_notifications(app, admin_client):
    from tests.support.query_counter import count_queries

    for n in range(3):
        _raise(app, f"Few {n}")
    with count_queries(app) as few:
        admin_client.get("/admin/notifications?state=all")
    for n in range(57):
        _raise(app, f"Many {n}")
    with count_queries(app) as many:
        page = admin_client.get("/admin/notifications?state=all&page=2").get_data(as_text=True)
    assert "Page 2 of 3" in page
    assert len(many) == len(few)


def test_store_users_and_customers_cannot_reach_notifications(app, signed_in, factory):
    notification_id = _raise(app, "Secret")
    store = factory.store()
    client = signed_in(factory.store_user(store))
    assert client.get("/admin/notifications").status_code == 403
    token = csrf_token(client, f"/store/{store.slug}/")
    assert client.post(f"/admin/notifications/{notification_id}/read", data={"csrf_token": token}).status_code == 403


def test_unknown_notification_is_404(admin_client):
    token = csrf_token(admin_client, "/admin/notifications")
    assert admin_client.post("/admin/notifications/999999/read", data={"csrf_token": token}).status_code == 404


# The platform's notifications keep their words as data (a key and values): each admin reads them in their
# language, while the title and message columns keep the English (emails, exports, the once-while-unread check).
def _page(client, language: str | None = None) -> str:
    headers = {"Accept-Language": language} if language else {}
    return html.unescape(client.get("/admin/notifications", headers=headers).get_data(as_text=True))


def test_a_notification_raised_by_the_platform_is_shown_in_the_admins_language(app, admin_client, factory):
    from messaging_web.models import EmailLog, EmailStatus
    from messaging_web.services.email import delivery

    store = factory.store()
    with app.app_context():
        row = EmailLog(recipient_email="cora@shop.example", subject="Your order", from_email="shop@store.example",
                       status=EmailStatus.PENDING.value, store_id=store.id, template_code="order_shipped")
        db.session.add(row)
        db.session.flush()
        delivery.mark_failed(db.session, row, "Gave up after 5 attempts: connection refused.",
                             reason=notification_texts.phrase("gave_up", num=5, error="connection refused"))
        db.session.commit()
        notification = db.session.scalars(sa.select(AdminNotification)).one()
        assert notification.title == "Email to cora@shop.example could not be sent"
        assert notification.message == f"order_shipped #{row.id}: Gave up after 5 attempts: connection refused."
        assert notification.notification_metadata["text"]["key"] == "email_not_sent"
        assert notification.notification_metadata["email_log_id"] == row.id
        row_id = row.id
    english = _page(admin_client)
    assert "Email to cora@shop.example could not be sent" in english
    assert f"order_shipped #{row_id}: Gave up after 5 attempts: connection refused." in english
    # An admin who saved no language reads the browser's; the provider's words stay as they came.
    french = _page(admin_client, "fr")
    assert "L’e-mail à cora@shop.example n’a pas pu être envoyé" in french
    assert f"order_shipped n° {row_id} : Abandon après 5 tentatives : connection refused." in french
    assert "Email to cora@shop.example" not in french


def test_rates_are_written_the_readers_way_and_a_repeat_is_told_once(app, admin_client):
    def rates():
        return [notification_texts.phrase("rate_over_threshold", what=notification_texts.phrase("complaint_rate"),
                                          rate=0.005, days=7, threshold=0.003)]

    with app.app_context():
        notification = raise_admin_notification_once(
            NotificationType.STORE_ISSUE, priority=NotificationPriority.CRITICAL,
            text=notification_texts.text("deliverability_critical", store="Boutique Lumière", rates=rates()),
        )
        db.session.commit()
        assert notification.title == "Boutique Lumière: deliverability critical"
        assert notification.message == (
            "Boutique Lumière's complaint rate 0.50% over 7 days (threshold 0.3%). Providers suspend senders above "
            "these rates; the store's home page shows it what to do."
        )
        # The once-while-unread check compares the English title.
        assert raise_admin_notification_once(
            NotificationType.STORE_ISSUE,
            text=notification_texts.text("deliverability_critical", store="Boutique Lumière", rates=rates()),
        ) is None
    assert "complaint rate 0.50% over 7 days (threshold 0.3%)" in _page(admin_client)
    german = _page(admin_client, "de")
    assert "Boutique Lumière: Zustellbarkeit kritisch" in german
    assert "Beschwerdequote 0,50\xa0% über 7 Tage (Schwellenwert 0,3\xa0%)" in german


def test_an_older_notification_without_a_text_shows_its_stored_english(app, admin_client):
    _raise(app, "Disk almost full")
    with app.app_context():
        raise_admin_notification(NotificationType.SYSTEM_ALERT, "Retired alert", "Its text is no longer known.",
                                 metadata={"text": {"key": "no_such_text", "values": {}}})
        db.session.commit()
    french = _page(admin_client, "fr")
    assert "Disk almost full" in french and "About Disk almost full." in french
    assert "Retired alert" in french and "Its text is no longer known." in french
