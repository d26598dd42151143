"""The providers' event webhooks: SendGrid's signed event webhook, Mailgun's webhooks, SES through SNS.

Each POST is verified before anything is read from it: SendGrid signs the timestamp and the raw body
with ECDSA (P-256, SHA-256) and publishes the public key in the account's settings; Mailgun signs a
timestamp and a token with HMAC-SHA256 under the account's webhook signing key. A signature older
than WEBHOOK_MAX_AGE_SECONDS is refused, so a captured request cannot be replayed later; a replay
within that window changes nothing, since every transition is monotone.

Amazon SES reports through an SNS topic of the store's AWS account (services/email/sns.py verifies it).

Each store's account posts to its own URL, /webhooks/<provider>/<store slug>, verified with the key
(or, for SES, the topic) the store entered in its settings; the platform's own sender is SMTP or the
file outbox, which have no webhooks. An event names its email by the `email_log_id` our providers
attach to every send (SendGrid's custom_args, Mailgun's user variables) or, for SES, by the message
id SES returned; it moves only a log that this store's own settings sent.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import math
import time
from dataclasses import dataclass

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from flask import current_app

from ...extensions import db
from ...i18n import _l
from ...models import (
    EmailLog,
    EmailProvider,
    NotificationPriority,
    NotificationType,
    Store,
    StoreEmailSettings,
)
from ...models.base import LARGEST_ID, utcnow
from .. import notification_texts, notifications
from ..secrets import SecretUnreadable, decrypt_secret
from ..untrusted_json import parse_untrusted_json
from . import deliverability, sns, suppression, tracking

PROVIDERS = (EmailProvider.SENDGRID.value, EmailProvider.MAILGUN.value, EmailProvider.SES.value)
# What each provider's event means for the log; events not named here (processed, deferred,
# unsubscribes) leave it as it is. A soft bounce (a temporary failure the provider gave up on) leaves the
# log as it is too, but counts towards the address's run (suppression.SoftBounceRun).
SENDGRID_KINDS = {"delivered": "delivered", "open": "opened", "click": "clicked", "bounce": "bounced",
                  "dropped": "bounced", "spamreport": "complained"}
MAILGUN_KINDS = {"delivered": "delivered", "opened": "opened", "clicked": "clicked", "rejected": "bounced",
                 "complained": "complained"}
# SES event publishing says eventType, the older identity notifications notificationType.
SES_KINDS = {"Delivery": "delivered", "Open": "opened", "Click": "clicked", "Reject": "bounced",
             "Complaint": "complained"}


class WebhookRefused(Exception):
    """The request is not from the provider account it claims (403), or cannot be read (400)."""

    def __init__(self, message: str, status: int = 403):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ProviderEvent:
    log_id: int | None  # SendGrid and Mailgun name our log id ...
    kind: str  # delivered | opened | clicked | bounced | soft_bounced | complained (reported as spam)
    occurred_at: dt.datetime
    reason: str | None = None
    provider_message_id: str | None = None  # ... SES names the message id it gave at sending


@dataclass(frozen=True)
class WebhookKeys:
    sendgrid_public_key: str | None
    mailgun_signing_key: str | None
    ses_topic_arn: str | None


def sendgrid_public_key_error(value: str):
    """Why `value` is not a SendGrid verification key (base64 of a P-256 public key), or None."""
    try:
        key = load_der_public_key(base64.b64decode(value.strip(), validate=True))
    except (ValueError, binascii.Error, TypeError):
        return _NOT_A_SENDGRID_KEY
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return _NOT_A_SENDGRID_KEY
    return None


_NOT_A_SENDGRID_KEY = _l("This is not a verification key: copy it from SendGrid's signed event webhook settings.")


def store_keys(slug: str) -> tuple[int, WebhookKeys] | None:
    """The store's id and the keys of its own provider account, or None for an unknown store."""
    settings = StoreEmailSettings
    row = db.session.execute(
        sa.select(
            Store.id, settings.sendgrid_webhook_public_key, settings.mailgun_webhook_signing_key,
            settings.ses_sns_topic_arn,
        )
        .outerjoin(StoreEmailSettings, settings.store_id == Store.id)
        .where(Store.slug == slug)
    ).first()
    if row is None:
        return None
    try:
        mailgun_key = decrypt_secret(row.mailgun_webhook_signing_key)
    except SecretUnreadable:
        # Saved under a key no longer configured: as good as none (the provider is told 403, and retries).
        current_app.logger.error("The Mailgun webhook signing key of store %s cannot be decrypted", slug)
        mailgun_key = None
    return row.id, WebhookKeys(row.sendgrid_webhook_public_key, mailgun_key, row.ses_sns_topic_arn)


def check_fresh(timestamp: str | None) -> None:
    try:
        signed_at = float(timestamp or "")
    except ValueError:
        signed_at = math.nan
    if not math.isfinite(signed_at):
        raise WebhookRefused("The signature has no valid timestamp.")
    if abs(time.time() - signed_at) > current_app.config["WEBHOOK_MAX_AGE_SECONDS"]:
        raise WebhookRefused("The signature is too old.")


def _json(body: bytes):
    try:
        return parse_untrusted_json(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRefused("The body is not JSON.", 400) from None


def _object(value: object) -> dict:
    """`value` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _kind(kinds: dict[str, str], name: object) -> str | None:
    """What the provider's event `name` means for the log, if anything; the name is whatever the JSON holds (a
    list is no event name, and no dictionary key)."""
    return kinds.get(name) if isinstance(name, str) else None


def _log_id(value) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: JSON's 1e999 is float infinity
        return None
    return number if 0 < number <= LARGEST_ID else None


def _moment(value) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(float(value), dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return utcnow()


def _text(value) -> str | None:
    """A reason from the provider, as the log can store it (PostgreSQL text holds no NUL)."""
    text = str(value).replace("\x00", "")[:1000] if value is not None else ""
    return text or None


def sendgrid_events(body: bytes, signature: str | None, timestamp: str | None, public_key: str | None):
    """The events of a verified SendGrid POST (a JSON list of events)."""
    if not public_key:
        raise WebhookRefused("No SendGrid verification key is configured for this webhook.")
    if not signature:
        raise WebhookRefused("The request is not signed.")
    check_fresh(timestamp)
    assert timestamp is not None  # check_fresh refuses a missing one
    try:
        key = load_der_public_key(base64.b64decode(public_key.strip()))
        if not isinstance(key, ec.EllipticCurvePublicKey):  # no other kind of key verifies an ECDSA signature
            raise InvalidSignature
        key.verify(base64.b64decode(signature), timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, binascii.Error, TypeError, AttributeError):
        raise WebhookRefused("The signature does not match.") from None
    payload = _json(body)
    if not isinstance(payload, list):
        raise WebhookRefused("SendGrid sends a list of events.", 400)
    events = []
    for item in payload:
        if not isinstance(item, dict):
            continue
        kind, log_id = _kind(SENDGRID_KINDS, item.get("event")), _log_id(item.get("email_log_id"))
        if kind == "bounced" and item.get("event") == "bounce" and item.get("type") == "blocked":
            kind = "soft_bounced"  # SendGrid's "blocked": refused for now (reputation, a full mailbox)
        reason = _text(item.get("reason")) or _text(item.get("response"))
        if item.get("event") == "dropped" and not (reason or "").startswith(("Bounced", "Invalid")):
            kind = "dropped"  # SendGrid's own list (an unsubscribe, a complaint): not a bounce of the address
        if kind and log_id:
            events.append(ProviderEvent(log_id, kind, _moment(item.get("timestamp")), reason))
    return events


def mailgun_events(body: bytes, signing_key: str | None):
    """The event of a verified Mailgun POST ({"signature": {...}, "event-data": {...}})."""
    if not signing_key:
        raise WebhookRefused("No Mailgun signing key is configured for this webhook.")
    payload = _json(body)
    signed = payload.get("signature") if isinstance(payload, dict) else None
    if not isinstance(signed, dict):
        raise WebhookRefused("The request is not signed.")
    timestamp, token, signature = (str(signed.get(k) or "") for k in ("timestamp", "token", "signature"))
    check_fresh(timestamp)
    expected = hmac.new(signing_key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    if not token or not hmac.compare_digest(expected, signature):
        raise WebhookRefused("The signature does not match.")
    data = payload.get("event-data")
    if not isinstance(data, dict):
        raise WebhookRefused("The event has no event-data.", 400)
    event = data.get("event")
    kind = _kind(MAILGUN_KINDS, event)
    if event == "failed":
        kind = "bounced" if data.get("severity") == "permanent" else "soft_bounced"
    variables = _object(data.get("user-variables"))
    log_id = _log_id(variables.get("email_log_id"))
    if not (kind and log_id):
        return []
    status = _object(data.get("delivery-status"))
    reason = _text(status.get("description")) or _text(status.get("message")) or _text(data.get("reason"))
    return [ProviderEvent(log_id, kind, _moment(data.get("timestamp")), reason)]


def ses_events(body: bytes, topic_arn: str | None):
    """The event of a verified SNS POST from the store's topic. A subscription confirmation is confirmed."""
    if not topic_arn:
        raise WebhookRefused("No Amazon SNS topic is configured for this webhook.")
    try:
        message = sns.verified_message(_json(body), topic_arn)
        if message["Type"] == "SubscriptionConfirmation":
            sns.confirm_subscription(message)
            return []
    except sns.SnsRefused as exc:
        raise WebhookRefused(str(exc), exc.status) from None
    if message["Type"] != "Notification":
        return []
    try:
        event = parse_untrusted_json(message.get("Message") or "")
    except ValueError:
        return []
    if not isinstance(event, dict):
        return []
    name = event.get("eventType") or event.get("notificationType")
    details = _object(event.get(str(name).lower()))
    kind = _kind(SES_KINDS, name)
    reason = None
    if name == "Bounce":
        # SES reports a transient bounce once it has given up retrying it.
        kind = "bounced" if details.get("bounceType") == "Permanent" else "soft_bounced"
        recipients = details.get("bouncedRecipients") or [{}]
        first = recipients[0] if isinstance(recipients[0], dict) else {}
        reason = _text(first.get("diagnosticCode")) or _text(details.get("bounceSubType"))
    elif name == "Reject":
        reason = _text(details.get("reason"))
    mail = _object(event.get("mail"))
    message_id = mail.get("messageId")
    if not (kind and isinstance(message_id, str) and message_id):
        return []
    return [ProviderEvent(None, kind, _iso_moment(details.get("timestamp") or mail.get("timestamp")), reason,
                          provider_message_id=message_id.replace("\x00", "")[:255])]


def _iso_moment(value) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    except (ValueError, OverflowError):  # OverflowError: outside years 1 to 9999 in UTC, which no database reads back
        return utcnow()


def apply_events(events: list[ProviderEvent], *, provider: str, store_id: int) -> int:
    """Move the logs the events name, among those the store's own account sent; returns how many applied."""
    if not events:
        return 0
    log_ids = {e.log_id for e in events if e.log_id}
    message_ids = {e.provider_message_id for e in events if e.provider_message_id}
    found = db.session.scalars(
        sa.select(EmailLog)
        .where(
            sa.or_(EmailLog.id.in_(log_ids), EmailLog.provider_message_id.in_(message_ids)),
            EmailLog.provider == provider, EmailLog.store_id == store_id, EmailLog.via_store_settings.is_(True),
        )
        .order_by(EmailLog.id)
        .with_for_update()
    ).all()
    by_id, by_message_id = {r.id: r for r in found}, {r.provider_message_id: r for r in found}
    applied = 0
    for event in sorted(events, key=lambda e: e.occurred_at):
        row = by_id.get(event.log_id) if event.log_id else by_message_id.get(event.provider_message_id)
        if row is None:
            continue
        if event.kind == "delivered":
            tracking.mark_delivered(row, event.occurred_at)
            suppression.record_delivery(row)
        elif event.kind == "opened":
            tracking.mark_opened(row, event.occurred_at)
        elif event.kind == "clicked":
            tracking.mark_clicked(row, event.occurred_at)
        elif event.kind == "bounced":
            tracking.mark_bounced(row, event.reason)
            suppression.record_hard_bounce(row, event.occurred_at, event.reason)
        elif event.kind == "dropped":
            tracking.mark_bounced(row, event.reason)
        elif event.kind == "soft_bounced":
            suppression.record_soft_bounce(row, event.occurred_at)
        elif event.kind == "complained":
            _record_complaint(row, event.occurred_at)
            suppression.record_complaint(row, event.occurred_at)
        applied += 1
    db.session.flush()
    if any(event.kind in ("bounced", "complained") for event in events):
        deliverability.check_store(store_id)
    return applied


COMPLAINT = "The recipient reported this email as spam."


def _record_complaint(row: EmailLog, occurred_at: dt.datetime) -> None:
    """The email keeps its status (it was delivered); the log says so, and the platform's admins hear of it
    once while they have not read the last such notice for the store: complaints hurt every store's
    deliverability, and a store with many soon has its emails refused."""
    if row.complained_at is not None:
        return  # a duplicate of a complaint already recorded
    row.complained_at = occurred_at
    row.error_message = COMPLAINT if not row.error_message else f"{row.error_message} {COMPLAINT}"[:1000]
    notifications.raise_admin_notification_once(
        NotificationType.STORE_ISSUE,
        text=notification_texts.text(
            "spam_complaint", store=db.session.get_one(Store, row.store_id).name, recipient=row.recipient_email,
            subject=row.subject, id=row.id,
        ),
        priority=NotificationPriority.HIGH, action_url=f"/admin/email-log/{row.id}",
        metadata={"email_log_id": row.id, "store_id": row.store_id, "kind": "spam_complaint"},
    )


def receive(provider: str, store_slug: str, body: bytes, headers) -> int:
    """Verify and apply one webhook POST to a store's endpoint; WebhookRefused if it cannot be trusted or read."""
    found = store_keys(store_slug) if provider in PROVIDERS else None
    if found is None:
        raise WebhookRefused("No such webhook.", 404)
    store_id, keys = found
    if provider == EmailProvider.SENDGRID.value:
        events = sendgrid_events(
            body, headers.get("X-Twilio-Email-Event-Webhook-Signature"),
            headers.get("X-Twilio-Email-Event-Webhook-Timestamp"), keys.sendgrid_public_key,
        )
    elif provider == EmailProvider.MAILGUN.value:
        events = mailgun_events(body, keys.mailgun_signing_key)
    else:
        events = ses_events(body, keys.ses_topic_arn)
    return apply_events(events, provider=provider, store_id=store_id)


def webhook_url(provider: str, store_slug: str) -> str:
    """The URL a store pastes into its provider's webhook settings."""
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/webhooks/{provider}/{store_slug}"
