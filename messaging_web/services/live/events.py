"""What the conversation actions tell the open tabs, and when: after the commit, through the live bus.

An event names what changed (a thread, an account's unread counts, an account's sessions) and the scope a
stream checks it against (the thread's type, store and customer); never the data itself, which each stream
reads for its own account, through the same access helpers as the pages.

Topics:
    conversation:<id>        the thread changed (new message, deletion, closed, reopened); someone types;
                             who views it changed
    account:<kind>:<id>      the account's unread counts or its inbox changed; its sessions ended
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import current_app

from ...extensions import db
from .. import transaction_hooks
from .bus import Event, LiveBus, make_bus

if TYPE_CHECKING:
    from ...actors import Actor
    from ...models import Conversation

_EXTENSION = "messaging_live_bus"


def live_bus() -> LiveBus:
    """This process's bus for the current app, made on first use from LIVE_BUS_URL."""
    bus = current_app.extensions.get(_EXTENSION)
    if bus is None:
        bus = current_app.extensions[_EXTENSION] = make_bus(
            current_app.config["LIVE_BUS_URL"], current_app.config["LIVE_BUS_CHANNEL"])
    return bus


def conversation_topic(conversation_id: int) -> str:
    return f"conversation:{conversation_id}"


def account_topic(kind: str, account_id: int) -> str:
    return f"account:{kind}:{account_id}"


def thread_scope(conversation: Conversation) -> dict:
    """What a stream checks a thread's event against: who may see this thread at all."""
    return {
        "conversation_id": conversation.id,
        "conversation_type": conversation.conversation_type.value,
        "store_id": conversation.store_id,
        "customer_id": conversation.customer_id,
    }


def publish_after_commit(events: Iterable[Event]) -> None:
    """Queue events for the end of the current transaction: published if it commits, dropped if not."""
    pending = transaction_hooks.per_transaction(db.session, "live_events", on_commit=_publish)
    pending.extend(events)


def _publish(events: list[Event]) -> None:
    # The same thread or account may be named several times by one transaction: once is enough.
    unique: dict[str, Event] = {}
    for event in events:
        unique.setdefault(repr(sorted(event.items())), event)
    live_bus().publish(unique.values())


def thread_changed(conversation: Conversation, readers: Iterable[tuple[str, int]] = ()) -> None:
    """A message, a deletion, a close or reopen in `conversation`; `readers` (kind, id) whose inbox row or
    unread count changed with it."""
    publish_after_commit([
        {"topic": conversation_topic(conversation.id), "kind": "thread", **thread_scope(conversation)},
        *({"topic": account_topic(kind, reader_id), "kind": "unread"} for kind, reader_id in readers),
    ])


def reader_changed(kind: str, account_id: int) -> None:
    """The account read or marked unread a thread: its badges in its other tabs."""
    publish_after_commit([{"topic": account_topic(kind, account_id), "kind": "unread"}])


def sessions_ended(kind: str, account_id: int) -> None:
    """Signed out everywhere (or the password changed): the account's open streams end."""
    publish_after_commit([{"topic": account_topic(kind, account_id), "kind": "session"}])


def announce_typing(actor: Actor, conversation: Conversation) -> None:
    """`actor` is typing in the thread: told at once (there is nothing to commit), to its viewers only."""
    live_bus().publish([{
        "topic": conversation_topic(conversation.id), "kind": "typing", **thread_scope(conversation),
        "typist": {"kind": actor.kind, "id": actor.id, "name": actor.name},
    }])


def announce_presence(scope: dict) -> None:
    """Who views the thread of `scope` (thread_scope) changed: its viewers re-read the list."""
    live_bus().publish([{"topic": conversation_topic(scope["conversation_id"]), "kind": "presence", **scope}])
