"""Provider secrets at rest: encrypted with the first key, readable with any, rotated, never in plaintext."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from messaging_web import create_app
from messaging_web.extensions import db
from messaging_web.models import StoreEmailSettings, StoreTier
from messaging_web.services.email import email_settings
from messaging_web.services.secrets import SecretUnreadable, decrypt_secret, encrypt_secret

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


@pytest.fixture
def keys(app):
    saved = app.config["MESSAGING_ENCRYPTION_KEYS"]

    def use(*keys):
        app.config["MESSAGING_ENCRYPTION_KEYS"] = ",".join(keys)

    yield use
    app.config["MESSAGING_ENCRYPTION_KEYS"] = saved


def save_all_secrets(store) -> None:
    settings = email_settings.save_sender(store, "shop@store.example", "Shop", None)
    email_settings.save_provider(store, settings, "smtp")
    email_settings.save_credentials(store, settings, email_settings.Credentials(
        smtp_host="smtp.store.example", smtp_port=587, smtp_username="user", smtp_password="smtp-plain-pass-1111"))
    settings.sendgrid_api_key = encrypt_secret("SG.plain-sendgrid-2222")
    settings.mailgun_api_key = encrypt_secret("plain-mailgun-3333")
    settings.ses_secret_access_key = encrypt_secret("plain-ses-4444")
    db.session.commit()


def test_the_first_key_encrypts_and_every_key_decrypts(ctx, keys):
    keys(OLD_KEY)
    token = encrypt_secret("hunter2-hunter2")
    keys(NEW_KEY, OLD_KEY)
    assert decrypt_secret(token) == "hunter2-hunter2"
    assert Fernet(NEW_KEY.encode()).decrypt(encrypt_secret("x").encode()) == b"x"
    keys(NEW_KEY)
    with pytest.raises(SecretUnreadable):
        decrypt_secret(token)


def test_a_database_dump_holds_no_plaintext_secret(ctx, factory):
    factory.store(tier=StoreTier.BUSINESS)
    from messaging_web.models import Store

    store = db.session.scalars(sa.select(Store)).first()
    save_all_secrets(store)
    dump = []
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            dump.extend(repr(tuple(row)) for row in conn.execute(table.select()))
    text = "\n".join(dump)
    assert "shop@store.example" in text  # the dump did read the settings
    for plain in ("smtp-plain-pass-1111", "SG.plain-sendgrid-2222", "plain-mailgun-3333", "plain-ses-4444"):
        assert plain not in text


def test_rotate_keys_re_encrypts_every_secret_with_the_first_key(ctx, factory, keys, app):
    keys(OLD_KEY)
    from messaging_web.models import Store

    factory.store(tier=StoreTier.BUSINESS)
    store = db.session.scalars(sa.select(Store)).first()
    save_all_secrets(store)
    keys(NEW_KEY, OLD_KEY)
    result = app.test_cli_runner().invoke(args=["messaging", "rotate-keys"])
    assert result.exit_code == 0, result.output
    assert "Re-encrypted 4 secret(s)" in result.output
    keys(NEW_KEY)
    db.session.expire_all()
    settings = db.session.scalars(sa.select(StoreEmailSettings)).one()
    assert decrypt_secret(settings.smtp_password) == "smtp-plain-pass-1111"
    assert decrypt_secret(settings.ses_secret_access_key) == "plain-ses-4444"


def test_rotate_keys_refuses_when_a_secret_matches_no_key(ctx, factory, keys, app):
    keys(OLD_KEY)
    from messaging_web.models import Store

    factory.store()
    save_all_secrets(db.session.scalars(sa.select(Store)).first())
    keys(NEW_KEY)
    result = app.test_cli_runner().invoke(args=["messaging", "rotate-keys"])
    assert result.exit_code != 0 and "cannot be decrypted" in result.output


def test_running_without_a_key_outside_development_is_refused_with_advice(tmp_path):
    with pytest.raises(RuntimeError) as info:
        create_app({"MESSAGING_ENV": "production", "SECRET_KEY": "x" * 40, "MESSAGING_ENCRYPTION_KEYS": "",
                    "INSTANCE_DIR": str(tmp_path), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    assert "MESSAGING_ENCRYPTION_KEYS is not set" in str(info.value)
    assert "Fernet.generate_key()" in str(info.value)


def test_a_malformed_key_is_refused_at_start_up(tmp_path):
    with pytest.raises(RuntimeError, match="not a Fernet key"):
        create_app({"MESSAGING_ENV": "production", "SECRET_KEY": "x" * 40, "MESSAGING_ENCRYPTION_KEYS": "short",
                    "INSTANCE_DIR": str(tmp_path), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})


def test_the_wizard_page_never_renders_a_saved_secret(app, factory, signed_in):
    store = factory.store()
    user = factory.store_user(store)
    with app.app_context():
        from messaging_web.models import Store

        save_all_secrets(db.session.get(Store, store.id))
    client = signed_in(user)
    page = client.get(f"/store/{store.slug}/settings/email/credentials").get_data(as_text=True)
    assert "smtp-plain-pass-1111" not in page and "Saved, ending in 1111" in page
