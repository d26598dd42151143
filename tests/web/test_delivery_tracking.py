"""Open pixel and tracked links: signed, applied when sending, monotone status changes, 400 when tampered."""
from __future__ import annotations

import re

import sqlalchemy as sa

from messaging_web.extensions import db
from messaging_web.models import EmailLog
from messaging_web.services.email import delivery
from messaging_web.services.email.outbox import queue_email
from tests.support.email_data import load_templates

pytest_plugins = ["tests.support.fixtures"]


def sent_email(app) -> tuple[int, str]:
    """An order_shipped email delivered into the file outbox; returns its log id and the HTML that went out."""
    with app.app_context():
        load_templates()
        row = queue_email("order_shipped", "kim@customer.example",
                          {"customer_name": "Kim", "order_number": "A-1", "tracking_url": "https://track.example/A-1?x=1&y=2"})
        db.session.commit()
        log_id = row.id
        sent = db.session.get(EmailLog, log_id)
        assert sent.status == "sent"
        html = delivery.outgoing_email(sent).html
        assert "https://track.example" in sent.body_html  # the log keeps the email as written
    return log_id, html


def paths(html: str):
    clicks = re.findall(r'href="http://127\.0\.0\.1:5000(/t/c/[^"]+)"', html)
    [pixel] = re.findall(r'src="http://127\.0\.0\.1:5000(/t/o/[^"]+\.gif)"', html)
    return clicks, pixel


def status(app, log_id):
    with app.app_context():
        row = db.session.get(EmailLog, log_id)
        return row.status, row.opened_at, row.clicked_at


def test_opening_then_clicking_moves_the_status_forward(app, client):
    log_id, html = sent_email(app)
    clicks, pixel = paths(html)
    assert clicks and "track.example" not in html
    response = client.get(pixel)
    assert response.status_code == 200 and response.mimetype == "image/gif"
    state, opened_at, clicked_at = status(app, log_id)
    assert state == "opened" and opened_at is not None and clicked_at is None
    response = client.get(clicks[0])
    assert response.status_code == 302 and response.headers["Location"] == "https://track.example/A-1?x=1&y=2"
    assert status(app, log_id)[0] == "clicked"
    # A late open never moves it back.
    client.get(pixel)
    assert status(app, log_id)[0] == "clicked"


def test_a_click_without_the_pixel_also_records_the_open(app, client):
    log_id, html = sent_email(app)
    clicks, _pixel = paths(html)
    client.get(clicks[0])
    state, opened_at, clicked_at = status(app, log_id)
    assert state == "clicked" and opened_at is not None and clicked_at is not None


def test_a_tampered_token_gets_400_and_no_redirect(app, client):
    _log_id, html = sent_email(app)
    clicks, pixel = paths(html)
    response = client.get(clicks[0][:-3] + "abc")
    assert response.status_code == 400 and "Location" not in response.headers
    assert client.get(pixel.replace(".gif", "x.gif")).status_code == 400


def test_failed_emails_stay_failed(app, client):
    log_id, html = sent_email(app)
    with app.app_context():
        db.session.execute(sa.update(EmailLog).where(EmailLog.id == log_id).values(status="failed"))
        db.session.commit()
    clicks, pixel = paths(html)
    client.get(pixel)
    assert client.get(clicks[0]).status_code == 302
    assert status(app, log_id)[0] == "failed"


def test_a_long_link_with_accents_goes_through_its_token_unchanged(app, client):
    from urllib.parse import unquote

    from messaging_web.services.email import tracking

    target = "https://shop.example/catégorie/" + "chaussures-de-trail-" * 20 + "?taille=42&couleur=bleu"
    with app.test_request_context():
        html = tracking.add_tracking(f'<p><a href="{target}">Voir</a></p>', 7)
    [click] = re.findall(r'href="http://127\.0\.0\.1:5000(/t/c/[^"]+)"', html)
    response = client.get(click)
    # The Location header carries the address as a URI: the accent percent-encoded.
    assert response.status_code == 302 and unquote(response.headers["Location"]) == target
