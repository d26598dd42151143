"""Test data for the email pipeline: the shipped templates loaded, store email settings saved."""
from __future__ import annotations

import sqlalchemy as sa

from messaging_web.extensions import db
from messaging_web.models import EmailTemplate, StoreEmailSettings
from messaging_web.services.secrets import encrypt_secret
from tests.support.mail_servers import SMTP_PASSWORD, SMTP_USER


def load_templates() -> None:
    """The shipped default templates, committed (call inside an app context)."""
    from messaging_web.services import template_catalog

    if not db.session.scalar(sa.select(EmailTemplate.id).limit(1)):
        template_catalog.load_default_templates()
        db.session.commit()


class _NoSmtpServer:
    host, port = "127.0.0.1", 1


# The SMTP fields of settings that send through an API provider (SendGrid, Mailgun, SES): never used.
NO_SMTP_SERVER = _NoSmtpServer()


def smtp_settings(store_id: int, sink, *, verified: bool = True, password: str = SMTP_PASSWORD,
                  **overrides) -> StoreEmailSettings:
    """Verified SMTP settings pointing at a local aiosmtpd sink, committed."""
    settings = StoreEmailSettings(
        store_id=store_id, from_email="shop@store.example", from_name="The Store", reply_to_email="help@store.example",
        provider="smtp", smtp_host=sink.host, smtp_port=sink.port, smtp_username=SMTP_USER,
        smtp_password=encrypt_secret(password), smtp_use_tls=False, smtp_use_ssl=False,
        signature_text="The Store team", signature_html="<p><b>The Store</b> team</p>",
        is_configured=True, is_verified=verified,
    )
    for key, value in overrides.items():
        setattr(settings, key, value)
    db.session.add(settings)
    db.session.commit()
    return settings
