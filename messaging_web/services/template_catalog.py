"""The default email template set shipped in messaging_web/email_templates/ (a folder per code, a file per
language) and its loader, `flask messaging load-templates`.

Each code folder holds `meta.toml` (category, platform_only, variables, required_variables, [sample]) and
one `<language>.toml` per language (name, description, subject, body_html, optional body_text).
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import sqlalchemy as sa

from ..extensions import db
from ..models import EmailTemplate
from . import templates

CATALOG_DIR = Path(__file__).resolve().parent.parent / "email_templates"


@dataclass(frozen=True)
class ShippedCode:
    code: str
    category: str
    is_platform_only: bool
    variables: list[str]
    required_variables: list[str]
    sample: dict
    languages: dict[str, templates.PlatformTemplateInput] = field(default_factory=dict)


@cache
def shipped_codes() -> dict[str, ShippedCode]:
    """Every shipped code with its languages, read once from the package files."""
    codes: dict[str, ShippedCode] = {}
    for folder in sorted(p for p in CATALOG_DIR.iterdir() if p.is_dir() and (p / "meta.toml").exists()):
        meta = tomllib.loads((folder / "meta.toml").read_text(encoding="utf-8"))
        shipped = ShippedCode(
            code=folder.name,
            category=meta["category"],
            is_platform_only=bool(meta.get("platform_only", False)),
            variables=list(meta.get("variables", [])),
            required_variables=list(meta.get("required_variables", [])),
            sample=dict(meta.get("sample", {})),
        )
        for path in sorted(folder.glob("*.toml")):
            if path.name == "meta.toml":
                continue
            text = tomllib.loads(path.read_text(encoding="utf-8"))
            shipped.languages[path.stem] = templates.PlatformTemplateInput(
                code=folder.name,
                language=path.stem,
                name=text["name"],
                description=text.get("description"),
                category=shipped.category,
                subject=text["subject"],
                body_html=text["body_html"].lstrip("\n"),
                body_text=text.get("body_text"),
                variables=shipped.variables,
                required_variables=shipped.required_variables,
                is_platform_only=shipped.is_platform_only,
            )
        codes[shipped.code] = shipped
    return codes


def shipped_sample(code: str) -> dict:
    """Sample values for the preview of `code` (empty for codes that are not shipped)."""
    shipped = shipped_codes().get(code)
    return dict(shipped.sample) if shipped else {}


@dataclass
class LoadReport:
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def load_default_templates() -> LoadReport:
    """Create every shipped (code, language) that the database lacks; never touch one that exists,
    so a template an admin has edited stays as it is. Caller commits."""
    existing = {tuple(row) for row in db.session.execute(sa.select(EmailTemplate.code, EmailTemplate.language))}
    report = LoadReport()
    for shipped in shipped_codes().values():
        for language, item in shipped.languages.items():
            label = f"{item.code}/{language}"
            if (item.code, language) in existing:
                report.kept.append(label)
                continue
            templates.create_platform_template(dataclasses.replace(
                item, variables=list(item.variables), required_variables=list(item.required_variables)
            ))
            report.created.append(label)
    return report
