"""The live bus: events that a web process publishes after a commit reach the streams that any process holds.

One small interface, two implementations chosen by LIVE_BUS_URL:

- InProcessBus, the embedded default (`make run`: one process, no Redis);
- RedisBus, Redis pub/sub for production, where any process may hold the stream of a tab and the post may
  have been written by another process or machine.

Each process keeps ONE Redis subscription, to one channel, and routes what arrives to its own streams by the
event's topic (`conversation:12`, `account:store:7`): 5,000 open streams cost two Redis connections, not
5,000, and opening a stream subscribes to nothing remotely, so it cannot race the catch-up query that
follows it. The price is that every process reads every event (a few hundred a second at most here);
past that, a channel per topic would be the next step.

Events are small JSON objects ({"topic": ..., "kind": ..., ...}) that say what changed, never whose data
it is for: the stream that receives one checks it against its own account and reads the change from the
database (services/live/events.py, web/live_views.py).
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Iterable
from typing import Any, cast

log = logging.getLogger(__name__)

Event = dict[str, Any]

# What a bus hands to every stream when it may have missed events (the Redis connection came back):
# each stream then reads what changed from the database, as after a reconnect.
RESYNC: Event = {"topic": "*", "kind": "resync"}


class Subscription:
    """One stream's inbox of events for its topics."""

    def __init__(self, router: _Router, topics: Iterable[str]):
        self.topics = frozenset(topics)
        self._router = router
        # queue.Queue, not SimpleQueue: under gevent's monkey patching its waits yield to other greenlets.
        self._queue: queue.Queue[Event] = queue.Queue()

    def deliver(self, event: Event) -> None:
        self._queue.put(event)

    def next_events(self, timeout: float) -> list[Event]:
        """The events that arrived, waiting up to `timeout` seconds for the first; [] when none came.

        Everything already queued comes at once, so a stream answers a burst with one read of the database.
        """
        try:
            events = [self._queue.get(timeout=max(timeout, 0))]
        except queue.Empty:
            return []
        while True:
            try:
                events.append(self._queue.get_nowait())
            except queue.Empty:
                return events

    def close(self) -> None:
        self._router.remove(self)


class _Router:
    """This process's streams by topic."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_topic: dict[str, set[Subscription]] = {}
        self._all: set[Subscription] = set()

    def add(self, subscription: Subscription) -> None:
        with self._lock:
            self._all.add(subscription)
            for topic in subscription.topics:
                self._by_topic.setdefault(topic, set()).add(subscription)

    def remove(self, subscription: Subscription) -> None:
        with self._lock:
            self._all.discard(subscription)
            for topic in subscription.topics:
                subscribers = self._by_topic.get(topic)
                if subscribers is not None:
                    subscribers.discard(subscription)
                    if not subscribers:
                        del self._by_topic[topic]

    def route(self, event: Event) -> None:
        with self._lock:
            targets = list(self._all if event.get("topic") == "*" else self._by_topic.get(event.get("topic", ""), ()))
        for subscription in targets:
            subscription.deliver(event)

    @property
    def stream_count(self) -> int:
        return len(self._all)


class _PresenceTable:
    """Who has a thread open: stream key -> (expires at, member), per conversation, for the in-process bus."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[int, dict[str, tuple[float, dict]]] = {}

    def join(self, conversation_id: int, key: str, member: dict, ttl: float) -> None:
        with self._lock:
            self._rows.setdefault(conversation_id, {})[key] = (time.time() + ttl, member)

    def leave(self, conversation_id: int, key: str) -> None:
        with self._lock:
            rows = self._rows.get(conversation_id, {})
            rows.pop(key, None)
            if not rows:
                self._rows.pop(conversation_id, None)

    def members(self, conversation_id: int) -> list[dict]:
        now = time.time()
        with self._lock:
            rows = self._rows.get(conversation_id, {})
            for key in [k for k, (expires, _) in rows.items() if expires < now]:
                del rows[key]
            return [member for _, member in rows.values()]


class InProcessBus:
    """Events stay in this process: the embedded default, where one process serves every tab."""

    def __init__(self) -> None:
        self._router = _Router()
        self._presence = _PresenceTable()

    def publish(self, events: Iterable[Event]) -> None:
        for event in events:
            self._router.route(event)

    def subscribe(self, topics: Iterable[str]) -> Subscription:
        subscription = Subscription(self._router, topics)
        self._router.add(subscription)
        return subscription

    def join_presence(self, conversation_id: int, key: str, member: dict, ttl: float) -> None:
        self._presence.join(conversation_id, key, member, ttl)

    def leave_presence(self, conversation_id: int, key: str) -> None:
        self._presence.leave(conversation_id, key)

    def present(self, conversation_id: int) -> list[dict]:
        return self._presence.members(conversation_id)

    @property
    def stream_count(self) -> int:
        return self._router.stream_count

    def close(self) -> None:
        pass


class RedisBus:
    """Redis pub/sub: one channel for every process, one listener per process (see the module's notes)."""

    # Deployments (or test runs) that share one Redis database keep apart by LIVE_BUS_CHANNEL; presence keys
    # are named after it.
    CHANNEL = "messaging_web:live"

    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        import redis

        self.channel = channel
        self.presence_key = channel + ":presence:{}"

        self._redis_module = redis
        # Publishing never waits long: the post is committed already, a slow Redis must not hold the request.
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._url = url
        self._router = _Router()
        self._lock = threading.Lock()
        self._listener: threading.Thread | None = None
        self._listening = threading.Event()
        self._stopped = threading.Event()

    # --- publishing ---------------------------------------------------------------------------------------

    def publish(self, events: Iterable[Event]) -> None:
        payloads = [json.dumps(event, separators=(",", ":")) for event in events]
        if not payloads:
            return
        try:
            pipe = self._client.pipeline(transaction=False)
            for payload in payloads:
                pipe.publish(self.channel, payload)
            pipe.execute()
        except self._redis_module.RedisError as error:
            # The change is committed; the open tabs learn of it when the listeners reconnect (a resync) or
            # from their fallback polling. Losing the push is not losing the message.
            log.warning("live bus: %d event(s) not published: %s", len(payloads), error)

    # --- subscribing --------------------------------------------------------------------------------------

    def subscribe(self, topics: Iterable[str]) -> Subscription:
        self._ensure_listener()
        subscription = Subscription(self._router, topics)
        self._router.add(subscription)
        # The caller reads the database after this: wait (briefly) until the channel is subscribed, so that
        # nothing committed after that read can pass by unseen.
        self._listening.wait(timeout=2)
        return subscription

    def _ensure_listener(self) -> None:
        with self._lock:
            if self._listener is None or not self._listener.is_alive():
                self._listener = threading.Thread(target=self._listen, name="live-bus-listener", daemon=True)
                self._listener.start()

    def _listen(self) -> None:
        redis = self._redis_module
        backoff = 0.1
        first = True
        while not self._stopped.is_set():
            # No socket timeout on the subscription (it is idle by nature); Redis pings it every 10 s.
            # Named, so that CLIENT LIST shows which connections are live-bus listeners, and of which channel.
            client = redis.Redis.from_url(self._url, socket_connect_timeout=2, health_check_interval=10,
                                          client_name=f"live-bus:{self.channel}")
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.channel)
                self._listening.set()
                if not first:
                    log.info("live bus: subscribed again after a lost connection; streams resync")
                    self._router.route(RESYNC)
                first = False
                backoff = 0.1
                while not self._stopped.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is None or message.get("type") != "message":
                        continue
                    try:
                        event = json.loads(message["data"])
                    except (TypeError, ValueError):
                        continue
                    if isinstance(event, dict):
                        self._router.route(event)
            except (redis.RedisError, OSError) as error:
                self._listening.clear()
                log.warning("live bus: subscription lost (%s); retrying in %.1f s", error, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                try:
                    pubsub.close()
                    client.close()
                except Exception:  # noqa: BLE001 - closing a broken connection may fail in any way
                    pass

    # --- presence -----------------------------------------------------------------------------------------

    def join_presence(self, conversation_id: int, key: str, member: dict, ttl: float) -> None:
        name = self.presence_key.format(conversation_id)
        value = json.dumps({**member, "expires": time.time() + ttl})
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.hset(name, key, value)
            pipe.expire(name, int(ttl * 2) + 1)
            pipe.execute()
        except self._redis_module.RedisError as error:
            log.warning("live bus: presence not recorded: %s", error)

    def leave_presence(self, conversation_id: int, key: str) -> None:
        try:
            self._client.hdel(self.presence_key.format(conversation_id), key)
        except self._redis_module.RedisError as error:
            log.warning("live bus: presence not removed: %s", error)

    def present(self, conversation_id: int) -> list[dict]:
        name = self.presence_key.format(conversation_id)
        try:
            rows = cast(dict, self._client.hgetall(name))
        except self._redis_module.RedisError:
            return []
        now = time.time()
        members, expired = [], []
        for key, raw in rows.items():
            try:
                member = json.loads(raw)
            except ValueError:
                member = {}
            if not isinstance(member, dict) or member.get("expires", 0) < now:
                expired.append(key)
            else:
                members.append(member)
        if expired:
            try:
                self._client.hdel(name, *expired)
            except self._redis_module.RedisError:
                pass
        return members

    @property
    def stream_count(self) -> int:
        return self._router.stream_count

    def close(self) -> None:
        self._stopped.set()
        self._client.close()


LiveBus = InProcessBus | RedisBus


def make_bus(url: str, channel: str = RedisBus.CHANNEL) -> LiveBus:
    return RedisBus(url, channel) if url else InProcessBus()
