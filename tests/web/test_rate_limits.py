"""Per-account rate limits: template previews, test sends, message posts and uploads. Each limit answers 429
with a plain message where the user is looking (their draft untouched), counts per signed-in account (another
store's users are unaffected), and lets a person's pace through; the counts also work in the real Redis."""
from __future__ import annotations

import io
import json
import re
import uuid

import pytest
import redis
import sqlalchemy as sa
from limits import parse_many

from messaging_web.actors import Actor
from messaging_web.extensions import db, limiter
from messaging_web.models import Conversation, ConversationType, Message
from messaging_web.services import conversations, template_catalog
from tests.conftest import CSRF_META, sign_in

HTMX = {"HX-Request": "true"}
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def as_account(app):
    """A test client of its own, signed in as `account` (several accounts at once, from one address)."""
    def _as(account):
        client = app.test_client()
        assert sign_in(client, account).status_code == 302
        return client
    return _as


def _token(client, path: str) -> str:
    return CSRF_META.search(client.get(path).get_data(as_text=True)).group(1)


# --- template previews ------------------------------------------------------------------------------------


def _store_preview(client, store, **values) -> tuple[str, dict]:
    path = f"/store/{store.slug}/templates/order_shipped/en"
    data = {"subject": "Shipped {{ order_number }}", "body_html": "<p>Hi {{ customer_name }}</p>",
            "sample": json.dumps(template_catalog.shipped_sample("order_shipped")),
            "csrf_token": _token(client, path), **values}
    return path + "/preview", data


def test_fast_previews_get_an_inline_message_and_another_store_previews_on(app, factory, as_account, shipped,
                                                                         monkeypatch):
    monkeypatch.setitem(app.config, "TEMPLATE_PREVIEW_RATE_LIMIT", "3 per minute")
    north, south = factory.store(slug="north"), factory.store(slug="south")
    fast = as_account(factory.store_user(north))
    url, data = _store_preview(fast, north)
    assert [fast.post(url, data=data, headers=HTMX).status_code for _ in range(3)] == [200] * 3

    refused = fast.post(url, data=data, headers=HTMX)
    body = refused.get_data(as_text=True)
    assert refused.status_code == 429 and "<html" not in body
    assert "You are previewing very fast; wait a few seconds." in body
    # In the preview pane, where the preview would have been; the draft in the form is not touched.
    assert refused.headers["HX-Retarget"] == "#template-preview" and refused.headers["HX-Reswap"] == "innerHTML"

    other = as_account(factory.store_user(south))
    other_url, other_data = _store_preview(other, south)
    assert other.post(other_url, data=other_data, headers=HTMX).status_code == 200
    # A teammate in the same store has an allowance of their own too: the limit is per account.
    teammate = as_account(factory.store_user(north))
    assert teammate.post(url, data={**data, "csrf_token": _token(teammate, url[:-len("/preview")])},
                         headers=HTMX).status_code == 200


def test_admin_previews_are_limited_the_same_way(app, factory, as_account, monkeypatch):
    monkeypatch.setitem(app.config, "TEMPLATE_PREVIEW_RATE_LIMIT", "2 per minute")
    admin = as_account(factory.admin())
    data = {"subject": "Hi {{ order_number }}", "body_html": "<p>x</p>", "variables": "order_number",
            "required_variables": "order_number", "sample": '{"order_number": "A-1"}',
            "csrf_token": _token(admin, "/admin/templates/new")}
    statuses = [admin.post("/admin/templates/preview", data=data, headers=HTMX).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_the_editor_can_never_preview_faster_than_the_default_limit(app, factory, as_account, shipped):
    """The editor previews after a pause in typing (hx-trigger "input delay:…ms"): even a typist who pauses
    exactly that long after every key stays within every window of the limit."""
    store = factory.store()
    client = as_account(factory.store_user(store))
    page = client.get(f"/store/{store.slug}/templates/order_shipped/en").get_data(as_text=True)
    delay_ms = int(re.search(r'hx-trigger="input delay:(\d+)ms', page).group(1))
    for item in parse_many(app.config["TEMPLATE_PREVIEW_RATE_LIMIT"]):
        assert item.amount >= item.get_expiry() * 1000 // delay_ms
    # And that many previews in a row all render.
    url, data = _store_preview(client, store)
    most = min(item.amount for item in parse_many(app.config["TEMPLATE_PREVIEW_RATE_LIMIT"]))
    assert {client.post(url, data=data, headers=HTMX).status_code for _ in range(most)} == {200}


# --- the editors' "send a test" ---------------------------------------------------------------------------


def test_send_a_test_is_limited_per_account_with_the_message_under_the_button(app, factory, as_account, shipped,
                                                                             monkeypatch, manual_dispatch):
    monkeypatch.setitem(app.config, "TEMPLATE_TEST_RATE_LIMIT", "2 per minute")
    north, south = factory.store(slug="north"), factory.store(slug="south")

    def send(client, store):
        url, data = _store_preview(client, store)
        return client.post(url.replace("/preview", "/send-test"), data=data, headers=HTMX)

    fast = as_account(factory.store_user(north))
    assert [send(fast, north).status_code for _ in range(2)] == [200, 200]
    refused = send(fast, north)
    assert refused.status_code == 429 and refused.headers["HX-Retarget"] == "#send-test-result"
    assert "You have sent many tests just now. Please wait a minute and try again." in refused.get_data(as_text=True)
    assert send(as_account(factory.store_user(south)), south).status_code == 200


# --- message posts and uploads ----------------------------------------------------------------------------


@pytest.fixture
def shops(app, factory):
    """Two stores, each with a customer who opened a thread; and the platform admin."""
    north, south = factory.store(slug="north"), factory.store(slug="south")
    people = {"north": factory.customer(north), "south": factory.customer(south), "admin": factory.admin(),
              "team": factory.store_user(north)}
    threads = {}
    with app.app_context():
        for name in ("north", "south"):
            customer = people[name]
            thread = conversations.start_conversation(Actor.for_customer(customer), ConversationType.STORE_CUSTOMER,
                                                      "Order 1042", "Hello")
            db.session.commit()
            threads[name] = f"/inbox/{name}/conversations/{thread.id}"
    return people, threads


def _post(client, thread_url: str, content: str, files=(), htmx: bool = True):
    data = {"content": content, "csrf_token": _token(client, thread_url)}
    if files is not None:
        # What a browser sends: the file field is there even when no file was chosen (an empty part).
        data["attachments"] = [(io.BytesIO(body), name) for name, body in files] or [(io.BytesIO(b""), "")]
    return client.post(thread_url + "/messages", data=data, content_type="multipart/form-data",
                       headers=HTMX if htmx else {})


def _messages(app) -> list[str]:
    with app.app_context():
        return db.session.scalars(sa.select(Message.content).order_by(Message.id)).all()


def test_fast_posts_get_a_message_in_the_composer_that_keeps_the_draft(app, shops, as_account, monkeypatch):
    monkeypatch.setitem(app.config, "MESSAGE_POST_RATE_LIMIT", "3 per minute")
    people, threads = shops
    fast = as_account(people["north"])
    assert [_post(fast, threads["north"], f"Message {n}").status_code for n in range(3)] == [200] * 3

    refused = _post(fast, threads["north"], "One too many")
    body = refused.get_data(as_text=True)
    assert refused.status_code == 429 and "<html" not in body
    assert "You are sending messages very fast, so this one was not sent yet. Wait a minute, then send it again." in body
    # Shown inside the composer, which is not replaced: the text and the chosen files stay as they were.
    assert refused.headers["HX-Retarget"] == "#composer-status" and refused.headers["HX-Reswap"] == "innerHTML"
    page = fast.get(threads["north"]).get_data(as_text=True)
    composer = re.search(r'<form id="composer".*?</form>', page, re.S).group(0)
    assert 'id="composer-status"' in composer
    assert "One too many" not in _messages(app)

    # Without HTMX, a page that says the same.
    page = _post(fast, threads["north"], "Still too many", htmx=False)
    assert page.status_code == 429 and "so this one was not sent yet" in page.get_data(as_text=True)

    # The customer of another store, the same minute, from the same address: unaffected.
    assert _post(as_account(people["south"]), threads["south"], "Hello from the south").status_code == 200


def test_starting_a_conversation_counts_with_the_posts(app, shops, as_account, monkeypatch):
    monkeypatch.setitem(app.config, "MESSAGE_POST_RATE_LIMIT", "2 per minute")
    people, threads = shops
    customer = as_account(people["north"])
    assert _post(customer, threads["north"], "First").status_code == 200

    def start(subject):
        token = _token(customer, "/inbox/north/conversations/new")
        return customer.post("/inbox/north/conversations/new",
                             data={"subject": subject, "content": "Where is it?", "csrf_token": token})

    assert start("Parcel").status_code == 302
    refused = start("Another parcel")
    assert refused.status_code == 429
    assert "You are sending messages very fast, so this one was not sent." in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Conversation)) == 3


@pytest.mark.parametrize("who", ["team", "admin"])
def test_store_teams_and_admins_are_limited_too(app, shops, as_account, monkeypatch, who):
    monkeypatch.setitem(app.config, "MESSAGE_POST_RATE_LIMIT", "1 per minute")
    people, threads = shops
    client = as_account(people[who])
    if who == "team":
        thread = threads["north"].replace("/inbox/north/", "/store/north/")
    else:
        token = _token(client, "/admin/conversations/new")
        with app.app_context():
            store_id = people["team"].store_id
        response = client.post("/admin/conversations/new", data={
            "recipient": "store", "store_id": store_id, "subject": "Platform news", "content": "Hello",
            "csrf_token": token})
        assert response.status_code == 302
        thread = response.headers["Location"]
    statuses = [_post(client, thread, f"Reply {n}").status_code for n in range(2)]
    assert statuses == ([200, 429] if who == "team" else [429, 429])


def test_posts_with_files_have_their_own_stricter_limit(app, shops, as_account, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_RATE_LIMIT", "2 per minute")
    people, threads = shops
    fast = as_account(people["north"])
    note = [("note.txt", b"hello")]
    assert [_post(fast, threads["north"], "With a file", note).status_code for _ in range(2)] == [200, 200]
    refused = _post(fast, threads["north"], "A third file", note)
    assert refused.status_code == 429 and refused.headers["HX-Retarget"] == "#composer-status"
    assert "A third file" not in _messages(app)
    # Text alone still goes (the empty file part of a composer with no file chosen is not an upload).
    assert _post(fast, threads["north"], "Just text").status_code == 200
    assert _post(fast, threads["north"], "Just text, no file field", files=None).status_code == 200
    assert _post(as_account(people["south"]), threads["south"], "My file", note).status_code == 200


def test_a_person_writing_at_a_brisk_pace_is_never_stopped(app, shops, as_account):
    """Ten messages, three of them with files, back to back: far faster than anyone types."""
    people, threads = shops
    client = as_account(people["north"])
    statuses = [_post(client, threads["north"], f"Message {n}", [("a.txt", b"a")] if n % 3 == 0 else ()).status_code
                for n in range(10)]
    assert statuses == [200] * 10


# --- the storage: production keeps the counts in Redis ----------------------------------------------------


@pytest.fixture
def redis_counts(app, monkeypatch):
    """For one test, the limiter counts in the real Redis (as RATELIMIT_STORAGE_URI=redis://... sets it up),
    under a key prefix of its own; skipped when no Redis is listening."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
    try:
        client.ping()
    except redis.exceptions.RedisError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    prefix = f"messaging-test-{uuid.uuid4().hex}"
    monkeypatch.setitem(app.config, "RATELIMIT_STORAGE_URI", REDIS_URL)
    monkeypatch.setitem(app.config, "RATELIMIT_STORAGE_OPTIONS", {"key_prefix": prefix})
    # init_app is what create_app runs; the storage it replaces comes back after the test.
    for name in ("_storage", "_limiter"):
        monkeypatch.setattr(limiter, name, getattr(limiter, name))
    monkeypatch.setattr(limiter, "_storage_options", {})
    limiter.init_app(app)
    yield client, prefix
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def test_limits_count_in_redis_with_the_installed_client(app, shops, as_account, monkeypatch, redis_counts):
    client, prefix = redis_counts
    monkeypatch.setitem(app.config, "MESSAGE_POST_RATE_LIMIT", "2 per minute")
    people, threads = shops
    fast = as_account(people["north"])
    assert [_post(fast, threads["north"], f"Message {n}").status_code for n in range(3)] == [200, 200, 429]
    keys = [key.decode() for key in client.scan_iter(f"{prefix}*")]
    assert any("message-post" in key and f"customer:{people['north'].id}" in key for key in keys), keys
    assert _post(as_account(people["south"]), threads["south"], "Hello").status_code == 200
