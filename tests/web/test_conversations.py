"""Conversations through the three portals: pages, HTMX fragments, foreign ids, query counts."""
from __future__ import annotations

import re
import time
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from messaging_web.extensions import db
from messaging_web.models import Conversation, ConversationParticipant, ConversationType, Message, User
from messaging_web.services import conversations
from messaging_web.web.read_only import _read_outside_a_transaction
from tests.conftest import CSRF_META, sign_in
from tests.support.conversation_fixtures import base_of, token
from tests.support.query_counter import count_queries

P = ConversationParticipant





def inbox_of(who: str) -> str:
    return {"admin": "/admin/conversations/", "team": "/store/north/conversations/", "customer": "/inbox/north/"}[who]


# --- pages of each portal ------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin", "team", "customer"])
def test_each_portal_shows_its_inbox_thread_and_start_pages(signed_in, shop, threads, who):
    admin_thread = threads.start(shop["admin"], ConversationType.ADMIN_STORE, "Platform news", store=shop["store"])
    customer_thread = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "My parcel")
    visible = {"admin": admin_thread, "team": customer_thread, "customer": customer_thread}[who]
    client = signed_in(shop[who])
    inbox = client.get(inbox_of(who))
    assert inbox.status_code == 200
    assert f'{base_of(shop, who)}/{visible}"' in inbox.get_data(as_text=True)
    thread = client.get(f"{base_of(shop, who)}/{visible}")
    assert thread.status_code == 200 and 'id="composer"' in thread.get_data(as_text=True)
    assert client.get(f"{base_of(shop, who)}/new").status_code == 200


def test_store_inbox_lists_threads_newest_first_with_counterpart_preview_and_badge(signed_in, shop, threads):
    first = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Older question", "Hello there")
    second = threads.start(shop["team"], ConversationType.ADMIN_STORE, "To the platform", "Need help")
    threads.post(shop["customer"], first, "Any news about <b>my</b> order?")
    page = signed_in(shop["team"]).get("/store/north/conversations/").get_data(as_text=True)
    assert page.index(f"inbox-row-{first}") < page.index(f"inbox-row-{second}")
    row = page[page.index(f"inbox-row-{first}"):page.index(f"inbox-row-{second}")]
    assert "Cora Customer" in row and "Any news about &lt;b&gt;my&lt;/b&gt; order?" in row
    assert 'data-unread="2"' in row
    assert 'id="unread-total"' in page and re.search(r'id="unread-total"[^>]*data-unread="2"', page)


def test_opening_a_thread_shows_the_badge_of_what_is_still_unread_elsewhere(signed_in, shop, threads):
    opened = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Opened", "one")
    threads.post(shop["customer"], opened, "two")
    other = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Waiting", "three")
    client = signed_in(shop["team"])
    page = client.get(f"/store/north/conversations/{opened}").get_data(as_text=True)
    # The two messages of the thread just opened are read; the one of the other thread is not.
    assert re.search(r'id="unread-total"[^>]*data-unread="1"', page)
    assert threads.unread(shop["team"], opened) == 0 and threads.unread(shop["team"], other) == 1


def test_customer_home_is_the_inbox(signed_in, shop, threads):
    threads.start(shop["admin"], ConversationType.ADMIN_CUSTOMER, "About your account", customer=shop["customer"])
    page = signed_in(shop["customer"]).get("/inbox/north/").get_data(as_text=True)
    assert "Your messages with Store" in page and "About your account" in page and "Platform team" in page


def test_inbox_page_costs_the_same_queries_for_3_and_for_30_busy_threads(app, signed_in, shop, threads):
    client = signed_in(shop["team"])

    def queries_for_inbox():
        client.get("/store/north/conversations/")  # warm caches (templates) before counting
        with count_queries(app) as statements:
            response = client.get("/store/north/conversations/")
        assert response.status_code == 200
        return len([s for s in statements if not s.startswith(("BEGIN", "COMMIT", "ROLLBACK"))])

    for n in range(3):
        tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, f"t{n}")
        threads.post(shop["team"], tid, "reply")
    few = queries_for_inbox()
    for n in range(27):
        tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, f"more {n}")
        for k in range(3):
            threads.post(shop["customer"], tid, f"again {k}")
    threads.start(shop["team"], ConversationType.ADMIN_STORE, "platform")
    many = queries_for_inbox()
    # The signed-in account with its store; then the page of threads with the nav's badges.
    assert few == many == 2


def test_thread_page_costs_the_same_queries_for_a_short_and_a_long_thread(app, signed_in, shop, threads):
    short = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "short")
    long = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "long")
    for n in range(120):
        threads.post(shop["customer"] if n % 2 else shop["team"], long, f"m{n}")
    client = signed_in(shop["team"])

    def queries_for(conversation_id):
        client.get(f"/store/north/conversations/{conversation_id}")
        with count_queries(app) as statements:
            assert client.get(f"/store/north/conversations/{conversation_id}").status_code == 200
        return [s for s in statements if not s.startswith(("BEGIN", "COMMIT", "ROLLBACK"))]

    # The account with its store; the thread with the reader's row; the messages with the nav's badges. No
    # query for attachments: no message has files.
    assert len(queries_for(short)) == len(queries_for(long)) == 3


def test_inbox_search_filters_and_pagination_through_the_page(app, signed_in, shop, threads):
    app.config["PAGE_SIZE"] = 2
    try:
        ids = [threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, f"Order {n}") for n in range(5)]
        threads.post(shop["customer"], ids[0], "The blue scarf")
        threads.close(shop["team"], ids[1])
        client = signed_in(shop["team"])
        page = client.get("/store/north/conversations/?q=scarf").get_data(as_text=True)
        assert f"inbox-row-{ids[0]}" in page and f"inbox-row-{ids[2]}" not in page
        page = client.get("/store/north/conversations/?status=closed").get_data(as_text=True)
        assert re.findall(r"inbox-row-(\d+)", page) == [str(ids[1])]
        seen, url = [], "/store/north/conversations/?status=all"
        while url:
            page = client.get(url).get_data(as_text=True)
            seen += [int(i) for i in re.findall(r'id="inbox-row-(\d+)"', page)]
            older = re.search(r'class="older" href="([^"]+)"', page)
            url = older.group(1).replace("&amp;", "&") if older else None
        assert sorted(seen) == sorted(ids) and len(seen) == 5
        assert "No conversation matches" in client.get("/store/north/conversations/?q=nothing").get_data(as_text=True)
    finally:
        app.config["PAGE_SIZE"] = 25


SEARCHED_TEXT = "The zeppelin is late: 100% off_road, see C:\\temp\\n it's"


@pytest.fixture
def searchable(shop, threads):
    """In each store: one thread of each type whose subject says Velvet and whose first (older) message
    holds SEARCHED_TEXT, and decoys that a % or _ read as a wildcard would match; ids by (store, type)."""
    ids = {}
    for side, team, customer, store in (("north", "team", "customer", "store"), ("south", "other_team", "other_customer", "other")):
        for kind, author, replier, parties in (
            ("store_customer", customer, team, {}),
            ("admin_store", "admin", team, {"store": shop[store]}),
            ("admin_customer", "admin", "admin", {"customer": shop[customer]}),
        ):
            words = kind.replace("_", " ")
            tid = ids[side, kind] = threads.start(shop[author], ConversationType(kind), f"Velvet {words}", SEARCHED_TEXT, **parties)
            ids[side, kind, "decoy"] = threads.start(
                shop[author], ConversationType(kind), f"Plain {words}", "1000 units of offer road, C:/temp/n its", **parties
            )
            for n in range(2):  # the searched words end up in an older message, not in the preview
                threads.post(shop[replier], tid, f"reply {n}")
    return ids


SEES = {
    "admin": [("north", "admin_store"), ("north", "admin_customer"), ("south", "admin_store"), ("south", "admin_customer")],
    "team": [("north", "store_customer"), ("north", "admin_store")],
    "customer": [("north", "store_customer"), ("north", "admin_customer")],
}


@pytest.mark.parametrize("who", ["admin", "team", "customer"])
@pytest.mark.parametrize(
    "term",
    ["zeppelin", "ZEPPELIN is", "velvet", "100%", "0%", "f_r", "%", "_", "\\temp\\n", "it's", "p\\n it", "zepp\x00elin"],
)
def test_inbox_search_finds_subject_and_older_message_words_literally_within_what_the_portal_sees(
    signed_in, shop, searchable, who, term
):
    # Every term is in the Velvet threads only: read as LIKE wildcards, % and _ would match the decoys
    # ("100%" the 1000, "f_r" the "offer"), and "0%" and "_" are too short for a trigram index. A NUL,
    # which no stored text can hold, is left out of the term.
    client = signed_in(shop[who])
    url = inbox_of(who) + "?" + urlencode({"q": term})
    found = {int(i) for i in re.findall(r'id="inbox-row-(\d+)"', client.get(url).get_data(as_text=True))}
    assert found == {searchable[key] for key in SEES[who]}


def test_inbox_polling_returns_rows_and_an_out_of_band_badge(signed_in, shop, threads):
    tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Live")
    response = signed_in(shop["team"]).get("/store/north/conversations/?status=open", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert f"inbox-row-{tid}" in body and re.search(r'id="unread-total"[^>]*hx-swap-oob="true"', body)


# --- the thread --------------------------------------------------------------------------------------------


def test_opening_a_thread_marks_it_read_and_mark_unread_brings_the_badge_back(signed_in, shop, threads):
    tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Hello")
    client = signed_in(shop["team"])
    assert threads.unread(shop["team"], tid) == 1
    client.get(f"/store/north/conversations/{tid}")
    assert threads.unread(shop["team"], tid) == 0
    response = client.post(
        f"/store/north/conversations/{tid}/unread", data={"csrf_token": token(client, "/store/north/conversations/")}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/store/north/conversations/")
    assert threads.unread(shop["team"], tid) == 1


def test_posting_with_htmx_returns_the_new_message_escaped_and_a_fresh_composer(signed_in, shop, threads):
    tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Hi")
    client = signed_in(shop["customer"])
    page = client.get(f"/inbox/north/conversations/{tid}").get_data(as_text=True)
    after = re.search(r'id="thread-after" name="after" value="(\d+)"', page).group(1)
    evil = '<div hx-get="/admin/" hx-trigger="load">boom</div> see https://shop.example/help'
    response = client.post(
        f"/inbox/north/conversations/{tid}/messages",
        data={"content": evil, "after": after, "csrf_token": CSRF_META.search(page).group(1)},
        headers={"HX-Request": "true"},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert "&lt;div hx-get=&#34;/admin/&#34; hx-trigger=&#34;load&#34;&gt;boom&lt;/div&gt;" in body
    assert '<div hx-get="/admin/"' not in body
    assert '<a href="https://shop.example/help" rel="noopener noreferrer nofollow ugc" target="_blank">' in body
    assert re.search(r'<form id="composer"[^>]*hx-swap-oob="true"', body)
    new_after = re.search(r'id="thread-after" name="after" value="(\d+)" hx-swap-oob="true"', body).group(1)
    assert int(new_after) > int(after)
    assert body.count('class="message ') == 1


def test_forged_fields_cannot_choose_the_sender_store_or_type(app, signed_in, shop, threads):
    tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Hi")
    client = signed_in(shop["customer"])
    client.post(
        f"/inbox/north/conversations/{tid}/messages",
        data={
            "content": "mine", "csrf_token": token(client, "/inbox/north/"), "sender_type": "admin",
            "sender_id": shop["admin"].id, "store_id": shop["other"].id, "conversation_type": "admin_store",
        },
    )
    response = client.post(
        "/inbox/north/conversations/new",
        data={
            "subject": "New one", "content": "text", "csrf_token": token(client, "/inbox/north/"),
            "store_id": shop["other"].id, "conversation_type": "admin_customer", "customer_id": shop["other_customer"].id,
        },
    )
    assert response.status_code == 302
    with app.app_context():
        message = db.session.scalars(sa.select(Message).where(Message.content == "mine")).one()
        assert (message.sender_type.value, message.sender_id, message.conversation_id) == ("customer", shop["customer"].id, tid)
        started = db.session.scalars(sa.select(Conversation).where(Conversation.subject == "New one")).one()
        assert started.conversation_type is ConversationType.STORE_CUSTOMER
        assert (started.store_id, started.customer_id) == (shop["store"].id, shop["customer"].id)


@pytest.mark.parametrize(
    ("content", "message"),
    [("   ", "empty message cannot be sent"), ("x" * 10_001, "too long: 10,001 characters, at most 10,000")],
)
def test_a_refused_message_re_renders_the_composer_with_the_reason(signed_in, shop, threads, content, message):
    tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Hi")
    client = signed_in(shop["team"])
    response = client.post(
        f"/store/north/conversations/{tid}/messages",
        data={"content": content, "csrf_token": token(client, "/store/north/conversations/")},
        headers={"HX-Request": "true"},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and message in body and 'id="composer"' in body
    assert response.headers["HX-Retarget"] == "#composer" and response.headers["HX-Reswap"] == "outerHTML"


def test_polling_returns_only_newer_messages_and_marks_them_read(signed_in, shop, threads):
    tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Hi", "first")
    client = signed_in(shop["team"])
    page = client.get(f"/store/north/conversations/{tid}").get_data(as_text=True)
    after = re.search(r'id="thread-after" name="after" value="(\d+)"', page).group(1)
    threads.post(shop["customer"], tid, "second")
    assert threads.unread(shop["team"], tid) == 1
    body = client.get(f"/store/north/conversations/{tid}/messages?after={after}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "second" in body and "first" not in body
    assert re.search(r'id="unread-total"[^>]*hx-swap-oob="true"', body)
    assert threads.unread(shop["team"], tid) == 0
    quiet = client.get(f"/store/north/conversations/{tid}/messages?after=999999", headers={"HX-Request": "true"})
    assert quiet.status_code == 200 and 'class="message ' not in quiet.get_data(as_text=True)


def test_older_messages_load_on_demand(signed_in, shop, threads):
    size = conversations.THREAD_PAGE_SIZE
    tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Long", "message 0")
    for n in range(1, size + 10):
        threads.post(shop["customer"], tid, f"message {n}")
    client = signed_in(shop["team"])
    page = client.get(f"/store/north/conversations/{tid}").get_data(as_text=True)
    assert "message 10<" in page and "message 9<" not in page and "Load older messages" in page
    older_url = re.search(r'hx-get="([^"]+before=\d+)"', page).group(1)
    older = client.get(older_url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "message 0<" in older and "message 9<" in older and "message 10<" not in older
    assert "Load older messages" not in older


def test_close_and_reopen_from_the_store_show_in_the_thread(signed_in, shop, threads):
    tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Hi")
    client = signed_in(shop["team"])
    csrf = token(client, "/store/north/conversations/")
    assert client.post(f"/store/north/conversations/{tid}/close", data={"csrf_token": csrf}).status_code == 302
    page = client.get(f"/store/north/conversations/{tid}").get_data(as_text=True)
    assert "This conversation was closed on" in page and "Conversation closed by Team Member (the store team)." in page
    assert "Reopen conversation" in page
    client.post(f"/store/north/conversations/{tid}/reopen", data={"csrf_token": csrf})
    page = client.get(f"/store/north/conversations/{tid}").get_data(as_text=True)
    assert "This conversation was closed on" not in page and "Conversation reopened by Team Member" in page


def signed_in_in_french(app, customer):
    """A client of its own, signed in as `customer`, who chose French on their profile."""
    from messaging_web.models import Customer
    from messaging_web.models.base import utcnow

    with app.app_context():
        account = db.session.get(Customer, customer.id)
        account.preferred_language, account.language_saved_at = "fr", utcnow()
        db.session.commit()
    client = app.test_client()
    sign_in(client, customer)
    return client


def test_a_system_line_is_read_in_each_viewers_language_and_stored_in_english_with_its_data(
        app, signed_in, shop, threads):
    tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Mon colis")
    threads.close(shop["team"], tid)
    with app.app_context():
        line = db.session.scalar(sa.select(Message).where(Message.conversation_id == tid,
                                                          Message.is_system_message.is_(True)))
        # The English words stay for emails and exports; the data lets each viewer read it in their language.
        assert line.content == "Conversation closed by Team Member (the store team)."
        assert line.system_text == {"key": "closed", "name": "Team Member", "side": "store"}
    english = signed_in(shop["team"]).get(f"/store/north/conversations/{tid}").get_data(as_text=True)
    assert "Conversation closed by Team Member (the store team)." in english
    french_client = signed_in_in_french(app, shop["customer"])
    french = french_client.get(f"/inbox/north/conversations/{tid}").get_data(as_text=True)
    assert "Conversation fermée par Team Member (l’équipe de la boutique)." in french
    assert "Conversation closed by" not in french
    # The inbox shows it as the last message, in French too.
    inbox = french_client.get("/inbox/north/").get_data(as_text=True)
    assert "Conversation fermée par Team Member (l’équipe de la boutique)." in inbox


def test_a_system_line_without_its_data_shows_its_stored_words(app, signed_in, shop, threads):
    tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Hi")
    threads.close(shop["team"], tid)
    with app.app_context():
        db.session.execute(sa.update(Message).where(Message.conversation_id == tid, Message.is_system_message.is_(True))
                           .values(system_text=None, content="Closed long ago by Team Member."))
        db.session.commit()
    page = signed_in(shop["team"]).get(f"/store/north/conversations/{tid}").get_data(as_text=True)
    assert "Closed long ago by Team Member." in page


def test_the_files_a_reply_by_email_lost_are_named_in_each_readers_language(app, signed_in, shop, threads):
    from messaging_web.actors import Actor
    from messaging_web.models import Conversation, Customer
    from messaging_web.services import conversations

    tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Mes photos")
    with app.app_context():
        customer = db.session.get(Customer, shop["customer"].id)
        conversations.post_message(Actor.for_customer(customer), db.session.get(Conversation, tid), "Voici.",
                                   refused_files=["invoice.exe", "setup.msi"])
        db.session.commit()
        message = db.session.scalars(sa.select(Message).where(Message.conversation_id == tid)
                                     .order_by(Message.id.desc())).first()
        assert message.attachment_note == "2 files not accepted: invoice.exe, setup.msi"  # for emails, exports
    english = signed_in(shop["team"]).get(f"/store/north/conversations/{tid}").get_data(as_text=True)
    assert "2 files not accepted: invoice.exe, setup.msi" in english
    french = signed_in_in_french(app, shop["customer"]).get(f"/inbox/north/conversations/{tid}").get_data(as_text=True)
    assert "2 fichiers non acceptés : invoice.exe, setup.msi" in french


def test_customer_sees_a_closed_thread_and_reopens_it_by_writing(signed_in, shop, threads):
    tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Hi")
    threads.close(shop["team"], tid)
    client = signed_in(shop["customer"])
    page = client.get(f"/inbox/north/conversations/{tid}").get_data(as_text=True)
    assert "Writing a message reopens it." in page and "Close conversation" not in page
    csrf = CSRF_META.search(page).group(1)
    assert client.post(f"/inbox/north/conversations/{tid}/close", data={"csrf_token": csrf}).status_code == 403
    body = client.post(
        f"/inbox/north/conversations/{tid}/messages", data={"content": "Still there?", "csrf_token": csrf},
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    assert "reopened by a new message from Cora Customer" in body
    assert re.search(r'<div id="thread-status"[^>]*hx-swap-oob="true">\s*</div>', body)


def test_deleted_message_shows_as_deleted_to_others_and_in_full_to_admins(signed_in, client, shop, threads, app):
    tid = threads.start(shop["team"], ConversationType.ADMIN_STORE, "Hi", "secret plan")
    with app.app_context():
        mid = db.session.scalar(sa.select(Message.id).where(Message.conversation_id == tid))
    team = signed_in(shop["team"])
    response = team.post(
        f"/store/north/conversations/{tid}/messages/{mid}/delete",
        data={"csrf_token": token(team, "/store/north/conversations/")}, headers={"HX-Request": "true"},
    )
    assert response.status_code == 200 and "Message deleted" in response.get_data(as_text=True)
    assert "secret plan" not in team.get(f"/store/north/conversations/{tid}").get_data(as_text=True)
    team.post("/logout", data={"csrf_token": token(team, "/store/north/conversations/")})
    admin_page = signed_in(shop["admin"]).get(f"/admin/conversations/{tid}").get_data(as_text=True)
    assert "secret plan" in admin_page and "visible to platform admins only" in admin_page


def test_a_team_member_cannot_delete_a_customers_message(signed_in, shop, threads, app):
    tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Hi", "from the customer")
    with app.app_context():
        mid = db.session.scalar(sa.select(Message.id).where(Message.conversation_id == tid))
    team = signed_in(shop["team"])
    response = team.post(
        f"/store/north/conversations/{tid}/messages/{mid}/delete",
        data={"csrf_token": token(team, "/store/north/conversations/")},
    )
    assert response.status_code == 403
    assert "Delete</button>" not in team.get(f"/store/north/conversations/{tid}").get_data(as_text=True).split("from the customer")[1][:600]


def test_reader_settings_mute_and_email_are_saved_per_person(signed_in, shop, threads, app):
    tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Hi")
    client = signed_in(shop["team"])
    client.post(
        f"/store/north/conversations/{tid}/settings",
        data={"muted": "y", "csrf_token": token(client, "/store/north/conversations/")},
    )
    with app.app_context():
        rows = {
            r.participant_type.value: r for r in db.session.scalars(sa.select(P).where(P.conversation_id == tid))
        }
        assert rows["store"].muted is True and rows["store"].email_notifications is False
        assert rows["customer"].muted is False and rows["customer"].email_notifications is True
    page = client.get(f"/store/north/conversations/{tid}").get_data(as_text=True)
    assert 'name="muted" checked' in page and 'name="email_notifications" >' in page



def test_muted_threads_carry_a_mark_and_can_be_filtered(signed_in, shop, threads):
    muted = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Newsletter question")
    other = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Parcel")
    client = signed_in(shop["team"])
    client.post(f"/store/north/conversations/{muted}/settings",
                data={"muted": "y", "csrf_token": token(client, "/store/north/conversations/")})
    page = client.get("/store/north/conversations/").get_data(as_text=True)
    row = page.split(f'id="inbox-row-{muted}"')[1].split("</tr>")[0]
    assert ">muted</span>" in row
    assert ">muted</span>" not in page.split(f'id="inbox-row-{other}"')[1].split("</tr>")[0]
    only = client.get("/store/north/conversations/?muted=only").get_data(as_text=True)
    assert re.findall(r'id="inbox-row-(\d+)"', only) == [str(muted)]
    hidden = client.get("/store/north/conversations/?muted=hidden").get_data(as_text=True)
    assert re.findall(r'id="inbox-row-(\d+)"', hidden) == [str(other)]
    assert client.get("/store/north/conversations/?muted=nonsense").status_code == 200
    # Muting is the reader's own: the customer sees no mark.
    customer_page = signed_in(shop["customer"]).get("/inbox/north/conversations/").get_data(as_text=True)
    assert ">muted</span>" not in customer_page

# --- starting conversations ---------------------------------------------------------------------------------


def test_customer_writes_to_their_store(signed_in, shop, app):
    client = signed_in(shop["customer"])
    response = client.post(
        "/inbox/north/conversations/new",
        data={"subject": "Size question", "content": "Does it run small?", "csrf_token": token(client, "/inbox/north/")},
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Size question" in page and "Does it run small?" in page


def test_start_form_explains_what_is_missing(signed_in, shop):
    client = signed_in(shop["customer"])
    response = client.post(
        "/inbox/north/conversations/new", data={"subject": "", "content": "x", "csrf_token": token(client, "/inbox/north/")}
    )
    assert response.status_code == 422 and "Give the conversation a subject." in response.get_data(as_text=True)


def test_store_writes_to_its_customer_and_to_the_platform_but_not_to_another_stores_customer(signed_in, shop, app):
    client = signed_in(shop["team"])
    csrf = token(client, "/store/north/conversations/")
    to_customer = client.post(
        "/store/north/conversations/new",
        data={"recipient": "customer", "customer_email": shop["customer"].email, "subject": "Your order",
              "content": "Shipped!", "csrf_token": csrf},
    )
    assert to_customer.status_code == 302
    to_platform = client.post(
        "/store/north/conversations/new",
        data={"recipient": "platform", "subject": "Help", "content": "Please", "csrf_token": csrf},
    )
    assert to_platform.status_code == 302
    foreign = client.post(
        "/store/north/conversations/new",
        data={"recipient": "customer", "customer_email": "nobody@else.test", "subject": "x", "content": "y",
              "csrf_token": csrf},
    )
    assert foreign.status_code == 422 and "has no customer with this email" in foreign.get_data(as_text=True)
    with app.app_context():
        kinds = {c.subject: (c.conversation_type, c.store_id, c.customer_id) for c in db.session.scalars(sa.select(Conversation))}
    assert kinds == {
        "Your order": (ConversationType.STORE_CUSTOMER, shop["store"].id, shop["customer"].id),
        "Help": (ConversationType.ADMIN_STORE, shop["store"].id, None),
    }


def test_admin_writes_to_a_store_and_to_a_customer(signed_in, shop, app):
    client = signed_in(shop["admin"])
    csrf = token(client, "/admin/conversations/")
    assert client.post(
        "/admin/conversations/new",
        data={"recipient": "store", "store_id": shop["other"].id, "subject": "Hello store", "content": "x", "csrf_token": csrf},
    ).status_code == 302
    assert client.post(
        "/admin/conversations/new",
        data={"recipient": "customer", "store_id": shop["store"].id, "customer_email": shop["customer"].email,
              "subject": "Hello customer", "content": "x", "csrf_token": csrf},
    ).status_code == 302
    with app.app_context():
        kinds = {c.subject: (c.conversation_type, c.store_id, c.customer_id) for c in db.session.scalars(sa.select(Conversation))}
    assert kinds == {
        "Hello store": (ConversationType.ADMIN_STORE, shop["other"].id, None),
        "Hello customer": (ConversationType.ADMIN_CUSTOMER, shop["store"].id, shop["customer"].id),
    }


# --- foreign ids on every route ------------------------------------------------------------------------------

ROUTES = [
    ("get", "{base}/{cid}", None),
    ("get", "{base}/{cid}/messages?after=0", None),
    ("get", "{base}/{cid}/messages?before=999999", None),
    ("post", "{base}/{cid}/messages", {"content": "intruder"}),
    ("post", "{base}/{cid}/unread", {}),
    ("post", "{base}/{cid}/settings", {"muted": "y"}),
    ("post", "{base}/{cid}/close", {}),
    ("post", "{base}/{cid}/reopen", {}),
    ("post", "{base}/{cid}/messages/{mid}/delete", {}),
]

# (viewer, the thread they must not reach): every type of thread that is someone else's.
FOREIGN = [
    ("team", "other_store_customer"), ("team", "other_admin_store"), ("team", "admin_customer_of_own_store"),
    ("customer", "other_store_customer"), ("customer", "same_store_other_customer"), ("customer", "admin_store"),
    ("customer", "admin_customer_of_other_customer"),
    ("admin", "store_customer"),
]


@pytest.fixture
def foreign_threads(shop, threads, factory):
    neighbour = factory.customer(shop["store"])
    return {
        "other_store_customer": threads.start(shop["other_customer"], ConversationType.STORE_CUSTOMER),
        "other_admin_store": threads.start(shop["other_team"], ConversationType.ADMIN_STORE),
        "admin_customer_of_own_store": threads.start(shop["admin"], ConversationType.ADMIN_CUSTOMER, customer=neighbour),
        "same_store_other_customer": threads.start(neighbour, ConversationType.STORE_CUSTOMER),
        "admin_store": threads.start(shop["team"], ConversationType.ADMIN_STORE),
        "admin_customer_of_other_customer": threads.start(shop["admin"], ConversationType.ADMIN_CUSTOMER, customer=neighbour),
        "store_customer": threads.start(shop["customer"], ConversationType.STORE_CUSTOMER),
    }


@pytest.mark.parametrize(("viewer", "target"), FOREIGN)
@pytest.mark.parametrize(("method", "pattern", "data"), ROUTES)
def test_a_foreign_conversation_is_not_found_on_every_route(
    app, signed_in, shop, foreign_threads, viewer, target, method, pattern, data
):
    cid = foreign_threads[target]
    with app.app_context():
        mid = db.session.scalar(sa.select(Message.id).where(Message.conversation_id == cid))
        before = db.session.scalar(sa.select(sa.func.count()).select_from(Message))
    client = signed_in(shop[viewer])
    base = base_of(shop, viewer)
    url = pattern.format(base=base, cid=cid, mid=mid)
    if method == "get":
        response = client.get(url)
    else:
        response = client.post(url, data={**data, "csrf_token": token(client, inbox_of(viewer))})
    assert response.status_code == 404
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == before
        assert db.session.scalar(sa.select(Message.is_deleted).where(Message.id == mid)) is False


def test_a_message_id_of_another_thread_is_not_found(signed_in, shop, threads, app):
    mine = threads.start(shop["team"], ConversationType.ADMIN_STORE, "Mine")
    other = threads.start(shop["other_team"], ConversationType.ADMIN_STORE, "Theirs")
    with app.app_context():
        foreign_mid = db.session.scalar(sa.select(Message.id).where(Message.conversation_id == other))
    client = signed_in(shop["admin"])
    response = client.post(
        f"/admin/conversations/{mine}/messages/{foreign_mid}/delete", data={"csrf_token": token(client, "/admin/conversations/")}
    )
    assert response.status_code == 404


def test_another_stores_portal_is_not_found_for_a_team_member(signed_in, shop, threads):
    tid = threads.start(shop["other_customer"], ConversationType.STORE_CUSTOMER)
    client = signed_in(shop["team"])
    assert client.get("/store/south/conversations/").status_code == 404
    assert client.get(f"/store/south/conversations/{tid}").status_code == 404


def test_nav_badge_endpoint_counts_unread_messages_of_unmuted_threads(signed_in, shop, threads):
    threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "a")
    tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "b")
    threads.post(shop["customer"], tid, "more")
    body = signed_in(shop["team"]).get("/store/north/conversations/unread-badge").get_data(as_text=True)
    assert 'data-unread="3"' in body and ">3</span>" in body


def test_team_member_who_joins_later_sees_existing_threads_in_the_inbox(signed_in, shop, threads, factory):
    tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Before you joined")
    newcomer = factory.store_user(shop["store"])
    page = signed_in(newcomer).get("/store/north/conversations/").get_data(as_text=True)
    assert f"inbox-row-{tid}" in page
    threads.post(shop["customer"], tid, "now")
    assert threads.unread(newcomer, tid) == 1


def test_user_rows_exist_for_every_reader(app, shop, threads):
    tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER)
    with app.app_context():
        team_ids = set(db.session.scalars(sa.select(User.id).where(User.store_id == shop["store"].id)))
        readers = set(db.session.scalars(sa.select(P.participant_id).where(P.conversation_id == tid, P.participant_type == "store")))
    assert readers == team_ids


# --- deletions reach the other readers of an open thread by its poll --------------------------------


def poll_cursors(page: str) -> dict:
    """The values the thread page's poller sends: the last and the oldest message shown, and the deletions cursor."""
    return {
        "after": re.search(r'id="thread-after" name="after" value="(\d+)"', page).group(1),
        "deleted_since": re.search(r'id="thread-deleted-since" name="deleted_since" value="([^"]+)"', page).group(1),
        "oldest": oldest_shown(page),
    }


def oldest_shown(page: str) -> str:
    return re.search(r'id="thread-oldest" name="oldest" value="(\d+)"', page).group(1)


def load_older(client, page: str) -> str:
    """What 'load older' brings: the older messages, and the page's new oldest message out of band."""
    url = re.search(r'hx-get="([^"]+before=\d+)"', page).group(1).replace("&amp;", "&")
    return client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)


def poll(client, base: str, conversation_id: int, cursors: dict):
    return client.get(f"{base}/{conversation_id}/messages", query_string=cursors, headers={"HX-Request": "true"})


def oob_message(body: str, message_id: int) -> str | None:
    """The out-of-band copy of a message in a poll's response, if there is one."""
    found = re.search(rf'<li id="message-{message_id}"[^>]*hx-swap-oob="true">.*?</li>', body, re.S)
    return found.group(0) if found else None


def test_a_deletion_by_the_sender_reaches_the_other_readers_next_poll_as_message_deleted(app, shop, threads):
    tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Hi", "my card number is 4111")
    mid = threads.post(shop["customer"], tid, "and my address")
    team = sign_in_client(app, shop["team"])
    page = team.get(f"/store/north/conversations/{tid}").get_data(as_text=True)
    assert 'hx-include="#thread-after, #thread-deleted-since, #thread-oldest"' in page
    cursors = poll_cursors(page)
    assert oob_message(poll(team, "/store/north/conversations", tid, cursors).get_data(as_text=True), mid) is None

    customer = sign_in_client(app, shop["customer"])
    deleted = customer.post(
        f"/inbox/north/conversations/{tid}/messages/{mid}/delete",
        data={"csrf_token": token(customer, "/inbox/north/")}, headers={"HX-Request": "true"},
    )
    assert deleted.status_code == 200

    response = poll(team, "/store/north/conversations", tid, cursors)
    body = response.get_data(as_text=True)
    shown = oob_message(body, mid)
    assert response.status_code == 200 and shown is not None
    assert "Message deleted" in shown and "and my address" not in body and "deleted" in shown.split(">")[0]
    # The next poll continues from where this one left off.
    assert re.search(r'<input type="hidden" id="thread-deleted-since" name="deleted_since" value="[^"]+" hx-swap-oob="true">', body)


def test_an_admins_poll_shows_the_original_of_a_deleted_message_marked_deleted(app, shop, threads):
    tid = threads.start(shop["team"], ConversationType.ADMIN_STORE, "Hi", "hello platform")
    mid = threads.post(shop["team"], tid, "our SMTP password is hunter2")
    admin = sign_in_client(app, shop["admin"])
    cursors = poll_cursors(admin.get(f"/admin/conversations/{tid}").get_data(as_text=True))
    threads.delete(shop["team"], mid)

    shown = oob_message(poll(admin, "/admin/conversations", tid, cursors).get_data(as_text=True), mid)
    assert shown is not None and "hunter2" in shown
    assert "Message deleted" in shown and "visible to platform admins only" in shown
    # The same element a reload shows, plus the out-of-band marker.
    page = admin.get(f"/admin/conversations/{tid}").get_data(as_text=True)
    reloaded = re.search(rf'<li id="message-{mid}".*?</li>', page, re.S).group(0)
    assert shown.replace(' hx-swap-oob="true"', "") == reloaded


@pytest.mark.parametrize(
    "deleted_since",
    ["not-a-date", "", "2024-13-45T99:00:00", "0" * 5000, "1" + "\x00", "2024-05-01T12:00:00 00:00", "-1", "[]"],
)
def test_a_poll_with_a_malformed_deleted_since_still_answers_and_sees_fresh_deletions(
    app, shop, threads, deleted_since
):
    tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Hi", "first")
    mid = threads.post(shop["customer"], tid, "soon gone")
    team = sign_in_client(app, shop["team"])
    cursors = poll_cursors(team.get(f"/store/north/conversations/{tid}").get_data(as_text=True))
    threads.delete(shop["customer"], mid)

    response = poll(team, "/store/north/conversations", tid, {**cursors, "deleted_since": deleted_since})
    assert response.status_code == 200
    # A value it cannot read means 'the last few seconds': a deletion made just now still comes.
    assert "Message deleted" in oob_message(response.get_data(as_text=True), mid)


def test_a_poll_brings_no_deletions_from_other_conversations(app, shop, threads):
    open_thread = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Open", "in the open thread")
    sibling = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Sibling", "sibling text")
    foreign = threads.start(shop["other_customer"], ConversationType.STORE_CUSTOMER, "Foreign", "foreign text")
    platform = threads.start(shop["admin"], ConversationType.ADMIN_STORE, "Platform", "to the north store", store=shop["store"])
    latest = threads.post(shop["team"], open_thread, "latest")
    gone = [
        threads.post(shop["customer"], sibling, "sibling secret"),
        threads.post(shop["other_customer"], foreign, "foreign secret"),
        threads.post(shop["admin"], platform, "platform secret"),
    ]
    threads.delete(shop["customer"], gone[0])
    threads.delete(shop["other_customer"], gone[1])
    threads.delete(shop["admin"], gone[2])

    team = sign_in_client(app, shop["team"])
    # The oldest cursor there is, and an 'after' past every other thread's ids: only this thread counts.
    body = poll(
        team, "/store/north/conversations", open_thread,
        {"after": max(gone) + 100, "deleted_since": "1970-01-01T00:00:00Z"},
    ).get_data(as_text=True)
    assert latest < max(gone) and 'class="message ' not in body
    assert not any(f"message-{m}" in body for m in gone)
    assert "secret" not in body and "Message deleted" not in body


def test_deletions_more_than_a_page_apart_arrive_over_successive_polls(app, shop, threads):
    size = conversations.THREAD_PAGE_SIZE
    tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Busy", "first")
    ids = [threads.post(shop["customer"], tid, f"to delete {n}") for n in range(size + 5)]
    team = sign_in_client(app, shop["team"])
    page = team.get(f"/store/north/conversations/{tid}").get_data(as_text=True)
    # The reader loaded the older messages too: every message is on their page.
    cursors = {**poll_cursors(page), "oldest": oldest_shown(load_older(team, page))}
    for mid in ids:
        threads.delete(shop["customer"], mid)

    seen: set[int] = set()
    for _ in range(2):
        body = poll(team, "/store/north/conversations", tid, cursors).get_data(as_text=True)
        seen |= {int(m) for m in re.findall(r'<li id="message-(\d+)"[^>]*hx-swap-oob="true"', body)}
        cursors["deleted_since"] = re.search(r'id="thread-deleted-since" name="deleted_since" value="([^"]+)"', body).group(1)
    assert seen == set(ids)


def test_a_poll_brings_deletions_only_of_messages_the_page_has_loaded_and_load_older_widens_that(app, shop, threads):
    size = conversations.THREAD_PAGE_SIZE
    tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Long", "first")
    ids = [threads.post(shop["customer"], tid, f"message {n}") for n in range(size + 3)]
    team = sign_in_client(app, shop["team"])
    page = team.get(f"/store/north/conversations/{tid}").get_data(as_text=True)
    cursors = poll_cursors(page)
    shown_first = int(cursors["oldest"])
    assert shown_first == ids[-size] and f'id="message-{ids[0]}"' not in page
    unloaded, loaded = ids[0], ids[-1]
    threads.delete(shop["customer"], unloaded)
    threads.delete(shop["customer"], loaded)

    # Only the deletion the page can show: htmx would find no element for the other one.
    body = poll(team, "/store/north/conversations", tid, cursors).get_data(as_text=True)
    assert oob_message(body, loaded) is not None and oob_message(body, unloaded) is None

    # 'Load older' moves the page's oldest message back, out of band; the next poll then brings it.
    older = load_older(team, page)
    assert f'id="message-{unloaded}"' in older and re.search(r'id="thread-oldest"[^>]*hx-swap-oob="true"', older)
    assert int(oldest_shown(older)) < unloaded
    body = poll(team, "/store/north/conversations", tid, {**cursors, "oldest": oldest_shown(older)}).get_data(as_text=True)
    assert oob_message(body, unloaded) is not None


def test_a_deleted_message_that_is_also_new_comes_once_as_a_new_message(app, shop, threads):
    tid = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Hi", "first")
    team = sign_in_client(app, shop["team"])
    cursors = poll_cursors(team.get(f"/store/north/conversations/{tid}").get_data(as_text=True))
    mid = threads.post(shop["customer"], tid, "oops")
    threads.delete(shop["customer"], mid)
    body = poll(team, "/store/north/conversations", tid, cursors).get_data(as_text=True)
    assert body.count(f'id="message-{mid}"') == 1 and oob_message(body, mid) is None
    assert "Message deleted" in body and "oops" not in body


def test_a_thread_poll_costs_the_same_queries_for_a_short_and_a_long_thread_with_deletions(app, shop, threads):
    short = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "short", "s0")
    short_gone = [threads.post(shop["customer"], short, "s1")]
    long = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "long", "l0")
    long_gone = [threads.post(shop["customer"], long, f"l{n}") for n in range(1, 121)][::6]
    team = sign_in_client(app, shop["team"])
    cursors = {tid: poll_cursors(team.get(f"/store/north/conversations/{tid}").get_data(as_text=True)) for tid in (short, long)}
    for mid in short_gone:
        threads.delete(shop["customer"], mid)
    for mid in long_gone:
        threads.delete(shop["customer"], mid)
    threads.post(shop["customer"], short, "new in short")
    threads.post(shop["customer"], long, "new in long")

    def queries_for_poll(conversation_id):
        poll(team, "/store/north/conversations", conversation_id, cursors[conversation_id])  # warm caches
        with count_queries(app) as statements:
            body = poll(team, "/store/north/conversations", conversation_id, cursors[conversation_id]).get_data(as_text=True)
        assert "Message deleted" in body
        return len([s for s in statements if not s.startswith(("BEGIN", "COMMIT", "ROLLBACK"))])

    # The account; the thread; new messages; deleted ones; the reader's row; the badge. No query for
    # attachments: none of the messages has files.
    assert queries_for_poll(short) == queries_for_poll(long) == 6


def sign_in_client(app, account):
    """A client of its own, signed in: two readers of one thread side by side."""
    client = app.test_client()
    assert sign_in(client, account).status_code == 302
    return client


# --- database round trips: the inbox is polled, so each one counts ---------------------------------


def _needs_postgresql(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("transactions and pings are PostgreSQL round trips (run with TEST_DATABASE_URL)")


def test_on_postgresql_the_inbox_reads_in_autocommit_mode_and_a_writing_view_keeps_its_transaction(app):
    _needs_postgresql(app)
    with app.test_request_context("/store/north/conversations/"):
        _read_outside_a_transaction()
        assert db.session.connection().connection.dbapi_connection.autocommit is True
        db.session.remove()
    with app.test_request_context("/store/north/conversations/1/messages", method="POST"):
        _read_outside_a_transaction()
        assert db.session.connection().connection.dbapi_connection.autocommit is False
        db.session.remove()


def test_on_postgresql_the_thread_page_reads_in_autocommit_mode_and_still_marks_the_thread_read(
    app, signed_in, shop, threads
):
    _needs_postgresql(app)
    with app.test_request_context("/store/north/conversations/1"):
        _read_outside_a_transaction()
        assert db.session.connection().connection.dbapi_connection.autocommit is True
        db.session.remove()
    opened = threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Read me", "one")
    threads.post(shop["customer"], opened, "two")
    client = signed_in(shop["team"])
    assert client.get(f"/store/north/conversations/{opened}").status_code == 200
    # The UPDATE committed on its own (no transaction around the page): another session sees it.
    assert threads.unread(shop["team"], opened) == 0


def test_a_connection_killed_while_idle_in_the_pool_is_replaced_before_the_next_request(
    app, signed_in, shop, threads
):
    _needs_postgresql(app)
    threads.start(shop["customer"], ConversationType.STORE_CUSTOMER, "Where is my parcel?")
    client = signed_in(shop["team"])
    assert client.get("/store/north/conversations/").status_code == 200
    # The database server drops the app's pooled connections (a restart, a failover, an idle timeout).
    with app.app_context():
        killer = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)
    with killer.connect() as conn:
        killed = conn.execute(sa.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )).scalar()
    killer.dispose()
    assert killed >= 1
    time.sleep(app.config["DATABASE_PING_AFTER_IDLE_SECONDS"] + 0.2)

    response = client.get("/store/north/conversations/")

    assert response.status_code == 200 and "Where is my parcel?" in response.get_data(as_text=True)
