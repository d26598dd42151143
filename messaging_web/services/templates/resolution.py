"""Which template an email is sent with: the store's version or the platform's, by language fallback."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

import sqlalchemy as sa

from ...extensions import db
from ...i18n import _l
from ...models import EmailTemplate, Store, StoreEmailTemplate
from ..errors import NotFound, ValidationError
from ..untrusted_json import parse_untrusted_json

FALLBACK_LANGUAGE = "en"
LANGUAGE_PATTERN = re.compile(r"^([a-zA-Z]{2})(?:[-_]([a-zA-Z]{2}))?$")


@dataclass(frozen=True)
class ResolvedTemplate:
    code: str
    language: str  # the language actually used
    source: str  # "store" (override) or "platform"
    template_id: int | None  # EmailTemplate.id of the platform template (for EmailLog.template_id)
    store_template_id: int | None  # StoreEmailTemplate.id when source == "store"
    version_id: int | None  # the TemplateVersion in use (EmailLog.template_version_id)
    subject: str
    body_html: str
    body_text: str | None
    variables: list[str]
    required_variables: list[str]
    cache_key: tuple  # (kind, id, updated_at); () for unsaved text (previews), never cached
    category: str | None = None  # the platform template's (an override keeps its base's category)


# --- languages and variable lists -------------------------------------------------------------


def normalize_language(value: str | None) -> str:
    """`en`, `fr`, `de-CH` (any case, `_` or `-`) -> the canonical form; anything else is refused."""
    match = LANGUAGE_PATTERN.match((value or "").strip())
    if not match:
        raise ValidationError(_l("Use a language code such as en, fr or de-CH."), field="language")
    language, region = match.groups()
    return f"{language.lower()}-{region.upper()}" if region else language.lower()


def parse_variable_list(raw: str | None) -> list[str]:
    """A stored JSON list (or a comma/newline separated list typed in a form) -> unique names, in order."""
    if not raw:
        return []
    raw = raw.strip()
    if raw.startswith("["):
        try:
            items = parse_untrusted_json(raw)
        except ValueError:
            items = []
        items = [str(item) for item in items if isinstance(item, str | int)]
    else:
        items = re.split(r"[,\s]+", raw)
    names: list[str] = []
    for item in items:
        name = item.strip()
        if name and name not in names:
            names.append(name)
    return names


def check_variable_names(names: list[str], field_name: str) -> list[str]:
    for name in names:
        if not name.isidentifier() or name.startswith("_"):
            raise ValidationError(_l("“%(name)s” is not a valid variable name (letters, digits and _).", name=name),
                                  field=field_name)
    return names


def dump_variable_list(names: list[str]) -> str | None:
    return json.dumps(names) if names else None


# --- resolution -------------------------------------------------------------------------------


def language_chain(requested: str | None, store_language: str | None) -> list[str]:
    """The languages to try, in order: the requested one (a regional code such as de-CH, then its
    base language de), the store's default language, then `en`. Unusable codes are skipped."""
    chain: list[str] = []
    for raw in (requested, store_language, FALLBACK_LANGUAGE):
        try:
            language = normalize_language(raw) if raw else None
        except ValidationError:
            continue
        for candidate in (language, language.split("-")[0] if language else None):
            if candidate and candidate not in chain:
                chain.append(candidate)
    return chain


def resolve_template(code: str, *, store_id: int | None = None, language: str | None = None) -> ResolvedTemplate:
    """The template to send for (code, store, language): requested language, then the store's default
    language, then `en`; in each language the store's active override wins over the active platform
    template, unless the platform template is platform-only."""
    store_language = None
    if store_id is not None:
        store_language = db.session.scalar(sa.select(Store.default_language).where(Store.id == store_id))
    chain = language_chain(language, store_language)

    platform = {
        row.language: row
        for row in db.session.scalars(
            sa.select(EmailTemplate).where(EmailTemplate.code == code, EmailTemplate.is_active.is_(True))
        )
    }
    overrides: dict[str, StoreEmailTemplate] = {}
    if store_id is not None and platform:
        overrides = {
            row.language: row
            for row in db.session.scalars(
                sa.select(StoreEmailTemplate).where(
                    StoreEmailTemplate.store_id == store_id,
                    StoreEmailTemplate.template_code == code,
                    StoreEmailTemplate.is_active.is_(True),
                    StoreEmailTemplate.language.in_(chain),
                )
            )
        }
    for candidate in chain:
        base = platform.get(candidate)
        if base is None:
            # No active platform template in this language: an override of it is not offered to the
            # store either (the store list shows active platform templates only), so it is not used.
            continue
        override = overrides.get(candidate)
        if override is not None and not base.is_platform_only:
            return _resolved_from_override(override, base)
        return _resolved_from_platform(base)
    tried = ", ".join(chain)
    raise NotFound(f"No active email template '{code}' in {tried}.")


def _resolved_from_platform(row: EmailTemplate) -> ResolvedTemplate:
    return ResolvedTemplate(
        code=row.code,
        language=row.language,
        source="platform",
        template_id=row.id,
        store_template_id=None,
        version_id=row.current_version_id,
        subject=row.subject,
        body_html=row.body_html,
        body_text=row.body_text,
        variables=parse_variable_list(row.variables),
        required_variables=parse_variable_list(row.required_variables),
        cache_key=("platform", row.id, row.updated_at),
        category=row.category,
    )


def _resolved_from_override(row: StoreEmailTemplate, base: EmailTemplate) -> ResolvedTemplate:
    return ResolvedTemplate(
        code=row.template_code,
        language=row.language,
        source="store",
        template_id=base.id,
        store_template_id=row.id,
        version_id=row.current_version_id,
        subject=row.subject,
        body_html=row.body_html,
        body_text=row.body_text,
        variables=parse_variable_list(base.variables),
        required_variables=parse_variable_list(base.required_variables),
        cache_key=("store", row.id, row.updated_at),
        category=base.category,
    )
