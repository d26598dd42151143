"""Live conversations: one server-sent event stream per open tab, and the composer's "is typing" signal.

Every signed-in portal page opens one stream (`<portal>/conversations/live`, the htmx SSE extension on
<body>): the nav badge follows the account's unread count, the inbox refreshes its rows, and a thread page
(?conversation=<id>) receives its new messages, deletions, close and reopen, who types and who else views.

A stream holds no database connection while it waits. When an event arrives (services/live, published after
the poster's commit, through Redis in production) it is checked against the stream's account
(access.may_see_thread_event) and then read again for that account through the same access helpers and
queries as the pages: what a stream sends is what a poll would return, so a cut stream that reconnects with
Last-Event-ID (the thread cursor: last message id and deletion cursor) catches up exactly, and a browser
without push falls back to the same polls. Signing out, or losing access to the thread, ends the stream.
"""
from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Blueprint, Response, current_app, g, render_template, request, stream_with_context, url_for
from flask_wtf import FlaskForm

from .. import access
from ..actors import Actor, current_actor, load_actor
from ..extensions import db
from ..i18n import _, _l, current_language
from ..services import conversations, live, store_settings
from ..services.errors import NotFound
from .portal import int_arg
from .rate_limits import per_account
from .read_only import read_only

typing_limit = per_account("LIVE_TYPING_RATE_LIMIT", "live-typing")

SIDE_TEAMS = {"admin": _l("The platform team"), "store": _l("The store team")}


def register(app) -> None:
    # Pages outside the portals (sign-in, public pages) follow nothing.
    app.jinja_env.globals["live_stream_url"] = None


def register_live_views(bp: Blueprint, portal, *, prefix: str) -> None:
    """Add the stream and the typing signal to a portal's blueprint (see conversation_views)."""

    @bp.get(f"{prefix}/live")
    @read_only
    def live_stream():
        # The portal guard's account query is done: its connection goes back to the pool before the wait for
        # a turn, or a burst of waiting streams would hold the whole pool while waiting.
        db.session.close()
        try:
            with database_turn(timeout=current_app.config["DATABASE_POOL_TIMEOUT"]):
                return _open_stream()
        except StreamsBusy:
            # The browser's EventSource gives up on an error status; the htmx extension then reconnects after a
            # growing delay, and the page polls meanwhile (live.js).
            return Response("busy", status=503, headers={"Retry-After": "3"}, mimetype="text/plain")

    def _open_stream():
        actor = current_actor()
        thread_id = int_arg(request.args, "conversation")
        cursor, scope = None, None
        if thread_id is not None:
            thread = access.access_conversation(actor, thread_id)
            scope = live.thread_scope(thread)
            cursor = ThreadCursor.parse(request.headers.get("Last-Event-ID")) or ThreadCursor.from_args(request.args)
            if cursor.after is None:  # not opened by a page: from now on
                newest = conversations.thread_messages(thread, limit=1).messages
                cursor.after = newest[-1].id if newest else 0
        stream = LiveStream(actor, scope, cursor, inbox=request.args.get("inbox") == "1",
                            read_endpoint=portal.endpoint("conversation_read"))
        if actor.is_customer and thread_id is not None:
            stream.staff_names_shown = store_settings.shows_staff_names(actor.store_id)
        # Nothing stays open while the stream waits: the connection goes back to the pool.
        db.session.commit()
        response = Response(stream_with_context(stream.frames()), mimetype="text/event-stream")
        response.headers["Cache-Control"] = "no-cache, no-store"
        response.headers["X-Accel-Buffering"] = "no"  # nginx: pass the events on as they come
        return response

    @bp.post(f"{prefix}/<int:conversation_id>/read")
    def conversation_read(conversation_id: int):
        """The page shows what its stream sent: read up to now. The page says so, not the stream, whose tab may
        be gone (a closed tab's stream lives on until its next write fails) and must not read for nobody."""
        actor = current_actor()
        # The thread with the reader's row in one plain query; an UPDATE only if something was unread.
        conversations.mark_thread_read(actor, access.access_thread_head(actor, conversation_id))
        db.session.commit()
        return "", 204  # the badges of all the account's tabs follow by their streams (live.reader_changed)

    @bp.post(f"{prefix}/<int:conversation_id>/typing")
    @typing_limit
    def conversation_typing(conversation_id: int):
        actor = current_actor()
        thread = access.access_conversation(actor, conversation_id)
        if FlaskForm().validate_on_submit():
            live.announce_typing(actor, thread)
        return "", 204


class StreamsBusy(Exception):
    """Every turn at the database for streams is taken: this process is catching up a burst of streams."""


_GATE = "messaging_live_database_gate"


@contextmanager
def database_turn(timeout: float | None = None):
    """At most LIVE_DB_CONCURRENCY streams of this process read the database at once, however many are open:
    a burst of reconnects (a restart, a deploy) waits its turn instead of taking the whole pool from the
    pages. Created on first use, under gevent's monkey patching: a waiting stream yields to the others."""
    gate = current_app.extensions.get(_GATE)
    if gate is None:
        gate = current_app.extensions.setdefault(_GATE, threading.BoundedSemaphore(
            current_app.config["LIVE_DB_CONCURRENCY"]))
    if not gate.acquire(timeout=timeout):
        raise StreamsBusy
    try:
        yield
    finally:
        gate.release()


class BadgeCache:
    """The last nav badge rendered per account in this process, and when its rendering began: a render begun
    after a stream heard of a change (which was committed before it was published) shows that change."""

    _EXTENSION = "messaging_live_badges"
    LIMIT = 20_000  # accounts; past it the cache starts again (an entry is only worth its next few seconds)

    def __init__(self) -> None:
        self._entries: dict[tuple, tuple[float, str]] = {}

    @classmethod
    def of_app(cls) -> BadgeCache:
        cache = current_app.extensions.get(cls._EXTENSION)
        if cache is None:
            cache = current_app.extensions.setdefault(cls._EXTENSION, cls())
        return cache

    def fresh(self, key: tuple, changed_at: float) -> str | None:
        entry = self._entries.get(key)
        return entry[1] if entry is not None and entry[0] >= changed_at else None

    def keep(self, key: tuple, started: float, html: str) -> None:
        if len(self._entries) >= self.LIMIT:
            self._entries.clear()
        entry = self._entries.get(key)
        if entry is None or entry[0] < started:
            self._entries[key] = (started, html)


class ThreadCursor:
    """Where a thread's stream stands: the last message sent and the deletion cursor (as the polls' fields)."""

    def __init__(self, after: int | None, deleted_since: str | None):
        self.after = after
        self.deleted_since = deleted_since

    @classmethod
    def parse(cls, raw: str | None) -> ThreadCursor | None:
        """From Last-Event-ID ("<after>~<deleted since>"); None when absent or not ours."""
        if not raw or "~" not in raw:
            return None
        after, _, since = raw.partition("~")
        if not after.isdigit() or len(after) > 10:
            return None
        return cls(int(after), since[:64] or None)

    @classmethod
    def from_args(cls, args) -> ThreadCursor:
        return cls(int_arg(args, "after"), (args.get("deleted_since") or "")[:64] or None)

    def event_id(self) -> str:
        return f"{self.after}~{self.deleted_since or ''}"


def sse_frame(event: str, data: str, event_id: str | None = None) -> str:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines += [f"data: {line}" for line in (data.splitlines() or [""])]
    return "\n".join(lines) + "\n\n"


class LiveStream:
    """One tab's stream: what it follows, and the frames it sends for the events it receives."""

    def __init__(self, actor: Actor, scope: dict | None, cursor: ThreadCursor | None, *, inbox: bool,
                 read_endpoint: str):
        self.actor = actor
        self.scope = scope  # the thread followed (live.thread_scope), if any
        self.thread_id: int | None = scope["conversation_id"] if scope else None
        self._joined = False
        self.cursor = cursor
        self.inbox = inbox
        self.read_url = url_for(read_endpoint, conversation_id=self.thread_id) if self.thread_id else None
        self.key = uuid.uuid4().hex  # this stream among the thread's viewers
        self.bus = live.live_bus()
        config = current_app.config
        self.keepalive = config["LIVE_KEEPALIVE_SECONDS"]
        self.recheck_every = config["LIVE_RECHECK_SECONDS"]
        self.max_seconds = config["LIVE_STREAM_MAX_SECONDS"]
        self.presence_seconds = config["LIVE_PRESENCE_SECONDS"]
        # Renewed twice per lifetime of the entry: one late renewal does not make a viewer vanish.
        self.presence_renew = self.presence_seconds / 2
        self.badge_coalesce = config["LIVE_BADGE_COALESCE_SECONDS"]
        self.badge_due: float | None = None  # when the gathered badge changes are sent
        self.staff_names_shown = False  # for a customer: the store shows which team member types
        self.badge_changed_at = 0.0  # when this stream last heard that its account's badge changed

    # --- the stream -----------------------------------------------------------------------------------------

    def frames(self) -> Iterator[str]:
        topics = [live.account_topic(self.actor.kind, self.actor.id)]
        if self.thread_id is not None:
            topics.append(live.conversation_topic(self.thread_id))
        subscription = self.bus.subscribe(topics)
        started = self.badge_changed_at = time.monotonic()  # the catch-up's badge is read after subscribing
        # Streams opened together (a restart, a deploy) do not all end, and reconnect, together.
        ends = started + self.max_seconds * random.uniform(0.8, 1.0)
        next_check = started + self.recheck_every
        next_keepalive = started + self.keepalive
        next_presence = started + self.presence_renew
        try:
            # Subscribed first, then caught up: nothing committed in between can pass unseen. The retry delay
            # is spread too, for the same reason.
            with database_turn():
                caught_up = self._catch_up()
            yield f"retry: {random.randint(2000, 5000)}\n\n" + caught_up
            if self.thread_id is not None:
                self._join_presence()  # its announcement brings this stream the list of viewers too
            while (now := time.monotonic()) < ends:
                wake = min(next_keepalive, next_presence, ends, self.badge_due or ends)
                events = subscription.next_events(wake - now)
                now = time.monotonic()
                if now >= next_check or any(e.get("kind") == "session" for e in events):
                    next_check = now + self.recheck_every
                    with database_turn():
                        allowed = self._still_allowed()
                    if not allowed:
                        yield sse_frame("bye", "")
                        return
                out = []
                if events:
                    with database_turn():
                        out.append(self._frames_for(events))
                if self.badge_due is not None and now >= self.badge_due:
                    with database_turn():
                        out.append(self._badge_frame())
                if self.thread_id is not None and now >= next_presence:
                    next_presence = now + self.presence_renew
                    self._join_presence()  # still here: the entry would expire otherwise
                sent = "".join(out)
                if not sent and now >= next_keepalive:
                    sent = ": keep-alive\n\n"
                if sent:
                    next_keepalive = now + self.keepalive
                    yield sent
        finally:
            subscription.close()
            if self.thread_id is not None:
                self._leave_presence()
            db.session.remove()

    def _frames_for(self, events: list[live.Event]) -> str:
        out: list[str] = []
        thread_events = [e for e in events if e.get("kind") in ("thread", "typing", "presence")]
        # Checked against this stream's account before anything is sent; a foreign event is dropped.
        allowed = [e for e in thread_events if e.get("conversation_id") == self.thread_id
                   and access.may_see_thread_event(self.actor, e)]
        resync = any(e.get("kind") == "resync" for e in events)
        if resync or any(e.get("kind") == "unread" for e in events):
            # A post changes the counts of every reader, and each reader's page then marks it read: gathered
            # for a moment, that is one badge frame per tab, not two or more.
            self.badge_due = self.badge_due or time.monotonic() + self.badge_coalesce
            self.badge_changed_at = time.monotonic()  # a badge rendered after this shows the change
        if resync or any(e["kind"] == "thread" for e in allowed):
            out.append(self._thread_frame())
        for event in allowed:
            if event["kind"] == "typing":
                out.append(self._typing_frame(event))
        if any(e["kind"] == "presence" for e in allowed):
            out.append(self._presence_frame())
        return "".join(out)

    def _catch_up(self) -> str:
        return self._thread_frame() + self._badge_frame().partition("event: inbox")[0]

    # --- frames ---------------------------------------------------------------------------------------------

    def _thread_frame(self) -> str:
        """New messages since the cursor and deletions since its deletion cursor, as a poll returns them."""
        if self.thread_id is None or self.cursor is None:
            return ""
        try:
            try:
                # Plain columns, as the thread page reads it: what the frame shows of the thread is its status.
                thread = access.access_thread_head(self.actor, self.thread_id)
            except NotFound:
                return sse_frame("bye", "")
            updates = conversations.thread_updates(
                thread, after_id=self.cursor.after or 0,
                deleted_since=conversations.parse_deleted_since(self.cursor.deleted_since),
            )
            if not updates.new.messages and not updates.deleted and self.cursor.deleted_since is not None:
                self.cursor.deleted_since = updates.deleted_since
                return ""
            g.pop("nav_badges", None)  # read afresh if shown (a frame with deletions only)
            html = render_template(
                "conversations/_new_messages.html", conversation=thread, slice=updates.new,
                after=self.cursor.after or 0, deleted=updates.deleted, deleted_since=updates.deleted_since,
                # The page marks them read once it shows them (conversation_read).
                read_url=self.read_url if updates.new.messages else None,
            )
            db.session.commit()
        finally:
            db.session.close()
        if updates.new.messages:
            self.cursor.after = updates.new.messages[-1].id
        self.cursor.deleted_since = updates.deleted_since
        return sse_frame("message", html, self.cursor.event_id())

    def _badge_frame(self) -> str:
        """The nav badge (swapped out of band), and on the inbox page word that its rows changed.

        An account's tabs (often several in one process) all hear of the same change at once: the first to
        render the badge after it shares the result with the others (BadgeCache), one query instead of one per
        tab."""
        self.badge_due = None
        # The language too: two tabs of one account may read different ones (a browser's, before a choice).
        key = (request.blueprint, self.actor.kind, self.actor.id, current_language())
        html = BadgeCache.of_app().fresh(key, self.badge_changed_at)
        if html is None:
            started = time.monotonic()
            try:
                g.pop("nav_badges", None)
                html = render_template("conversations/_unread_badge.html", oob=True)
            finally:
                db.session.close()
            BadgeCache.of_app().keep(key, started, html)
        return sse_frame("badge", html) + (sse_frame("inbox", "changed") if self.inbox else "")

    def _typing_frame(self, event: live.Event) -> str:
        typist = event.get("typist") or {}
        if (typist.get("kind"), typist.get("id")) == (self.actor.kind, self.actor.id):
            return ""  # never shown to the typist, in any of their tabs
        if self.actor.is_customer and typist.get("kind") in SIDE_TEAMS and not (
                typist["kind"] == "store" and self.staff_names_shown):
            name = str(SIDE_TEAMS[typist["kind"]])  # unless the store chose to show who
        else:
            name = str(typist.get("name") or _("Someone"))
        html = render_template("conversations/_typing.html", typist_name=name,
                               seconds=current_app.config["LIVE_TYPING_SECONDS"])
        return sse_frame("typing", html)

    def _presence_frame(self) -> str:
        me = (self.actor.kind, self.actor.id)
        names: list[str] = []
        for member in self.bus.present(self.thread_id or 0):
            who = (member.get("kind"), member.get("id"))
            # On the same side only: a customer never sees which staff member has the thread open.
            if who != me and member.get("kind") == self.actor.kind and member.get("name") not in names:
                names.append(str(member.get("name")))
        return sse_frame("presence", render_template("conversations/_presence.html", viewer_names=names))

    # --- who follows ----------------------------------------------------------------------------------------

    def _join_presence(self) -> None:
        assert self.scope is not None and self.thread_id is not None
        member = {"kind": self.actor.kind, "id": self.actor.id, "name": self.actor.name}
        self.bus.join_presence(self.thread_id, self.key, member, self.presence_seconds)
        if not self._joined:
            self._joined = True
            live.announce_presence(self.scope)

    def _leave_presence(self) -> None:
        assert self.scope is not None and self.thread_id is not None
        self.bus.leave_presence(self.thread_id, self.key)
        live.announce_presence(self.scope)

    def _still_allowed(self) -> bool:
        """The account is still signed in with this session (not signed out everywhere, not disabled) and,
        for a thread, may still see it."""
        try:
            actor = load_actor(self.actor.get_id())
            if actor is None:
                return False
            if self.thread_id is not None:
                try:
                    access.access_conversation(actor, self.thread_id)
                except NotFound:
                    return False
            self.actor = actor
            return True
        finally:
            db.session.close()
