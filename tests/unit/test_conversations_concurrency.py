"""Unread counts stay exact when several people post to one thread at the same moment (PostgreSQL)."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from messaging_web.actors import Actor
from messaging_web.extensions import db
from messaging_web.models import Conversation, ConversationParticipant, ConversationType, Message, Store
from messaging_web.services import accounts, conversations

POSTERS = 8
MESSAGES_EACH = 15


@pytest.fixture
def postgres(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("concurrent writers need PostgreSQL (run with TEST_DATABASE_URL)")
    return app


def test_concurrent_posts_keep_message_count_and_every_unread_count_exact(postgres):
    app = postgres
    with app.app_context():
        store = Store(name="Busy", slug="busy", tier="starter", default_language="en")
        db.session.add(store)
        db.session.flush()
        customer = accounts.create_customer(store, "c@shop.test", "Customer", "password-123")
        posters = [Actor.for_customer(customer)]
        for n in range(POSTERS - 1):
            posters.append(Actor.for_user(accounts.create_store_user(store, f"p{n}@busy.test", f"Poster {n}", "password-123")))
        watchers = [
            Actor.for_user(accounts.create_store_user(store, f"w{n}@busy.test", f"Watcher {n}", "password-123"))
            for n in range(3)
        ]
        conversation = conversations.start_conversation(posters[0], ConversationType.STORE_CUSTOMER, "Rush", "Go")
        db.session.commit()
        conversation_id = conversation.id

    barrier = threading.Barrier(POSTERS)
    errors: list[BaseException] = []

    def post_many(actor: Actor) -> None:
        try:
            with app.app_context():
                barrier.wait()
                for n in range(MESSAGES_EACH):
                    thread = db.session.get(Conversation, conversation_id)
                    conversations.post_message(actor, thread, f"{actor.name} #{n}")
                    db.session.commit()
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001  (reported below, with the thread's failure)
            errors.append(exc)

    threads = [threading.Thread(target=post_many, args=(actor,)) for actor in posters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors

    total = 1 + POSTERS * MESSAGES_EACH
    with app.app_context():
        conversation = db.session.get(Conversation, conversation_id)
        stored = db.session.scalar(sa.select(sa.func.count()).where(Message.conversation_id == conversation_id))
        assert conversation.message_count == stored == total
        assert conversation.last_message_at == db.session.scalar(
            sa.select(sa.func.max(Message.created_at)).where(Message.conversation_id == conversation_id)
        )
        for watcher in watchers:
            row = db.session.scalar(
                sa.select(ConversationParticipant).where(
                    ConversationParticipant.conversation_id == conversation_id,
                    ConversationParticipant.participant_id == watcher.id,
                    ConversationParticipant.participant_type == watcher.participant_type,
                )
            )
            assert row.unread_count == total
        # Each poster has unread exactly the others' messages after their own last one.
        messages = db.session.execute(
            sa.select(Message.sender_type, Message.sender_id).where(Message.conversation_id == conversation_id)
            .order_by(Message.id)
        ).all()
        for poster in posters:
            mine = [i for i, m in enumerate(messages) if (m.sender_type, m.sender_id) == (poster.participant_type, poster.id)]
            expected = len(messages) - 1 - mine[-1]
            row = db.session.scalar(
                sa.select(ConversationParticipant).where(
                    ConversationParticipant.conversation_id == conversation_id,
                    ConversationParticipant.participant_id == poster.id,
                    ConversationParticipant.participant_type == poster.participant_type,
                )
            )
            assert row.unread_count == expected, poster.name
