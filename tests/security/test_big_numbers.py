"""Ids and cursors of 2^63 and beyond, and page numbers of hundreds of digits, anywhere in a URL or a form of
the three portals: a 404 or a plain page, never an OverflowError (SQLite) or a refused parameter (PostgreSQL)."""
from __future__ import annotations

import re

import pytest

from tests.support.crawler import (
    HUGE_CURSORS,
    HUGE_NUMBERS,
    crawl,
    csrf_from,
    csrf_of,
    read_to_the_end,
    reply_by_email_off,
    seed_demo_data,
    send,
    shape,
    signed_in_client,
    with_huge_ids,
)

PORTALS = {
    "admin": ("/admin/", "/admin/login", "admin@platform.example", "/admin/conversations/"),
    "store": ("/store/alpine/", "/store/alpine/login", "owner@alpine.example", "/store/alpine/conversations/"),
    "customer": ("/inbox/alpine/", "/inbox/alpine/login", "alice@customer.example", "/inbox/alpine/"),
}
# Query arguments that carry a number or a cursor somewhere in the portals, tried on every page.
NUMBER_ARGS = ["page", "per_page", "before", "after", "oldest", "translate", "store", "store_id"]
CURSOR_ARGS = ["cursor", "deleted_since"]


@pytest.fixture
def demo(app):
    seed_demo_data(app)
    yield
    reply_by_email_off(app)


def _id_routes(app, prefix: str) -> list[tuple[str, str]]:
    """Every route of the portal with an id in its path, the ids replaced by {}, with each of its methods."""
    routes = set()
    for rule in app.url_map.iter_rules():
        path = rule.rule.replace("<slug>", "alpine")
        if path.startswith(prefix) and "<int:" in path:
            routes.update((re.sub(r"<int:\w+>", "{}", path), m) for m in rule.methods - {"HEAD", "OPTIONS"})
    return sorted(routes)


@pytest.mark.parametrize("portal", PORTALS)
def test_huge_ids_in_any_route_are_not_found(app, demo, portal):
    prefix, login, email, _inbox = PORTALS[portal]
    client = signed_in_client(app, login, email)
    token = csrf_from(client.get(prefix).get_data(as_text=True))
    routes = _id_routes(app, prefix)
    assert routes, f"no id routes under {prefix}"
    for route, method in routes:
        for number in HUGE_NUMBERS:
            url = route.replace("{}", number.lstrip("-"))
            response = client.open(url, method=method, data={"csrf_token": token} if method != "GET" else None)
            # 405: another route has this path for other methods, and the router says so before it reads the id.
            assert response.status_code in (404, 405), f"{method} {url[:80]}"
    assert client.get(prefix).status_code == 200


@pytest.mark.parametrize("portal", PORTALS)
def test_an_inbox_cursor_or_poll_beyond_what_a_column_holds_shows_the_first_page(app, demo, portal):
    prefix, login, email, inbox = PORTALS[portal]
    client = signed_in_client(app, login, email)
    first_page = client.get(inbox)
    thread = re.search(r'href="([^"?]*/conversations/\d+)"', first_page.get_data(as_text=True)).group(1)
    for cursor in HUGE_CURSORS:
        response = client.get(inbox, query_string={"cursor": cursor})
        assert response.status_code == 200, cursor
        assert thread in response.get_data(as_text=True), cursor  # the first page, not an empty one
        poll = client.get(thread + "/messages", query_string={"after": 2**63, "deleted_since": cursor})
        assert poll.status_code == 200, cursor
    assert client.get(prefix).status_code == 200


@pytest.mark.parametrize("portal", PORTALS)
def test_huge_numbers_on_every_page_and_form_of_a_portal_are_a_404_or_a_plain_answer(app, demo, portal):
    prefix, login, email, _inbox = PORTALS[portal]
    client = signed_in_client(app, login, email)
    pages, forms = crawl(client, [prefix], prefix)
    one_per_view = list({shape(app, url): url for url in pages}.values())
    assert len(one_per_view) > 3 and forms

    failures = []
    for url in one_per_view:
        for huge in with_huge_ids(url):
            if (status := read_to_the_end(client.get(huge)).status_code) not in (404, 405):
                failures.append(f"GET {huge[:80]} -> {status}")
        names = dict.fromkeys([*re.findall(r"[?&]([^=&]+)=", url), *NUMBER_ARGS, *CURSOR_ARGS])
        for name in names:
            for value in HUGE_CURSORS if name in CURSOR_ARGS else HUGE_NUMBERS:
                response = send(client, "get", url, [(name, value)])
                if response.status_code not in (200, 302, 400, 404):
                    failures.append(f"GET {url} {name}={value[:30]} -> {response.status_code}")
    token = csrf_from(client.get(prefix).get_data(as_text=True))
    for form in forms:
        fields = form.fields if csrf_of(form) or form.method == "get" else [*form.fields, ("csrf_token", token)]
        for huge in with_huge_ids(form.action):
            if (status := send(client, form.method, huge, fields).status_code) not in (404, 405):
                failures.append(f"{form.method.upper()} {huge[:80]} -> {status}")
        for i, (name, _) in enumerate(fields):
            if name == "csrf_token":
                continue
            for number in HUGE_NUMBERS:
                # A form error, a refusal or the page itself; a rate limit (429) on repeated posts is fine too.
                response = send(client, form.method, form.action, [*fields[:i], (name, number), *fields[i + 1:]])
                if response.status_code >= 500:
                    failures.append(f"{form.method.upper()} {form.action} {name}={number[:30]} -> {response.status_code}")
    assert not failures, "\n".join(failures)
    assert client.get(prefix).status_code == 200
