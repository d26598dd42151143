"""The email log's search for an address: on PostgreSQL found by the address's parts (local part reversed, domain)
instead of the trigram index, and still exactly what "recipient contains the term, ignoring case" finds."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from messaging_web.extensions import db
from messaging_web.models import EmailLog
from messaging_web.services.email import email_log
from messaging_web.services.email.email_log import EmailLogFilters, search_email_logs

ADDRESSES = [
    "ana@example.com", "Ana@Example.COM", "mariana@shop.test", "ana.lopez@example.com", "banana@example.org",
    "ana x@example.com", "ana@", "@example.com", "ana@example.com.evil.test",
    "customer1@example.com", "customer12@example.com", "customer123457@example.com", "xcustomer123457@example.com",
    "Customer123457@Other.Test",
    # LIKE's own characters, taken literally
    "100%_off\\deal@promo.test", "a_b@example.com", "axb@example.com", "50%@example.com", "50x@example.com",
    "a\\b@example.com",
    # several '@' (a quoted local part, a relay) and none
    '"ana@x"@example.com', "ana@example.com@relay.test", "weird@@example.com", "bob@ana@example.com",
    "ana", "no-at-sign-ana", "customer123457",
    # other than ASCII
    "änä@exämple.com", "ÄNA@example.com",
]

TERMS = [
    # a whole address, in any case
    "customer123457@example.com", "ANA@example.com", "AnA@ExAmPlE.cOm",
    # a local part (or its end) with its '@'
    "customer123457@", "CusTomer123457@", "ana@", "r1@", "na@", "a@",
    # a domain
    "@example.com", "@Example.COM", "@promo.test",
    # a fragment in the middle
    "123457@exa", "ana@example", "a@e", "na@ex", "r12@example.co",
    # LIKE's characters
    "%@", "_@", "a_b@", "50%@", "a\\b@", "%_off\\deal@", "\\deal@promo", "\\", "%", "_",
    # several '@', an '@' alone, spaces around
    'x"@', '"@example', "@example.com@", "ana@x\"@example.com", "@@", "b@ana@", "@", "  ana@  ", "ana x@",
    # other than ASCII
    "änä@", "ÄNA@", "ä@exä",
]


@pytest.fixture
def addresses(ctx):
    rows = [EmailLog(recipient_email=address, subject="Your order", from_email="shop@store.example", status="sent")
            for address in ADDRESSES]
    db.session.add_all(rows)
    db.session.commit()
    return {row.id: row.recipient_email for row in rows}


def found(term: str, **kwargs) -> list[str]:
    page = search_email_logs(EmailLogFilters(search=term), per_page=100, **kwargs)
    return [row.recipient_email for row, _store in page.items]


@pytest.mark.parametrize("term", TERMS)
def test_an_address_search_finds_what_recipient_ilike_contains_finds(addresses, monkeypatch, term):
    ours = found(term)
    # The search before: recipient ILIKE '%term%' alone.
    monkeypatch.setattr(email_log, "_address_search", lambda _search, contains: contains)
    assert ours == found(term)
    if term.isascii():  # and what "contains, ignoring case" means (Python and the database agree on ASCII)
        assert ours == [a for _id, a in sorted(addresses.items(), reverse=True) if term.strip().lower() in a.lower()]


def test_the_address_searches_find_the_addresses_they_name(addresses):
    assert found("customer123457@") == ["Customer123457@Other.Test", "xcustomer123457@example.com",
                                        "customer123457@example.com"]
    assert found("AnA@ExAmPlE.cOm") == ["bob@ana@example.com", "ana@example.com@relay.test",
                                        "ana@example.com.evil.test", "Ana@Example.COM", "ana@example.com"]
    assert found("a_b@") == ["a_b@example.com"] and found("50%@") == ["50%@example.com"]
    assert found("a\\b@") == ["a\\b@example.com"] and found("%_off\\deal@") == ["100%_off\\deal@promo.test"]
    assert found('x"@') == ['"ana@x"@example.com'] and found("@@") == ["weird@@example.com"]
    assert found("ana x@") == ["ana x@example.com"]
    assert len(found("@example.com")) == 20


def test_a_store_searches_its_own_emails_only(ctx, factory):
    first, second = factory.store(), factory.store()
    db.session.add_all([
        EmailLog(recipient_email=address, subject="s", from_email="shop@store.example", status="sent", store_id=store)
        for address, store in [("kim@example.com", first.id), ("kim@example.com", second.id),
                               ("kim@x@example.com", second.id), ("tim@example.com", second.id)]
    ])
    db.session.commit()
    assert found("KIM@", only_store_id=first.id) == ["kim@example.com"]
    assert found("im@ex", only_store_id=second.id) == ["tim@example.com", "kim@example.com"]
    assert found("x@ex", only_store_id=second.id) == ["kim@x@example.com"]


def test_on_postgresql_an_address_is_found_through_its_parts_not_the_trigrams(addresses):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the index of the address's parts is PostgreSQL's")
    statements: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        statements.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", capture)
    try:
        found("customer123457@exa")
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", capture)
    statement, parameters = statements[0]
    with db.engine.connect() as conn:
        # A log of a few rows would be read whole, or newest first through its primary key.
        conn.exec_driver_sql("SET enable_seqscan = off")
        conn.exec_driver_sql("SET enable_indexscan = off")
        plan = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
    assert "ix_email_logs_recipient_address_parts" in plan
    assert "ix_email_logs_recipient_several_at_trgm" in plan
    assert "ix_email_logs_recipient_email_trgm" not in plan
