"""Signing in and out of the three portals, and who is kept out of which portal."""
from __future__ import annotations

import pytest

from messaging_web.models import StoreTier
from tests.conftest import PASSWORD, csrf_token, sign_in


@pytest.fixture
def people(factory):
    store = factory.store(StoreTier.BUSINESS)
    other_store = factory.store()
    return dict(
        store=store,
        other_store=other_store,
        admin=factory.admin(),
        team=factory.store_user(store),
        other_team=factory.store_user(other_store),
        customer=factory.customer(store),
    )


def test_admin_signs_in_and_sees_the_console(client, people):
    response = sign_in(client, people["admin"])
    assert response.status_code == 302 and response.location == "/admin/"
    page = client.get("/admin/")
    assert page.status_code == 200 and "Platform console" in page.get_data(as_text=True)


def test_store_user_signs_in_to_their_store_portal(client, people):
    response = sign_in(client, people["team"])
    assert response.location == f"/store/{people['store'].slug}/"
    page = client.get(response.location).get_data(as_text=True)
    assert people["store"].name in page and "Business" in page


def test_customer_signs_in_to_their_store_inbox(client, people):
    response = sign_in(client, people["customer"])
    assert response.location == f"/inbox/{people['store'].slug}/"
    assert client.get(response.location).status_code == 200


def test_wrong_password_and_unknown_email_get_the_same_answer(client, people):
    token = csrf_token(client, "/admin/login")
    wrong = client.post("/admin/login", data={"email": people["admin"].email, "password": "nope", "csrf_token": token})
    unknown = client.post("/admin/login", data={"email": "ghost@x.test", "password": "nope", "csrf_token": token})
    assert wrong.status_code == unknown.status_code == 401
    assert "The email or password is not correct." in wrong.get_data(as_text=True)
    assert "The email or password is not correct." in unknown.get_data(as_text=True)


def test_team_user_cannot_use_the_admin_login(client, people):
    response = sign_in(client, people["team"])  # at their own portal it works
    assert response.status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, response.location)})
    token = csrf_token(client, "/admin/login")
    response = client.post("/admin/login", data={"email": people["team"].email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 401


def test_anonymous_visitor_is_sent_to_the_portal_login(client, people):
    slug = people["store"].slug
    assert client.get("/admin/").location.startswith("/admin/login?next=")
    assert client.get(f"/store/{slug}/").location.startswith(f"/store/{slug}/login?next=")
    assert client.get(f"/inbox/{slug}/").location.startswith(f"/inbox/{slug}/login?next=")


def test_customer_opening_the_admin_console_gets_403(signed_in, people):
    client = signed_in(people["customer"])
    assert client.get("/admin/").status_code == 403
    assert client.get(f"/store/{people['store'].slug}/").status_code == 403


def test_store_user_never_reaches_another_stores_portal(signed_in, people):
    client = signed_in(people["team"])
    assert client.get(f"/store/{people['other_store'].slug}/").status_code == 404
    assert client.get("/store/no-such-store/").status_code == 404


def test_customer_never_reaches_another_stores_inbox(signed_in, people):
    client = signed_in(people["customer"])
    assert client.get(f"/inbox/{people['other_store'].slug}/").status_code == 404


@pytest.mark.parametrize("evil", ["//evil.test", "/\\evil.test", "https://evil.test", "/%0a/evil.test", "javascript:alert(1)"])
def test_next_only_leads_to_a_local_page(client, people, evil):
    response = sign_in(client, people["admin"], next_path=evil)
    assert response.location in ("/admin/", evil) and not response.location.startswith(("//", "http", "/\\"))
    assert response.location == "/admin/" or response.location.startswith("/%0a")


def test_next_to_a_local_page_is_followed(client, people):
    response = sign_in(client, people["admin"], next_path="/admin/?tab=1")
    assert response.location == "/admin/?tab=1"


def test_a_session_cookie_copied_before_logout_is_refused_after_it(client, app, people):
    sign_in(client, people["admin"])
    copied = client.get_cookie("session").value
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/admin/").status_code == 302


def test_password_change_ends_every_other_session(app, people):
    first, second = app.test_client(), app.test_client()
    sign_in(first, people["team"])
    sign_in(second, people["team"])
    token = csrf_token(first, "/account/password")
    response = first.post(
        "/account/password",
        data={"current_password": PASSWORD, "password": "a-new-password", "confirm": "a-new-password", "csrf_token": token},
    )
    assert response.status_code == 302
    slug = people["store"].slug
    assert first.get(f"/store/{slug}/").status_code == 200
    assert second.get(f"/store/{slug}/").status_code == 302


def test_password_change_with_a_wrong_current_password_is_refused(signed_in, people):
    client = signed_in(people["team"])
    token = csrf_token(client, "/account/password")
    response = client.post(
        "/account/password",
        data={"current_password": "wrong", "password": "a-new-password", "confirm": "a-new-password", "csrf_token": token},
    )
    assert response.status_code == 422 and "not correct" in response.get_data(as_text=True)


def test_a_burst_of_wrong_passwords_is_throttled_with_a_clear_message(client, people):
    token = csrf_token(client, "/admin/login")
    statuses = [
        client.post("/admin/login", data={"email": people["admin"].email, "password": "bad", "csrf_token": token}).status_code
        for _ in range(9)
    ]
    assert statuses[:8] == [401] * 8 and statuses[8] == 429
    blocked = client.post("/admin/login", data={"email": people["admin"].email, "password": PASSWORD, "csrf_token": token})
    assert blocked.status_code == 429 and "try again in a few minutes" in blocked.get_data(as_text=True)


def test_throttling_one_address_does_not_lock_the_user_out_elsewhere(app, people):
    attacker = app.test_client()
    token = csrf_token(attacker, "/admin/login")
    for _ in range(9):
        attacker.post("/admin/login", data={"email": people["admin"].email, "password": "bad", "csrf_token": token},
                      environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert sign_in(app.test_client(), people["admin"]).status_code == 302


def test_a_post_without_csrf_token_is_refused(client, people):
    response = client.post("/admin/login", data={"email": people["admin"].email, "password": PASSWORD})
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)


def test_logout_is_not_possible_over_get(signed_in, people):
    client = signed_in(people["admin"])
    assert client.get("/logout").status_code == 405
    assert client.get("/admin/").status_code == 200
