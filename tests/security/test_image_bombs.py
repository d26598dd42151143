"""Image bombs just under the per-file pixel cap cannot exhaust the server: a message has a budget of decoded
pixels, images are decoded in a sandbox worker, and concurrent posts with images on the embedded SQLite
default all succeed (no "database is locked")."""
from __future__ import annotations

import io
import threading
import time

import pytest
import sqlalchemy as sa

from messaging_web.actors import Actor
from messaging_web.extensions import db
from messaging_web.models import ConversationType, Customer, Message, MessageAttachment, User
from messaging_web.services import conversations
from tests import sample_files
from tests.conftest import CSRF_META, sign_in

BOMB = sample_files.png_header_bomb(6300, 6300)  # ~100 KB, 39.7 million pixels once decoded


@pytest.fixture
def thread(app, factory):
    store = factory.store()
    team, customer = factory.store_user(store), factory.customer(store)
    with app.app_context():
        conversation = conversations.start_conversation(
            Actor.for_user(db.session.get(User, team.id)), ConversationType.STORE_CUSTOMER, "Photos", "Send them",
            customer=db.session.get(Customer, customer.id),
        )
        db.session.commit()
        return store, customer, conversation.id


def _post(client, url: str, files: list[tuple[str, bytes]]):
    token = CSRF_META.search(client.get(url).get_data(as_text=True)).group(1)
    data = {"content": "pictures", "csrf_token": token, "attachments": [(io.BytesIO(b), n) for n, b in files]}
    return client.post(url + "/messages", data=data, content_type="multipart/form-data",
                       headers={"HX-Request": "true"})


def _counts(app) -> tuple[int, int]:
    with app.app_context():
        return (db.session.scalar(sa.select(sa.func.count()).select_from(Message)),
                db.session.scalar(sa.select(sa.func.count()).select_from(MessageAttachment)))


def test_ten_bombs_in_one_message_are_refused_by_the_message_pixel_budget(app, client, thread):
    store, customer, thread_id = thread
    sign_in(client, customer)
    url = f"/inbox/{store.slug}/conversations/{thread_id}"
    before = _counts(app)
    started = time.monotonic()
    response = _post(client, url, [(f"bomb{i}.png", BOMB) for i in range(10)])
    took = time.monotonic() - started
    body = response.get_data(as_text=True)
    assert response.status_code in (200, 422)
    assert "too many pixels to process (at most 50 million per message)" in body
    assert took < 8  # one image decoded at most, not ten
    assert _counts(app) == before  # nothing of the message was written
    assert client.get(url).status_code == 200


def test_one_large_image_is_still_accepted_with_its_thumbnail(app, client, thread):
    store, customer, thread_id = thread
    sign_in(client, customer)
    response = _post(client, f"/inbox/{store.slug}/conversations/{thread_id}", [("poster.png", BOMB)])
    assert response.status_code == 200
    with app.app_context():
        [attachment] = db.session.scalars(sa.select(MessageAttachment)).all()
        assert (attachment.image_width, attachment.image_height) == (6300, 6300) and attachment.thumbnail_path


def test_concurrent_posts_with_images_all_succeed_on_sqlite(app, factory, thread, monkeypatch):
    # Posts wait for a free sandbox worker as long as it takes here: this is about the database.
    monkeypatch.setitem(app.config, "SANDBOX_WAIT_SECONDS", 60)
    store, _customer, thread_id = thread
    posters = [factory.customer(store) for _ in range(4)]
    threads = []
    with app.app_context():
        for poster in posters:
            conversation = conversations.start_conversation(
                Actor.for_customer(db.session.get(Customer, poster.id)), ConversationType.STORE_CUSTOMER,
                "Mine", "hello",
            )
            threads.append(conversation.id)
        db.session.commit()
    clients = []
    for poster in posters:
        client = app.test_client()
        sign_in(client, poster)
        clients.append(client)
    photo = sample_files.image("PNG", size=(2500, 2000))
    statuses: list[int] = []

    def post(client, thread_id):
        statuses.append(_post(client, f"/inbox/{store.slug}/conversations/{thread_id}",
                              [("photo.png", photo)]).status_code)

    workers = [threading.Thread(target=post, args=pair) for pair in zip(clients, threads, strict=True)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert statuses == [200] * 4
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(MessageAttachment)) == 4
