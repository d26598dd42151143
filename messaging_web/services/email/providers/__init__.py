"""Email providers behind one interface, chosen from a registry by configuration (store settings or env)."""
from __future__ import annotations

from ....models import StoreEmailSettings
from ...secrets import decrypt_secret
from .base import AmbiguousDelivery, DeliveryError, OutgoingEmail, PermanentError, Provider, TransientError
from .file import FileProvider
from .mailgun import MailgunProvider
from .sendgrid import SendGridProvider
from .ses import SesProvider
from .smtp import SmtpProvider

PROVIDERS: dict[str, type[Provider]] = {
    "smtp": SmtpProvider,
    "sendgrid": SendGridProvider,
    "mailgun": MailgunProvider,
    "ses": SesProvider,
    "file": FileProvider,
}

# Platform mail (and stores without verified settings) goes through the operator's sender.
PLATFORM_PROVIDERS: dict[str, type[FileProvider] | type[SmtpProvider]] = {"file": FileProvider, "smtp": SmtpProvider}


def platform_provider(config) -> Provider:
    name = config.get("MAIL_PROVIDER", "file")
    if name not in PLATFORM_PROVIDERS:
        raise ValueError(f"MAIL_PROVIDER must be one of {', '.join(PLATFORM_PROVIDERS)}, not {name!r}")
    return PLATFORM_PROVIDERS[name].from_app_config(config)


def store_provider(settings: StoreEmailSettings, config) -> Provider:
    """The provider a store's settings describe, with its secrets decrypted for this use only."""
    timeout = float(config.get("PROVIDER_TIMEOUT", 10.0))
    if settings.provider == "smtp":
        return SmtpProvider(
            settings.smtp_host, settings.smtp_port or 587, settings.smtp_username,
            decrypt_secret(settings.smtp_password), use_tls=settings.smtp_use_tls, use_ssl=settings.smtp_use_ssl,
            timeout=float(config.get("SMTP_TIMEOUT", timeout)),
            allow_internal_hosts=config.get("SMTP_ALLOW_INTERNAL_HOSTS", False),
        )
    if settings.provider == "sendgrid":
        return SendGridProvider(decrypt_secret(settings.sendgrid_api_key), config["SENDGRID_API_URL"], timeout)
    if settings.provider == "mailgun":
        return MailgunProvider(
            decrypt_secret(settings.mailgun_api_key), settings.mailgun_domain, settings.mailgun_region or "us",
            {"us": config["MAILGUN_API_URL_US"], "eu": config["MAILGUN_API_URL_EU"]}, timeout,
        )
    if settings.provider == "ses":
        return SesProvider(
            settings.ses_access_key_id, decrypt_secret(settings.ses_secret_access_key), settings.ses_region,
            config.get("SES_ENDPOINT_URL"), timeout,
        )
    raise ValueError(f"unknown provider {settings.provider!r}")


__all__ = [
    "PROVIDERS", "AmbiguousDelivery", "DeliveryError", "OutgoingEmail", "PermanentError", "Provider",
    "TransientError", "platform_provider", "store_provider",
]
