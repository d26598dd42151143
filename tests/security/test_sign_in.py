"""Sign-in as an attacker would try it: spraying one password over many emails from one address, a `next`
that leads out of the portal, and a session cookie signed with a key published in the code."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

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


def sign_in_then_go_to(client, account, target: str):
    """Sign in with `next` set to exactly `target` (percent-encoded in the login URL, as a browser sends it)."""
    return sign_in(client, account, next_path=quote(target, safe=""))


def sign_out(client, page: str):
    client.post("/logout", data={"csrf_token": csrf_token(client, page)})


@pytest.mark.parametrize("target, allowed", [
    ("/admin/email-log", True),
    ("/admin/templates/?q=x", True),
    ("/t/click/abc", False),
    ("/t/open/abc.gif", False),
    ("/store/{store}/", False),
    ("/inbox/{store}/", False),
    ("//evil.example/admin/", False),
    ("https://evil.example/admin/", False),
    ("/\\evil.example/admin/", False),
    ("/admin/../t/click/abc", False),
    # A browser resolves percent-encoded dot segments too before it follows the redirect.
    ("/admin/%2e%2e/t/click/abc", False),
    ("/admin/.%2E/t/open/abc.gif", False),
    ("/admin/./email-log", False),
    ("/admin", False),
])
def test_next_after_admin_sign_in_stays_in_the_console(client, people, target, allowed):
    target = target.format(store=people["store"].slug)
    response = sign_in_then_go_to(client, people["admin"], target)
    assert response.status_code == 302
    assert response.location == (target if allowed else "/admin/")
    assert client.get(response.location).status_code == 200


def test_next_after_store_sign_in_stays_in_the_stores_own_portal(client, people):
    slug, other = people["store"].slug, people["other"].slug
    home = f"/store/{slug}/"
    assert sign_in_then_go_to(client, people["team"], f"/store/{slug}/templates/").location \
        == f"/store/{slug}/templates/"
    for elsewhere in (f"/store/{other}/", "/admin/", f"/inbox/{slug}/", "/t/click/abc",
                      f"/store/{slug}/%2e%2e/%2e%2e/t/click/abc", f"/store/{slug}x/", "//evil.example/"):
        sign_out(client, home)
        assert sign_in_then_go_to(client, people["team"], elsewhere).location == home, elsewhere
    assert client.get(home).status_code == 200


def test_next_after_customer_sign_in_stays_in_the_customers_own_inbox(client, people):
    slug, other = people["store"].slug, people["other"].slug
    home = f"/inbox/{slug}/"
    assert sign_in_then_go_to(client, people["customer"], f"/inbox/{slug}/conversations/new").location \
        == f"/inbox/{slug}/conversations/new"
    for elsewhere in ("/admin/", f"/store/{slug}/", f"/inbox/{other}/", "/t/click/abc",
                      f"/inbox/{slug}/%2E%2E/%2E%2E/t/click/abc", "https://evil.example/"):
        sign_out(client, home)
        assert sign_in_then_go_to(client, people["customer"], elsewhere).location == home, elsewhere
    assert client.get(home).status_code == 200


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


def test_spraying_counts_across_the_portals_sign_in_pages(app, client, people, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_ADDRESS_RATE_LIMIT", "4 per 5 minutes")
    with app.app_context():
        store_login, inbox_login = login_path(people["team"]), login_path(people["customer"])
    attempts = [("/admin/login", "a@platform.test"), (store_login, "b@store.test"), (inbox_login, "c@shop.test"),
                (store_login, "d@store.test")]
    for path, email in attempts:
        response = client.post(path, data={"email": email, "password": "Summer2026!",
                                           "csrf_token": csrf_token(client, path)})
        assert response.status_code == 401
    response = client.post(inbox_login, data={"email": "e@shop.test", "password": "Summer2026!",
                                              "csrf_token": csrf_token(client, inbox_login)})
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.get_data(as_text=True)
    assert client.get("/admin/login").status_code == 200  # the page still shows; only attempts wait


def test_the_development_session_key_is_random_per_instance_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = load_config({"MESSAGING_ENV": "development", "INSTANCE_DIR": str(tmp_path / "a")})["SECRET_KEY"]
    again = load_config({"MESSAGING_ENV": "development", "INSTANCE_DIR": str(tmp_path / "a")})["SECRET_KEY"]
    other = load_config({"MESSAGING_ENV": "development", "INSTANCE_DIR": str(tmp_path / "b")})["SECRET_KEY"]
    assert first == again and first != other and len(first) >= 32
    assert first != "dev-only-secret-key"
    assert (Path(tmp_path / "a" / "dev-secret-key").stat().st_mode & 0o777) == 0o600
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["dev-secret-key"]  # no half-written copies left


def test_an_empty_development_key_file_is_replaced_by_a_new_key(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    (tmp_path / "dev-secret-key").write_text("\n")
    key = load_config({"MESSAGING_ENV": "development", "INSTANCE_DIR": str(tmp_path)})["SECRET_KEY"]
    assert len(key) >= 32 and (tmp_path / "dev-secret-key").read_text().strip() == key


def _session_serializer(app, key: str):
    signer = type("SigningApp", (), {"secret_key": key, "config": app.config})
    return SecureCookieSessionInterface().get_signing_serializer(signer)


def test_a_cookie_signed_with_the_old_published_key_signs_no_one_in(app, client, people, tmp_path, monkeypatch):
    # The test app runs with the key a fresh development server makes for itself.
    monkeypatch.delenv("SECRET_KEY", raising=False)
    key = load_config({"MESSAGING_ENV": "development", "INSTANCE_DIR": str(tmp_path)})["SECRET_KEY"]
    monkeypatch.setitem(app.config, "SECRET_KEY", key)
    assert sign_in(client, people["admin"]).status_code == 302
    cookie_name = app.config["SESSION_COOKIE_NAME"]
    signed_in_session = _session_serializer(app, key).loads(client.get_cookie(cookie_name).value)

    forger = app.test_client()
    forger.set_cookie(cookie_name, _session_serializer(app, "dev-only-secret-key").dumps(signed_in_session))
    response = forger.get("/admin/")
    assert response.status_code == 302 and response.location.startswith("/admin/login")
    # The same session signed with the server's own key is a signed-in one: only the key made the difference.
    genuine = app.test_client()
    genuine.set_cookie(cookie_name, _session_serializer(app, key).dumps(signed_in_session))
    assert genuine.get("/admin/").status_code == 200
