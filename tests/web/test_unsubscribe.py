"""Unsubscribing: marketing emails and conversation notifications carry List-Unsubscribe (RFC 8058 one-click)
and a footer link; the one-click POST works without a session or a CSRF token and is safe to replay; the
preference page speaks the recipient's language and keeps transactional emails on."""
from __future__ import annotations

import re

import sqlalchemy as sa

from messaging_web.extensions import db
from messaging_web.models import EmailLog, EmailSuppression, SuppressionAudit
from messaging_web.services.email import delivery
from messaging_web.services.email.outbox import queue_email
from tests.support.email_data import load_templates, smtp_settings

pytest_plugins = ["tests.support.fixtures"]

NEWSLETTER = {"headline": "Winter boots are back", "message": "In every size.", "offer_url": "https://shop.example/w",
              "customer_name": "Ana", "store_name": "Shop"}
ORDER = {"customer_name": "Ana", "order_number": "A-1", "store_name": "Shop"}
NOTIFICATION = {"recipient_name": "Ana", "messages": [{"sender_name": "Bo", "content": "Hi", "sent_at": "2026-12-01"}],
                "conversation_url": "https://x.example/c/1", "message_count": 1, "store_name": "Shop"}


def queue(code: str, context: dict, store_id: int, to: str = "ana@shop.example", **options) -> int:
    row = queue_email(code, to, context, store_id=store_id, **options)
    db.session.commit()
    return row.id


def unsubscribe_path(message) -> str:
    url = message["List-Unsubscribe"].strip("<>")
    return url[url.index("/u/"):]


def test_marketing_and_conversation_emails_carry_one_click_unsubscribe_and_a_footer_link(
    ctx, app, factory, smtp_sink, manual_dispatch
):
    load_templates()
    store = factory.store()
    smtp_settings(store.id, smtp_sink)
    queue("store_newsletter", NEWSLETTER, store.id)
    queue("new_message_notification", NOTIFICATION, store.id, related_type="conversation", related_id=1)
    queue("order_shipped", ORDER, store.id)
    delivery.deliver_due()
    newsletter, notification, order = smtp_sink.parsed()
    base = app.config["PUBLIC_BASE_URL"]
    for message in (newsletter, notification):
        assert re.fullmatch(rf"<{re.escape(base)}/u/[\w.-]+>", message["List-Unsubscribe"])
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        url = message["List-Unsubscribe"].strip("<>")
        html = message.get_body(("html",)).get_content()
        text = message.get_body(("plain",)).get_content()
        assert f'href="{url}"' in html  # the footer link, not rewritten by click tracking
        assert url in text
    assert "subscribed to news" in newsletter.get_body(("plain",)).get_content()
    assert "take part in a conversation" in notification.get_body(("plain",)).get_content()
    assert order["List-Unsubscribe"] is None and "/u/" not in order.get_body(("plain",)).get_content()


def test_the_one_click_post_unsubscribes_without_a_session_or_csrf_token_and_a_replay_changes_nothing(
    app, client, factory, smtp_sink, manual_dispatch
):
    store = factory.store()
    with app.app_context():
        load_templates()
        smtp_settings(store.id, smtp_sink)
        queue("store_newsletter", NEWSLETTER, store.id)
        delivery.deliver_due()
    path = unsubscribe_path(smtp_sink.parsed()[0])
    for _ in range(2):  # the provider's POST, then a replay of it
        response = client.post(path, data="List-Unsubscribe=One-Click",
                               content_type="application/x-www-form-urlencoded")
        assert response.status_code == 200 and "You are unsubscribed" in response.get_data(as_text=True)
    with app.app_context():
        rows = db.session.execute(sa.select(EmailSuppression.email, EmailSuppression.store_id, EmailSuppression.scope,
                                            EmailSuppression.reason)).all()
        assert [tuple(r) for r in rows] == [("ana@shop.example", store.id, "marketing", "unsubscribe")]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SuppressionAudit)) == 1
        again = queue("store_newsletter", NEWSLETTER, store.id)
        order = queue("order_shipped", ORDER, store.id)
        assert db.session.get(EmailLog, again).status == "suppressed"
        assert db.session.get(EmailLog, again).error_message.startswith("Suppressed: unsubscribed from marketing")
        assert db.session.get(EmailLog, order).status == "pending"  # transactional: never blocked by it


def test_a_tampered_unsubscribe_link_is_refused_and_changes_nothing(app, client, factory):
    assert client.post("/u/not-a-token").status_code == 400
    assert client.get("/u/eyJlIjoiYUBiLmMifQ.forged").status_code == 400
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EmailSuppression)) == 0


def test_the_preference_page_speaks_the_customers_language_and_saves_each_kind(
    app, client, factory, smtp_sink, manual_dispatch
):
    store = factory.store(language="de")
    factory.customer(store, email="ana@shop.example", language="fr")
    with app.app_context():
        load_templates()
        smtp_settings(store.id, smtp_sink)
        queue("store_newsletter", NEWSLETTER, store.id, language="fr")
        delivery.deliver_due()
    message = smtp_sink.parsed()[0]
    assert "Se désabonner" in message.get_body(("plain",)).get_content()  # the footer follows the email's language
    path = unsubscribe_path(message)
    page = client.get(path).get_data(as_text=True)
    assert '<html lang="fr">' in page and "Préférences d’e-mail" in page and "Toujours envoyés" in page

    response = client.post(f"{path}/preferences", data={"conversations": "1"})  # marketing off
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Vos préférences sont enregistrées." in page
    assert re.search(r'name="marketing" value="1"\s*>', page) and 'name="conversations" value="1" checked' in page

    client.post(f"{path}/preferences", data={"everything": "1"})
    client.post(f"{path}/preferences", data={"marketing": "1", "conversations": "1"})  # all back on
    with app.app_context():
        actions = db.session.execute(sa.select(SuppressionAudit.scope, SuppressionAudit.action)
                                     .order_by(SuppressionAudit.id)).all()
        assert [tuple(a) for a in actions] == [("marketing", "added"), ("all", "added"), ("all", "removed"),
                                               ("marketing", "removed")]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EmailSuppression)) == 0
