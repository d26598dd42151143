"""A URL pushed to the browser's history always serves a full page: when htmx's history cache misses on "Back",
it asks again with HX-Request and HX-History-Restore-Request, and swaps the answer in for the whole page."""
from __future__ import annotations

import pytest

from tests.conftest import csrf_token

FRAGMENT = {"HX-Request": "true"}
HISTORY_RESTORE = {"HX-Request": "true", "HX-History-Restore-Request": "true", "HX-Current-URL": "http://localhost/"}

ADMIN_PAGES_WITH_PUSHED_URLS = [
    "/admin/templates/?q=order&page=2&per_page=10",
    "/admin/email-log?status=sent&page=2",
    "/admin/email-log/analytics?days=7",
    "/admin/notifications?state=all&page=2",
    "/admin/conversations/?status=open",
]
STORE_PAGES_WITH_PUSHED_URLS = [
    "/templates/?status=customized&page=2",
    "/email-log?status=sent&page=2",
    "/settings/email/sender",
    "/settings/email/provider",
    "/settings/email/verify",
]


def is_full_page(body: str) -> bool:
    return "<html" in body and 'class="topbar"' in body and "app.css" in body


@pytest.fixture
def store_team(factory, signed_in):
    store = factory.store()
    client = signed_in(factory.store_user(store))
    # The wizard's later steps need the first one saved.
    path = f"/store/{store.slug}/settings/email/sender"
    client.post(path, data={"csrf_token": csrf_token(client, path), "from_email": "shop@store.example",
                            "from_name": "My Shop"})
    return store, client


@pytest.mark.parametrize("path", ADMIN_PAGES_WITH_PUSHED_URLS)
def test_admin_page_restored_from_history_is_the_full_page(client, factory, signed_in, path):
    signed_in(factory.admin())
    assert not is_full_page(client.get(path, headers=FRAGMENT).get_data(as_text=True))
    restored = client.get(path, headers=HISTORY_RESTORE)
    assert restored.status_code == 200 and is_full_page(restored.get_data(as_text=True))


@pytest.mark.parametrize("path", STORE_PAGES_WITH_PUSHED_URLS)
def test_store_page_restored_from_history_is_the_full_page(store_team, path):
    store, client = store_team
    url = f"/store/{store.slug}{path}"
    assert not is_full_page(client.get(url, headers=FRAGMENT).get_data(as_text=True))
    restored = client.get(url, headers=HISTORY_RESTORE)
    assert restored.status_code == 200 and is_full_page(restored.get_data(as_text=True))


def test_an_error_restored_from_history_is_a_full_error_page(client):
    assert not is_full_page(client.get("/no/such/page", headers=FRAGMENT).get_data(as_text=True))
    restored = client.get("/no/such/page", headers=HISTORY_RESTORE)
    assert restored.status_code == 404 and is_full_page(restored.get_data(as_text=True))


def test_page_and_fragment_say_which_request_headers_they_depend_on(client, factory, signed_in):
    signed_in(factory.admin())
    for headers in ({}, FRAGMENT, HISTORY_RESTORE):
        vary = client.get("/admin/email-log", headers=headers).headers["Vary"]
        assert "HX-Request" in vary and "HX-History-Restore-Request" in vary
