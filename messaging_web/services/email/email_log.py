"""Reading the email log: filtered, searched, paginated lists and single rows for the admin and store pages."""
from __future__ import annotations

import json
from dataclasses import dataclass

import sqlalchemy as sa

from ...extensions import db
from ...models import EmailLog, EmailStatus, Store
from ..pagination import Page, like_pattern, paginate
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


def _conditions(filters: EmailLogFilters, only_store_id: int | None) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if only_store_id is not None:
        conditions.append(EmailLog.store_id == only_store_id)
    elif filters.store_id is not None:
        conditions.append(EmailLog.store_id == filters.store_id)
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
        conditions.append(sa.or_(
            EmailLog.recipient_email.ilike(term, escape="\\"), EmailLog.subject.ilike(term, escape="\\"),
        ))
    return conditions


def search_email_logs(filters: EmailLogFilters, *, page: int = 1, per_page: int = 25,
                      only_store_id: int | None = None) -> Page:
    """One page of the log, newest first; items are (row, store name). One query for the rows, one for the total."""
    query = (
        sa.select(EmailLog, Store.name)
        .outerjoin(Store, Store.id == EmailLog.store_id)
        .where(*_conditions(filters, only_store_id))
        .order_by(EmailLog.id.desc())
    )
    return paginate(query, page=page, per_page=per_page, scalars=False, count_limit=COUNT_LIMIT)


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
