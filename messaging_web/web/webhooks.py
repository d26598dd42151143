"""Event webhooks a store's SendGrid or Mailgun account calls: /webhooks/<provider>/<store slug>.
Signed by the provider (services/email/provider_events.py), so no CSRF token."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from .. import metrics
from ..extensions import csrf, db
from ..services.email import provider_events

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
csrf.exempt(bp)


# Providers post batches of well under this; anyone may post here, and Mailgun's signature is inside
# the JSON, so the body is parsed before it is trusted: keep it small.
WEBHOOK_MAX_BYTES = 1024 * 1024


@bp.post("/<provider>/<slug>")
def store_events(provider: str, slug: str):
    request.max_content_length = WEBHOOK_MAX_BYTES  # a larger body is a 413 before it is read
    try:
        applied = provider_events.receive(provider, slug, request.get_data(), request.headers)
    except provider_events.WebhookRefused as exc:
        db.session.rollback()
        metrics.WEBHOOK_EVENTS.labels(_provider_label(provider), f"refused {exc.status}").inc()
        # A refusal is a 4xx: the provider shows it in its delivery log (and retries a while).
        return jsonify(error=str(exc)), exc.status
    db.session.commit()
    metrics.WEBHOOK_EVENTS.labels(_provider_label(provider), "applied").inc()
    return jsonify(applied=applied)


def _provider_label(provider: str) -> str:
    # A label per provider we know; whatever else is typed in the URL is one label.
    return provider if provider in ("sendgrid", "mailgun", "ses") else "other"

