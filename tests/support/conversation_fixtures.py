"""Conversation fixtures shared by the conversation and live tests: two shops with their accounts, and
threads made through the service (imported with pytest_plugins)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from messaging_web.actors import Actor
from messaging_web.extensions import db
from messaging_web.models import Conversation, ConversationParticipant, ConversationType, Customer, Message, Store
from messaging_web.services import conversations
from tests.conftest import CSRF_META

P = ConversationParticipant


class Threads:
    """Creates conversations through the service as a given account, committed; returns their ids."""

    def __init__(self, app):
        self.app = app

    def _actor(self, account):
        return Actor.for_customer(account) if isinstance(account, Customer) else Actor.for_user(account)

    def start(self, account, kind: ConversationType, subject="Subject", content="First message", *, store=None,
              customer=None) -> int:
        with self.app.app_context():
            conversation = conversations.start_conversation(
                self._actor(account), kind, subject, content,
                store=db.session.get(Store, store.id) if store else None,
                customer=db.session.get(Customer, customer.id) if customer else None,
            )
            db.session.commit()
            return conversation.id

    def post(self, account, conversation_id: int, content: str) -> int:
        with self.app.app_context():
            message = conversations.post_message(
                self._actor(account), db.session.get(Conversation, conversation_id), content
            )
            db.session.commit()
            return message.id

    def delete(self, account, message_id: int) -> None:
        with self.app.app_context():
            conversations.delete_message(self._actor(account), db.session.get(Message, message_id))
            db.session.commit()

    def close(self, account, conversation_id: int) -> None:
        with self.app.app_context():
            conversations.close_conversation(self._actor(account), db.session.get(Conversation, conversation_id))
            db.session.commit()

    def unread(self, account, conversation_id: int) -> int:
        kind = "customer" if isinstance(account, Customer) else ("admin" if account.is_platform_admin else "store")
        with self.app.app_context():
            return db.session.scalar(
                sa.select(P.unread_count).where(
                    P.conversation_id == conversation_id, P.participant_type == kind, P.participant_id == account.id
                )
            )


@pytest.fixture
def threads(app):
    return Threads(app)


@pytest.fixture
def shop(factory):
    """Two stores with a team member and a customer each, and an admin."""
    store, other = factory.store(slug="north"), factory.store(slug="south")
    return {
        "store": store, "other": other, "admin": factory.admin(),
        "team": factory.store_user(store), "other_team": factory.store_user(other),
        "customer": factory.customer(store), "other_customer": factory.customer(other),
    }


def token(client, path: str) -> str:
    return CSRF_META.search(client.get(path).get_data(as_text=True)).group(1)


def base_of(shop, who: str) -> str:
    return {
        "admin": "/admin/conversations",
        "team": "/store/north/conversations",
        "customer": "/inbox/north/conversations",
        "other_team": "/store/south/conversations",
        "other_customer": "/inbox/south/conversations",
    }[who]
