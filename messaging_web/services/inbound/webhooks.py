"""The providers' inbound webhooks: each turns a provider's POST into the raw email and its envelope, for
receiving.receive, once the POST is shown to come from the provider.

- SendGrid Inbound Parse does not sign its posts: the URL carries a secret (SENDGRID_INBOUND_SECRET), compared
  in constant time; keep the URL as secret as a password (HTTPS only). Configure "POST the raw, full MIME
  message".
- Mailgun routes (forward() to a URL ending in "mime", so the raw MIME comes as `body-mime`): HMAC-SHA256 of
  timestamp + token under MAILGUN_INBOUND_SIGNING_KEY, refused when older than WEBHOOK_MAX_AGE_SECONDS (as the
  event webhooks); a replayed post within that window posts nothing new, since receive is idempotent.
- Amazon SES receiving through SNS (topic SES_INBOUND_TOPIC_ARN): the SNS signature is verified as for the
  event webhooks; the email is in the notification (an SNS action) or in S3 (an S3 action then SNS), read
  with boto3.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

from flask import current_app

from ..email import provider_events, sns
from ..untrusted_json import parse_untrusted_json


class InboundRefused(provider_events.WebhookRefused):
    """Not a post of the configured provider (403), the endpoint is off (404), or malformed (400)."""


@dataclass(frozen=True)
class ReceivedPost:
    raw: bytes | None  # None: nothing to receive (an SNS subscription confirmation, say)
    envelope_sender: str | None = None
    envelope_recipients: tuple[str, ...] = ()


def _text_field(form, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def sendgrid_post(secret: str, form) -> ReceivedPost:
    expected = current_app.config.get("SENDGRID_INBOUND_SECRET") or ""
    if not expected:
        raise InboundRefused("SendGrid inbound parse is not configured.", 404)
    if not hmac.compare_digest(secret.encode(), expected.encode()):
        raise InboundRefused("Wrong secret.")
    raw = form.get("email")
    if not isinstance(raw, str) or not raw:
        raise InboundRefused("No raw email: turn on \"POST the raw, full MIME message\".", 400)
    sender: str | None = None
    recipients: tuple[str, ...] = ()
    try:
        envelope = parse_untrusted_json(_text_field(form, "envelope") or "{}")
    except ValueError:
        envelope = {}
    if isinstance(envelope, dict):
        sender = envelope.get("from") if isinstance(envelope.get("from"), str) else None
        to = envelope.get("to")
        recipients = tuple(a for a in to if isinstance(a, str))[:50] if isinstance(to, list) else ()
    # Flask decoded the field as UTF-8 (SendGrid sends the raw message in its own charset): back to bytes.
    return ReceivedPost(raw.encode("utf-8", "surrogateescape"), sender, recipients)


def mailgun_post(form) -> ReceivedPost:
    key = current_app.config.get("MAILGUN_INBOUND_SIGNING_KEY") or ""
    if not key:
        raise InboundRefused("Mailgun inbound routes are not configured.", 404)
    timestamp, token, signature = (_text_field(form, k) for k in ("timestamp", "token", "signature"))
    try:
        provider_events.check_fresh(timestamp)
    except provider_events.WebhookRefused as exc:
        raise InboundRefused(str(exc)) from None
    expected = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    if not token or not hmac.compare_digest(expected, signature):
        raise InboundRefused("The signature does not match.")
    raw = _text_field(form, "body-mime")
    if not raw:
        raise InboundRefused("No raw email: forward to a URL ending in \"mime\".", 400)
    recipient = _text_field(form, "recipient")
    return ReceivedPost(raw.encode("utf-8", "surrogateescape"), _text_field(form, "sender") or None,
                        tuple(r.strip() for r in recipient.split(",") if r.strip())[:50])


def ses_post(body: bytes) -> ReceivedPost:
    topic = current_app.config.get("SES_INBOUND_TOPIC_ARN") or ""
    if not topic:
        raise InboundRefused("SES receiving is not configured.", 404)
    try:
        message = sns.verified_message(parse_untrusted_json(body), topic)
        if message["Type"] == "SubscriptionConfirmation":
            sns.confirm_subscription(message)
            return ReceivedPost(None)
    except (ValueError, UnicodeDecodeError):
        raise InboundRefused("The body is not JSON.", 400) from None
    except sns.SnsRefused as exc:
        raise InboundRefused(str(exc), exc.status) from None
    if message["Type"] != "Notification":
        return ReceivedPost(None)
    try:
        notification = parse_untrusted_json(message.get("Message") or "")
    except ValueError:
        raise InboundRefused("The notification is not JSON.", 400) from None
    if not isinstance(notification, dict) or notification.get("notificationType") != "Received":
        return ReceivedPost(None)
    mail = _object(notification.get("mail"))
    action = _object(_object(notification.get("receipt")).get("action"))
    sender = mail.get("source") if isinstance(mail.get("source"), str) else None
    destination = mail.get("destination")
    recipients = tuple(a for a in destination if isinstance(a, str))[:50] if isinstance(destination, list) else ()
    return ReceivedPost(_ses_content(notification, action), sender, recipients)


def _object(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _ses_content(notification: dict, action: dict) -> bytes:
    if action.get("type") == "S3":
        bucket, key = action.get("bucketName"), action.get("objectKey")
        if not (isinstance(bucket, str) and isinstance(key, str) and bucket and key):
            raise InboundRefused("The S3 action names no object.", 400)
        return _read_s3(bucket, key)
    content = notification.get("content")
    if not isinstance(content, str):
        raise InboundRefused("The notification carries no email (use an SNS action, or S3 then SNS).", 400)
    if action.get("encoding") == "BASE64":
        try:
            return base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise InboundRefused("The email is not valid base64.", 400) from None
    return content.encode("utf-8", "surrogateescape")


def _read_s3(bucket: str, key: str) -> bytes:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    config = current_app.config
    client = boto3.client("s3", region_name=config.get("SES_INBOUND_S3_REGION"),
                          endpoint_url=config.get("SES_INBOUND_S3_ENDPOINT_URL"))
    limit = 2 * int(config["INBOUND_EMAIL_MAX_BYTES"])
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        data = body.read(limit + 1)
    except (BotoCoreError, ClientError) as exc:
        current_app.logger.warning("Reading an SES email from s3://%s/%s failed: %s", bucket, key, exc)
        # 5xx-like: SNS retries, and the email is still in the bucket.
        raise InboundRefused("The email could not be read from S3 just now.", 503) from None
    return data
