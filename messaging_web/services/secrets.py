"""Encryption at rest for provider credentials: MultiFernet keys from MESSAGING_ENCRYPTION_KEYS, rotation."""
from __future__ import annotations

import base64
import hashlib

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

from ..extensions import db
from ..models import StoreEmailSettings

# The StoreEmailSettings columns that hold encrypted values.
SECRET_FIELDS = (
    "smtp_password", "sendgrid_api_key", "mailgun_api_key", "ses_secret_access_key", "mailgun_webhook_signing_key",
)

HOW_TO_MAKE_A_KEY = (
    "MESSAGING_ENCRYPTION_KEYS is not set. It encrypts provider passwords and API keys at rest. "
    "Make a key with `python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'` "
    "and set MESSAGING_ENCRYPTION_KEYS to it (comma-separated, newest first, to rotate keys)."
)


class SecretUnreadable(Exception):
    """A stored secret was encrypted with a key that is no longer configured."""


def configured_keys(config) -> list[bytes]:
    raw = config.get("MESSAGING_ENCRYPTION_KEYS") or ""
    keys = [part.strip().encode() for part in raw.split(",") if part.strip()]
    if keys:
        return keys
    if config.get("MESSAGING_ENV") in {"development", "testing"}:
        # Only for the embedded setup: a stable key derived from SECRET_KEY, so `make run` needs nothing.
        digest = hashlib.sha256(b"messaging-web-dev-encryption:" + str(config.get("SECRET_KEY")).encode()).digest()
        return [base64.urlsafe_b64encode(digest)]
    return []


def check_keys(config) -> None:
    """Called at start-up: outside development a missing or malformed key stops the app with advice."""
    keys = configured_keys(config)
    if not keys:
        raise RuntimeError(HOW_TO_MAKE_A_KEY)
    try:
        [Fernet(key) for key in keys]
    except (ValueError, TypeError) as exc:
        raise RuntimeError(
            "MESSAGING_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe base64 bytes). "
            + HOW_TO_MAKE_A_KEY.split(". ", 1)[1]
        ) from exc


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in configured_keys(current_app.config)])


def encrypt_secret(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt_secret(token: str | None) -> str | None:
    if token is None:
        return None
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("A saved credential cannot be decrypted with the configured keys.") from exc


def secret_hint(token: str | None) -> str | None:
    """The last four characters of a saved secret, for "saved, ending in 1234"; never the secret."""
    if not token:
        return None
    try:
        plaintext = decrypt_secret(token) or ""
    except SecretUnreadable:
        return "????"
    return plaintext[-4:] if len(plaintext) >= 8 else "…"


def rotate_keys() -> int:
    """Re-encrypt every saved secret with the first key; returns how many values were rewritten."""
    fernet = _fernet()
    rewritten = 0
    for settings in db.session.scalars(sa.select(StoreEmailSettings).order_by(StoreEmailSettings.id)):
        for field in SECRET_FIELDS:
            token = getattr(settings, field)
            if not token:
                continue
            try:
                setattr(settings, field, fernet.rotate(token.encode()).decode())
            except InvalidToken as exc:
                raise SecretUnreadable(
                    f"The {field} of store {settings.store_id} cannot be decrypted with any configured key."
                ) from exc
            rewritten += 1
    db.session.flush()
    return rewritten
