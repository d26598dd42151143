"""Pages of query results: one COUNT and one LIMIT/OFFSET query, the page number kept in range."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ..extensions import db


@dataclass(frozen=True)
class Page:
    items: list[Any]
    page: int
    per_page: int
    total: int
    total_capped: bool = False  # more rows match than were counted: `total` is a lower bound

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def clamp_page(page: int, total: int, per_page: int) -> int:
    """A requested page number brought into 1..pages (page 999 of 3 shows page 3)."""
    return max(1, min(page, max(1, -(-total // per_page))))


def paginate(query: sa.Select, *, page: int, per_page: int, scalars: bool = True,
             count_limit: int | None = None) -> Page:
    """With `count_limit`, counting stops there (a COUNT of a million rows costs more than the page): the
    pages beyond are not offered, and the page says there are more."""
    counted = query.order_by(None)
    if count_limit is not None:
        counted = counted.limit(count_limit + 1)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(counted.subquery())) or 0
    capped = False
    if count_limit is not None and total > count_limit:
        total, capped = count_limit, True
    page = clamp_page(page, total, per_page)
    paged = query.limit(per_page).offset((page - 1) * per_page)
    items = list(db.session.scalars(paged)) if scalars else list(db.session.execute(paged))
    return Page(items=items, page=page, per_page=per_page, total=total, total_capped=capped)


def like_pattern(text: str) -> str:
    """A LIKE pattern for 'contains text', with % and _ in the text matched literally (escape '\\')."""
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
