"""Reading the email log: filtered, searched, paginated lists and single rows for the admin and store pages."""
from __future__ import annotations

import json
from dataclasses import dataclass

import sqlalchemy as sa

from ..extensions import db
from ..models import EmailLog, EmailStatus, Store

AMBIGUOUS = "ambiguous"
STATUS_FILTERS = [*EmailStatus.values(), AMBIGUOUS]


@dataclass(frozen=True)
class EmailLogFilters:
    status: str | None = None
    store_id: int | None = None
    provider: str | None = None
    search: str | None = None
    template_code: str | None = None


@dataclass(frozen=True)
class EmailLogPage:
    rows: list[tuple[EmailLog, str | None]]  # (row, store name)
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def _conditions(filters: EmailLogFilters, only_store_id: int | None) -> list:
    conditions = []
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
        term = "%" + filters.search.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(sa.or_(
            sa.func.lower(EmailLog.recipient_email).like(term, escape="\\"),
            sa.func.lower(EmailLog.subject).like(term, escape="\\"),
        ))
    return conditions


def search_email_logs(filters: EmailLogFilters, *, page: int = 1, per_page: int = 25,
                      only_store_id: int | None = None) -> EmailLogPage:
    """One page of the log, newest first: one query for the rows (with the store's name), one for the total."""
    conditions = _conditions(filters, only_store_id)
    total = db.session.scalar(sa.select(sa.func.count(EmailLog.id)).where(*conditions)) or 0
    page = max(1, min(page, max(1, -(-total // per_page))))
    rows = db.session.execute(
        sa.select(EmailLog, Store.name)
        .outerjoin(Store, Store.id == EmailLog.store_id)
        .where(*conditions)
        .order_by(EmailLog.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return EmailLogPage(rows=[(row, name) for row, name in rows], page=page, per_page=per_page, total=total)


def store_choices() -> list[tuple[int, str]]:
    rows = db.session.execute(sa.select(Store.id, Store.name).order_by(Store.name))
    return [(store_id, name) for store_id, name in rows]


def provider_choices(only_store_id: int | None = None) -> list[str]:
    query = sa.select(EmailLog.provider).distinct()
    if only_store_id is not None:
        query = query.where(EmailLog.store_id == only_store_id)
    return sorted(p for p in db.session.scalars(query) if p)


def extra_data(row: EmailLog) -> dict:
    try:
        value = json.loads(row.extra_data) if row.extra_data else {}
    except ValueError:
        return {"raw": row.extra_data}
    return value if isinstance(value, dict) else {"value": value}
