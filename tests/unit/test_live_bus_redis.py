"""The production live bus on the machine's real Redis: events published by one process's bus reach the
streams of another's, presence is shared and expires, and a lost connection ends in a resync. Skipped when
no Redis listens on 127.0.0.1:6379."""
from __future__ import annotations

import os
import time
import uuid

import pytest

from messaging_web.services.live.bus import RESYNC, RedisBus

REDIS_URL = "redis://127.0.0.1:6379/3"


@pytest.fixture
def channel():
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    # A channel of its own: parallel workers and other runs share the Redis database.
    return f"test-live:{os.environ.get('PYTEST_XDIST_WORKER', 'main')}:{uuid.uuid4().hex}"


@pytest.fixture
def two_processes(channel):
    """Two web processes' buses (the publisher's and the one holding the streams) on one channel."""
    poster, holder = RedisBus(REDIS_URL, channel), RedisBus(REDIS_URL, channel)
    yield poster, holder
    poster.close()
    holder.close()


def test_an_event_published_by_one_process_reaches_the_matching_streams_of_another(two_processes):
    poster, holder = two_processes
    thread_stream = holder.subscribe(["conversation:7", "account:store:3"])
    other_stream = holder.subscribe(["conversation:8"])

    poster.publish([{"topic": "conversation:7", "kind": "thread", "conversation_id": 7},
                    {"topic": "account:store:3", "kind": "unread"}])

    received = []
    deadline = time.monotonic() + 3
    while len(received) < 2 and time.monotonic() < deadline:
        received += thread_stream.next_events(0.5)
    assert [e["kind"] for e in received] == ["thread", "unread"]  # in the order published
    assert other_stream.next_events(0.2) == []  # routed by topic: nothing for another thread's stream
    thread_stream.close()
    assert holder.stream_count == 1


def test_who_views_a_thread_is_shared_between_processes_and_expires(two_processes):
    poster, holder = two_processes
    poster.join_presence(5, "tab-a", {"kind": "store", "id": 1, "name": "Ana"}, ttl=30)
    holder.join_presence(5, "tab-b", {"kind": "store", "id": 2, "name": "Ben"}, ttl=0.2)
    assert sorted(m["name"] for m in holder.present(5)) == ["Ana", "Ben"]

    time.sleep(0.3)  # Ben's tab stopped renewing its entry
    assert [m["name"] for m in poster.present(5)] == ["Ana"]
    poster.leave_presence(5, "tab-a")
    assert holder.present(5) == []


def test_when_the_subscription_is_lost_every_stream_is_told_to_resync(two_processes):
    poster, holder = two_processes
    stream = holder.subscribe(["conversation:9"])
    # Redis drops the listener's connection (a restart, a failover).
    client = holder._redis_module.Redis.from_url(REDIS_URL)
    listeners = [entry for entry in client.client_list() if entry.get("name") == f"live-bus:{holder.channel}"]
    assert listeners
    for entry in listeners:
        client.client_kill_filter(_id=entry["id"])
    client.close()

    events = []
    deadline = time.monotonic() + 5
    while RESYNC not in events and time.monotonic() < deadline:
        events += stream.next_events(0.5)
    assert RESYNC in events
    # And it listens again: what is published now arrives.
    poster.publish([{"topic": "conversation:9", "kind": "thread", "conversation_id": 9}])
    deadline = time.monotonic() + 3
    while not any(e.get("kind") == "thread" for e in events) and time.monotonic() < deadline:
        events += stream.next_events(0.5)
    assert any(e.get("kind") == "thread" for e in events)


def test_publishing_while_redis_is_unreachable_loses_the_push_not_the_request(channel):
    bus = RedisBus("redis://127.0.0.1:1/0", channel)  # nothing listens there
    bus.publish([{"topic": "conversation:1", "kind": "thread"}])  # logged, not raised
    assert bus.present(1) == []
    bus.close()
