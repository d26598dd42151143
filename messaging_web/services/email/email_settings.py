"""The store email settings wizard's steps: sender, provider (tier-gated), credentials, signature, verification."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, overload

import sqlalchemy as sa
from flask import current_app

from ...extensions import db
from ...i18n import _l
from ...models import EmailProvider, Store, StoreEmailSettings
from ...models.base import utcnow
from ..errors import PermissionDenied, ValidationError
from ..secrets import SECRET_FIELDS, SecretUnreadable, encrypt_secret, secret_hint
from . import delivery, outbox, provider_events, providers
from .providers.message import UnsafeHeader, check_header_text, normalise_address

API_PROVIDERS = (EmailProvider.SENDGRID.value, EmailProvider.MAILGUN.value, EmailProvider.SES.value)
PROVIDER_LABELS = {"smtp": "SMTP", "sendgrid": "SendGrid", "mailgun": "Mailgun", "ses": "Amazon SES"}
MAILGUN_REGIONS = ("us", "eu")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOSTNAME = re.compile(rf"^(?=.{{1,253}}$)({_LABEL}\.)*{_LABEL}$|^\d{{1,3}}(\.\d{{1,3}}){{3}}$")
AWS_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
SNS_TOPIC_ARN = re.compile(r"^arn:aws(-[a-z]+)*:sns:[a-z]{2}(-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,256}$")
SECRET_FIELDS_BY_PROVIDER = {
    "smtp": ("smtp_password",), "sendgrid": ("sendgrid_api_key",), "mailgun": ("mailgun_api_key",),
    "ses": ("ses_secret_access_key",),
}
UPGRADE_EXPLANATION = _l("SendGrid, Mailgun and Amazon SES are part of the Business plan and above. "
                         "Upgrade your plan to send through them; SMTP works on every plan.")
# A missing secret of the chosen provider, by field.
_ENTER_SECRET = {
    "smtp_password": _l("Enter the password."),
    "sendgrid_api_key": _l("Enter the sendgrid api key."),
    "mailgun_api_key": _l("Enter the mailgun api key."),
    "ses_secret_access_key": _l("Enter the secret access key."),
}


def _header_problem(exc: UnsafeHeader, what: str):
    """The refusal of a sender field, in the reader's language (the English of `exc` is the logs')."""
    reason = exc.detail
    messages = {
        "sender address": {
            "encoding": _l("The sender address contains an encoded word that cannot be read."),
            "line_break": _l("The sender address must not contain line breaks or NUL characters."),
            "missing": _l("The sender address is missing."),
            "not_one": _l("The sender address must be exactly one email address."),
            "invalid": _l("The sender address is not a valid email address: %(reason)s", reason=reason),
        },
        "reply-to address": {
            "encoding": _l("The reply-to address contains an encoded word that cannot be read."),
            "line_break": _l("The reply-to address must not contain line breaks or NUL characters."),
            "missing": _l("The reply-to address is missing."),
            "not_one": _l("The reply-to address must be exactly one email address."),
            "invalid": _l("The reply-to address is not a valid email address: %(reason)s", reason=reason),
        },
        "sender name": {
            "encoding": _l("The sender name contains an encoded word that cannot be read."),
            "line_break": _l("The sender name must not contain line breaks or NUL characters."),
        },
        "username": {
            "encoding": _l("The username contains an encoded word that cannot be read."),
            "line_break": _l("The username must not contain line breaks or NUL characters."),
        },
    }
    kind = "encoding" if exc.kind == "charset" else exc.kind
    return messages.get(what, {}).get(kind) or str(exc)


def _empty(what: str):
    return {"sender name": _l("The sender name is empty."), "username": _l("The username is empty.")}.get(
        what, f"The {what} is empty."
    )


def _too_long(what: str, max_length: int):
    if what == "sender name":
        return _l("The sender name is longer than %(num)d characters.", num=max_length)
    if what == "username":
        return _l("The username is longer than %(num)d characters.", num=max_length)
    return f"The {what} is longer than {max_length} characters."


def settings_for(store: Store) -> StoreEmailSettings | None:
    return db.session.scalar(sa.select(StoreEmailSettings).where(StoreEmailSettings.store_id == store.id))


def allowed_providers(store: Store) -> list[str]:
    if store.tier_enum.allows_api_providers:
        return EmailProvider.values()
    return [EmailProvider.SMTP.value]


@overload
def _address(value: str | None, field: str, what: str, required: Literal[True] = ...) -> str: ...
@overload
def _address(value: str | None, field: str, what: str, required: bool) -> str | None: ...
def _address(value: str | None, field: str, what: str, required: bool = True) -> str | None:
    value = (value or "").strip()
    if not value and not required:
        return None
    try:
        return normalise_address(value, what)
    except UnsafeHeader as exc:
        raise ValidationError(_header_problem(exc, what), field=field) from None


@overload
def _text(value: str | None, field: str, what: str, max_length: int, required: Literal[True] = ...) -> str: ...
@overload
def _text(value: str | None, field: str, what: str, max_length: int, required: bool) -> str | None: ...
def _text(value: str | None, field: str, what: str, max_length: int, required: bool = True) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise ValidationError(_empty(what), field=field)
        return None
    try:
        check_header_text(value, what)
    except UnsafeHeader as exc:
        raise ValidationError(_header_problem(exc, what), field=field) from None
    if len(value) > max_length:
        raise ValidationError(_too_long(what, max_length), field=field)
    return value


def _unverify(settings: StoreEmailSettings) -> None:
    settings.is_verified = False
    settings.last_verified_at = None
    settings.verification_error = None


def save_sender(store: Store, from_email: str, from_name: str, reply_to_email: str | None) -> StoreEmailSettings:
    """Step 1; creates the settings row on first save."""
    from_email = _address(from_email, "from_email", "sender address")
    from_name = _text(from_name, "from_name", "sender name", 100)
    reply_to_email = _address(reply_to_email, "reply_to_email", "reply-to address", required=False)
    settings = settings_for(store)
    if settings is None:
        settings = StoreEmailSettings(store_id=store.id, provider=EmailProvider.SMTP.value, smtp_port=587,
                                      smtp_use_tls=True, smtp_use_ssl=False, ses_region="eu-west-1",
                                      mailgun_region="us")
        db.session.add(settings)
    if settings.from_email != from_email:
        _unverify(settings)  # a new sender address has not been proven to work
    settings.from_email, settings.from_name, settings.reply_to_email = from_email, from_name, reply_to_email
    _refresh_configured(settings)
    db.session.flush()
    return settings


def save_provider(store: Store, settings: StoreEmailSettings, provider: str) -> StoreEmailSettings:
    if provider not in EmailProvider.values():
        raise ValidationError(_l("Choose a provider."), field="provider")
    if provider not in allowed_providers(store):
        raise PermissionDenied(UPGRADE_EXPLANATION)
    if settings.provider != provider:
        settings.provider = provider
        _unverify(settings)
    _refresh_configured(settings)
    db.session.flush()
    return settings


@dataclass
class Credentials:
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_security: str = "tls"  # tls (STARTTLS), ssl, none
    sendgrid_api_key: str | None = None
    sendgrid_webhook_public_key: str | None = None  # optional, public: shown again, empty removes it
    mailgun_api_key: str | None = None
    mailgun_webhook_signing_key: str | None = None  # optional secret: empty keeps the saved one
    mailgun_domain: str | None = None
    mailgun_region: str = "us"
    ses_access_key_id: str | None = None
    ses_secret_access_key: str | None = None
    ses_region: str | None = None
    ses_sns_topic_arn: str | None = None  # optional: where SES publishes the store's events


def save_credentials(store: Store, settings: StoreEmailSettings, data: Credentials) -> StoreEmailSettings:
    """Step 3, for the chosen provider only. An empty secret field keeps the saved secret."""
    if settings.provider not in allowed_providers(store):
        raise PermissionDenied(UPGRADE_EXPLANATION)
    before = _credential_fingerprint(settings)
    if settings.provider == "smtp":
        host = (data.smtp_host or "").strip().lower()
        if not HOSTNAME.match(host):
            raise ValidationError(_l("Enter the SMTP server's host name, e.g. smtp.example.com."), field="smtp_host")
        if not current_app.config.get("SMTP_ALLOW_INTERNAL_HOSTS") and (host == "localhost" or host.endswith(".local")):
            raise ValidationError(_l("This SMTP server name points to a local network, which is not allowed."),
                                  field="smtp_host")
        if data.smtp_port is None or not 1 <= data.smtp_port <= 65535:
            raise ValidationError(_l("The port is a number between 1 and 65535 (usually 587, or 465 for SSL)."),
                                  field="smtp_port")
        if data.smtp_security not in ("tls", "ssl", "none"):
            raise ValidationError(_l("Choose how to secure the connection."), field="smtp_security")
        settings.smtp_host, settings.smtp_port = host, data.smtp_port
        settings.smtp_username = _text(data.smtp_username, "smtp_username", "username", 255, required=False)
        settings.smtp_use_tls = data.smtp_security == "tls"
        settings.smtp_use_ssl = data.smtp_security == "ssl"
        _keep_or_set_secret(settings, "smtp_password", data.smtp_password)
    elif settings.provider == "sendgrid":
        _keep_or_set_secret(settings, "sendgrid_api_key", data.sendgrid_api_key)
        webhook_key = (data.sendgrid_webhook_public_key or "").strip()
        if webhook_key and (error := provider_events.sendgrid_public_key_error(webhook_key)):
            raise ValidationError(error, field="sendgrid_webhook_public_key")
        settings.sendgrid_webhook_public_key = webhook_key or None
    elif settings.provider == "mailgun":
        domain = (data.mailgun_domain or "").strip().lower()
        if not HOSTNAME.match(domain) or "." not in domain:
            raise ValidationError(_l("Enter your Mailgun sending domain, e.g. mg.example.com."),
                                  field="mailgun_domain")
        if data.mailgun_region not in MAILGUN_REGIONS:
            raise ValidationError(_l("Choose the US or EU region."), field="mailgun_region")
        settings.mailgun_domain, settings.mailgun_region = domain, data.mailgun_region
        _keep_or_set_secret(settings, "mailgun_api_key", data.mailgun_api_key)
        _keep_or_set_secret(settings, "mailgun_webhook_signing_key", data.mailgun_webhook_signing_key)
    elif settings.provider == "ses":
        key_id = (data.ses_access_key_id or "").strip()
        if not re.fullmatch(r"[A-Z0-9]{16,128}", key_id):
            raise ValidationError(_l("Enter the access key id (capital letters and digits, e.g. AKIA…)."),
                                  field="ses_access_key_id")
        region = (data.ses_region or "").strip()
        if not AWS_REGION.match(region):
            raise ValidationError(_l("Enter an AWS region such as eu-west-1."), field="ses_region")
        settings.ses_access_key_id, settings.ses_region = key_id, region
        topic = (data.ses_sns_topic_arn or "").strip()
        if topic and not SNS_TOPIC_ARN.match(topic):
            raise ValidationError(_l("Enter the topic's ARN, e.g. arn:aws:sns:eu-west-1:123456789012:ses-events."),
                                  field="ses_sns_topic_arn")
        settings.ses_sns_topic_arn = topic or None
        _keep_or_set_secret(settings, "ses_secret_access_key", data.ses_secret_access_key)
    missing = _missing_secrets(settings)
    if missing:
        raise ValidationError(_ENTER_SECRET[missing[0]], field=missing[0])
    if _credential_fingerprint(settings) != before:
        _unverify(settings)
    _refresh_configured(settings)
    db.session.flush()
    return settings


def _keep_or_set_secret(settings: StoreEmailSettings, field: str, value: str | None) -> None:
    if value is None or value == "":
        return
    if len(value) > 300 or any(c in value for c in "\r\n\0"):
        raise ValidationError(_l("This value is not valid."), field=field)
    setattr(settings, field, encrypt_secret(value))


def _missing_secrets(settings: StoreEmailSettings) -> list[str]:
    if settings.provider == "smtp":
        return ["smtp_password"] if settings.smtp_username and not settings.smtp_password else []
    return [f for f in SECRET_FIELDS_BY_PROVIDER[settings.provider] if not getattr(settings, f)]


def _credential_fingerprint(settings: StoreEmailSettings) -> tuple:
    return (settings.provider, settings.smtp_host, settings.smtp_port, settings.smtp_username, settings.smtp_password,
            settings.smtp_use_tls, settings.smtp_use_ssl, settings.sendgrid_api_key, settings.mailgun_api_key,
            settings.mailgun_domain, settings.mailgun_region, settings.ses_access_key_id,
            settings.ses_secret_access_key, settings.ses_region)


def credentials_complete(settings: StoreEmailSettings) -> bool:
    if not (settings.from_email and settings.from_name):
        return False
    if settings.provider == "smtp":
        return bool(settings.smtp_host and settings.smtp_port) and not _missing_secrets(settings)
    if settings.provider == "sendgrid":
        return bool(settings.sendgrid_api_key)
    if settings.provider == "mailgun":
        return bool(settings.mailgun_api_key and settings.mailgun_domain)
    if settings.provider == "ses":
        return bool(settings.ses_access_key_id and settings.ses_secret_access_key and settings.ses_region)
    return False


def _refresh_configured(settings: StoreEmailSettings) -> None:
    settings.is_configured = credentials_complete(settings)
    if not settings.is_configured:
        settings.is_verified = False


def save_signature(settings: StoreEmailSettings, signature_text: str | None, signature_html: str | None):
    if len(signature_text or "") > 5000 or len(signature_html or "") > 20000:
        raise ValidationError(_l("The signature is too long."), field="signature_html")
    settings.signature_text = (signature_text or "").strip() or None
    settings.signature_html = (signature_html or "").strip() or None
    db.session.flush()
    return settings


def secret_hints(settings: StoreEmailSettings | None) -> dict[str, str | None]:
    """For "saved, ending in 1234": the last characters of each saved secret, never the secret."""
    if settings is None:
        return {}
    return {field: secret_hint(getattr(settings, field)) for field in SECRET_FIELDS}


def verify_settings(store: Store, settings: StoreEmailSettings, to_email: str, *,
                    user_id: int | None = None) -> providers.DeliveryError | None:
    """Step 5: send the settings_test_email through the store's provider now; record the outcome.

    Returns None on success or the DeliveryError (its message says what failed in plain words).
    """
    if settings.provider not in allowed_providers(store):
        raise PermissionDenied(UPGRADE_EXPLANATION)
    if not settings.is_configured:
        raise ValidationError(_l("Complete the sender and credentials steps first."), field="to_email")
    row = outbox.compose_email(
        "settings_test_email", to_email,
        {"store_name": store.name, "from_name": settings.from_name,
         "provider": PROVIDER_LABELS.get(settings.provider, settings.provider)},
        store_id=store.id, user_id=user_id, related_type="store_email_settings", related_id=settings.id,
        extra_data={"purpose": "verification"}, use_store_settings=True,
    )
    outcome: providers.DeliveryError | None
    try:
        provider = providers.store_provider(settings, current_app.config)
    except SecretUnreadable as exc:
        outcome = providers.PermanentError(str(exc))
        delivery.mark_failed(db.session, row, str(exc), notify=False)
    else:
        outcome = delivery.send_now(row, provider)
    if outcome is None:
        settings.is_verified = True
        settings.last_verified_at = utcnow()
        settings.verification_error = None
    else:
        settings.is_verified = False
        message = outcome.message
        settings.verification_error = message[:1].upper() + message[1:] + "."
    db.session.flush()
    return outcome
