"""Benchmark: live conversations by server-sent events (issue 17), next to its floor, in one run.

Three parts, each printed side by side with its targets:

1. **app**: the production shape. gunicorn with gevent workers (`gunicorn -c gunicorn.conf.py wsgi:app` when
   the file exists, else `gunicorn -k gevent --workers 2 --worker-connections 10000 wsgi:app`),
   MESSAGING_ENV=production, PostgreSQL (the 1,000,000-message database `conv_bench_large` of
   bench/bench_inbox.py, made by its own `generate()` when missing) and the Redis live bus. The bench signs in
   through the real login forms (store team members and customers, password "bench-password", CSRF token
   from the page), then opens BENCH_LIVE_STREAMS (5,000) concurrent streams from this one asyncio process
   (raw asyncio streams, HTTP/1.1, chunked or close-delimited bodies; BENCH_LIVE_OPEN_CONCURRENCY, 40, being
   opened at a time: with 200 at once the app's catch-ups exhausted its database pool, see the report's
   errors; a cut stream reconnects after the server's `retry:` as EventSource does) on random threads each account may
   see: 80 % store team streams (both team members of a store, 8 streams each, posted into by the thread's
   customer), 20 % customer streams (4 each, posted into by the store's team). While they are open it
   posts BENCH_LIVE_RATE (20) messages/s for BENCH_LIVE_SECONDS (60) into random subscribed threads, each
   by an HTTP POST of the thread's other side (the real form, `content` + `csrf_token`), open loop (a slow
   answer does not lower the rate). The message rate limit stays as configured (30 per minute per
   account): posts are spread over ~1,000 posting accounts, none above 25 in any 60 s.

   Each message carries a token (`blq<seq>q`) in its text; a stream records when each `event: message`
   frame is read, the message id (`data-message-id`) and the token, and checks its **sequence**: exactly
   the messages posted into its thread after it connected, each once, in id order (lost, duplicated, out of
   order and foreign messages are counted). Latency is measured from the moment the POST's response (a
   302 after the commit) is read ("commit") and from the moment the POST was sent; both clocks are this
   process's, so no skew. An event can be read before the POST's response: commit latencies can be
   slightly negative.

   The server's memory: RSS (and PSS, which counts pages shared by the forked workers once) of the
   gunicorn master and its workers, from /proc, signed in and warmed up before any stream opens, then with
   all the streams open and idle (after BENCH_LIVE_IDLE_SECONDS, 20 s, long enough to see a keep-alive
   comment), and after the posting. Also the CPU the server spent while the streams sat idle and while
   messages were posted, the PostgreSQL connections held with the streams open (and how many sit idle in
   a transaction), and problems in the gunicorn log (tracebacks, errors, worker timeouts); with
   BENCH_LIVE_LOG_DIR the servers' logs are kept there.

2. **floor**: the same client, the same thread layout, the same post rate, against the least a server can
   do for the same job: a minimal gevent WSGI app (`floor_app` below, served by the same gunicorn command
   with gevent workers, same number of workers) that relays Redis pub/sub to SSE streams. Each worker holds
   one Redis connection, PSUBSCRIBEd to the floor's channels, and hands each message to the gevent queues
   of the streams of that thread; a POST takes an id (INCR) and PUBLISHes the frame `id:/event: message/
   data: <li id="message-N" data-message-id="N">...</li>`. No sign-in, no database, no access check, no
   rendering: what remains is the transport (Redis, gevent, HTTP, the client), so the app's figure minus the
   floor's is what the app itself costs.

3. **embedded**: the embedded default as `make run` starts it (`flask run`, the threaded development
   server, SQLite, the in-process bus, MESSAGING_ENV=development, EMBEDDED_SCHEDULER=1) on a small SQLite
   database made for the bench (10 stores), with BENCH_LIVE_EMBEDDED_STREAMS (50) streams and
   BENCH_LIVE_EMBEDDED_RATE (2) posts/s for BENCH_LIVE_EMBEDDED_SECONDS (30). Target p95 <= 300 ms.

    /work/main/.venv/bin/python bench/bench_live.py              # the three parts (about 8 minutes)
    BENCH_LIVE_PARTS=app,floor /work/main/.venv/bin/python bench/bench_live.py
    BENCH_LIVE_STREAMS=500 BENCH_LIVE_SECONDS=10 ...              # a quick look
    /work/main/.venv/bin/python bench/bench_live.py --self-test  # the client against stand-in servers

`--self-test` checks the client without the app: the SSE parser on frames cut at every byte, then a stand-in
SSE server in this process (chunked and close-delimited bodies, several `data:` lines, other events,
comments) that duplicates one message, drops another and cuts one stream (which must reconnect with
Last-Event-ID and catch up): the checker must find exactly those; then the floor app through gunicorn.

The database: `conv_bench_large` is reused when it exists and holds its 1,000,000 messages (BENCH_REUSE=0
regenerates it with bench_inbox's functions; BENCH_DATABASE_URL names the prefix as there). It is migrated
to head first (`flask db upgrade`, a no-op when current). The bench posts into threads of stores other than
store 1 (bench_inbox measures store 1's pages); afterwards it deletes the messages it posted and puts back the
rows of those threads and their readers as they were (BENCH_LIVE_KEEP=1 keeps them).

The bench exits 0 whatever the figures (it reports); 1 only when the run itself broke.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import html
import os
import random
import re
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PASSWORD = "bench-password"

STREAMS = int(os.environ.get("BENCH_LIVE_STREAMS", "5000"))
RATE = float(os.environ.get("BENCH_LIVE_RATE", "20"))
SECONDS = float(os.environ.get("BENCH_LIVE_SECONDS", "60"))
IDLE_SECONDS = float(os.environ.get("BENCH_LIVE_IDLE_SECONDS", "20"))
DRAIN_SECONDS = float(os.environ.get("BENCH_LIVE_DRAIN_SECONDS", "10"))
EMBEDDED_STREAMS = int(os.environ.get("BENCH_LIVE_EMBEDDED_STREAMS", "50"))
EMBEDDED_RATE = float(os.environ.get("BENCH_LIVE_EMBEDDED_RATE", "2"))
EMBEDDED_SECONDS = float(os.environ.get("BENCH_LIVE_EMBEDDED_SECONDS", "30"))
WORKERS = int(os.environ.get("BENCH_LIVE_WORKERS", "2"))  # only without gunicorn.conf.py
SEED = int(os.environ.get("BENCH_LIVE_SEED", "17"))
# Streams being opened at once (each waits for its response headers before the next takes its place).
OPEN_CONCURRENCY = int(os.environ.get("BENCH_LIVE_OPEN_CONCURRENCY", "40"))
OPEN_TIMEOUT = 60.0  # for one stream's response headers (a server may send nothing before the first frame)
REDIS_URL = os.environ.get("BENCH_LIVE_REDIS_URL", "redis://127.0.0.1:6379/3")
FLOOR_CHANNEL = "bench-live-floor:"
POSTS_PER_ACCOUNT_MINUTE = 25  # under the app's MESSAGE_POST_RATE_LIMIT default, 30 per minute
TOKEN = re.compile(r"blq(\d+)q")
MESSAGE_LI = re.compile(r'<li\b[^>]*\bdata-message-id="(\d+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')

TARGETS = {"p95_ms": 300.0, "p99_ms": 1000.0, "memory_mb": 300.0}


def now() -> float:
    return time.perf_counter()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# --------------------------------------------------------------------------------------------------------------
# HTTP/1.1 and SSE over raw asyncio streams
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    sent_at: float
    head_at: float

    def header(self, name: str, default: str = "") -> str:
        return next((v for k, v in self.headers if k == name), default)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


async def read_head(reader: asyncio.StreamReader) -> tuple[int, list[tuple[str, str]]]:
    line = await reader.readline()
    if not line:
        raise ConnectionError("connection closed before the status line")
    parts = line.split(None, 2)
    status = int(parts[1])
    headers = []
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            return status, headers
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name.strip().lower(), value.strip()))


async def body_chunks(reader: asyncio.StreamReader, headers: list[tuple[str, str]]):
    """The body's bytes as they come: chunked, Content-Length or until the server closes."""
    found = dict(headers)
    if "chunked" in found.get("transfer-encoding", "").lower():
        while True:
            size_line = await reader.readline()
            if not size_line:
                raise ConnectionError("connection closed inside a chunked body")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                return
            data = await reader.readexactly(size)
            await reader.readexactly(2)
            yield data
    elif "content-length" in found:
        remaining = int(found["content-length"])
        while remaining:
            data = await reader.read(min(remaining, 65536))
            if not data:
                raise ConnectionError("connection closed inside the body")
            remaining -= len(data)
            yield data
    else:
        while data := await reader.read(65536):
            yield data


def request_bytes(method: str, path: str, host: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def http(host: str, port: int, method: str, path: str, headers: dict[str, str] | None = None,
               body: bytes = b"", timeout: float = 60.0) -> Response:
    """One request on a connection of its own (Connection: close), the whole body read."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        sent_at = now()
        writer.write(request_bytes(method, path, f"{host}:{port}", {"Connection": "close", **(headers or {})}, body))
        await writer.drain()
        status, response_headers = await asyncio.wait_for(read_head(reader), timeout)
        head_at = now()

        async def whole() -> bytes:
            return b"".join([chunk async for chunk in body_chunks(reader, response_headers)])

        data = await asyncio.wait_for(whole(), timeout)
        return Response(status, response_headers, data, sent_at, head_at)
    finally:
        writer.close()


class SseParser:
    """The text/event-stream format (WHATWG HTML, "Server-sent events"), fed bytes as they arrive."""

    def __init__(self):
        self.pending = b""
        self.event = ""
        self.data: list[str] = []
        self.last_id: str | None = None
        self.retry_ms: int | None = None
        self.comments = 0

    def feed(self, chunk: bytes) -> list[tuple[str, str, str | None]]:
        events = []
        lines = (self.pending + chunk).split(b"\n")
        self.pending = lines.pop()
        for raw in lines:
            line = raw[:-1] if raw.endswith(b"\r") else raw
            if not line:
                if self.data:
                    events.append((self.event or "message", "\n".join(self.data), self.last_id))
                self.event, self.data = "", []
            elif line.startswith(b":"):
                self.comments += 1
            else:
                name, _, value = line.decode("utf-8", "replace").partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "event":
                    self.event = value
                elif name == "data":
                    self.data.append(value)
                elif name == "id" and "\0" not in value:
                    self.last_id = value
                elif name == "retry" and value.isdigit():
                    self.retry_ms = int(value)
        return events


HTMX_MAX_RETRIES = 8
READ_TRIGGER = re.compile(r'hx-post="([^"]+/read)" hx-trigger="load"')


def message_items(data: str) -> list[tuple[int, int | None]]:
    """(message id, bench token) of each message <li> in an event's data."""
    found = list(MESSAGE_LI.finditer(data))
    items = []
    for i, match in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(data)
        token = TOKEN.search(data, match.end(), end)
        items.append((int(match.group(1)), int(token.group(1)) if token else None))
    return items


# --------------------------------------------------------------------------------------------------------------
# Accounts, streams, posts
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Account:
    kind: str  # "store" | "customer"
    slug: str
    email: str
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str = ""
    posted: collections.deque = field(default_factory=collections.deque)

    @property
    def prefix(self) -> str:
        return f"/store/{self.slug}" if self.kind == "store" else f"/inbox/{self.slug}"

    def cookie_header(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}

    def absorb(self, response: Response) -> None:
        for name, value in response.headers:
            if name != "set-cookie":
                continue
            pair = value.split(";", 1)[0]
            key, _, val = pair.partition("=")
            key, val = key.strip(), val.strip().strip('"')
            expired = "expires=thu, 01 jan 1970" in value.lower() or "max-age=0" in value.lower()
            if not val or expired:
                self.cookies.pop(key, None)
            else:
                self.cookies[key] = val

    def can_post(self, at: float) -> bool:
        while self.posted and at - self.posted[0] > 61:
            self.posted.popleft()
        return len(self.posted) < POSTS_PER_ACCOUNT_MINUTE


@dataclass
class Sub:
    conv: int
    account: Account | None
    ready_at: float | None = None
    open_ms: float | None = None
    received: list[tuple[int, int | None, float]] = field(default_factory=list)
    last_id: str | None = None
    retry_s: float | None = None
    keepalives: int = 0
    reconnects: int = 0
    other_events: collections.Counter = field(default_factory=collections.Counter)
    error: str | None = None


@dataclass
class Post:
    seq: int
    conv: int
    sent_at: float = 0.0
    answered_at: float = 0.0
    status: int = 0
    error: str = ""


@dataclass
class Plan:
    """Who watches which thread, and who may post into it."""

    subs: list[tuple[Account, int]]
    posters: dict[int, list[Account]]
    layout: str

    @property
    def accounts(self) -> list[Account]:
        seen: dict[int, Account] = {}
        for account, _ in self.subs:
            seen[id(account)] = account
        for accounts in self.posters.values():
            for account in accounts:
                seen[id(account)] = account
        return list(seen.values())

    def posting_accounts(self) -> set[int]:
        return {id(a) for accounts in self.posters.values() for a in accounts}


class AppTarget:
    """The messaging app: portal URLs, signed-in cookies, the real forms."""

    ok_statuses = (302, 303, 200)

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port

    def stream_request(self, sub: Sub) -> tuple[str, dict[str, str]]:
        return f"{sub.account.prefix}/conversations/live?conversation={sub.conv}", sub.account.cookie_header()

    def post_request(self, account: Account, conv: int, content: str) -> tuple[str, dict[str, str], bytes]:
        body = urlencode({"content": content, "csrf_token": account.csrf}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", **account.cookie_header()}
        return f"{account.prefix}/conversations/{conv}/messages", headers, body

    async def sign_in(self, account: Account, need_csrf: bool) -> None:
        page = await http(self.host, self.port, "GET", f"{account.prefix}/login", account.cookie_header())
        account.absorb(page)
        token = CSRF_META.search(page.text)
        form = {"email": account.email, "password": PASSWORD, "csrf_token": token.group(1) if token else ""}
        answer = await http(
            self.host, self.port, "POST", f"{account.prefix}/login",
            {"Content-Type": "application/x-www-form-urlencoded", **account.cookie_header()}, urlencode(form).encode(),
        )
        if answer.status != 302:
            raise RuntimeError(f"sign-in of {account.email} at {account.prefix}: {answer.status} {answer.text[:200]!r}")
        account.absorb(answer)
        if need_csrf:
            home = answer.header("location", f"{account.prefix}/")
            for _ in range(4):
                home = re.sub(r"^https?://[^/]+", "", home)
                page = await http(self.host, self.port, "GET", home, account.cookie_header())
                account.absorb(page)
                if page.status not in (301, 302, 303):
                    break
                home = page.header("location")
            if page.status != 200:
                raise RuntimeError(f"{home} for {account.email}: {page.status}")
            account.csrf = CSRF_META.search(page.text).group(1)


class FloorTarget:
    ok_statuses = (200,)

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port

    def stream_request(self, sub: Sub) -> tuple[str, dict[str, str]]:
        return f"/live?conversation={sub.conv}", {}

    def post_request(self, account: Account, conv: int, content: str) -> tuple[str, dict[str, str], bytes]:
        body = urlencode({"conversation": conv, "content": content}).encode()
        return "/post", {"Content-Type": "application/x-www-form-urlencoded"}, body

    async def sign_in(self, account: Account, need_csrf: bool) -> None:
        return None


class Run:
    """Streams and posts against one target, and the figures they give."""

    def __init__(self, target, plan: Plan, rate: float, seconds: float, server: Server | None = None,
                 idle_seconds: float | None = None, drain_seconds: float | None = None,
                 sign_in: bool = True, reconnect_delay: float = 3.0):
        self.target, self.plan, self.rate, self.seconds, self.server = target, plan, rate, seconds, server
        self.idle_seconds = IDLE_SECONDS if idle_seconds is None else idle_seconds
        self.drain_seconds = DRAIN_SECONDS if drain_seconds is None else drain_seconds
        self.sign_in_accounts = sign_in
        self.reconnect_delay = reconnect_delay
        self.subs = [Sub(conv, account) for account, conv in plan.subs]
        self.posts: list[Post] = []
        self.stopping = False
        self.figures: dict = {"layout": plan.layout}
        self.writers: set[asyncio.StreamWriter] = set()
        self.sub_errors: collections.Counter = collections.Counter()
        self.reads: list[asyncio.Future] = []
        self.read_statuses: collections.Counter = collections.Counter()
        self.read_error_sample = ""

    # -- streams --------------------------------------------------------------------------------------------

    async def stream(self, sub: Sub, gate: asyncio.Semaphore, opened: asyncio.Event, counter: list[int]) -> None:
        first = True
        attempts = 0
        busy_retries = 0

        def give_up() -> None:
            counter[0] += 1  # it will not open: the wait for all streams ends without it
            if counter[0] == len(self.subs):
                opened.set()

        while not self.stopping:
            writer = None
            released = False
            if first:
                await gate.acquire()
            try:
                path, headers = self.target.stream_request(sub)
                headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache", **headers}
                if sub.last_id is not None:
                    headers["Last-Event-ID"] = sub.last_id
                started = now()
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(self.target.host, self.target.port, limit=1 << 20), OPEN_TIMEOUT)
                self.writers.add(writer)
                writer.write(request_bytes("GET", path, f"{self.target.host}:{self.target.port}", headers))
                await writer.drain()
                status, response_headers = await asyncio.wait_for(read_head(reader), OPEN_TIMEOUT)
                content_type = dict(response_headers).get("content-type", "")
                if status != 200 or not content_type.startswith("text/event-stream"):
                    sample = await asyncio.wait_for(reader.read(300), 5)
                    sub.error = f"{status} {content_type} {sample[:120]!r}"
                    self.sub_errors[f"{status} {content_type}"] += 1
                    if status >= 500 and busy_retries < HTMX_MAX_RETRIES:
                        # EventSource gives up on an error status; the htmx SSE extension then opens it again
                        # after 0.5 s, doubling each time (capped at 64 s), as the pages do.
                        busy_retries += 1
                        if first:
                            gate.release()
                            released = True
                        writer.close()
                        await asyncio.sleep(0.5 * min(2 ** (busy_retries - 1), 128))
                        continue  # (the loop takes a turn at the opening gate again)
                    if first:
                        give_up()
                    return
                if first:
                    sub.ready_at = now()
                    sub.open_ms = (sub.ready_at - started) * 1000
                    first = False
                    gate.release()
                    released = True
                    counter[0] += 1
                    if counter[0] == len(self.subs):
                        opened.set()
                parser = SseParser()
                async for chunk in body_chunks(reader, response_headers):
                    arrived = now()
                    before = parser.comments
                    for event, data, _ in parser.feed(chunk):
                        if event == "message":
                            for message_id, token in message_items(data):
                                sub.received.append((message_id, token, arrived))
                            # As the page does once it shows them: it marks them read (POST .../read).
                            if (read := READ_TRIGGER.search(data)) is not None:
                                self.reads.append(asyncio.ensure_future(self.confirm_read(sub, read.group(1))))
                        else:
                            sub.other_events[event] += 1
                    sub.keepalives += parser.comments - before
                    sub.last_id = parser.last_id if parser.last_id is not None else sub.last_id
                    if parser.retry_ms is not None:
                        sub.retry_s = parser.retry_ms / 1000
                if not self.stopping:
                    self.sub_errors["closed by the server"] += 1
            except asyncio.CancelledError:
                raise
            except (TimeoutError, OSError, ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
                if self.stopping:
                    return
                self.sub_errors[f"{type(exc).__name__}"] += 1
                sub.error = f"{type(exc).__name__}: {exc}"
                attempts += 1
                if first and attempts >= 3:
                    give_up()
                    return
            finally:
                if first and not released:
                    gate.release()
                if writer is not None:
                    self.writers.discard(writer)
                    writer.close()
            if self.stopping:
                return
            sub.reconnects += 1
            # As EventSource does: the server's `retry:`, else the browser's default (about 3 s).
            await asyncio.sleep(sub.retry_s if sub.retry_s is not None else self.reconnect_delay)

    async def confirm_read(self, sub: Sub, path: str) -> None:
        headers = {"X-CSRFToken": sub.account.csrf, "HX-Request": "true",
                   **sub.account.cookie_header()}
        try:
            answer = await http(self.target.host, self.target.port, "POST", path, headers, b"", timeout=30)
            self.read_statuses[answer.status] += 1
            if answer.status != 200:
                self.read_error_sample = self.read_error_sample or f"{answer.status} {answer.text[:200]!r}"
        except (TimeoutError, OSError, ConnectionError, asyncio.IncompleteReadError) as exc:
            self.read_statuses[type(exc).__name__] += 1

    # -- posts ----------------------------------------------------------------------------------------------

    def choose(self, rng: random.Random, subscribed: list[int], at: float) -> tuple[int, Account] | None:
        for _ in range(50):
            conv = rng.choice(subscribed)
            candidates = [a for a in self.plan.posters.get(conv, []) if a.can_post(at)]
            if candidates:
                return conv, rng.choice(candidates)
        return None

    async def post(self, post: Post, account: Account) -> None:
        content = f"Live bench message blq{post.seq}q: any news about my parcel?"
        path, headers, body = self.target.post_request(account, post.conv, content)
        try:
            answer = await http(self.target.host, self.target.port, "POST", path, headers, body, timeout=30)
        except (TimeoutError, OSError, ConnectionError, asyncio.IncompleteReadError) as exc:
            post.error = f"{type(exc).__name__}: {exc}"
            return
        post.sent_at, post.answered_at, post.status = answer.sent_at, answer.head_at, answer.status
        if answer.status not in self.target.ok_statuses:
            post.error = f"{answer.status} {answer.text[:160]!r}"
        elif isinstance(self.target, AppTarget):
            account.absorb(answer)

    async def post_loop(self) -> None:
        rng = random.Random(SEED + 1)
        subscribed = sorted({s.conv for s in self.subs if s.ready_at is not None and s.conv in self.plan.posters})
        if not subscribed:
            raise RuntimeError("no open stream to post into")
        tasks = []
        start = now()
        count = int(self.rate * self.seconds)
        for seq in range(count):
            due = start + seq / self.rate
            delay = due - now()
            if delay > 0:
                await asyncio.sleep(delay)
            chosen = self.choose(rng, subscribed, now())
            if chosen is None:
                continue
            conv, account = chosen
            account.posted.append(now())
            post = Post(seq, conv)
            self.posts.append(post)
            tasks.append(asyncio.create_task(self.post(post, account)))
        self.figures["post_seconds"] = now() - start
        await asyncio.gather(*tasks)

    # -- checks ---------------------------------------------------------------------------------------------

    def expected(self, sub: Sub, ok_posts: list[Post]) -> dict[int, Post]:
        if sub.ready_at is None:
            return {}
        return {p.seq: p for p in ok_posts if p.conv == sub.conv and p.sent_at >= sub.ready_at}

    def outstanding(self, by_conv: dict[int, list[Post]]) -> int:
        missing = 0
        for sub in self.subs:
            if sub.ready_at is None:
                continue
            got = {token for _, token, _ in sub.received}
            missing += sum(1 for p in by_conv.get(sub.conv, ()) if p.seq not in got and p.sent_at >= sub.ready_at)
        return missing

    # -- the run --------------------------------------------------------------------------------------------

    async def sign_in_all(self) -> None:
        posting = self.plan.posting_accounts()
        accounts = self.plan.accounts
        gate = asyncio.Semaphore(16)
        failures: list[str] = []

        async def one(account: Account) -> None:
            async with gate:
                for attempt in range(3):
                    try:
                        # Every page's account needs its CSRF token: it posts its read confirmations.
                        await self.target.sign_in(account, True)
                        return
                    except (TimeoutError, OSError, ConnectionError, RuntimeError, AttributeError) as exc:
                        if attempt == 2:
                            failures.append(f"{account.email}: {exc}")

        started = now()
        await asyncio.gather(*(one(a) for a in accounts))
        self.figures["accounts"] = len(accounts)
        self.figures["posting_accounts"] = len(posting)
        self.figures["sign_in_s"] = now() - started
        if failures:
            raise RuntimeError(f"{len(failures)} sign-ins failed, e.g. {failures[:3]}")

    async def run(self) -> dict:
        fig = self.figures
        if self.sign_in_accounts:
            await self.sign_in_all()
        if self.server:
            await asyncio.sleep(1)
            fig["mem_idle"] = self.server.memory()
        gate, opened, counter = asyncio.Semaphore(OPEN_CONCURRENCY), asyncio.Event(), [0]
        started = now()
        tasks = [asyncio.create_task(self.stream(sub, gate, opened, counter)) for sub in self.subs]
        try:
            try:
                await asyncio.wait_for(opened.wait(), OPEN_TIMEOUT * 4 + len(self.subs) / 20)
            except TimeoutError:
                pass
            fig["open_s"] = now() - started
            fig["streams_open"] = sum(1 for s in self.subs if s.ready_at is not None)
            fig["open_ms"] = [s.open_ms for s in self.subs if s.open_ms is not None]
            fig["open_errors"] = dict(self.sub_errors)
            cpu0 = self.server.cpu() if self.server else 0.0
            await asyncio.sleep(self.idle_seconds)
            if self.server:
                fig["cpu_idle_s"] = self.server.cpu() - cpu0
                fig["mem_streams"] = self.server.memory()
                fig["fds"] = self.server.fds()
                fig["db_connections"] = self.server.db_connections()
            fig["keepalives_idle"] = sum(s.keepalives for s in self.subs)
            fig["idle_window_s"] = self.idle_seconds
            cpu0 = self.server.cpu() if self.server else 0.0
            await self.post_loop()
            if self.server:
                fig["cpu_posting_s"] = self.server.cpu() - cpu0
            ok_posts = [p for p in self.posts if not p.error]
            by_conv: dict[int, list[Post]] = collections.defaultdict(list)
            for p in ok_posts:
                by_conv[p.conv].append(p)
            drain_started = now()
            while now() - drain_started < self.drain_seconds and self.outstanding(by_conv):
                await asyncio.sleep(0.25)
            fig["drain_s"] = now() - drain_started
            if self.server:
                fig["mem_after"] = self.server.memory()
        finally:
            self.stopping = True
            for writer in list(self.writers):
                writer.close()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self.check()
        return fig

    def check(self) -> None:
        fig = self.figures
        ok_posts = [p for p in self.posts if not p.error]
        fig["posts_sent"] = len(self.posts)
        fig["posts_ok"] = len(ok_posts)
        fig["post_errors"] = collections.Counter(p.error.split(" ")[0] for p in self.posts if p.error)
        fig["post_error_sample"] = next((p.error for p in self.posts if p.error), "")
        fig["post_ms"] = [(p.answered_at - p.sent_at) * 1000 for p in ok_posts]
        by_seq = {p.seq: p for p in self.posts}
        from_commit, from_sent = [], []
        lost = duplicated = out_of_order = foreign = expected_total = 0
        first_lost = ""
        for sub in self.subs:
            expected = self.expected(sub, ok_posts)
            expected_total += len(expected)
            seen: set[int] = set()
            previous_id = 0
            for message_id, token, arrived in sub.received:
                post = by_seq.get(token) if token is not None else None
                if post is None or post.conv != sub.conv:
                    foreign += 1
                    continue
                if token in seen:
                    duplicated += 1
                    continue
                seen.add(token)
                if message_id <= previous_id:
                    out_of_order += 1
                previous_id = max(previous_id, message_id)
                if token in expected:
                    from_commit.append((arrived - post.answered_at) * 1000)
                    from_sent.append((arrived - post.sent_at) * 1000)
            missing = [seq for seq in expected if seq not in seen]
            lost += len(missing)
            if missing and not first_lost:
                first_lost = f"thread {sub.conv}: message blq{missing[0]}q not received"
        fig.update(
            expected=expected_total, delivered=len(from_commit), lost=lost, duplicated=duplicated,
            out_of_order=out_of_order, foreign=foreign, first_lost=first_lost,
            latency_commit=from_commit, latency_sent=from_sent,
            reconnects=sum(s.reconnects for s in self.subs), keepalives=sum(s.keepalives for s in self.subs),
            other_events=sum((s.other_events for s in self.subs), collections.Counter()),
            stream_errors=dict(self.sub_errors),
            read_confirmations=dict(self.read_statuses), read_error_sample=self.read_error_sample,
            stream_error_sample=next((s.error for s in self.subs if s.error), ""),
            streams=len(self.subs), subscribed_threads=len({s.conv for s in self.subs}),
        )


# --------------------------------------------------------------------------------------------------------------
# Servers: start, wait, measure from /proc, stop
# --------------------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def proc_kb(pid: int, path: str, key: str) -> int:
    try:
        with open(f"/proc/{pid}/{path}") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Server:
    def __init__(self, name: str, command: list[str], env: dict[str, str], port: int, log_dir: Path,
                 health: str = "/healthz", database: str | None = None, unset: tuple[str, ...] = ()):
        self.name, self.command, self.env, self.port, self.health = name, command, env, port, health
        self.unset = unset
        self.log_path = log_dir / f"{name}.log"
        self.database = database
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> None:
        log = open(self.log_path, "wb")
        env = {k: v for k, v in {**os.environ, **self.env}.items() if k not in self.unset}
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=env, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}): {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{self.health}", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError(f"{self.name} did not answer {self.health} in {timeout:.0f} s: {self.log_tail()}")
        # Every worker up (gunicorn forks them after the master binds).
        time.sleep(2)

    def log_tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def pids(self) -> tuple[list[int], list[int]]:
        """(master and its direct children, deeper descendants)."""
        if self.process is None:
            return [], []
        top = [self.process.pid, *children_of(self.process.pid)]
        deeper, frontier = [], top[1:]
        while frontier:
            frontier = [c for p in frontier for c in children_of(p)]
            deeper += frontier
        return top, deeper

    def memory(self) -> dict:
        top, deeper = self.pids()
        return {
            "rss_mb": sum(proc_kb(p, "status", "VmRSS:") for p in top) / 1024,
            "pss_mb": sum(proc_kb(p, "smaps_rollup", "Pss:") for p in top) / 1024,
            "processes": len(top),
            "per_process_mb": [round(proc_kb(p, "status", "VmRSS:") / 1024, 1) for p in top],
            "descendants_mb": sum(proc_kb(p, "status", "VmRSS:") for p in deeper) / 1024,
        }

    def cpu(self) -> float:
        top, deeper = self.pids()
        ticks = 0
        for pid in top + deeper:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])
            except OSError:
                pass
        return ticks / os.sysconf("SC_CLK_TCK")

    def fds(self) -> list[int]:
        top, _ = self.pids()
        counts = []
        for pid in top:
            try:
                counts.append(len(os.listdir(f"/proc/{pid}/fd")))
            except OSError:
                counts.append(-1)
        return counts

    def db_connections(self) -> str | None:
        """The server's PostgreSQL connections, by state ("idle in transaction": held by a request or stream)."""
        if not self.database:
            return None
        try:
            out = subprocess.run(
                ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-tAc",
                 f"SELECT coalesce(state, '?'), count(*) FROM pg_stat_activity WHERE datname = '{self.database}'"
                 " AND pid <> pg_backend_pid() GROUP BY 1 ORDER BY 2 DESC"],
                capture_output=True, text=True, timeout=10,
            )
            rows = [line.split("|") for line in out.stdout.strip().splitlines() if line]
            total = sum(int(n) for _, n in rows)
            held = sum(int(n) for state, n in rows if state.startswith("idle in transaction"))
            return f"{total} ({held} idle in tx)"
        except (OSError, ValueError, subprocess.TimeoutExpired):
            return None

    def problems(self) -> tuple[int, list[str]]:
        text = self.log_tail(50_000_000)
        marks = ("Traceback", "[ERROR]", "[CRITICAL]", "WORKER TIMEOUT", '"level": "error"', '"levelname": "ERROR"',
                 "Exception", "Error:")
        lines = [line for line in text.splitlines() if any(m in line for m in marks)]
        return len(lines), lines[:5]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        for sig, wait in ((signal.SIGINT, 15), (signal.SIGKILL, 10)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # The group may hold children the master left behind.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


_GUNICORN_HELP: list[str] = []


def gunicorn_command(app_spec: str, port: int, *, use_conf: bool, extra: list[str] | None = None) -> list[str]:
    conf = ROOT / "gunicorn.conf.py"
    base = [str(BIN / "gunicorn")]
    if use_conf and conf.exists():
        base += ["-c", str(conf)]
    else:
        # An empty configuration file: gunicorn would otherwise read ./gunicorn.conf.py by itself.
        empty = Path(tempfile.gettempdir()) / "bench_live_empty_gunicorn_conf.py"
        empty.write_text("")
        base += ["-c", str(empty), "-k", "gevent", "--workers", str(WORKERS), "--worker-connections", "10000"]
    if not _GUNICORN_HELP:
        _GUNICORN_HELP.append(subprocess.run([str(BIN / "gunicorn"), "--help"], capture_output=True, text=True).stdout)
    if "--no-control-socket" in _GUNICORN_HELP[0]:
        base.append("--no-control-socket")  # gunicorn 24+: one socket path per machine user, shared by every gunicorn
    return base + ["--bind", f"127.0.0.1:{port}", *(extra or []), app_spec]


def gunicorn_settings(command: list[str], env: dict[str, str]) -> dict[str, str]:
    """worker_class, workers, worker_connections... as gunicorn itself reads them (--print-config)."""
    out = subprocess.run([*command[:-1], "--print-config", command[-1]], cwd=ROOT, env={**os.environ, **env},
                         capture_output=True, text=True, timeout=60)
    wanted = ("worker_class", "workers", "worker_connections", "keepalive", "timeout", "graceful_timeout",
              "max_requests", "backlog", "preload_app")
    settings = {}
    for line in out.stdout.splitlines():
        key, _, value = line.partition("=")
        if key.strip() in wanted:
            settings[key.strip()] = value.strip()
    return settings


def raise_open_files() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 1 << 20
    wanted = min(wanted, 1 << 20)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))  # inherited by the servers started below
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --------------------------------------------------------------------------------------------------------------
# The floor: a minimal gevent SSE WSGI app relaying Redis pub/sub
# --------------------------------------------------------------------------------------------------------------

_floor: dict = {}


def _floor_start() -> dict:
    if _floor:
        return _floor
    import gevent
    import redis

    url = os.environ.get("BENCH_LIVE_FLOOR_REDIS", REDIS_URL)
    streams: dict[bytes, set] = collections.defaultdict(set)
    _floor.update(redis=redis.Redis.from_url(url), streams=streams)

    def listen() -> None:
        while True:
            try:
                pubsub = redis.Redis.from_url(url).pubsub(ignore_subscribe_messages=True)
                pubsub.psubscribe(FLOOR_CHANNEL + "*")
                for item in pubsub.listen():
                    conv = item["channel"][len(FLOOR_CHANNEL):]
                    for queue in list(streams.get(conv, ())):
                        queue.put_nowait(item["data"])
            except Exception:  # Redis away: subscribe again
                gevent.sleep(0.5)

    gevent.spawn(listen)
    return _floor


def floor_app(environ, start_response):
    """The floor (see the module's docstring): GET /live?conversation=N streams, POST /post publishes."""
    import gevent.queue

    state = _floor_start()
    path = environ.get("PATH_INFO", "")
    if path == "/healthz":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    if path == "/post" and environ["REQUEST_METHOD"] == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        form = parse_qs(environ["wsgi.input"].read(length).decode())
        conv, content = form["conversation"][0], form["content"][0]
        message_id = state["redis"].incr(FLOOR_CHANNEL + "id")
        frame = (f"id: {message_id}\nevent: message\n"
                 f'data: <li id="message-{message_id}" data-message-id="{message_id}" class="message">\n'
                 f"data: <p>{html.escape(content)}</p></li>\n\n")
        state["redis"].publish(FLOOR_CHANNEL + conv, frame.encode())
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(message_id).encode()]
    if path == "/live":
        conv = parse_qs(environ.get("QUERY_STRING", "")).get("conversation", ["0"])[0].encode()
        queue = gevent.queue.Queue()
        state["streams"][conv].add(queue)

        def frames():
            try:
                yield b"retry: 1000\n: open\n\n"
                while True:
                    try:
                        yield queue.get(timeout=15)
                    except gevent.queue.Empty:
                        yield b": keep-alive\n\n"
            finally:
                state["streams"][conv].discard(queue)

        start_response("200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache"),
                                  ("X-Accel-Buffering", "no")])
        return frames()
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]


# --------------------------------------------------------------------------------------------------------------
# Data: the 1,000,000-message PostgreSQL database, the embedded SQLite one, and who watches what
# --------------------------------------------------------------------------------------------------------------


def large_database_url() -> tuple[str, str]:
    import sqlalchemy as sa

    base = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/conv_bench")
    name = f"{sa.make_url(base).database}_large"
    return sa.make_url(base).set(database=name).render_as_string(hide_password=False), name


def ensure_large_database() -> tuple[str, str, str]:
    """The database of bench_inbox's "large" scale: reused when complete, else generated by its functions."""
    import sqlalchemy as sa

    sys.path.insert(0, str(ROOT / "bench"))
    import bench_inbox

    url, name = large_database_url()
    stores, per_store, per_conversation = bench_inbox.SCALES["large"]
    reuse = os.environ.get("BENCH_REUSE", "1") != "0"
    complete = False
    if reuse:
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                complete = conn.scalar(sa.text("SELECT count(*) FROM stores")) == stores and (
                    conn.scalar(sa.text("SELECT max(id) FROM messages")) or 0) >= stores * per_store * per_conversation
        except sa.exc.OperationalError:
            complete = False
        except sa.exc.ProgrammingError:
            complete = False
        finally:
            engine.dispose()
    if complete:
        how = "reused"
    else:
        print(f"bench_live: generating {name} with bench_inbox.generate() (a few minutes)", flush=True)
        started = time.perf_counter()
        url = bench_inbox.fresh_database(name)
        from flask_migrate import upgrade
        from werkzeug.security import generate_password_hash

        from messaging_web import create_app
        from messaging_web.extensions import db

        app = create_app({"MESSAGING_ENV": "testing", "TESTING": True, "SECRET_KEY": "bench",
                          "SQLALCHEMY_DATABASE_URI": url, "INSTANCE_DIR": tempfile.mkdtemp(prefix="bench-live-gen-")})
        with app.app_context():
            upgrade()
            with db.engine.begin() as conn:
                bench_inbox.generate(conn, stores, per_store, per_conversation,
                                     generate_password_hash(PASSWORD, "pbkdf2:sha256:1000"))
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
            db.engine.dispose()
        how = f"generated in {time.perf_counter() - started:.0f} s"
    # Migrated to head, as a deployment would before starting the new code (a no-op when current).
    with tempfile.TemporaryDirectory(prefix="bench-live-mig-") as instance:
        migrate = subprocess.run([str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, capture_output=True, text=True,
                                 env={**os.environ, "MESSAGING_ENV": "testing", "FLASK_APP": "wsgi.py",
                                      "DATABASE_URL": url, "SECRET_KEY": "bench", "MESSAGING_INSTANCE_DIR": instance})
    if migrate.returncode != 0:
        raise RuntimeError(f"flask db upgrade on {name} failed: {migrate.stderr[-1500:]}")
    return url, name, how


def make_plan(url: str, total: int, *, skip_store: int | None, seed: int = SEED) -> Plan:
    """80 % of the streams: store team members (both of a store, 8 streams each on threads of 3 of its customers,
    whose customer posts); 20 %: customers (4 streams each on their own threads, the store's first team member
    posts). Only open store-customer threads; stores on each side distinct."""
    import sqlalchemy as sa

    rng = random.Random(seed)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT c.id, c.store_id, s.slug, c.customer_id, cu.email FROM conversations c"
            " JOIN stores s ON s.id = c.store_id JOIN customers cu ON cu.id = c.customer_id"
            " WHERE c.conversation_type = 'store_customer' AND NOT c.is_closed ORDER BY c.id"
        )).all()
        team_rows = conn.execute(sa.text(
            "SELECT id, email, store_id FROM users WHERE store_id IS NOT NULL AND is_active ORDER BY id")).all()
    engine.dispose()
    threads: dict[int, dict[int, list[int]]] = collections.defaultdict(lambda: collections.defaultdict(list))
    slugs, customer_emails = {}, {}
    for conv, store_id, slug, customer_id, email in rows:
        threads[store_id][customer_id].append(conv)
        slugs[store_id], customer_emails[customer_id] = slug, email
    teams: dict[int, list[str]] = collections.defaultdict(list)
    for _, email, store_id in team_rows:
        teams[store_id].append(email)
    stores = [s for s in sorted(threads) if s != skip_store and len(teams[s]) >= 2 and len(threads[s]) >= 3]
    rng.shuffle(stores)
    store_streams = round(total * 0.8)
    customer_streams = total - store_streams
    subs: list[tuple[Account, int]] = []
    posters: dict[int, list[Account]] = collections.defaultdict(list)
    accounts: dict[tuple[str, str, str], Account] = {}

    def account(kind: str, slug: str, email: str) -> Account:
        return accounts.setdefault((kind, slug, email), Account(kind, slug, email))

    store_side = 0
    while store_side < store_streams and stores:
        store = stores.pop()
        customers = sorted(threads[store])
        rng.shuffle(customers)
        pool: list[int] = []
        for customer in customers:
            if len(pool) >= 12:
                break
            pool += threads[store][customer]
            for conv in threads[store][customer]:
                posters[conv].append(account("customer", slugs[store], customer_emails[customer]))
        for email in teams[store][:2]:
            for conv in rng.sample(pool, min(8, len(pool), store_streams - store_side)):
                subs.append((account("store", slugs[store], email), conv))
                store_side += 1
    customer_side = 0
    while customer_side < customer_streams and stores:
        store = stores.pop()
        customer = rng.choice(sorted(threads[store]))
        own = threads[store][customer]
        watcher = account("customer", slugs[store], customer_emails[customer])
        for conv in rng.sample(own, min(4, len(own), customer_streams - customer_side)):
            subs.append((watcher, conv))
            posters[conv].append(account("store", slugs[store], teams[store][0]))
            customer_side += 1
    watched = {conv for _, conv in subs}
    posters = {conv: accounts_ for conv, accounts_ in posters.items() if conv in watched}
    layout = (f"{store_side} store-team streams ({len({id(a) for a, _ in subs if a.kind == 'store'})} team members), "
              f"{customer_side} customer streams ({len({id(a) for a, _ in subs if a.kind == 'customer'})} customers), "
              f"on {len(watched)} threads")
    return Plan(subs, posters, layout)


def make_embedded_database(instance: Path) -> str:
    """A small SQLite database for `flask run`: 10 stores, 2 team members and 20 customers each, 3 open threads
    per customer with 3 messages each, and their readers, made after `flask db upgrade`."""
    import datetime as dt

    import sqlalchemy as sa
    from werkzeug.security import generate_password_hash

    env = {"MESSAGING_ENV": "development", "FLASK_APP": "wsgi.py", "MESSAGING_INSTANCE_DIR": str(instance)}
    migrate = subprocess.run([str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, capture_output=True, text=True,
                             env={**os.environ, **env})
    if migrate.returncode != 0:
        raise RuntimeError(f"flask db upgrade (SQLite) failed: {migrate.stderr[-1500:]}")
    url = f"sqlite:///{instance / 'messaging.sqlite3'}"
    engine = sa.create_engine(url)
    password = generate_password_hash(PASSWORD, "pbkdf2:sha256:1000")
    t0 = dt.datetime(2026, 1, 1)
    stamp = {"created_at": t0, "updated_at": t0}
    stores = [{"id": s, "name": f"Store {s}", "slug": f"store-{s}", "tier": "business", "default_language": "en", **stamp}
              for s in range(1, 11)]
    person = {"password_hash": password, "is_active": True, "session_version": 1, "preferred_language": "en",
              "timezone": "UTC", **stamp}
    users = [{"id": 1 + (s - 1) * 2 + t, "email": f"team{t}@store-{s}.test", "name": f"Team {t} of {s}",
              "is_platform_admin": False, "store_id": s, **person} for s in range(1, 11) for t in (1, 2)]
    customers = [{"id": (s - 1) * 20 + k, "store_id": s, "email": f"c{k}@shop.test", "name": f"Customer {k} of {s}",
                  **person} for s in range(1, 11) for k in range(1, 21)]
    conversations, messages, readers = [], [], []
    for customer in customers:
        s = customer["store_id"]
        for _ in range(3):
            cid = len(conversations) + 1
            last = t0 + dt.timedelta(minutes=cid, seconds=2)
            conversations.append({"id": cid, "conversation_type": "store_customer", "subject": f"Question {cid}",
                                  "store_id": s, "customer_id": customer["id"], "is_closed": False, "message_count": 3,
                                  "last_message_at": last, **stamp})
            for k in range(3):
                sender = ("customer", customer["id"]) if k % 2 == 0 else ("store", 1 + (s - 1) * 2 + 1)
                messages.append({"conversation_id": cid, "sender_type": sender[0], "sender_id": sender[1],
                                 "content": f"Message {k} in thread {cid}", "is_system_message": False,
                                 "is_deleted": False, "created_at": t0 + dt.timedelta(minutes=cid, seconds=k),
                                 "updated_at": t0})
            reader = {"conversation_id": cid, "store_id": s, "unread_count": 0, "last_read_at": last,
                      "email_notifications": True, "muted": False, **stamp}
            readers.append({**reader, "participant_type": "customer", "participant_id": customer["id"]})
            readers += [{**reader, "participant_type": "store", "participant_id": 1 + (s - 1) * 2 + t} for t in (1, 2)]
    meta = sa.MetaData()
    meta.reflect(engine, only=["stores", "users", "customers", "conversations", "messages", "conversation_participants"])
    with engine.begin() as conn:
        for table, rows in (("stores", stores), ("users", users), ("customers", customers),
                            ("conversations", conversations), ("messages", messages),
                            ("conversation_participants", readers)):
            conn.execute(meta.tables[table].insert(), rows)
    engine.dispose()
    return url


class Snapshot:
    """The rows posting changes (the threads, their readers), put back afterwards with the posted messages
    deleted, so that the shared benchmark database stays as bench_inbox made it."""

    def __init__(self, url: str, convs: set[int]):
        import sqlalchemy as sa

        self.engine = sa.create_engine(url)
        self.convs = sorted(convs)
        meta = sa.MetaData()
        meta.reflect(self.engine, only=["conversations", "conversation_participants", "messages"])
        self.tables = meta.tables
        with self.engine.connect() as conn:
            self.max_message = conn.scalar(sa.text("SELECT max(id) FROM messages")) or 0
            self.rows = {
                name: [dict(r._mapping) for r in conn.execute(
                    sa.select(self.tables[name]).where(self.tables[name].c[key].in_(self.convs)))]
                for name, key in (("conversations", "id"), ("conversation_participants", "conversation_id"))
            }

    def restore(self) -> int:
        import sqlalchemy as sa

        messages = self.tables["messages"]
        with self.engine.begin() as conn:
            deleted = conn.execute(sa.delete(messages).where(
                messages.c.id > self.max_message, messages.c.conversation_id.in_(self.convs))).rowcount
            for name, rows in self.rows.items():
                table = self.tables[name]
                columns = [c.name for c in table.columns if c.name != "id"]
                statement = sa.update(table).where(table.c.id == sa.bindparam("_id")).values(
                    {c: sa.bindparam(f"_{c}") for c in columns})
                if rows:
                    conn.execute(statement, [{"_id": r["id"], **{f"_{c}": r[c] for c in columns}} for r in rows])
        self.engine.dispose()
        return deleted


# --------------------------------------------------------------------------------------------------------------
# The parts
# --------------------------------------------------------------------------------------------------------------


def live_bus_setting() -> str:
    """The config name of the live bus's URL, as messaging_web/config.py spells it once the code lands."""
    text = (ROOT / "messaging_web" / "config.py").read_text()
    names = re.findall(r'"(LIVE_[A-Z_]*URL[A-Z_]*)"', text)
    return names[0] if names else "LIVE_BUS_URL"


def live_endpoint_present() -> bool:
    return (ROOT / "messaging_web" / "web" / "live_views.py").exists()


async def measure(run: Run) -> dict:
    return await run.run()


def part_app(log_dir: Path) -> dict:
    url, name, how = ensure_large_database()
    plan = make_plan(url, STREAMS, skip_store=1)
    port = free_port()
    bus = live_bus_setting()
    import sqlalchemy as sa

    env = {
        "MESSAGING_ENV": "production", "FLASK_APP": "wsgi.py", "DATABASE_URL": url,
        "SECRET_KEY": secrets.token_urlsafe(48), "MESSAGING_ENCRYPTION_KEYS": fernet_key(),
        "MESSAGING_INSTANCE_DIR": str(log_dir / "app-instance"), "SESSION_COOKIE_SECURE": "0",
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/2", bus: REDIS_URL,
        "EMAIL_DISPATCHER": "inprocess", "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "WEB_PORT": str(port),
    }
    command = gunicorn_command("wsgi:app", port, use_conf=True)
    server = Server("app", command, env, port, log_dir, database=name)
    settings = gunicorn_settings(command, env)
    snapshot = Snapshot(url, {conv for _, conv in plan.subs})
    with contextlib.ExitStack() as cleanup:
        if os.environ.get("BENCH_LIVE_KEEP") != "1":
            cleanup.callback(lambda: print(f"bench_live: {name}: {snapshot.restore()} posted messages deleted, "
                                           "threads and readers put back", flush=True))
        cleanup.callback(server.stop)
        server.start()
        run = Run(AppTarget("127.0.0.1", port), plan, RATE, SECONDS, server)
        fig = asyncio.run(measure(run))
        fig["log_problems"] = server.problems()  # before the shutdown, which logs greenlets killed in their sleep
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        fig["messages_in_db"] = conn.scalar(sa.text("SELECT count(*) FROM messages"))
    engine.dispose()
    fig.update(server_command=" ".join(Path(c).name if i == 0 else c for i, c in enumerate(command)),
               gunicorn=settings, database=f"{name} ({how})", bus=f"{bus}={REDIS_URL}")
    fig["log"] = str(server.log_path)
    return fig


def part_floor(log_dir: Path, plan: Plan | None = None) -> dict:
    if plan is None:
        url, _, _ = ensure_large_database()
        plan = make_plan(url, STREAMS, skip_store=1)
    port = free_port()
    command = gunicorn_command("bench_live:floor_app", port, use_conf=False,
                               extra=["--pythonpath", str(ROOT / "bench")])
    if (ROOT / "gunicorn.conf.py").exists():
        # As many workers as the app got from its gunicorn.conf.py.
        workers = gunicorn_settings(gunicorn_command("wsgi:app", port, use_conf=True), {}).get("workers")
        if workers:
            command[command.index("--workers") + 1] = workers
    server = Server("floor", command, {"BENCH_LIVE_FLOOR_REDIS": REDIS_URL}, port, log_dir)
    try:
        server.start()
        fig = asyncio.run(measure(Run(FloorTarget("127.0.0.1", port), plan, RATE, SECONDS, server, sign_in=False)))
        fig["log_problems"] = server.problems()
    finally:
        server.stop()
        with contextlib.suppress(Exception):
            import redis

            redis.Redis.from_url(REDIS_URL).delete(FLOOR_CHANNEL + "id")
    fig["server_command"] = " ".join(Path(c).name if i == 0 else c for i, c in enumerate(command))
    return fig


def part_embedded(log_dir: Path) -> dict:
    instance = log_dir / "embedded-instance"
    instance.mkdir()
    url = make_embedded_database(instance)
    plan = make_plan(url, EMBEDDED_STREAMS, skip_store=None)
    port = free_port()
    env = {"MESSAGING_ENV": "development", "FLASK_APP": "wsgi.py", "MESSAGING_INSTANCE_DIR": str(instance),
           "EMBEDDED_SCHEDULER": "1", "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    # The embedded defaults, whatever this shell exports.
    unset = ("DATABASE_URL", live_bus_setting(), "RATELIMIT_STORAGE_URI", "EMAIL_DISPATCHER", "SECRET_KEY")
    command = [str(BIN / "flask"), "run", "--host", "127.0.0.1", "--port", str(port)]
    server = Server("embedded", command, env, port, log_dir, unset=unset)
    try:
        server.start()
        fig = asyncio.run(measure(Run(AppTarget("127.0.0.1", port), plan, EMBEDDED_RATE, EMBEDDED_SECONDS, server,
                                      idle_seconds=min(IDLE_SECONDS, 20))))
        fig["log_problems"] = server.problems()
    finally:
        server.stop()
    fig["server_command"] = "flask run (threaded development server), SQLite, in-process bus"
    return fig


def fernet_key() -> str:
    import base64

    return base64.urlsafe_b64encode(os.urandom(32)).decode()


# --------------------------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------------------------


def fmt_ms(values: list[float], p: float | None) -> str:
    if not values:
        return "-"
    return f"{(max(values) if p is None else percentile(values, p)):.1f}"


def verdict(value: float, target: float) -> str:
    if value != value:  # nan
        return "n/a"
    return "ok" if value <= target else "MISSED"


def report(parts: dict[str, dict], errors: dict[str, str]) -> None:
    print()
    print(f"== bench_live: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; open-file limit "
          f"{resource.getrlimit(resource.RLIMIT_NOFILE)[0]}")
    for name, error in errors.items():
        print(f"   {name}: NOT MEASURED: {error}")
    columns = [n for n in ("app", "floor", "embedded") if n in parts]
    if not columns:
        return
    for name in columns:
        fig = parts[name]
        print(f"   {name}: {fig.get('server_command', '')}")
        if "gunicorn" in fig:
            print(f"      gunicorn settings: {fig['gunicorn']}")
        if "database" in fig:
            print(f"      database {fig['database']}, {fig.get('messages_in_db', 0):,} messages; bus {fig['bus']}")
        print(f"      layout: {fig['layout']}")
        if fig.get("accounts"):
            print(f"      signed in {fig['accounts']} accounts ({fig['posting_accounts']} posting) in {fig['sign_in_s']:.1f} s")
    width = 13
    print()
    print(f"   {'':<44}" + "".join(f"{c:>{width}}" for c in columns) + f"{'target':>{width + 4}}")

    def row(label: str, values: list[str], target: str = "") -> None:
        print(f"   {label:<44}" + "".join(f"{v:>{width}}" for v in values) + f"{target:>{width + 4}}")

    def each(fn) -> list[str]:
        out = []
        for c in columns:
            try:
                out.append(fn(parts[c]))
            except (KeyError, TypeError, ValueError, ZeroDivisionError):
                out.append("-")
        return out

    row("streams open / asked", each(lambda f: f"{f['streams_open']}/{f['streams']}"),
        f"{STREAMS} / {EMBEDDED_STREAMS}")
    row("threads with subscribers", each(lambda f: str(f["subscribed_threads"])))
    row("time to open them all, s", each(lambda f: f"{f['open_s']:.1f}"))
    row("stream connect p50 / p95, ms", each(lambda f: f"{fmt_ms(f['open_ms'], 50)}/{fmt_ms(f['open_ms'], 95)}"))
    row("posts ok / sent", each(lambda f: f"{f['posts_ok']}/{f['posts_sent']}"))
    row("post rate asked, /s", each(lambda f: f"{(f['posts_sent'] / f['post_seconds']):.1f}"),
        f"{RATE:g} / {EMBEDDED_RATE:g}")
    row("POST answered p50 / p95, ms", each(lambda f: f"{fmt_ms(f['post_ms'], 50)}/{fmt_ms(f['post_ms'], 95)}"))
    row("deliveries expected", each(lambda f: str(f["expected"])))
    row("delivered", each(lambda f: str(f["delivered"])))
    row("lost", each(lambda f: str(f["lost"])), "0")
    row("duplicated", each(lambda f: str(f["duplicated"])), "0")
    row("out of id order", each(lambda f: str(f["out_of_order"])), "0")
    row("foreign (not posted into that thread)", each(lambda f: str(f["foreign"])), "0")
    print("   delivery latency, commit (POST answered) to event read:")
    row("  p50 ms", each(lambda f: fmt_ms(f["latency_commit"], 50)))
    row("  p95 ms", each(lambda f: fmt_ms(f["latency_commit"], 95)), f"<= {TARGETS['p95_ms']:.0f}")
    row("  p99 ms", each(lambda f: fmt_ms(f["latency_commit"], 99)), f"<= {TARGETS['p99_ms']:.0f}")
    row("  max ms", each(lambda f: fmt_ms(f["latency_commit"], None)))
    print("   delivery latency, POST sent to event read:")
    row("  p50 ms", each(lambda f: fmt_ms(f["latency_sent"], 50)))
    row("  p95 ms", each(lambda f: fmt_ms(f["latency_sent"], 95)))
    row("  p99 ms", each(lambda f: fmt_ms(f["latency_sent"], 99)))
    row("  max ms", each(lambda f: fmt_ms(f["latency_sent"], None)))
    row("reconnects (stream cut, Last-Event-ID)", each(lambda f: str(f["reconnects"])))
    row("keep-alive comments read (whole run)", each(lambda f: str(f["keepalives"])))
    print("   server memory (master + workers, from /proc):")
    row("  RSS idle (signed in, before streams), MB", each(lambda f: f"{f['mem_idle']['rss_mb']:.0f}"))
    row("  RSS with the streams open, MB", each(lambda f: f"{f['mem_streams']['rss_mb']:.0f}"))
    row("  RSS above idle, MB", each(lambda f: f"{f['mem_streams']['rss_mb'] - f['mem_idle']['rss_mb']:.0f}"),
        f"<= {TARGETS['memory_mb']:.0f}")
    row("  per stream, KB", each(lambda f: f"{(f['mem_streams']['rss_mb'] - f['mem_idle']['rss_mb']) * 1024 / max(1, f['streams_open']):.1f}"))
    row("  PSS idle / with streams, MB", each(lambda f: f"{f['mem_idle']['pss_mb']:.0f}/{f['mem_streams']['pss_mb']:.0f}"))
    row("  RSS after posting, MB", each(lambda f: f"{f['mem_after']['rss_mb']:.0f}"))
    row("  processes (master + workers)", each(lambda f: str(f["mem_streams"]["processes"])))
    row("  RSS of their children (sandbox...), MB", each(lambda f: f"{f['mem_streams']['descendants_mb']:.0f}"))
    row("open files per process, streams open", each(lambda f: "/".join(str(n) for n in f["fds"])))
    row("server CPU s, streams idle (per window)", each(lambda f: f"{f['cpu_idle_s']:.1f}/{f['idle_window_s']:.0f}s"))
    row("server CPU s while posting", each(lambda f: f"{f['cpu_posting_s']:.1f}/{f['post_seconds']:.0f}s"))
    row("PostgreSQL connections, streams open", each(lambda f: f.get("db_connections") or "-"))
    row("log lines with errors", each(lambda f: str(f["log_problems"][0])))
    for c in columns:
        fig = parts[c]
        notes = []
        if fig.get("open_errors"):
            notes.append(f"while opening: {fig['open_errors']}")
        if fig.get("stream_errors"):
            notes.append(f"stream errors: {fig['stream_errors']}; e.g. {fig['stream_error_sample'][:200]}")
        if fig.get("post_errors"):
            notes.append(f"post errors: {dict(fig['post_errors'])}; e.g. {fig['post_error_sample'][:200]}")
        if fig.get("first_lost"):
            notes.append(f"lost: {fig['first_lost']}")
        if fig.get("other_events"):
            notes.append(f"other events read: {dict(fig['other_events'])}")
        if fig.get("read_confirmations"):
            notes.append(f"read confirmations posted (as pages do), by answer: {fig['read_confirmations']}"
                         + (f"; e.g. {fig['read_error_sample']}" if fig.get("read_error_sample") else ""))
        if fig.get("log_problems", (0, []))[0]:
            notes.append("log: " + " | ".join(line[:200] for line in fig["log_problems"][1]))
        if "mem_streams" in fig:
            notes.append(f"RSS per process idle {fig['mem_idle']['per_process_mb']} -> with streams "
                         f"{fig['mem_streams']['per_process_mb']} MB")
        for note in notes:
            print(f"   {c}: {note}")
    print()
    for c in columns:
        fig = parts[c]
        if not fig.get("latency_commit"):
            continue
        p95, p99 = percentile(fig["latency_commit"], 95), percentile(fig["latency_commit"], 99)
        line = (f"   {c}: p95 {p95:.0f} ms ({verdict(p95, TARGETS['p95_ms'])}), "
                f"lost {fig['lost']}, duplicated {fig['duplicated']}")
        if c != "embedded":
            memory = fig["mem_streams"]["rss_mb"] - fig["mem_idle"]["rss_mb"]
            line += (f", p99 {p99:.0f} ms ({verdict(p99, TARGETS['p99_ms'])}), "
                     f"{fig['streams_open']} streams, memory +{memory:.0f} MB ({verdict(memory, TARGETS['memory_mb'])})")
        print(line)
    if "app" in parts and "floor" in parts:
        app, floor = parts["app"], parts["floor"]
        if app.get("latency_commit") and floor.get("latency_commit"):
            print(f"   app / floor: p50 {percentile(app['latency_sent'], 50) / max(0.01, percentile(floor['latency_sent'], 50)):.1f}x, "
                  f"p95 {percentile(app['latency_sent'], 95) / max(0.01, percentile(floor['latency_sent'], 95)):.1f}x "
                  "(POST sent to event read); memory per stream "
                  f"{(app['mem_streams']['rss_mb'] - app['mem_idle']['rss_mb']) / max(0.01, floor['mem_streams']['rss_mb'] - floor['mem_idle']['rss_mb']):.1f}x")


# --------------------------------------------------------------------------------------------------------------
# Self-test: the client against stand-in servers
# --------------------------------------------------------------------------------------------------------------


class StandIn:
    """An asyncio SSE server of the protocol: GET /live?conversation=N, POST /post. Faults on purpose: the
    message numbered `dup_seq` is sent twice, `drop_seq` never sent to its first stream, the first stream of
    thread `cut_conv` is cut after its first message and catches up from Last-Event-ID on reconnect."""

    def __init__(self, chunked: bool, dup_seq: int, drop_seq: int):
        self.chunked, self.dup_seq, self.drop_seq = chunked, dup_seq, drop_seq
        self.streams: dict[int, list] = collections.defaultdict(list)
        self.log: list[tuple[int, int, bytes]] = []  # (id, conv, frame)
        self.cut_conv: int | None = None
        self.cut_done = False
        self.port = 0

    def frame(self, message_id: int, content: str) -> bytes:
        return (f"id: {message_id}\r\nevent: message\r\ndata: <li id=\"message-{message_id}\" "
                f"data-message-id=\"{message_id}\">\r\ndata: {html.escape(content)}</li>\r\n\r\n").encode()

    async def send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(b"%x\r\n%s\r\n" % (len(data), data) if self.chunked else data)
        await writer.drain()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            method, target, _ = line.decode().split(" ", 2)
            headers = {}
            while (h := await reader.readline()) not in (b"\r\n", b""):
                k, _, v = h.decode().partition(":")
                headers[k.strip().lower()] = v.strip()
            path, _, query = target.partition("?")
            if method == "POST":
                body = parse_qs((await reader.readexactly(int(headers["content-length"]))).decode())
                conv, content = int(body["conversation"][0]), body["content"][0]
                message_id = len(self.log) + 1
                frame = self.frame(message_id, content)
                self.log.append((message_id, conv, frame))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                await writer.drain()
                seq = int(TOKEN.search(content).group(1))
                for i, (queue, _) in enumerate(list(self.streams[conv])):
                    if seq == self.drop_seq and i == 0:
                        continue
                    queue.put_nowait(frame)
                    if seq == self.dup_seq and i == 0:
                        queue.put_nowait(frame)
                return
            conv = int(parse_qs(query)["conversation"][0])
            queue: asyncio.Queue = asyncio.Queue()
            encoding = "Transfer-Encoding: chunked\r\n" if self.chunked else "Connection: close\r\n"
            writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n{encoding}\r\n".encode())
            await self.send(writer, b"retry: 500\n: hello\n\nevent: presence\ndata: <p>someone</p>\n\n")
            last = int(headers.get("last-event-id", "0") or 0)
            if last:
                for message_id, c, frame in self.log:
                    if c == conv and message_id > last:
                        await self.send(writer, frame)
            entry = (queue, writer)
            self.streams[conv].append(entry)
            if self.cut_conv is None:
                self.cut_conv = conv
            try:
                while True:
                    try:
                        frame = await asyncio.wait_for(queue.get(), 2)
                    except TimeoutError:
                        await self.send(writer, b": keep-alive\n\n")
                        continue
                    # Cut in two TCP writes mid-line, as a proxy may.
                    await self.send(writer, frame[:7])
                    await self.send(writer, frame[7:])
                    if conv == self.cut_conv and not self.cut_done and self.streams[conv][0] is entry:
                        self.cut_done = True
                        return
            finally:
                self.streams[conv].remove(entry)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, KeyError, asyncio.CancelledError):
            pass  # the client went away, or the stand-in is shut down
        finally:
            writer.close()


def self_test_parser() -> None:
    stream = (b"retry: 1000\r\n: keep-alive\r\n\r\nid: 7\nevent: message\ndata: <li id=\"message-7\" "
              b"data-message-id=\"7\">\ndata: blq3q</li>\n\nevent: typing\ndata: x\n\n"
              b"event: message\ndata: <li data-message-id=\"8\">blq4q</li><li data-message-id=\"9\">blq5q</li>\n\n")
    for step in (1, 2, 5, len(stream)):
        parser = SseParser()
        events = []
        for i in range(0, len(stream), step):
            events += parser.feed(stream[i:i + step])
        assert [e[0] for e in events] == ["message", "typing", "message"], events
        assert message_items(events[0][1]) == [(7, 3)], events[0]
        assert message_items(events[2][1]) == [(8, 4), (9, 5)], events[2]
        assert parser.last_id == "7" and parser.comments == 1, (parser.last_id, parser.comments)
    print("self-test: SSE parser ok (frames cut at every byte, CRLF, comments, several data lines and items)")


async def self_test_standin(chunked: bool) -> None:
    dup_seq, drop_seq = 5, 9
    stand_in = StandIn(chunked, dup_seq, drop_seq)
    server = await asyncio.start_server(stand_in.handle, "127.0.0.1", 0, limit=1 << 20)
    port = server.sockets[0].getsockname()[1]
    stand_in.port = port
    rng = random.Random(3)
    convs = list(range(1, 21))
    subs = [(None, rng.choice(convs)) for _ in range(200)]
    watched = sorted({c for _, c in subs})
    poster = Account("customer", "x", "x@x")
    poster.posted = collections.deque(maxlen=1)  # no per-account budget against the stand-in
    plan = Plan(subs, {c: [poster] for c in watched}, "stand-in")
    run = Run(FloorTarget("127.0.0.1", port), plan, rate=20, seconds=2, idle_seconds=2.5, drain_seconds=3,
              sign_in=False, reconnect_delay=0.3)
    # Make the faults land on streams: the posts numbered dup_seq and drop_seq go to watched threads (they do:
    # every post goes into a watched thread); the first stream of their thread is the faulty one.
    async with server:
        fig = await run.run()
    assert fig["streams_open"] == 200, fig["streams_open"]
    assert fig["posts_ok"] == 40, (fig["posts_ok"], fig["post_errors"])
    assert fig["duplicated"] == 1, fig["duplicated"]
    assert fig["lost"] == 1, (fig["lost"], fig["first_lost"])
    assert fig["reconnects"] == 1, fig["reconnects"]
    assert fig["out_of_order"] == 0 and fig["foreign"] == 0, fig
    assert fig["delivered"] == fig["expected"] - fig["lost"], fig
    assert fig["other_events"]["presence"] >= 200, fig["other_events"]
    assert fig["keepalives"] >= 200, fig["keepalives"]
    kind = "chunked" if chunked else "close-delimited"
    print(f"self-test: stand-in server ({kind}): 200 streams, 40 posts, {fig['expected']} deliveries expected: "
          f"found the 1 duplicate, the 1 lost and the 1 cut stream caught up after reconnecting; "
          f"p50 {fmt_ms(fig['latency_commit'], 50)} ms")


def self_test() -> int:
    raise_open_files()
    self_test_parser()
    asyncio.run(self_test_standin(chunked=True))
    asyncio.run(self_test_standin(chunked=False))
    # The floor through gunicorn, on a small layout of made-up threads: server start/stop, /proc readings.
    with log_directory() as tmp:
        subs = [(None, 1_000_000 + i % 300) for i in range(600)]
        poster = Account("customer", "x", "x@x")
        poster.posted = collections.deque(maxlen=1)
        plan = Plan(subs, {c: [poster] for _, c in subs}, "600 streams on 300 made-up threads")
        global RATE, SECONDS, IDLE_SECONDS
        RATE, SECONDS, IDLE_SECONDS = 20, 3, 2
        fig = part_floor(Path(tmp), plan)
        assert fig["streams_open"] == 600 and fig["lost"] == 0 and fig["duplicated"] == 0, fig
        print(f"self-test: floor through gunicorn: {fig['streams_open']} streams, {fig['delivered']} deliveries, "
              f"p95 {fmt_ms(fig['latency_commit'], 95)} ms, RSS {fig['mem_idle']['rss_mb']:.0f} -> "
              f"{fig['mem_streams']['rss_mb']:.0f} MB, log problems: {fig['log_problems']}")
    print("self-test: ok")
    return 0


# --------------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def log_directory():
    """The servers' logs and instance folders: BENCH_LIVE_LOG_DIR (kept), else a temporary folder."""
    kept = os.environ.get("BENCH_LIVE_LOG_DIR")
    if kept:
        path = Path(tempfile.mkdtemp(prefix="bench-live-", dir=Path(kept).resolve()))
        print(f"bench_live: logs in {path}", flush=True)
        yield str(path)
        return
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        yield tmp


def main() -> int:
    if "--self-test" in sys.argv[1:]:
        return self_test()
    limit = raise_open_files()
    if limit < STREAMS + 1000:
        print(f"bench_live: the open-file limit is {limit}, too low for {STREAMS} streams", file=sys.stderr)
        return 1
    chosen = [p.strip() for p in os.environ.get("BENCH_LIVE_PARTS", "app,floor,embedded").split(",") if p.strip()]
    parts: dict[str, dict] = {}
    errors: dict[str, str] = {}
    with log_directory() as tmp:
        log_dir = Path(tmp)
        for name in chosen:
            if name in ("app", "embedded") and not live_endpoint_present():
                errors[name] = "messaging_web/web/live_views.py does not exist yet (the stream endpoint)"
                continue
            print(f"bench_live: {name} ...", flush=True)
            try:
                parts[name] = {"app": part_app, "floor": part_floor, "embedded": part_embedded}[name](log_dir)
            except Exception as exc:  # a part that breaks is reported, the others still run
                import traceback

                traceback.print_exc()
                errors[name] = f"{type(exc).__name__}: {exc}"[:600]
        report(parts, errors)
    broke = [n for n in errors if n in chosen and "does not exist yet" not in errors[n]]
    return 1 if broke or not parts else 0


if __name__ == "__main__":
    sys.exit(main())
