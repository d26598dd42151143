"""Sign-in as an attacker would try it: spraying one password over many emails from one address, a `next`
that leads out of the portal, and a session cookie signed with a key published in the code."""
from __future__ import annotations

from pathlib import Path

import pytest
from flask.sessions import SecureCookieSessionInterface

from messaging_web.config import load_config
from messaging_web.models import StoreTier
from tests.conftest import csrf_token, login_path, sign_in


@pytest.fixture
def people(factory):
    store, other = factory.store(StoreTier.BUSINESS), factory.store()
    return dict(store=store, other=other, admin=factory.admin(), team=factory.store_user(store),
                customer=factory.customer(store))


@pytest.mark.parametrize("target, allowed", [
    ("/admin/email-log", True),
    ("/admin/templates/?q=x", True),
    ("/t/click/abc", False),
    ("/t/open/abc.gif", False),
    ("/store/{store}/", False),
    ("//evil.example/admin/", False),
    ("https://evil.example/admin/", False),
    ("/admin/../t/click/abc", False),
    ("/admin", False),
])
def test_next_after_admin_sign_in_stays_in_the_console(client, people, target, allowed):
    target = target.format(store=people["store"].slug)
    response = sign_in(client, people["admin"], next_path=target)
    assert response.status_code == 302
    assert response.location == (target if allowed else "/admin/")


def test_next_after_store_and_customer_sign_in_stays_in_their_own_portal(app, client, people):
    slug, other = people["store"].slug, people["other"].slug
    assert sign_in(client, people["team"], next_path=f"/store/{slug}/templates/").location == f"/store/{slug}/templates/"
    client.post("/logout", data={"csrf_token": csrf_token(client, f"/store/{slug}/")})
    assert sign_in(client, people["team"], next_path=f"/store/{other}/").location == f"/store/{slug}/"
    client.post("/logout", data={"csrf_token": csrf_token(client, f"/store/{slug}/")})
    assert sign_in(client, people["customer"], next_path="/admin/").location == f"/inbox/{slug}/"
    client.post("/logout", data={"csrf_token": csrf_token(client, f"/inbox/{slug}/")})
    assert sign_in(client, people["customer"], next_path=f"/inbox/{slug}/conversations/").location \
        == f"/inbox/{slug}/conversations/"


def test_one_address_spraying_a_password_over_many_emails_is_throttled(app, client, people, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_ADDRESS_RATE_LIMIT", "5 per 5 minutes")
    path = login_path(people["admin"])
    token = csrf_token(client, path)
    statuses = [
        client.post(path, data={"email": f"victim{i}@platform.test", "password": "Summer2026!", "csrf_token": token}).status_code
        for i in range(7)
    ]
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429]
    page = client.post(path, data={"email": "x@y.test", "password": "x", "csrf_token": token}).get_data(as_text=True)
    assert "Too many failed sign-in attempts" in page
    # Another address is not held back.
    other = app.test_client()
    response = other.post(path, data={"email": people["admin"].email, "password": "correct-horse-battery",
                                      "csrf_token": csrf_token(other, path)},
                          environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 302


def test_the_development_session_key_is_random_per_instance_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = load_config({"MESSAGING_ENV": "development", "INSTANCE_DIR": str(tmp_path / "a")})["SECRET_KEY"]
    again = load_config({"MESSAGING_ENV": "development", "INSTANCE_DIR": str(tmp_path / "a")})["SECRET_KEY"]
    other = load_config({"MESSAGING_ENV": "development", "INSTANCE_DIR": str(tmp_path / "b")})["SECRET_KEY"]
    assert first == again and first != other and len(first) >= 32
    assert first != "dev-only-secret-key"
    assert (Path(tmp_path / "a" / "dev-secret-key").stat().st_mode & 0o777) == 0o600


def test_a_cookie_signed_with_the_old_published_key_is_not_accepted(app, client, people):
    forged_app = type("Forged", (), {"secret_key": "dev-only-secret-key", "config": app.config})
    serializer = SecureCookieSessionInterface().get_signing_serializer(forged_app)
    forged = serializer.dumps({"_user_id": f"user:{people['admin'].id}", "_fresh": True})
    client.set_cookie("session", forged)
    assert client.get("/admin/").status_code == 302  # sent to sign in
