"""Conversations service: who takes part, exact unread counts, reading, closing, deleting, the inbox query."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from messaging_web import access
from messaging_web.actors import Actor
from messaging_web.extensions import db
from messaging_web.models import (
    Conversation,
    ConversationParticipant,
    ConversationType,
    Customer,
    Message,
    ParticipantType,
    Store,
    User,
)
from messaging_web.services import accounts, conversations
from messaging_web.services.errors import NotFound, PermissionDenied, ValidationError
from messaging_web.web.message_text import message_html
from tests.support.query_counter import count_queries

P = ConversationParticipant


@pytest.fixture
def world(ctx):
    """Two stores, each with two team members and two customers, and one platform admin."""
    stores = []
    for slug in ("north", "south"):
        store = Store(name=slug.title(), slug=slug, tier="starter", default_language="en")
        db.session.add(store)
        db.session.flush()
        stores.append(store)
    admin = accounts.create_admin("ada@platform.test", "Ada", "password-123")
    people = {"admin": Actor.for_user(admin)}
    for store in stores:
        for n in (1, 2):
            user = accounts.create_store_user(store, f"team{n}@{store.slug}.test", f"{store.name} Team {n}", "password-123")
            people[f"{store.slug}_team{n}"] = Actor.for_user(user)
            customer = accounts.create_customer(store, f"cust{n}@shop.test", f"{store.name} Customer {n}", "password-123")
            people[f"{store.slug}_cust{n}"] = Actor.for_customer(customer)
    db.session.commit()
    people["stores"] = stores
    return people


def rows_of(conversation) -> dict[tuple[str, int], P]:
    return {
        (row.participant_type.value, row.participant_id): row
        for row in db.session.scalars(sa.select(P).where(P.conversation_id == conversation.id))
    }


def customer_row(actor: Actor) -> Customer:
    return db.session.get(Customer, actor.id)


def start_customer_thread(world, subject="Where is my parcel?", content="Hello"):
    return conversations.start_conversation(world["north_cust1"], ConversationType.STORE_CUSTOMER, subject, content)


def test_customer_thread_has_a_reader_row_for_the_customer_and_each_team_member(world):
    conversation = start_customer_thread(world)
    db.session.commit()
    rows = rows_of(conversation)
    assert set(rows) == {
        ("customer", world["north_cust1"].id), ("store", world["north_team1"].id), ("store", world["north_team2"].id)
    }
    assert rows[("customer", world["north_cust1"].id)].unread_count == 0
    assert rows[("store", world["north_team1"].id)].unread_count == 1
    assert conversation.store_id == world["stores"][0].id and conversation.customer_id == world["north_cust1"].id


def test_admin_store_thread_includes_admins_and_the_team_but_no_customer(world):
    conversation = conversations.start_conversation(
        world["north_team1"], ConversationType.ADMIN_STORE, "Billing", "Question about our invoice"
    )
    db.session.commit()
    assert set(rows_of(conversation)) == {
        ("admin", world["admin"].id), ("store", world["north_team1"].id), ("store", world["north_team2"].id)
    }


def test_admin_customer_thread_includes_admins_and_the_customer_only(world):
    conversation = conversations.start_conversation(
        world["admin"], ConversationType.ADMIN_CUSTOMER, "Your account", "Hello",
        customer=customer_row(world["south_cust2"]),
    )
    db.session.commit()
    assert set(rows_of(conversation)) == {("admin", world["admin"].id), ("customer", world["south_cust2"].id)}
    assert conversation.store_id == world["stores"][1].id


def test_customer_cannot_start_a_platform_thread_and_a_store_cannot_write_to_another_stores_customer(world):
    with pytest.raises(PermissionDenied):
        conversations.start_conversation(world["north_cust1"], ConversationType.ADMIN_CUSTOMER, "x", "y")
    with pytest.raises(ValidationError):
        conversations.start_conversation(
            world["north_team1"], ConversationType.STORE_CUSTOMER, "x", "y", customer=customer_row(world["south_cust1"])
        )


def test_posting_counts_unread_for_everyone_but_the_sender(world):
    conversation = start_customer_thread(world)
    conversations.post_message(world["north_cust1"], conversation, "Anyone there?")
    conversations.post_message(world["north_team1"], conversation, "Yes, looking into it")
    db.session.commit()
    db.session.refresh(conversation)
    rows = rows_of(conversation)
    assert conversation.message_count == 3
    assert rows[("customer", world["north_cust1"].id)].unread_count == 1
    assert rows[("store", world["north_team1"].id)].unread_count == 0
    assert rows[("store", world["north_team2"].id)].unread_count == 3
    last = db.session.scalar(sa.select(sa.func.max(Message.created_at)).where(Message.conversation_id == conversation.id))
    assert conversation.last_message_at.replace(tzinfo=None) == last.replace(tzinfo=None)


def test_team_member_who_joins_later_gets_a_row_and_future_messages_count_for_them(world):
    conversation = start_customer_thread(world)
    platform = conversations.start_conversation(world["north_team1"], ConversationType.ADMIN_STORE, "Hi", "Hello")
    db.session.commit()
    newcomer = Actor.for_user(accounts.create_store_user(world["stores"][0], "new@north.test", "Newcomer", "password-123"))
    db.session.commit()
    assert rows_of(conversation)[("store", newcomer.id)].unread_count == 0
    assert ("store", newcomer.id) in rows_of(platform)
    conversations.post_message(world["north_cust1"], conversation, "Still waiting")
    db.session.commit()
    assert rows_of(conversation)[("store", newcomer.id)].unread_count == 1


def test_admin_who_joins_later_gets_rows_in_platform_threads_only(world):
    customer_thread = start_customer_thread(world)
    platform = conversations.start_conversation(world["north_team1"], ConversationType.ADMIN_STORE, "Hi", "Hello")
    db.session.commit()
    second = accounts.create_admin("bert@platform.test", "Bert", "password-123")
    db.session.commit()
    assert ("admin", second.id) in rows_of(platform)
    assert ("admin", second.id) not in rows_of(customer_thread)


def test_opening_a_thread_marks_it_read_and_mark_unread_sets_it_back(world):
    conversation = start_customer_thread(world)
    db.session.commit()
    reader = world["north_team2"]
    conversations.mark_read(reader, conversation)
    db.session.commit()
    assert rows_of(conversation)[("store", reader.id)].unread_count == 0
    assert rows_of(conversation)[("store", reader.id)].last_read_at is not None
    conversations.mark_unread(reader, conversation)
    db.session.commit()
    assert rows_of(conversation)[("store", reader.id)].unread_count == 1
    assert conversations.unread_total(reader) == 1


def test_muted_threads_keep_their_count_but_leave_the_nav_total(world):
    conversation = start_customer_thread(world)
    db.session.commit()
    reader = world["north_team2"]
    assert conversations.unread_total(reader) == 1
    conversations.update_reader_settings(reader, conversation, muted=True, email_notifications=True)
    db.session.commit()
    assert rows_of(conversation)[("store", reader.id)].unread_count == 1
    assert conversations.unread_total(reader) == 0


@pytest.mark.parametrize("content", ["", "   ", "\n\t \n"])
def test_empty_or_whitespace_messages_are_refused(world, content):
    conversation = start_customer_thread(world)
    with pytest.raises(ValidationError, match="empty"):
        conversations.post_message(world["north_cust1"], conversation, content)


def test_a_message_over_the_limit_is_refused_with_a_clear_error(world, app):
    conversation = start_customer_thread(world)
    conversations.post_message(world["north_cust1"], conversation, "x" * 10_000)
    with pytest.raises(ValidationError, match="too long: 10,001 characters, at most 10,000"):
        conversations.post_message(world["north_cust1"], conversation, "x" * 10_001)
    app.config["MESSAGE_MAX_LENGTH"] = 20
    try:
        with pytest.raises(ValidationError, match="at most 20"):
            conversations.post_message(world["north_cust1"], conversation, "x" * 21)
    finally:
        app.config["MESSAGE_MAX_LENGTH"] = 10_000


def test_closing_records_who_and_when_with_a_system_message_and_reopening_too(world):
    conversation = start_customer_thread(world)
    closer = world["north_team1"]
    conversations.close_conversation(closer, conversation)
    db.session.commit()
    db.session.refresh(conversation)
    assert conversation.is_closed and conversation.closed_at is not None
    assert conversation.closed_by_type is ParticipantType.STORE and conversation.closed_by_id == closer.id
    last = db.session.scalars(
        sa.select(Message).where(Message.conversation_id == conversation.id).order_by(Message.id.desc())
    ).first()
    assert last.is_system_message and "closed by North Team 1" in last.content
    # A system line counts in the thread but is nobody's unread message.
    assert rows_of(conversation)[("customer", world["north_cust1"].id)].unread_count == 0
    assert conversation.message_count == 2
    conversations.reopen_conversation(world["north_team2"], conversation)
    db.session.commit()
    db.session.refresh(conversation)
    assert not conversation.is_closed and conversation.closed_by_id is None


def test_a_customers_message_to_a_closed_thread_reopens_it(world):
    conversation = start_customer_thread(world)
    conversations.close_conversation(world["north_team1"], conversation)
    db.session.commit()
    conversations.post_message(world["north_cust1"], conversation, "But I still have a question")
    db.session.commit()
    db.session.refresh(conversation)
    assert not conversation.is_closed
    contents = db.session.scalars(
        sa.select(Message.content).where(Message.conversation_id == conversation.id, Message.is_system_message)
    ).all()
    assert any("reopened by a new message from North Customer 1" in c for c in contents)


def test_customers_cannot_close_threads(world):
    conversation = start_customer_thread(world)
    with pytest.raises(PermissionDenied):
        conversations.close_conversation(world["north_cust1"], conversation)


def test_sender_or_admin_may_delete_a_message_softly_others_may_not(world):
    conversation = conversations.start_conversation(world["north_team1"], ConversationType.ADMIN_STORE, "Hi", "First")
    db.session.commit()
    message = db.session.scalars(sa.select(Message).where(Message.conversation_id == conversation.id)).one()
    with pytest.raises(PermissionDenied):
        conversations.delete_message(world["north_team2"], message)
    conversations.delete_message(world["admin"], message)
    db.session.commit()
    db.session.refresh(message)
    assert message.is_deleted and message.content == "First"
    assert message.deleted_by_type is ParticipantType.ADMIN and message.deleted_by_id == world["admin"].id
    assert message.deleted_at is not None
    own = conversations.post_message(world["north_team2"], conversation, "Oops, wrong thread")
    conversations.delete_message(world["north_team2"], own)
    assert own.is_deleted and own.deleted_by_type is ParticipantType.STORE


@pytest.mark.parametrize(
    ("viewer", "visible"),
    [
        ("admin", {"platform_north", "admin_cust_south"}),
        ("north_team1", {"cust_north", "platform_north"}),
        ("south_team2", set()),
        ("north_cust1", {"cust_north"}),
        ("north_cust2", set()),
        ("south_cust1", {"admin_cust_south"}),
    ],
)
def test_each_actor_sees_exactly_the_threads_the_rules_give_them(world, viewer, visible):
    threads = {
        "cust_north": start_customer_thread(world),
        "platform_north": conversations.start_conversation(world["north_team1"], ConversationType.ADMIN_STORE, "a", "b"),
        "admin_cust_south": conversations.start_conversation(
            world["admin"], ConversationType.ADMIN_CUSTOMER, "a", "b", customer=customer_row(world["south_cust1"])
        ),
    }
    db.session.commit()
    actor = world[viewer]
    for name, conversation in threads.items():
        if name in visible:
            assert access.access_conversation(actor, conversation.id).id == conversation.id
        else:
            with pytest.raises(NotFound):
                access.access_conversation(actor, conversation.id)
    page = conversations.inbox_page(actor, conversations.InboxFilters())
    assert {row.id for row in page.rows} == {threads[name].id for name in visible}


def test_a_customer_of_the_same_email_in_another_store_sees_nothing_of_the_first(world):
    conversation = start_customer_thread(world)
    db.session.commit()
    twin = world["south_cust1"]  # same email (cust1@shop.test), other store
    with pytest.raises(NotFound):
        access.access_conversation(twin, conversation.id)


def test_inbox_rows_show_counterpart_preview_and_the_readers_unread_count(world):
    conversation = start_customer_thread(world, content="Hello <b>team</b>")
    conversations.post_message(world["north_cust1"], conversation, "  second\n line  ")
    db.session.commit()
    row = conversations.inbox_page(world["north_team1"], conversations.InboxFilters()).rows[0]
    assert row.counterpart == "North Customer 1"
    assert row.preview == "second line" and row.preview_sender_type is ParticipantType.CUSTOMER
    assert row.unread_count == 2
    customer_view = conversations.inbox_page(world["north_cust1"], conversations.InboxFilters()).rows[0]
    assert customer_view.counterpart == "North" and customer_view.unread_count == 0


def test_inbox_filters_by_status_unread_type_and_search_in_subjects_and_messages(world):
    team = world["north_team1"]
    refund = start_customer_thread(world, subject="Refund please", content="The zipper broke")
    shipping = start_customer_thread(world, subject="Shipping", content="100% wool? under_score")
    platform = conversations.start_conversation(team, ConversationType.ADMIN_STORE, "Invoice", "About the zipper fee")
    conversations.close_conversation(team, shipping)
    conversations.mark_read(team, refund)
    db.session.commit()

    def ids(**kwargs):
        return {row.id for row in conversations.inbox_page(team, conversations.InboxFilters(**kwargs)).rows}

    assert ids() == {refund.id, shipping.id, platform.id}
    assert ids(status="closed") == {shipping.id}
    assert ids(status="open") == {refund.id, platform.id}
    assert ids(unread_only=True) == {shipping.id}
    assert ids(conversation_type=ConversationType.ADMIN_STORE) == {platform.id}
    assert ids(search="ZIPPER") == {refund.id, platform.id}
    assert ids(search="refund") == {refund.id}
    assert ids(search="100%") == {shipping.id}
    assert ids(search="0%") == {shipping.id}
    assert ids(search="%") == {shipping.id}
    assert ids(search="r_s") == {shipping.id}  # "under_score": the underscore is literal, not a wildcard
    assert ids(search="nothing like this") == set()


def test_search_skips_deleted_message_text(world):
    conversation = start_customer_thread(world, subject="Order", content="my secret code 4711")
    message = db.session.scalars(sa.select(Message).where(Message.conversation_id == conversation.id)).one()
    conversations.delete_message(world["north_cust1"], message)
    db.session.commit()
    assert conversations.inbox_page(world["north_team1"], conversations.InboxFilters(search="4711")).rows == []


@pytest.mark.parametrize("term", ["kiwi", "ki"])
def test_search_pages_walk_every_match_once_newest_first_whether_by_subject_message_or_both(world, term):
    # Long and short terms take different statements (trigram-indexable or not): both page alike.
    team = world["north_team1"]
    matching = []
    for n in range(9):
        subject = "Kiwi crate" if n % 3 == 0 else f"Crate {n}"
        content = "a kiwi inside" if n % 3 != 1 else "nothing here"
        thread = start_customer_thread(world, subject=subject, content=content)
        if n % 3 != 1 or subject.startswith("Kiwi"):
            matching.append(thread.id)
        conversations.post_message(team, thread, "reply")  # the match is not in the newest message
    start_customer_thread(world, subject="No fruit", content="none")
    conversations.start_conversation(world["south_cust1"], ConversationType.STORE_CUSTOMER, "Kiwi", "kiwi")
    db.session.commit()
    seen, cursor = [], None
    while True:
        page = conversations.inbox_page(team, conversations.InboxFilters(search=term), cursor, page_size=2)
        seen += [row.id for row in page.rows]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == sorted(matching, reverse=True)  # one thread after another: newest activity first


def test_search_statement_is_built_once_per_shape_and_a_long_term_is_written_into_the_sql(app, world):
    team = world["north_team1"]
    start_customer_thread(world, subject="Quotes", content="it's a 'quoted' \\ word")
    db.session.commit()
    first, params = conversations.inbox_statement(team, conversations.InboxFilters(search="kiwi"), None, 26)
    again, _ = conversations.inbox_statement(team, conversations.InboxFilters(search="other words"), None, 26)
    short, _ = conversations.inbox_statement(team, conversations.InboxFilters(search="ki"), None, 26)
    assert first is again and short is not first and params["pattern"] == "%kiwi%"
    # Planned with the term itself, so no generic plan guesses how common it is; quotes stay quoted.
    with count_queries(app) as statements:
        rows = conversations.inbox_page(team, conversations.InboxFilters(search="'quoted' \\ w")).rows
    assert [row.subject for row in rows] == ["Quotes"]
    assert "'quoted''" in statements[-1] and "pattern" not in statements[-1]


def test_inbox_pages_walk_every_thread_once_newest_first(world):
    created = []
    for n in range(7):
        created.append(start_customer_thread(world, subject=f"Thread {n}").id)
    # Equal timestamps must not lose or repeat rows at page boundaries.
    db.session.execute(sa.update(Conversation).values(last_message_at=sa.select(sa.func.max(Conversation.last_message_at)).scalar_subquery()))
    db.session.commit()
    seen, cursor = [], None
    while True:
        page = conversations.inbox_page(world["north_team1"], conversations.InboxFilters(), cursor, page_size=3)
        seen += [row.id for row in page.rows]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == sorted(created, reverse=True)


def test_a_malformed_cursor_means_the_first_page(world):
    start_customer_thread(world)
    db.session.commit()
    page = conversations.inbox_page(world["north_team1"], conversations.InboxFilters(), "not-a-cursor")
    assert len(page.rows) == 1


def test_thread_shows_the_newest_page_and_older_messages_on_demand(world):
    size = conversations.THREAD_PAGE_SIZE
    total = 2 * size + 7
    conversation = start_customer_thread(world, content="message 0")
    for n in range(1, total):
        conversations.post_message(world["north_cust1"], conversation, f"message {n}")
    db.session.commit()
    newest = conversations.thread_messages(conversation)
    assert [m.content for m in newest.messages] == [f"message {n}" for n in range(total - size, total)]
    assert newest.has_older and newest.messages[0].sender_name == "North Customer 1"
    older = conversations.thread_messages(conversation, before_id=newest.messages[0].id)
    assert [m.content for m in older.messages] == [f"message {n}" for n in range(total - 2 * size, total - size)]
    oldest = conversations.thread_messages(conversation, before_id=older.messages[0].id)
    assert len(oldest.messages) == 7 and not oldest.has_older
    newer = conversations.thread_messages(conversation, after_id=newest.messages[-2].id)
    assert [m.content for m in newer.messages] == [f"message {total - 1}"]


def test_a_participant_row_is_created_for_a_reader_who_has_none(world):
    conversation = start_customer_thread(world)
    db.session.commit()
    reader = world["north_team2"]
    db.session.execute(sa.delete(P).where(P.participant_type == ParticipantType.STORE, P.participant_id == reader.id))
    db.session.commit()
    conversations.mark_read(reader, conversation)
    db.session.commit()
    assert rows_of(conversation)[("store", reader.id)].unread_count == 0


def test_message_text_is_escaped_and_links_are_clickable_safely():
    html = str(message_html('<div hx-get="/admin" hx-trigger=load>x</div>\nsee https://shop.example/a?b=1&c=2.'))
    assert "<div" not in html and "&lt;div hx-get=&#34;/admin&#34; hx-trigger=load&gt;" in html
    assert '<a href="https://shop.example/a?b=1&amp;c=2" rel="noopener noreferrer nofollow ugc" target="_blank">' in html
    assert html.endswith("</a>.") and "<br>" in html


@pytest.mark.parametrize(
    "text",
    ['javascript:alert(1)', 'https://x.example/"onmouseover="alert(1)', "data:text/html,<script>alert(1)</script>"],
)
def test_message_text_never_makes_script_links_or_attributes(text):
    html = str(message_html(text))
    assert 'href="javascript' not in html and 'href="data' not in html
    assert '"onmouseover' not in html and "<script" not in html


def test_user_names_in_a_thread_come_from_the_accounts(world):
    conversation = start_customer_thread(world)
    db.session.execute(sa.update(User).where(User.id == world["north_team1"].id).values(name="Renamed"))
    conversations.post_message(world["north_team1"], conversation, "hi")
    db.session.commit()
    assert [m.sender_name for m in conversations.thread_messages(conversation).messages] == ["North Customer 1", "Renamed"]
