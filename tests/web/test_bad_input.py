"""Bad input of every kind, sent to every page and form the three portals show: never a 500.

A crawler signs in to each portal of the demo data, follows the portal's own links and HTMX URLs, and
collects every form it is shown. Then it sends each query argument and each form field a value that is
hostile to one layer or another: a NUL (PostgreSQL text cannot hold one), bytes that are not UTF-8,
a number too large for any integer column, a very long text, markup, emptiness. Every answer must be a
page or a clear error (2xx, 3xx, 4xx), never a server error.
"""
from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from messaging_web.web.store_email_settings import STEP_NAMES
from tests.support.crawler import crawl, csrf_from, csrf_of, reply_by_email_off, seed_demo_data, send, signed_in_client

BAD_VALUES = ["nul\x00in the middle", "9" * 30, "-1", "x" * 20_000, '<div hx-get="/" hx-trigger="load">', "", "[]"]
# Not UTF-8: sent pre-encoded, since the test client would encode a str.
NOT_UTF8 = "%FF%FEbad%C3%28"
# Query arguments the list pages read, tried on every page even when its links do not name them.
LIST_ARGS = ["q", "page", "status", "type", "unread", "category", "language", "before", "after", "deleted_since"]


def variants(fields: list[tuple[str, str]]):
    """The form as the page filled it; then each field in turn given each bad value, the others as filled."""
    yield "as shown", fields, None
    for i, (name, _) in enumerate(fields):
        if name == "csrf_token":
            continue
        rest = fields[:i] + fields[i + 1:]
        for bad in BAD_VALUES:
            yield f"{name}={bad[:20]!r}", rest + [(name, bad)], None
        yield f"{name}=<not utf-8>", rest, {name: NOT_UTF8}


WIZARD = [f"/store/bergmann/settings/email/{step}" for step in STEP_NAMES]
PORTALS = {
    "admin": ("/admin/login", "admin@platform.example", ["/admin/"], "/admin/"),
    "store": ("/store/bergmann/login", "owner@bergmann.example", ["/store/bergmann/", *WIZARD], "/store/bergmann/"),
    "customer": ("/inbox/bergmann/login", "alice@customer.example", ["/inbox/bergmann/"], "/inbox/bergmann/"),
}


@pytest.fixture
def demo_data(app):
    seed_demo_data(app)
    yield
    reply_by_email_off(app)


@pytest.mark.parametrize("portal", PORTALS)
def test_every_page_and_form_of_a_portal_answers_bad_input_without_a_server_error(app, demo_data, portal):
    login, email, starts, prefix = PORTALS[portal]
    client = signed_in_client(app, login, email)

    pages, forms = crawl(client, starts, prefix)
    assert len(pages) > 5 and forms, (pages, forms)
    # The account's own pages (profile, password) and the forms every header has (language, time zone).
    account_pages, account_forms = crawl(client, ["/account/profile"], "/account/")
    assert {"/account/language", "/account/timezone"} <= {urlsplit(f.action).path for f in account_forms}
    pages, forms = pages + account_pages, forms + account_forms

    failures = []
    for url in pages:
        given = parse_qsl(urlsplit(url).query, keep_blank_values=True)
        names = list(dict.fromkeys([n for n, _ in given] + LIST_ARGS))
        for name in names:
            rest = [(n, v) for n, v in given if n != name]
            for bad in BAD_VALUES:
                response = send(client, "get", url, rest + [(name, bad)])
                if response.status_code >= 500:
                    failures.append(f"GET {url} {name}={bad[:20]!r} -> {response.status_code}")
            response = send(client, "get", url, rest, {name: NOT_UTF8})
            if response.status_code >= 500:
                failures.append(f"GET {url} {name}=<not utf-8> -> {response.status_code}")
    for form in forms:
        for label, fields, raw in variants(form.fields):
            if form.method == "post" and not csrf_of(form):
                fields = fields + [("csrf_token", csrf_from(client.get(starts[0]).get_data(as_text=True)))]
            response = send(client, form.method, form.action, fields, raw)
            if response.status_code >= 500:
                failures.append(f"{form.method.upper()} {form.action} {label} -> {response.status_code}")
    assert not failures, "\n".join(failures)


