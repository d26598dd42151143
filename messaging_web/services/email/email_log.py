"""Reading the email log: filtered, searched, paginated lists and single rows for the admin and store pages."""
from __future__ import annotations

import json
from dataclasses import dataclass

import sqlalchemy as sa
import sqlalchemy.orm

from ...extensions import db
from ...models import EmailLog, EmailStatus, Store
from ..pagination import Page, clamp_page, like_pattern
from .providers import PROVIDERS

AMBIGUOUS = "ambiguous"
# Beyond this many matching emails the log says "more than" and offers no deeper pages: filters and
# search narrow it down, and counting a whole large log would cost more than showing its page.
COUNT_LIMIT = 10_000
STATUS_FILTERS = [*EmailStatus.values(), AMBIGUOUS]


@dataclass(frozen=True)
class EmailLogFilters:
    status: str | None = None
    store_id: int | None = None
    provider: str | None = None
    search: str | None = None
    template_code: str | None = None
    store_search: str | None = None  # part of a store's name


def _conditions(filters: EmailLogFilters, only_store_id: int | None) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if only_store_id is not None:
        conditions.append(EmailLog.store_id == only_store_id)
    elif filters.store_id is not None:
        conditions.append(EmailLog.store_id == filters.store_id)
    elif filters.store_search:
        pattern = like_pattern(filters.store_search)
        conditions.append(EmailLog.store_id.in_(
            sa.select(Store.id).where(sa.func.lower(Store.name).like(pattern, escape="\\"))
        ))
    if filters.status == AMBIGUOUS:
        conditions.append(EmailLog.delivery_ambiguous.is_(True))
    elif filters.status in EmailStatus.values():
        conditions.append(EmailLog.status == filters.status)
    if filters.provider:
        conditions.append(EmailLog.provider == filters.provider)
    if filters.template_code:
        conditions.append(EmailLog.template_code == filters.template_code)
    if filters.search:
        # Written into the SQL rather than bound: PostgreSQL then plans for this very term (the trigram
        # indexes for a rare one), where a generic plan for "some pattern" would walk the whole log.
        term: sa.BindParameter[str] = sa.bindparam(
            "email_log_search", like_pattern(filters.search), literal_execute=True
        )
        if "@" in filters.search:  # an address: no subject has it, and searching them costs a second index scan
            conditions.append(_address_search(filters.search, EmailLog.recipient_email.ilike(term, escape="\\")))
        else:
            conditions.append(sa.or_(
                EmailLog.recipient_email.ilike(term, escape="\\"), EmailLog.subject.ilike(term, escape="\\"),
            ))
    return conditions


def _index(name: str) -> sa.Index:
    return next(index for index in EmailLog.__table__.indexes if index.name == name)


# The indexes of address searches (messaging_web/models/email.py), on PostgreSQL: an address's local part reversed
# and its domain, both lower-cased; and the condition of the trigram index of the addresses with several '@'.
_LOCAL_REVERSED, _DOMAIN = (
    expression.element for expression in _index("ix_email_logs_recipient_address_parts").expressions
    if isinstance(expression, sa.Label)
)
_SEVERAL_AT: sa.ColumnElement[bool] = _index("ix_email_logs_recipient_several_at_trgm").dialect_options[
    "postgresql"]["where"]


def _address_search(search: str, contains: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
    """The rows `contains` (recipient ILIKE '%term%') finds for a term with an '@', found by the address's parts.

    In an address with one '@' the term's '@' is that one: the term is in the address when what it has before its
    '@' ends the local part and what it has after starts the domain, two prefixes of one btree. (The trigram index
    reads the posting lists of the trigrams every address shares, 'cus', 'mer', 'com', as long as the log: tens of
    ms on a million emails, bench/bench_email_log.py.) In an address with several '@' the term's may be any of
    them: those few are searched as before. So is a term with nothing before its '@' ("@example.com": every local
    part ends with nothing) or with other than ASCII (whose lower case Python and PostgreSQL may not agree on).
    """
    text = search.strip().lower()
    local, _at, domain = text.partition("@")
    if not local or not text.isascii() or db.session.get_bind().dialect.name != "postgresql":
        return contains
    by_parts = [
        _LOCAL_REVERSED.like(_literal(_escape_like(local[::-1]) + "%"), escape="\\"),
        # No '@': the "local part" would be the whole address.
        EmailLog.recipient_email.like(_literal("%@%")),
    ]
    if domain:
        by_parts.append(_DOMAIN.like(_literal(_escape_like(domain) + "%"), escape="\\"))
    return sa.or_(sa.and_(*by_parts), sa.and_(_SEVERAL_AT, contains))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _literal(value: str) -> sa.BindParameter[str]:
    # In the SQL, as the term is (above), and so that PostgreSQL matches the expression to the index's.
    return sa.literal(value, literal_execute=True)


# The list shows none of the bodies: they stay in the database (a row's detail page reads them).
_LIST_ONLY = sa.orm.defer(EmailLog.body_html), sa.orm.defer(EmailLog.body_text), sa.orm.defer(EmailLog.extra_data)


def search_email_logs(filters: EmailLogFilters, *, page: int = 1, per_page: int = 25,
                      only_store_id: int | None = None) -> Page:
    """One page of the log, newest first; items are (row, store name).

    One statement: the ids that match (up to COUNT_LIMIT + 1, newest first) are found once, then counted and
    paged, so that a search runs its index scan once, not once for the count and again for the page
    (bench/bench_email_log.py). A page number past the end costs a second statement, for the last page.
    """
    matched = (
        sa.select(EmailLog.id).where(*_conditions(filters, only_store_id))
        .order_by(EmailLog.id.desc()).limit(COUNT_LIMIT + 1).cte("matched")
    )
    counted = sa.select(sa.func.count()).select_from(matched).scalar_subquery().label("matched_count")

    def rows_of(page_number: int):
        ids = sa.select(matched.c.id).order_by(matched.c.id.desc()).limit(per_page).offset((page_number - 1) * per_page)
        return db.session.execute(
            sa.select(EmailLog, Store.name, counted).options(*_LIST_ONLY)
            .outerjoin(Store, Store.id == EmailLog.store_id)
            .where(EmailLog.id.in_(ids.scalar_subquery())).order_by(EmailLog.id.desc())
        ).all()

    page = max(1, page)
    rows = rows_of(page)
    if rows:
        total = rows[0].matched_count
    elif page == 1:
        total = 0
    else:
        total = db.session.scalar(sa.select(counted)) or 0
        if total:
            page = clamp_page(page, min(total, COUNT_LIMIT), per_page)
            rows = rows_of(page)
    capped = total > COUNT_LIMIT
    return Page(items=[(row[0], row[1]) for row in rows], page=page, per_page=per_page,
                total=min(total, COUNT_LIMIT), total_capped=capped)


def provider_choices() -> list[str]:
    """Every provider an email can go through (not read from the log: a DISTINCT over it scans it all)."""
    return sorted(PROVIDERS)


def extra_data(row: EmailLog) -> dict:
    try:
        value = json.loads(row.extra_data) if row.extra_data else {}
    except ValueError:
        return {"raw": row.extra_data}
    return value if isinstance(value, dict) else {"value": value}


def status_counts(*, since, only_store_id: int | None = None) -> dict[str, int]:
    """Emails queued since `since`, counted by status (every status present, zeros included)."""
    query = sa.select(EmailLog.status, sa.func.count()).where(EmailLog.created_at >= since).group_by(EmailLog.status)
    if only_store_id is not None:
        query = query.where(EmailLog.store_id == only_store_id)
    counts = dict.fromkeys(EmailStatus.values(), 0)
    counts.update({status: count for status, count in db.session.execute(query)})
    return counts
