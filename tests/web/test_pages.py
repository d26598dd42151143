"""Every response carries the security headers; error pages are styled pages, not stack traces."""
from __future__ import annotations

from tests.conftest import csrf_token


def test_security_headers_on_every_response(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_session_cookie_is_http_only_and_same_site(client, factory):
    admin = factory.admin()
    token = csrf_token(client, "/admin/login")
    response = client.post("/admin/login", data={"email": admin.email, "password": "correct-horse-battery", "csrf_token": token})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_cookie_outside_development():
    from messaging_web.config import load_config

    assert load_config({"MESSAGING_ENV": "production"})["SESSION_COOKIE_SECURE"] is True
    assert load_config({"MESSAGING_ENV": "development"})["SESSION_COOKIE_SECURE"] is False


def test_not_found_is_a_styled_page(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Not found" in response.get_data(as_text=True) and "<html" in response.get_data(as_text=True)


def test_htmx_errors_get_a_fragment(client):
    response = client.get("/no/such/page", headers={"HX-Request": "true"})
    assert response.status_code == 404 and "<html" not in response.get_data(as_text=True)


def test_too_large_request_is_refused_clearly(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    try:
        response = client.post("/admin/login", data={"email": "x" * 5000})
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 64 * 1024 * 1024
    assert response.status_code == 413


def test_landing_page_links_to_the_portals(client, factory):
    store = factory.store()
    page = client.get("/").get_data(as_text=True)
    assert f"/store/{store.slug}/login" in page and "/admin/login" in page


def test_vendored_htmx_is_served_locally(client):
    response = client.get("/static/vendor/htmx.min.js")
    assert response.status_code == 200 and b"htmx" in response.data[:2000]


def test_missing_secret_key_is_refused_outside_development(monkeypatch):
    import pytest

    from messaging_web import create_app

    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"MESSAGING_ENV": "production", "SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_pages_name_an_icon_and_favicon_ico_leads_to_it(client):
    page = client.get("/").get_data(as_text=True)
    assert 'rel="icon" href="/static/favicon.svg"' in page
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response.headers["Location"].endswith("/static/favicon.svg")
    assert client.get("/static/favicon.svg").status_code == 200
