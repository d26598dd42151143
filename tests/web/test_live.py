"""Live conversations: each open tab's event stream, typing, presence and the collision warning."""
from __future__ import annotations

import re
import threading
import time

import pytest

from messaging_web.models import ConversationType
from messaging_web.services import live
from tests.conftest import sign_in
from tests.support.conversation_fixtures import base_of, token


class Stream:
    """A live stream read frame by frame through the test client, as a browser's EventSource reads it.

    Read in a thread of its own, as a server would serve it: the stream's request context then stays out
    of the requests the test makes meanwhile (sign-ins, posts), which run in the test's thread.
    """

    def __init__(self, client, url: str, last_event_id: str | None = None):
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        self.frames: list[dict] = []
        self._seen = 0
        self._changed = threading.Condition()
        self._ended = False
        self._opened = threading.Event()
        self._reader = threading.Thread(target=self._read_all, args=(client, url, headers), daemon=True)
        self._reader.start()
        assert self._opened.wait(5), "the stream did not answer"
        assert self.response.status_code == 200, self.response.get_data(as_text=True)[:300]
        assert self.response.mimetype == "text/event-stream"
        self.read()  # what it sent on opening: the catch-up

    def _read_all(self, client, url, headers) -> None:
        self.response = client.get(url, headers=headers, buffered=False)
        self._opened.set()
        buffer = ""
        try:
            for chunk in self.response.response:
                buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
                with self._changed:
                    while "\n\n" in buffer:
                        raw, buffer = buffer.split("\n\n", 1)
                        self.frames.append(_frame(raw))
                    self._changed.notify_all()
        finally:
            with self._changed:
                self._ended = True
                self._changed.notify_all()

    def read(self, until=None, seconds: float = 3.0) -> list[dict]:
        """The frames that came since the last read, waiting until `until(frame)` holds for one of them (or,
        without `until`, for the first)."""
        deadline = time.monotonic() + seconds
        with self._changed:
            while True:
                new = self.frames[self._seen:]
                if (new and (until is None or any(until(f) for f in new))) or self._ended:
                    break
                if not self._changed.wait(timeout=max(deadline - time.monotonic(), 0)):
                    break
            self._seen = len(self.frames)
            return new

    @property
    def ended(self) -> bool:
        self._reader.join(timeout=3)
        return self._ended

    def named(self, event: str) -> list[dict]:
        return [f for f in self.frames if f.get("event") == event]

    def close(self) -> None:
        self._reader.join(timeout=10)


def _frame(raw: str) -> dict:
    frame: dict = {"data": [], "comment": raw.startswith(":")}
    for line in raw.split("\n"):
        field, _, value = line.partition(": ")
        if field == "data":
            frame["data"].append(value)
        elif field in ("event", "id", "retry"):
            frame[field] = value
    frame["data"] = "\n".join(frame["data"])
    return frame


def message_ids(frames) -> list[int]:
    return [int(i) for f in frames if f.get("event") == "message" for i in re.findall(r'<li id="message-(\d+)"', f["data"])]


@pytest.fixture
def held_open(app, monkeypatch):
    """Streams stay open for a second and a half and send keep-alives often, so a test can read several events."""
    monkeypatch.setitem(app.config, "LIVE_STREAM_MAX_SECONDS", 1.5)
    monkeypatch.setitem(app.config, "LIVE_KEEPALIVE_SECONDS", 0.05)


def signed_in_client(app, account):
    client = app.test_client()
    assert sign_in(client, account).status_code == 302
    return client


def thread_stream_url(shop, who: str, conversation_id: int, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"conversation": conversation_id, **params}.items())
    return f"{base_of(shop, who)}/live?{query}"


# --- a thread's stream ---------------------------------------------------------------------------------------


def test_a_message_reaches_the_other_sides_open_thread_as_its_rendered_element(app, shop, threads, held_open):
    conversation_id = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Where is my parcel?")
    team = signed_in_client(app, shop["team"])
    stream = Stream(team, thread_stream_url(shop, "team", conversation_id))

    posted = threads.post(shop["customer"], conversation_id, "It is still not here")
    frames = stream.read(until=lambda f: f.get("event") == "message")

    assert message_ids(frames) == [posted]
    message = stream.named("message")[-1]
    assert "It is still not here" in message["data"]
    assert 'class="message side-customer"' in message["data"]  # not "mine": rendered for the team member
    assert message["id"].startswith(f"{posted}~")  # the cursor a reconnect sends back
    stream.close()
    # Not read yet (the first message and this one): the stream's tab may be gone. The page that shows it
    # says so, with the frame's trigger.
    assert threads.unread(shop["team"], conversation_id) == 2
    read_url = re.search(r'<i hx-post="([^"]+)" hx-trigger="load"', message["data"]).group(1)
    assert read_url == f"{base_of(shop, 'team')}/{conversation_id}/read"
    assert "unread-total" not in message["data"]  # the badge follows that confirmation, by the stream
    answer = team.post(read_url, headers={"X-CSRFToken": token(team, base_of(shop, "team") + "/")})
    assert answer.status_code == 204
    assert threads.unread(shop["team"], conversation_id) == 0


def test_a_stream_whose_tab_is_gone_reads_nothing_for_it(app, shop, threads, held_open):
    conversation_id = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Returns")
    team = signed_in_client(app, shop["team"])
    stream = Stream(team, thread_stream_url(shop, "team", conversation_id))
    threads.post(shop["customer"], conversation_id, "Can I return it?")
    stream.read(until=lambda f: f.get("event") == "message")
    stream.close()  # nobody confirmed what the stream sent
    assert threads.unread(shop["team"], conversation_id) == 2


def test_marking_read_from_a_stream_is_a_404_for_a_foreign_thread_and_needs_the_csrf_token(app, shop, threads):
    foreign = threads.start(shop["other_customer"], ConversationType.STORE_CUSTOMER, "Theirs")
    mine = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Mine")
    team = signed_in_client(app, shop["team"])
    csrf = {"X-CSRFToken": token(team, base_of(shop, "team") + "/")}
    assert team.post(f"{base_of(shop, 'team')}/{foreign}/read", headers=csrf).status_code == 404
    assert team.post(f"{base_of(shop, 'team')}/{mine}/read").status_code == 400
    assert threads.unread(shop["team"], mine) == 1


def test_a_reconnect_with_last_event_id_brings_exactly_what_was_missed(app, shop, threads, held_open):
    conversation_id = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Sizes")
    team = signed_in_client(app, shop["team"])
    stream = Stream(team, thread_stream_url(shop, "team", conversation_id))
    first = threads.post(shop["customer"], conversation_id, "Do you have it in M?")
    stream.read(until=lambda f: f.get("event") == "message")
    last_event_id = stream.named("message")[-1]["id"]
    stream.close()

    # The laptop sleeps; two messages are posted meanwhile.
    missed = [threads.post(shop["customer"], conversation_id, "Or in L?"),
              threads.post(shop["customer"], conversation_id, "Either is fine")]
    again = Stream(team, thread_stream_url(shop, "team", conversation_id, after=0), last_event_id=last_event_id)

    assert message_ids(again.frames) == missed  # not the first one again, nothing lost
    assert first not in message_ids(again.frames)
    again.close()


def test_a_page_opened_before_a_message_catches_up_from_the_cursor_it_was_rendered_with(app, shop, threads):
    conversation_id = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Gift wrap")
    team = signed_in_client(app, shop["team"])
    page = team.get(f"{base_of(shop, 'team')}/{conversation_id}").get_data(as_text=True)
    stream_url = re.search(r'sse-connect="([^"]+)"', page).group(1).replace("&amp;", "&")

    posted = threads.post(shop["customer"], conversation_id, "With a ribbon please")
    stream = Stream(team, stream_url)

    assert message_ids(stream.frames) == [posted]


def test_a_deletion_replaces_the_shown_message_in_place(app, shop, threads, held_open):
    conversation_id = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Oops")
    regret = threads.post(shop["customer"], conversation_id, "My card number is 4242")
    team = signed_in_client(app, shop["team"])
    stream = Stream(team, thread_stream_url(shop, "team", conversation_id, after=regret))

    threads.delete(shop["customer"], regret)
    stream.read(until=lambda f: f.get("event") == "message" and "Message deleted" in f["data"])

    deleted = stream.named("message")[-1]["data"]
    assert f'id="message-{regret}"' in deleted and 'hx-swap-oob="true"' in deleted
    assert "4242" not in deleted  # the team does not see the deleted text


def test_closing_a_thread_reaches_its_open_pages_with_the_system_line_and_status(app, shop, threads, held_open):
    conversation_id = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Refund")
    customer = signed_in_client(app, shop["customer"])
    stream = Stream(customer, thread_stream_url(shop, "customer", conversation_id))

    threads.close(shop["team"], conversation_id)
    stream.read(until=lambda f: f.get("event") == "message")

    update = stream.named("message")[-1]["data"]
    assert "Conversation closed by" in update and "This conversation was closed" in update


def test_the_nav_badge_follows_the_accounts_unread_count_on_every_page(app, shop, threads, held_open):
    conversation_id = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Hello")
    team = signed_in_client(app, shop["team"])
    page = team.get("/store/north/").get_data(as_text=True)
    stream_url = re.search(r'sse-connect="([^"]+)"', page).group(1).replace("&amp;", "&")
    stream = Stream(team, stream_url)

    threads.post(shop["customer"], conversation_id, "Anyone there?")
    stream.read(until=lambda f: f.get("event") == "badge" and 'data-unread="2"' in f["data"])

    assert 'data-unread="2"' in stream.named("badge")[-1]["data"]


def test_a_read_confirmation_brings_the_badge_down_in_the_accounts_open_tabs(app, shop, threads, held_open):
    conversation_id = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Hello")
    team = signed_in_client(app, shop["team"])
    other_tab = Stream(team, f"{base_of(shop, 'team')}/live")
    assert 'data-unread="1"' in other_tab.named("badge")[-1]["data"]

    answer = team.post(f"{base_of(shop, 'team')}/{conversation_id}/read",
                       headers={"X-CSRFToken": token(team, base_of(shop, "team") + "/")})
    assert answer.status_code == 204
    other_tab.read(until=lambda f: f.get("event") == "badge" and 'data-unread="0"' in f["data"])
    assert 'data-unread="0"' in other_tab.named("badge")[-1]["data"]


def test_opening_a_thread_brings_the_badge_down_in_the_accounts_other_tabs(app, shop, threads, held_open):
    conversation_id = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Opened elsewhere")
    team = signed_in_client(app, shop["team"])
    other_tab = Stream(team, f"{base_of(shop, 'team')}/live")
    assert 'data-unread="1"' in other_tab.named("badge")[-1]["data"]

    # The thread page marks it read (on PostgreSQL outside a transaction: the event still follows the commit).
    assert team.get(f"{base_of(shop, 'team')}/{conversation_id}").status_code == 200
    other_tab.read(until=lambda f: f.get("event") == "badge" and 'data-unread="0"' in f["data"])
    assert 'data-unread="0"' in other_tab.named("badge")[-1]["data"]


def test_badge_changes_that_come_together_make_one_badge_frame(app, shop, threads, held_open, monkeypatch):
    monkeypatch.setitem(app.config, "LIVE_BADGE_COALESCE_SECONDS", 0.3)
    first = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "One")
    second = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Two")
    team = signed_in_client(app, shop["team"])
    stream = Stream(team, f"{base_of(shop, 'team')}/live")
    caught_up = len(stream.named("badge"))

    threads.post(shop["customer"], first, "Still there?")
    threads.post(shop["customer"], second, "Hello?")
    stream.read(until=lambda f: f.get("event") == "badge", seconds=1)
    stream.read(seconds=0.4)  # nothing more comes for these two posts

    badges = stream.named("badge")[caught_up:]
    assert len(badges) == 1 and 'data-unread="4"' in badges[0]["data"]  # both threads' first and new messages


def test_opening_a_stream_while_every_turn_at_the_database_is_taken_is_a_quick_503(app, shop, monkeypatch):
    from messaging_web.web.live_views import database_turn

    monkeypatch.setitem(app.config, "LIVE_DB_CONCURRENCY", 1)
    monkeypatch.setitem(app.config, "DATABASE_POOL_TIMEOUT", 0.1)
    app.extensions.pop("messaging_live_database_gate", None)
    team = signed_in_client(app, shop["team"])
    with app.app_context(), database_turn():  # a burst of other streams holds the only turn
        answer = team.get(f"{base_of(shop, 'team')}/live")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "3"
    app.extensions.pop("messaging_live_database_gate", None)


def test_the_inbox_is_told_to_refresh_its_rows(app, shop, threads, held_open):
    conversation_id = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Hello")
    team = signed_in_client(app, shop["team"])
    page = team.get("/store/north/conversations/").get_data(as_text=True)
    assert 'hx-trigger="sse:inbox, live-poll"' in page
    stream = Stream(team, re.search(r'sse-connect="([^"]+)"', page).group(1).replace("&amp;", "&"))

    threads.post(shop["customer"], conversation_id, "Anyone there?")
    stream.read(until=lambda f: f.get("event") == "inbox")

    assert stream.named("inbox")


# --- who may follow what ---------------------------------------------------------------------------------------


def test_a_stream_of_another_stores_thread_is_not_found(app, shop, threads):
    foreign = threads.start(shop["other_customer"], ConversationType.STORE_CUSTOMER, "Theirs")
    team = signed_in_client(app, shop["team"])

    assert team.get(thread_stream_url(shop, "team", foreign)).status_code == 404


def test_an_event_naming_another_tenants_thread_is_dropped_before_it_is_sent(app, shop, threads, held_open):
    mine = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Mine")
    team = signed_in_client(app, shop["team"])
    stream = Stream(team, thread_stream_url(shop, "team", mine))
    before = len(stream.frames)

    with app.app_context():
        # A forged event on this thread's topic, scoped to the other store: the stream must not act on it.
        live.live_bus().publish([{"topic": live.conversation_topic(mine), "kind": "typing",
                                  "conversation_id": mine, "conversation_type": "store_customer",
                                  "store_id": shop["other"].id, "customer_id": shop["other_customer"].id,
                                  "typist": {"kind": "store", "id": -1, "name": "Mallory"}}])
    stream.read(until=lambda f: f.get("comment"))

    assert not any("Mallory" in f["data"] for f in stream.frames[before:])


def test_signing_out_ends_the_accounts_open_streams(app, shop, threads, held_open):
    conversation_id = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Hello")
    team = signed_in_client(app, shop["team"])
    stream = Stream(team, thread_stream_url(shop, "team", conversation_id))

    other_tab = signed_in_client(app, shop["team"])
    other_tab.post("/logout", data={"csrf_token": token(other_tab, "/store/north/")})
    stream.read(until=lambda f: f.get("event") == "bye")

    assert stream.named("bye")
    assert stream.ended


# --- typing and presence ---------------------------------------------------------------------------------------


def test_typing_reaches_the_others_never_the_typist_and_a_customer_sees_the_team_not_a_name(
        app, shop, threads, held_open):
    conversation_id = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Typing")
    customer = signed_in_client(app, shop["customer"])
    team = signed_in_client(app, shop["team"])
    customer_stream = Stream(customer, thread_stream_url(shop, "customer", conversation_id))
    team_stream = Stream(team, thread_stream_url(shop, "team", conversation_id))

    url = f"{base_of(shop, 'team')}/{conversation_id}/typing"
    assert team.post(url, data={"csrf_token": token(team, f"{base_of(shop, 'team')}/{conversation_id}")}).status_code == 204
    customer_stream.read(until=lambda f: f.get("event") == "typing")
    team_stream.read(until=lambda f: f.get("comment"))

    assert "The store team is typing" in customer_stream.named("typing")[-1]["data"]
    assert not team_stream.named("typing")


def test_a_store_may_choose_to_show_its_customers_who_is_typing(app, shop, threads, held_open):
    conversation_id = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Who types?")
    team = signed_in_client(app, shop["team"])
    settings = "/store/north/settings/conversations"
    page = team.get(settings)
    assert page.status_code == 200 and 'name="show_staff_names"' in page.get_data(as_text=True)
    saved = team.post(settings, data={"show_staff_names": "y", "csrf_token": token(team, settings)})
    assert saved.status_code == 302
    assert re.search(r'<input checked id="show_staff_names"', team.get(settings).get_data(as_text=True))

    customer = signed_in_client(app, shop["customer"])
    customer_stream = Stream(customer, thread_stream_url(shop, "customer", conversation_id))
    url = f"{base_of(shop, 'team')}/{conversation_id}/typing"
    assert team.post(url, data={"csrf_token": token(team, f"{base_of(shop, 'team')}/{conversation_id}")}).status_code == 204
    customer_stream.read(until=lambda f: f.get("event") == "typing")
    typing = customer_stream.named("typing")[-1]["data"]
    assert shop["team"].name in typing and "The store team" not in typing


def test_conversation_settings_are_the_store_teams_own(app, shop):
    customer = signed_in_client(app, shop["customer"])
    assert customer.get("/store/north/settings/conversations").status_code in (302, 403)
    other_team = signed_in_client(app, shop["other_team"])
    assert other_team.get("/store/north/settings/conversations").status_code == 404
    with app.app_context():
        from messaging_web.extensions import db
        from messaging_web.models import Store
        assert db.session.get(Store, shop["store"].id).show_staff_names_to_customers is False


def test_typing_in_a_thread_one_may_not_see_is_not_found(app, shop, threads):
    foreign = threads.start(shop["other_customer"], ConversationType.STORE_CUSTOMER, "Theirs")
    team = signed_in_client(app, shop["team"])

    response = team.post(f"{base_of(shop, 'team')}/{foreign}/typing",
                         data={"csrf_token": token(team, "/store/north/")})
    assert response.status_code == 404


def test_a_team_member_sees_which_colleague_also_views_the_thread_and_a_customer_sees_none(
        app, shop, threads, factory, held_open):
    colleague = factory.store_user(shop["store"], email="ana@north.example")
    conversation_id = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Presence")
    team = signed_in_client(app, shop["team"])
    customer = signed_in_client(app, shop["customer"])
    team_stream = Stream(team, thread_stream_url(shop, "team", conversation_id))
    customer_stream = Stream(customer, thread_stream_url(shop, "customer", conversation_id))

    ana = Stream(signed_in_client(app, colleague), thread_stream_url(shop, "team", conversation_id))
    team_stream.read(until=lambda f: f.get("event") == "presence" and "also viewing" in f["data"])
    customer_stream.read(until=lambda f: f.get("comment"))

    assert f"{colleague.name} is also viewing" in team_stream.named("presence")[-1]["data"]
    assert not any("also viewing" in f["data"] for f in customer_stream.named("presence"))
    ana.close()


# --- the collision warning -------------------------------------------------------------------------------------


def test_a_reply_after_a_colleague_answered_meanwhile_asks_once_more_then_goes_through(app, shop, threads, factory):
    colleague = factory.store_user(shop["store"], email="ana@north.example")
    conversation_id = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Stock?")
    team = signed_in_client(app, shop["team"])
    thread_url = f"{base_of(shop, 'team')}/{conversation_id}"
    page = team.get(thread_url).get_data(as_text=True)
    seen = re.search(r'name="seen" value="(\d+)"', page).group(1)

    threads.post(colleague, conversation_id, "Sold out, sorry")
    first = team.post(f"{thread_url}/messages", headers={"HX-Request": "true"},
                      data={"csrf_token": token(team, thread_url), "content": "We have it!", "seen": seen})

    warning = first.get_data(as_text=True)
    assert first.headers["HX-Retarget"] == "#composer-status"
    assert f"{colleague.name} replied while you were typing" in warning and "Sold out, sorry" in warning
    assert 'name="confirmed" value="1"' in warning
    assert "We have it!" not in team.get(thread_url).get_data(as_text=True)  # not sent yet

    second = team.post(f"{thread_url}/messages", headers={"HX-Request": "true"},
                       data={"csrf_token": token(team, thread_url), "content": "We have it!", "seen": seen,
                             "confirmed": "1"})
    assert second.status_code == 200
    assert "We have it!" in team.get(thread_url).get_data(as_text=True)


def test_a_customers_own_earlier_messages_are_no_collision(app, shop, threads):
    conversation_id = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Hello")
    customer = signed_in_client(app, shop["customer"])
    thread_url = f"{base_of(shop, 'customer')}/{conversation_id}"
    threads.post(shop["customer"], conversation_id, "From my phone")

    response = customer.post(f"{thread_url}/messages", headers={"HX-Request": "true"},
                             data={"csrf_token": token(customer, thread_url), "content": "And my laptop", "seen": 0})

    assert "HX-Retarget" not in response.headers
    assert "And my laptop" in response.get_data(as_text=True)
