"""Live conversations: events published after commit to the open tabs, through an in-process bus or Redis.

bus.py holds the transport, events.py what the actions publish. The streams themselves, which render what
each event means for their own account, are views (web/live_views.py). Import from here.
"""
from __future__ import annotations

from .bus import RESYNC, Event, InProcessBus, LiveBus, RedisBus, Subscription, make_bus  # noqa: F401
from .events import (  # noqa: F401
    account_topic,
    announce_presence,
    announce_typing,
    conversation_topic,
    live_bus,
    publish_after_commit,
    reader_changed,
    sessions_ended,
    thread_changed,
    thread_scope,
)
