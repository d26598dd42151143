"""Test fixtures: a real database (SQLite by default, PostgreSQL with TEST_DATABASE_URL), migrated once
per worker and emptied after every test, and factories that create data through real service calls."""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from messaging_web import create_app
from messaging_web.extensions import db, limiter
from messaging_web.models import EmailTemplate, Store, StoreTier
from messaging_web.services import accounts

# Conversation fixtures (two shops, threads made through the service), for every conversation test.
pytest_plugins = ["tests.support.conversation_fixtures"]

PASSWORD = "correct-horse-battery"


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def fresh_database_url(tmp_root: Path, purpose: str = "unit") -> str:
    """An empty database of its own for this worker: a SQLite file, or a new PostgreSQL database."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        return f"sqlite:///{tmp_root / f'{purpose}.sqlite3'}"
    url = sa.make_url(base)
    name = f"{url.database}_{purpose}_{_worker()}"
    admin_engine = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin_engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def testing_config(tmp_root: Path, purpose: str = "unit") -> dict:
    return {
        "MESSAGING_ENV": "testing",
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": fresh_database_url(tmp_root, purpose),
        "INSTANCE_DIR": str(tmp_root),
        "MAIL_OUTBOX_DIR": str(tmp_root / "outbox"),
        "UPLOAD_DIR": str(tmp_root / "uploads"),
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "RATELIMIT_STORAGE_URI": "memory://",
        "SERVER_NAME": None,
        # A live stream sends what it has to catch up on and ends: a test reading one does not wait forever.
        # Tests of live delivery hold it open longer.
        "LIVE_STREAM_MAX_SECONDS": 0,
    }


@pytest.fixture(scope="session")
def app():
    tmp_root = Path(tempfile.mkdtemp(prefix=f"messaging-test-{_worker()}-"))
    app = create_app(testing_config(tmp_root))
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _empty_database_after_test(request):
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())
        limiter.reset()


@pytest.fixture
def manual_dispatch(app):
    """Queued emails wait for an explicit delivery call (delivery.deliver_due) instead of going at commit."""
    app.config["EMAIL_DISPATCHER"] = "manual"
    yield
    app.config["EMAIL_DISPATCHER"] = "inprocess"


@pytest.fixture
def ctx(app):
    """An application context for tests that call services directly."""
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


def _detached(obj):
    db.session.refresh(obj)
    db.session.expunge(obj)
    return obj


class Factory:
    """Creates rows through the services, committed, and hands them back detached (attributes loaded)."""

    def __init__(self, app):
        self.app = app
        self._n = 0

    def _next(self) -> int:
        self._n += 1
        return self._n

    def store(self, tier: StoreTier = StoreTier.STARTER, language: str = "en", slug: str | None = None) -> Store:
        n = self._next()
        with self.app.app_context():
            store = Store(name=f"Store {n}", slug=slug or f"store-{n}", tier=tier.value, default_language=language)
            db.session.add(store)
            db.session.commit()
            return _detached(store)

    def admin(self, email: str | None = None):
        with self.app.app_context():
            user = accounts.create_admin(email or f"admin{self._next()}@platform.test", "Admin", PASSWORD)
            db.session.commit()
            return _detached(user)

    def store_user(self, store: Store, email: str | None = None):
        with self.app.app_context():
            user = accounts.create_store_user(
                db.session.get(Store, store.id), email or f"team{self._next()}@{store.slug}.test", "Team Member",
                PASSWORD,
            )
            db.session.commit()
            return _detached(user)

    def customer(self, store: Store, email: str | None = None, language: str = "en", name: str = "Cora Customer"):
        with self.app.app_context():
            customer = accounts.create_customer(
                db.session.get(Store, store.id), email or f"customer{self._next()}@shop.test", name,
                PASSWORD, language,
            )
            db.session.commit()
            return _detached(customer)

    def email_template(self, code: str = "order_shipped", language: str = "en", **values):
        """A platform template saved through the service (so it is valid); keyword values override."""
        from messaging_web.services import templates

        data = dict(
            code=code, language=language, name=f"{code} ({language})", description=None, category="orders",
            subject="Order {{ order_number }}", body_html="<p>Hello {{ customer_name }}</p>", body_text=None,
            variables=["customer_name", "order_number"], required_variables=["order_number"],
            is_active=True, is_platform_only=False,
        )
        data.update(values)
        with self.app.app_context():
            template = templates.create_platform_template(templates.PlatformTemplateInput(**data))
            db.session.commit()
            return _detached(template)

    def store_template(self, store: Store, code: str = "order_shipped", language: str = "en", **values):
        """A store's override of the platform template (code, language), saved through the service."""
        from messaging_web.services import templates

        data = dict(subject="Store order {{ order_number }}", body_html="<p>Store says hi {{ customer_name }}</p>",
                    body_text=None, name=None, is_active=True)
        data.update(values)
        with self.app.app_context():
            base = db.session.scalar(
                sa.select(EmailTemplate).where(EmailTemplate.code == code, EmailTemplate.language == language)
            )
            override = templates.save_store_override(store.id, base, templates.OverrideInput(**data))
            db.session.commit()
            return _detached(override)


@pytest.fixture
def shipped(app):
    """The default set of platform templates, loaded and committed."""
    from messaging_web.services import template_catalog

    with app.app_context():
        template_catalog.load_default_templates()
        db.session.commit()


@pytest.fixture
def factory(app):
    return Factory(app)


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_token(client, path: str = "/") -> str:
    page = client.get(path).get_data(as_text=True)
    return CSRF_META.search(page).group(1)


def login_path(account) -> str:
    from messaging_web.models import Customer, User

    if isinstance(account, Customer):
        return f"/inbox/{_slug(account.store_id)}/login"
    if isinstance(account, User) and account.is_platform_admin:
        return "/admin/login"
    return f"/store/{_slug(account.store_id)}/login"


def _slug(store_id: int) -> str:
    return db.session.get(Store, store_id).slug


def sign_in(client, account, password: str = PASSWORD, next_path: str | None = None):
    """Sign in through the real login form, CSRF token included."""
    app = client.application
    with app.app_context():
        path = login_path(account)
    token = csrf_token(client, path)
    target = path + (f"?next={next_path}" if next_path else "")
    return client.post(target, data={"email": account.email, "password": password, "csrf_token": token})


@pytest.fixture
def signed_in(client):
    def _sign_in(account, **kwargs):
        response = sign_in(client, account, **kwargs)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    return _sign_in


@pytest.fixture(scope="session")
def s3_endpoint():
    """A moto S3 server on a free local port, with a bucket for attachments (edge of the world: AWS)."""
    import socket

    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        endpoint = f"http://127.0.0.1:{port}"
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="attachments-test")
        yield endpoint
    server.stop()


@pytest.fixture(params=["local", "s3"])
def attachment_storage(request, app):
    """Each attachment test runs on both backends; the app serves and stores through the chosen one."""
    from messaging_web.services.attachment_storage import LocalStorage, S3Storage

    if request.param == "local":
        storage = LocalStorage(Path(app.config["UPLOAD_DIR"]) / f"t{os.getpid()}")
    else:
        storage = S3Storage("attachments-test", endpoint_url=request.getfixturevalue("s3_endpoint"),
                            region="us-east-1", prefix=f"t{os.getpid()}")
    previous = app.extensions.get("attachment_storage")
    app.extensions["attachment_storage"] = storage
    yield storage
    if previous is None:
        app.extensions.pop("attachment_storage", None)
    else:
        app.extensions["attachment_storage"] = previous
