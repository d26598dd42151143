"""Template history: each save of a platform template or of a store's version of one keeps its state as a
numbered version (who, when, an optional note); any two can be compared, any one restored (as a new
version); reverting a store's version to the platform default is a version too, and can be undone.

A save writes one version row (the template row names it as current_version_id, in the UPDATE the save
makes anyway), so emails in the log can name the version they were rendered from.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass

import sqlalchemy as sa

from ...extensions import db
from ...i18n import _l
from ...models import EmailTemplate, StoreEmailTemplate, TemplateVersion
from ..errors import NotFound, ValidationError

NOTE_MAX_LENGTH = 500
DIFF_PARTS = (("subject", _l("Subject")), ("body_html", _l("HTML body")), ("body_text", _l("Text body")),
              ("variables", _l("Variables")), ("required_variables", _l("Required variables")))


def record_version(row: EmailTemplate | StoreEmailTemplate, *, action: str, author_name: str | None,
                   note: str | None = None) -> TemplateVersion:
    """Keep the row's state (as it is about to be flushed) as its newest version, and name it current."""
    store_id = row.store_id if isinstance(row, StoreEmailTemplate) else None
    code = row.template_code if isinstance(row, StoreEmailTemplate) else row.code
    version = _new_version(store_id, code, row.language, action=action, author_name=author_name, note=note,
                           subject=row.subject, body_html=row.body_html, body_text=row.body_text,
                           variables=getattr(row, "variables", None),
                           required_variables=getattr(row, "required_variables", None))
    row.current_version_id = version.id
    return version


def record_revert(override: StoreEmailTemplate, base: EmailTemplate, *, author_name: str | None,
                  note: str | None = None) -> TemplateVersion:
    """The store's version removed: the platform default's text, as the store's newest version."""
    return _new_version(override.store_id, override.template_code, override.language, action="reverted",
                        author_name=author_name, note=note, subject=base.subject, body_html=base.body_html,
                        body_text=base.body_text)


def _new_version(store_id: int | None, code: str, language: str, **fields) -> TemplateVersion:
    note = (fields.pop("note") or "").replace("\x00", "").strip() or None
    if note is not None and len(note) > NOTE_MAX_LENGTH:
        raise ValidationError(_l("The note is too long: at most %(num)d characters.", num=NOTE_MAX_LENGTH),
                              field="note")
    number = (db.session.scalar(
        sa.select(sa.func.max(TemplateVersion.number)).where(*_same_template(store_id, code, language))
    ) or 0) + 1
    version = TemplateVersion(store_id=store_id, template_code=code, language=language, number=number, note=note,
                              **fields)
    db.session.add(version)
    db.session.flush()
    return version


def _same_template(store_id: int | None, code: str, language: str) -> list:
    return [
        TemplateVersion.store_id.is_(None) if store_id is None else TemplateVersion.store_id == store_id,
        TemplateVersion.template_code == code, TemplateVersion.language == language,
    ]


def history(store_id: int | None, code: str, language: str, *, limit: int = 200) -> list[TemplateVersion]:
    """A template's versions, newest first: the platform template's (store_id None) or one store's."""
    return list(db.session.scalars(
        sa.select(TemplateVersion).where(*_same_template(store_id, code, language))
        .order_by(TemplateVersion.number.desc()).limit(limit)
    ))


def version_of(store_id: int | None, code: str, language: str, version_id: int) -> TemplateVersion:
    """A version of this template (of this store); any other id is a NotFound."""
    version = db.session.scalar(
        sa.select(TemplateVersion).where(TemplateVersion.id == version_id, *_same_template(store_id, code, language))
    )
    if version is None:
        raise NotFound("No such version.")
    return version


@dataclass(frozen=True)
class PartDiff:
    label: str  # lazy: shown in the viewer's language
    changed: bool
    lines: list[tuple[str, str]]  # (kind, text): kind is " ", "-", "+" or "@" (a hunk header)


def compare(older: TemplateVersion, newer: TemplateVersion) -> list[PartDiff]:
    """What changed from one version to the other, part by part, as unified diff lines."""
    parts = []
    for name, label in DIFF_PARTS:
        before = (getattr(older, name) or "").splitlines()
        after = (getattr(newer, name) or "").splitlines()
        lines = [
            (line[:1] if line[:1] in "-+@" else " ", line[1:] if line[:1] in "-+ " else line)
            for line in difflib.unified_diff(before, after, lineterm="", n=2)
            if not line.startswith(("---", "+++"))
        ]
        parts.append(PartDiff(label=label, changed=before != after, lines=lines))
    return parts
