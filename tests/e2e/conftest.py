"""Browser tests: the app served on a local port, driven by Playwright in Debian's headless Chromium."""
from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from messaging_web import create_app
from messaging_web.extensions import db
from messaging_web.services import demo
from tests.conftest import _worker, testing_config

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.e2e


def pytest_collection_modifyitems(config, items):
    if CHROMIUM:
        return
    skip = pytest.mark.skip(reason="Chromium is not installed (apt-get install chromium): browser tests skipped")
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def live_app():
    tmp_root = Path(tempfile.mkdtemp(prefix=f"messaging-e2e-{_worker()}-"))
    config = testing_config(tmp_root, purpose="e2e")
    config["PASSWORD_HASH_METHOD"] = "pbkdf2:sha256:1000"
    # Pages hold their live stream open, as in production.
    config["LIVE_STREAM_MAX_SECONDS"] = 600
    app = create_app(config)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        demo.seed_demo()
        db.session.commit()
    return app


@pytest.fixture(scope="session")
def live_server(live_app):
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server, viewport={"width": 1200, "height": 800})
    page = context.new_page()
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, login_path: str, email: str, password: str = demo.DEMO_PASSWORD) -> None:
    page.goto(login_path)
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("main button[type=submit]")
