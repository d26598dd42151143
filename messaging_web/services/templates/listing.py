"""The editors' lists: platform templates and a store's view of them, grouped by code, a page of codes at a time."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ...extensions import db
from ...models import EmailTemplate, StoreEmailTemplate
from ..pagination import Page, clamp_page
from .resolution import FALLBACK_LANGUAGE

# --- lists for the editors --------------------------------------------------------------------


@dataclass
class TemplateGroup:
    """One code with its rows, one per language (platform rows, or a store's view of them)."""

    code: str
    name: str
    category: str
    rows: list = field(default_factory=list)


def _matches(search: str) -> sa.ColumnElement[bool]:
    """Code or name contains the search text, case-insensitively; % and _ are plain characters."""
    text = search.strip().lower()
    return sa.or_(sa.func.lower(EmailTemplate.code).contains(text, autoescape=True),
                  sa.func.lower(EmailTemplate.name).contains(text, autoescape=True))


def _page_of_codes(conditions: list, page: int, per_page: int) -> tuple[list[str], int, int]:
    """The codes on `page` of the distinct codes matching `conditions`, the page (clamped) and their count."""
    codes_query = sa.select(EmailTemplate.code).where(*conditions).distinct()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(codes_query.subquery())) or 0
    page = clamp_page(page, total, per_page)
    codes = list(db.session.scalars(
        codes_query.order_by(EmailTemplate.code).limit(per_page).offset((page - 1) * per_page)
    ))
    return codes, page, total


def list_platform_templates(*, search: str = "", category: str = "", language: str = "", active: str = "",
                            page: int = 1, per_page: int = 25) -> Page:
    """Platform templates grouped by code (a page of codes), filtered and searched. Three queries."""
    conditions: list[sa.ColumnElement[bool]] = []
    if search:
        conditions.append(_matches(search))
    if category:
        conditions.append(EmailTemplate.category == category)
    if language:
        conditions.append(EmailTemplate.language == language)
    if active in ("yes", "no"):
        conditions.append(EmailTemplate.is_active.is_(active == "yes"))
    codes, page, total = _page_of_codes(conditions, page, per_page)
    rows: Iterable[EmailTemplate] = db.session.scalars(
        sa.select(EmailTemplate).where(EmailTemplate.code.in_(codes), *conditions)
        .order_by(EmailTemplate.code, EmailTemplate.language)
    ) if codes else []
    groups: dict[str, TemplateGroup] = {}
    for row in rows:
        group = groups.setdefault(row.code, TemplateGroup(row.code, row.name, row.category))
        if row.language == FALLBACK_LANGUAGE:
            group.name, group.category = row.name, row.category
        group.rows.append(row)
    return Page(items=[groups[c] for c in codes if c in groups], page=page, per_page=per_page, total=total)


@dataclass(frozen=True)
class StoreTemplateRow:
    """One language of a customizable template as the store sees it."""

    platform: EmailTemplate
    override: StoreEmailTemplate | None

    @property
    def status(self) -> str:
        if self.override is None:
            return "platform default"
        return "customized" if self.override.is_active else "customized (inactive)"


def list_store_templates(store_id: int, *, search: str = "", language: str = "", status: str = "",
                         page: int = 1, per_page: int = 25, name_language: str | None = None) -> Page:
    """The templates a store may customize (active, not platform-only), by code, each language marked
    "platform default" or "customized", named in `name_language` where it exists (else English).
    Three queries whatever the page size."""
    conditions: list[sa.ColumnElement[bool]] = [
        EmailTemplate.is_active.is_(True), EmailTemplate.is_platform_only.is_(False),
    ]
    if search:
        conditions.append(_matches(search))
    if language:
        conditions.append(EmailTemplate.language == language)
    existing = aliased(StoreEmailTemplate)
    customized = sa.exists().where(
        existing.store_id == store_id,
        existing.template_code == EmailTemplate.code,
        existing.language == EmailTemplate.language,
    )
    if status == "customized":
        conditions.append(customized)
    elif status == "default":
        conditions.append(~customized)
    codes, page, total = _page_of_codes(conditions, page, per_page)
    if not codes:
        return Page(items=[], page=page, per_page=per_page, total=total)
    pairs = db.session.execute(
        sa.select(EmailTemplate, StoreEmailTemplate)
        .outerjoin(
            StoreEmailTemplate,
            sa.and_(
                StoreEmailTemplate.store_id == store_id,
                StoreEmailTemplate.template_code == EmailTemplate.code,
                StoreEmailTemplate.language == EmailTemplate.language,
            ),
        )
        .where(EmailTemplate.code.in_(codes), *conditions)
        .order_by(EmailTemplate.code, EmailTemplate.language)
    ).all()
    groups: dict[str, TemplateGroup] = {}
    for platform_row, override in pairs:
        group = groups.setdefault(
            platform_row.code, TemplateGroup(platform_row.code, platform_row.name, platform_row.category)
        )
        named_already = any(r.platform.language == name_language for r in group.rows)
        if platform_row.language == name_language or (platform_row.language == FALLBACK_LANGUAGE and not named_already):
            group.name = platform_row.name
        group.rows.append(StoreTemplateRow(platform_row, override))
    return Page(items=[groups[c] for c in codes if c in groups], page=page, per_page=per_page, total=total)
