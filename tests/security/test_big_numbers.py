"""Ids and cursors of 2^63 and beyond, and page numbers of hundreds of digits, anywhere in a URL or a form of
the three portals: a 404 or a plain page, never an OverflowError (SQLite) or a refused parameter (PostgreSQL)."""
from __future__ import annotations

import re

import pytest

from tests.support.crawler import seed_demo_data, signed_in_client

HUGE = ["9223372036854775808", str(2**64), "9" * 400]
PORTALS = [("/admin/", "/admin/login", "admin@platform.example"),
           ("/store/alpine/", "/store/alpine/login", "owner@alpine.example"),
           ("/inbox/alpine/", "/inbox/alpine/login", "alice@customer.example")]


@pytest.fixture
def demo(app):
    seed_demo_data(app)


def _id_routes(app, prefix: str) -> list[str]:
    """Every route of the portal with an id in its path, the ids replaced by {}."""
    routes = []
    for rule in app.url_map.iter_rules():
        path = rule.rule.replace("<slug>", "alpine")
        if path.startswith(prefix) and "<int:" in path:
            routes.append(re.sub(r"<int:\w+>", "{}", path))
    return sorted(set(routes))


@pytest.mark.parametrize("prefix, login, email", PORTALS, ids=["admin", "store", "customer"])
def test_huge_ids_in_any_route_are_not_found(app, demo, prefix, login, email):
    client = signed_in_client(app, login, email)
    routes = _id_routes(app, prefix)
    assert routes, f"no id routes under {prefix}"
    for route in routes:
        for number in HUGE:
            url = route.replace("{}", number)
            assert client.get(url).status_code == 404, url
            assert client.post(url).status_code in (400, 404), url  # 400: the CSRF check, before any id
    assert client.get(prefix).status_code == 200


@pytest.mark.parametrize("prefix, login, email", PORTALS, ids=["admin", "store", "customer"])
def test_huge_cursors_and_page_numbers_give_a_plain_page(app, demo, prefix, login, email):
    client = signed_in_client(app, login, email)
    pages = [prefix + "conversations/", prefix + "notifications/", prefix + "email-log", prefix + "templates/"]
    for page in pages:
        if client.get(page).status_code == 404:
            continue  # not a page of this portal
        for name in ("page", "before", "after", "cursor", "store"):
            for number in HUGE + ["-" + HUGE[0]]:
                response = client.get(page, query_string={name: number})
                assert response.status_code in (200, 400, 404), (page, name, number[:20], response.status_code)
