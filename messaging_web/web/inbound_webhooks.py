"""The providers' inbound email webhooks (reply by email): /inbound-email/sendgrid/<secret>,
/inbound-email/mailgun/mime and /inbound-email/ses. Authenticated by the provider's signature or the URL's
secret (services/inbound/webhooks.py), so no CSRF token; every email they carry takes receiving.receive."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, request

from ..extensions import csrf, db
from ..models import InboundSource
from ..services.inbound import webhooks
from ..services.inbound.addresses import inbound_domain
from ..services.inbound.receiving import receive

bp = Blueprint("inbound_webhooks", __name__, url_prefix="/inbound-email")
csrf.exempt(bp)


@bp.before_request
def _limits():
    if inbound_domain() is None:
        abort(404)
    # An email up to twice the limit is read (and recorded as too large); a bigger body is a 413 unread.
    limit = 2 * int(current_app.config["INBOUND_EMAIL_MAX_BYTES"]) + 1024 * 1024
    request.max_content_length = limit
    request.max_form_memory_size = limit  # the raw email arrives as a form field, not a file


def _receive(source: InboundSource, post: webhooks.ReceivedPost):
    if post.raw is None:
        return jsonify(received=False)
    row = receive(post.raw, source=source, envelope_sender=post.envelope_sender,
                  envelope_recipients=post.envelope_recipients)
    db.session.commit()
    return jsonify(received=True, status=row.status)


def _refused(exc: webhooks.InboundRefused):
    db.session.rollback()
    return jsonify(error=str(exc)), exc.status


@bp.post("/sendgrid/<secret>")
def sendgrid(secret: str):
    try:
        post = webhooks.sendgrid_post(secret, request.form)
    except webhooks.InboundRefused as exc:
        return _refused(exc)
    return _receive(InboundSource.SENDGRID, post)


@bp.post("/mailgun/mime")
def mailgun():
    try:
        post = webhooks.mailgun_post(request.form)
    except webhooks.InboundRefused as exc:
        return _refused(exc)
    return _receive(InboundSource.MAILGUN, post)


@bp.post("/ses")
def ses():
    try:
        post = webhooks.ses_post(request.get_data())
    except webhooks.InboundRefused as exc:
        return _refused(exc)
    return _receive(InboundSource.SES, post)
