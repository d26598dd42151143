"""Editing templates: validation on save (with a trial render), the live preview, platform templates and
stores' versions of them."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from jinja2 import TemplateSyntaxError, meta

from ...extensions import db
from ...i18n import _l
from ...models import EmailCategory, EmailTemplate, StoreEmailTemplate
from ..email.providers.message import UnsafeHeader, check_header_text
from ..errors import NotFound, ValidationError
from ..errors import text as plain_text
from ..sandbox.jinja_sandbox import HTML_SANDBOX, TEXT_SANDBOX
from ..sandbox.rendering import PART_LABELS, TOO_DEEP_TO_COMPILE, RenderProblem, part, syntax_problem
from ..untrusted_json import parse_untrusted_json
from . import versions
from .rendering import (
    RenderedEmail,
    RenderRefused,
    TemplateRenderError,
    check_plain_context,
    render_email,
    render_emails,
    translated_problem,
)
from .resolution import (
    FALLBACK_LANGUAGE,
    ResolvedTemplate,
    check_variable_names,
    dump_variable_list,
    normalize_language,
    parse_variable_list,
)

MAX_BODY_BYTES = 512 * 1024
MAX_SAMPLE_CHARS = 256 * 1024
CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,99}$")


# --- validation (on save) and preview ---------------------------------------------------------


@dataclass(frozen=True)
class TemplateSource:
    """Unsaved template text as typed in an editor."""

    subject: str
    body_html: str
    body_text: str | None
    variables: list[str] = field(default_factory=list)
    required_variables: list[str] = field(default_factory=list)

    def as_resolved(self, code: str = "preview", language: str = FALLBACK_LANGUAGE) -> ResolvedTemplate:
        return ResolvedTemplate(
            code=code, language=language, source="preview", template_id=None, store_template_id=None,
            version_id=None,
            subject=self.subject, body_html=self.body_html, body_text=self.body_text,
            variables=self.variables, required_variables=self.required_variables, cache_key=(),
        )


def used_variables(source: TemplateSource) -> set[str]:
    """Names the template reads from its context (loop and set variables excluded)."""
    names: set[str] = set()
    parts = (("subject", source.subject), ("body_html", source.body_html), ("body_text", source.body_text))
    for field_name, text in parts:
        if text:
            sandbox = HTML_SANDBOX if field_name == "body_html" else TEXT_SANDBOX
            try:
                names |= meta.find_undeclared_variables(sandbox.parse(text))
            except (TemplateSyntaxError, RecursionError, MemoryError):
                continue  # reported by _check_syntax
    return names - set(HTML_SANDBOX.globals)


def _too_large(field_name: str):
    return {
        "subject": _l("The Subject is larger than 512 KB."),
        "body_html": _l("The HTML body is larger than 512 KB."),
        "body_text": _l("The Text body is larger than 512 KB."),
    }[field_name]


def _subject_problem(exc: UnsafeHeader):
    """A rendered subject that could not be sent, in the reader's language."""
    if exc.kind == "line_break":
        return _l("Subject: The subject must not contain line breaks or NUL characters.")
    if exc.kind == "encoding":
        return _l("Subject: contains a malformed encoded word")
    if exc.kind == "charset":
        return _l("Subject: names an unknown character set")
    return f"Subject: {exc}"


def _problem_message(problem: RenderProblem):
    return translated_problem(problem.spec, problem.message)


def check_template_source(source: TemplateSource, *, code: str = "", sample: dict | None = None) -> None:
    """Refuse text that cannot be saved: too large, does not compile, uses undeclared variables, runs into a
    limit in a trial render with `sample` (else the shipped sample values of `code`, placeholders for the
    rest), or renders a subject that could never be sent."""
    if not source.subject.strip():
        raise ValidationError(_l("The subject is empty."), field="subject")
    if len(source.subject) > 500:
        raise ValidationError(_l("The subject is longer than 500 characters."), field="subject")
    if not source.body_html.strip():
        raise ValidationError(_l("The HTML body is empty."), field="body_html")
    for field_name in ("body_html", "body_text"):
        text = getattr(source, field_name) or ""
        if len(text.encode("utf-8")) > MAX_BODY_BYTES:
            raise ValidationError(_too_large(field_name), field=field_name)
    missing_declared = [name for name in source.required_variables if name not in source.variables]
    if missing_declared:
        raise ValidationError(
            _l("Required variables must also be listed as variables: %(names)s.", names=", ".join(missing_declared)),
            field="required_variables",
        )
    _check_syntax(source)
    undeclared = sorted(used_variables(source) - set(source.variables))
    if undeclared:
        raise ValidationError(
            _l("The template uses variables that are not declared: %(names)s.", names=", ".join(undeclared)),
            field="body_html",
        )
    _trial_render(source, code, sample)


def _check_syntax(source: TemplateSource) -> None:
    for field_name in PART_LABELS:
        text = getattr(source, field_name)
        if not text:
            continue
        environment = HTML_SANDBOX if field_name == "body_html" else TEXT_SANDBOX
        try:
            environment.parse(text)
        except TemplateSyntaxError as exc:
            problem = syntax_problem(exc, field_name)
            raise TemplateRenderError(_problem_message(problem), field=problem.field, line=problem.line) from exc
        except (RecursionError, MemoryError) as exc:
            problem = RenderProblem([TOO_DEEP_TO_COMPILE, {"part": part(field_name)}], field=field_name)
            raise RenderRefused(_problem_message(problem), field=field_name) from exc


def _trial_render(source: TemplateSource, code: str, sample: dict | None) -> None:
    """Render as a queued email would be, under the same limits. Errors that depend on the values (an
    undefined attribute of a placeholder) are the preview's to show; a limit or a crash refuses the text,
    since no values would make it sendable."""
    if sample is None:
        from .. import template_catalog  # it imports this package

        sample = sample_values_for(source.variables, template_catalog.shipped_sample(code))
    try:
        check_plain_context(sample)
    except TypeError:
        sample = sample_values_for(source.variables)
    [result] = render_emails([(source.as_resolved(code=code or "preview"), sample)])
    if isinstance(result, RenderRefused):
        raise result
    if isinstance(result, RenderedEmail):
        try:
            check_header_text(result.subject, "subject")
        except UnsafeHeader as exc:
            raise ValidationError(_subject_problem(exc), field="subject") from None


@dataclass(frozen=True)
class Preview:
    email: RenderedEmail | None
    problems: list[str]  # plain text, in the language of the request


def preview_template(source: TemplateSource, sample: dict) -> Preview:
    """Render unsaved text with sample values, the way render_email will send it; list what is wrong."""
    too_large = [
        plain_text(_too_large(name))
        for name in ("subject", "body_html", "body_text")
        if len((getattr(source, name) or "").encode("utf-8")) > MAX_BODY_BYTES
    ]
    if too_large:
        return Preview(email=None, problems=too_large)
    problems: list[str] = []
    undeclared = sorted(used_variables(source) - set(source.variables))
    if undeclared:
        problems.append(plain_text(_l("Uses variables that are not declared: %(names)s.", names=", ".join(undeclared))))
    try:
        email = render_email(source.as_resolved(), sample)
    except TemplateRenderError as exc:
        problems.append(exc.message)
        email = None
    except TypeError as exc:
        problems.append(plain_text(_l("Sample values: %(error)s", error=str(exc))))
        email = None
    return Preview(email=email, problems=problems)


def sample_values_for(variables: list[str], known: dict | None = None) -> dict:
    """Sample values for a preview: the known ones (shipped with the default set), a placeholder for the rest."""
    known = known or {}
    return {name: known.get(name, f"[{name}]") for name in variables}


def parse_sample_values(raw: str | None) -> dict:
    """The editor's sample values (a JSON object) -> a dict; a readable ValidationError otherwise."""
    if raw is None or not raw.strip():
        return {}
    if len(raw) > MAX_SAMPLE_CHARS:
        raise ValidationError(_l("Sample values: keep them under 256 KB."), field="sample")
    try:
        value = parse_untrusted_json(raw)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            _l("Sample values: not valid JSON (line %(line)s: %(error)s).", line=str(exc.lineno), error=exc.msg),
            field="sample",
        ) from exc
    except ValueError as exc:
        raise ValidationError(_l("Sample values: %(error)s.", error=str(exc)), field="sample") from exc
    if not isinstance(value, dict):
        raise ValidationError(_l('Sample values must be a JSON object: {"name": "value", ...}.'), field="sample")
    return value


# --- platform templates (admin) ---------------------------------------------------------------


@dataclass
class PlatformTemplateInput:
    code: str
    language: str
    name: str
    description: str | None
    category: str
    subject: str
    body_html: str
    body_text: str | None
    variables: list[str]
    required_variables: list[str]
    is_active: bool = True
    is_platform_only: bool = False
    sample: dict | None = None  # the editor's sample values, for the trial render
    note: str | None = None  # kept with the version this save makes
    author_name: str | None = None  # who saves (None: the system, e.g. seeding the shipped templates)


def _check_platform_input(data: PlatformTemplateInput) -> PlatformTemplateInput:
    data.code = (data.code or "").strip()
    if not CODE_PATTERN.match(data.code):
        raise ValidationError(_l("Use a code of lowercase letters, digits and _ (e.g. order_shipped)."), field="code")
    data.language = normalize_language(data.language)
    if data.category not in EmailCategory.values():
        raise ValidationError(_l("Choose a category."), field="category")
    if not (data.name or "").strip():
        raise ValidationError(_l("The name is empty."), field="name")
    check_variable_names(data.variables, "variables")
    check_variable_names(data.required_variables, "required_variables")
    check_template_source(
        TemplateSource(data.subject, data.body_html, data.body_text or None, data.variables, data.required_variables),
        code=data.code, sample=data.sample,
    )
    return data


def _platform_exists(code: str, language: str, exclude_id: int | None = None) -> bool:
    query = sa.select(EmailTemplate.id).where(EmailTemplate.code == code, EmailTemplate.language == language)
    if exclude_id is not None:
        query = query.where(EmailTemplate.id != exclude_id)
    return db.session.scalar(query) is not None


def create_platform_template(data: PlatformTemplateInput) -> EmailTemplate:
    data = _check_platform_input(data)
    if _platform_exists(data.code, data.language):
        raise ValidationError(
            _l("A template '%(code)s' in %(language)s exists already; edit it instead.", code=data.code,
               language=data.language),
            field="language",
        )
    template = EmailTemplate(code=data.code, language=data.language)
    _apply_platform_input(template, data)
    versions.record_version(template, action="created", author_name=data.author_name, note=data.note)
    db.session.add(template)
    _flush_unique(_exists_already(data), "language")
    return template


def _exists_already(data: PlatformTemplateInput):
    return _l("A template '%(code)s' in %(language)s exists already.", code=data.code, language=data.language)


def update_platform_template(template: EmailTemplate, data: PlatformTemplateInput, *,
                             action: str = "saved") -> EmailTemplate:
    data = _check_platform_input(data)
    if _platform_exists(data.code, data.language, exclude_id=template.id):
        raise ValidationError(_exists_already(data), field="language")
    template.code, template.language = data.code, data.language
    _apply_platform_input(template, data)
    versions.record_version(template, action=action, author_name=data.author_name, note=data.note)
    _flush_unique(_exists_already(data), "language")
    return template


def _apply_platform_input(template: EmailTemplate, data: PlatformTemplateInput) -> None:
    template.name = data.name.strip()
    template.description = (data.description or "").strip() or None
    template.category = data.category
    template.subject = data.subject
    template.body_html = data.body_html
    template.body_text = data.body_text if (data.body_text or "").strip() else None
    template.variables = dump_variable_list(data.variables)
    template.required_variables = dump_variable_list(data.required_variables)
    template.is_active = data.is_active
    template.is_platform_only = data.is_platform_only


def set_platform_template_active(template: EmailTemplate, active: bool) -> EmailTemplate:
    template.is_active = active
    db.session.flush()
    return template


def _flush_unique(message, field_name: str) -> None:
    """Flush; a unique violation that slipped past the check (a concurrent save) is a form error too."""
    try:
        with db.session.begin_nested():
            db.session.flush()
    except sa.exc.IntegrityError as exc:
        raise ValidationError(message, field=field_name) from exc


def platform_template(template_id: int) -> EmailTemplate:
    template = db.session.get(EmailTemplate, template_id)
    if template is None:
        raise NotFound("No such template.")
    return template


# --- store overrides --------------------------------------------------------------------------


def customizable_platform_template(code: str, language: str) -> EmailTemplate:
    """The active, not platform-only platform template a store may override in `language`."""
    template = db.session.scalar(
        sa.select(EmailTemplate).where(
            EmailTemplate.code == code,
            EmailTemplate.language == language,
            EmailTemplate.is_active.is_(True),
            EmailTemplate.is_platform_only.is_(False),
        )
    )
    if template is None:
        raise NotFound("No such template.")
    return template


def store_override(store_id: int, code: str, language: str) -> StoreEmailTemplate | None:
    return db.session.scalar(
        sa.select(StoreEmailTemplate).where(
            StoreEmailTemplate.store_id == store_id,
            StoreEmailTemplate.template_code == code,
            StoreEmailTemplate.language == language,
        )
    )


@dataclass
class OverrideInput:
    subject: str
    body_html: str
    body_text: str | None
    name: str | None = None
    is_active: bool = True
    sample: dict | None = None  # the editor's sample values, for the trial render
    note: str | None = None
    author_name: str | None = None


def save_store_override(store_id: int, base: EmailTemplate, data: OverrideInput, *,
                        action: str = "saved") -> StoreEmailTemplate:
    """Create or update the store's override of `base` (same code and language)."""
    if base.is_platform_only or not base.is_active:
        raise ValidationError(_l("This template cannot be customized."))
    check_template_source(
        TemplateSource(
            data.subject, data.body_html, data.body_text or None,
            parse_variable_list(base.variables), parse_variable_list(base.required_variables),
        ),
        code=base.code, sample=data.sample,
    )
    override = store_override(store_id, base.code, base.language)
    if override is None:
        override = StoreEmailTemplate(store_id=store_id, template_code=base.code, language=base.language)
        db.session.add(override)
    override.name = (data.name or "").strip() or None
    override.subject = data.subject
    override.body_html = data.body_html
    override.body_text = data.body_text if (data.body_text or "").strip() else None
    override.is_active = data.is_active
    versions.record_version(override, action=action, author_name=data.author_name, note=data.note)
    _flush_unique(_l("This template was customized meanwhile; reload the page."), "subject")
    return override


def revert_template_override(override: StoreEmailTemplate, *, author_name: str | None = None,
                             note: str | None = None) -> None:
    """Remove the store's override: the platform default applies again. The revert is a version of the
    store's history (the default's text), so restoring the version before it undoes the revert."""
    base = db.session.scalar(sa.select(EmailTemplate).where(
        EmailTemplate.code == override.template_code, EmailTemplate.language == override.language))
    if base is not None:
        versions.record_revert(override, base, author_name=author_name, note=note)
    db.session.delete(override)
    db.session.flush()


def restore_platform_version(template: EmailTemplate, version_id: int, *, author_name: str | None) -> EmailTemplate:
    """Make an earlier version of a platform template current again, as a new version."""
    version = versions.version_of(None, template.code, template.language, version_id)
    data = PlatformTemplateInput(
        code=template.code, language=template.language, name=template.name, description=template.description,
        category=template.category, subject=version.subject, body_html=version.body_html,
        body_text=version.body_text, variables=parse_variable_list(version.variables),
        required_variables=parse_variable_list(version.required_variables), is_active=template.is_active,
        is_platform_only=template.is_platform_only, note=f"Version {version.number} restored",
        author_name=author_name,
    )
    return update_platform_template(template, data, action="restored")


def restore_store_version(store_id: int, base: EmailTemplate, version_id: int, *,
                          author_name: str | None) -> StoreEmailTemplate | None:
    """Make an earlier version of the store's template current again, as a new version; restoring a
    'reverted' version reverts again (None: the platform default applies)."""
    version = versions.version_of(store_id, base.code, base.language, version_id)
    note = f"Version {version.number} restored"
    if version.action == "reverted":
        override = store_override(store_id, base.code, base.language)
        if override is not None:
            revert_template_override(override, author_name=author_name, note=note)
        return None
    data = OverrideInput(subject=version.subject, body_html=version.body_html, body_text=version.body_text,
                         note=note, author_name=author_name)
    return save_store_override(store_id, base, data, action="restored")
