"""Email templates: resolve (store override -> platform, language fallback), validate, render in the sandbox.

`resolve_template` + `render_email` are the one way an email is composed; the editors' preview calls
the same `render_email`, so what the editor shows is what the recipient gets.
"""
from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import sqlalchemy as sa
from jinja2 import TemplateSyntaxError, meta
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import EmailCategory, EmailTemplate, Store, StoreEmailTemplate
from . import sandbox
from .errors import NotFound, ValidationError
from .pagination import Page, clamp_page
from .providers.message import UnsafeHeader, check_header_text
from .sandbox.jinja_sandbox import HTML_SANDBOX, MAX_SECONDS, TEXT_SANDBOX
from .sandbox.rendering import PART_LABELS, syntax_problem
from .untrusted_json import parse_untrusted_json

FALLBACK_LANGUAGE = "en"
MAX_BODY_BYTES = 512 * 1024
MAX_SAMPLE_CHARS = 256 * 1024
LANGUAGE_PATTERN = re.compile(r"^([a-zA-Z]{2})(?:[-_]([a-zA-Z]{2}))?$")
CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,99}$")


class TemplateRenderError(ValidationError):
    """A template that cannot be compiled or rendered; the message says why, for the person editing it."""

    def __init__(self, message: str, field: str | None = None, line: int | None = None,
                 missing_variables: list[str] | None = None):
        super().__init__(message, field=field)
        self.line = line
        self.missing_variables = missing_variables or []


@dataclass(frozen=True)
class ResolvedTemplate:
    code: str
    language: str  # the language actually used
    source: str  # "store" (override) or "platform"
    template_id: int | None  # EmailTemplate.id of the platform template (for EmailLog.template_id)
    store_template_id: int | None  # StoreEmailTemplate.id when source == "store"
    subject: str
    body_html: str
    body_text: str | None
    variables: list[str]
    required_variables: list[str]
    cache_key: tuple  # (kind, id, updated_at); () for unsaved text (previews), never cached


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str  # CSS inlined
    text: str  # derived from html (html2text) when body_text is empty


# --- languages and variable lists -------------------------------------------------------------


def normalize_language(value: str | None) -> str:
    """`en`, `fr`, `de-CH` (any case, `_` or `-`) -> the canonical form; anything else is refused."""
    match = LANGUAGE_PATTERN.match((value or "").strip())
    if not match:
        raise ValidationError("Use a language code such as en, fr or de-CH.", field="language")
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
            raise ValidationError(f"“{name}” is not a valid variable name (letters, digits and _).", field=field_name)
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
        subject=row.subject,
        body_html=row.body_html,
        body_text=row.body_text,
        variables=parse_variable_list(row.variables),
        required_variables=parse_variable_list(row.required_variables),
        cache_key=("platform", row.id, row.updated_at),
    )


def _resolved_from_override(row: StoreEmailTemplate, base: EmailTemplate) -> ResolvedTemplate:
    return ResolvedTemplate(
        code=row.template_code,
        language=row.language,
        source="store",
        template_id=base.id,
        store_template_id=row.id,
        subject=row.subject,
        body_html=row.body_html,
        body_text=row.body_text,
        variables=parse_variable_list(base.variables),
        required_variables=parse_variable_list(base.required_variables),
        cache_key=("store", row.id, row.updated_at),
    )


# --- rendering --------------------------------------------------------------------------------

_PLAIN_SCALARS = (str, int, float, decimal.Decimal, dt.date, dt.time, dt.timedelta, type(None))


_EXACT_SCALARS = frozenset({str, int, float, bool, type(None)})
_MAX_CONTEXT_DEPTH = 20


def _is_plain(value, depth: int = 0) -> bool:
    """The fast check (no paths); check_plain_context explains a failure."""
    if type(value) in _EXACT_SCALARS:
        return True
    if depth > _MAX_CONTEXT_DEPTH:
        return False
    if isinstance(value, dict):
        for key, item in value.items():
            if type(key) is not str:
                return False
            if type(item) not in _EXACT_SCALARS and not _is_plain(item, depth + 1):
                return False
        return True
    if isinstance(value, list | tuple):
        for item in value:
            kind = type(item)
            if kind in _EXACT_SCALARS:
                continue
            if kind is dict and depth < _MAX_CONTEXT_DEPTH:
                # The common shape (a list of records) is checked here, without a call per record.
                for key, field_value in item.items():
                    if type(key) is not str:
                        return False
                    if type(field_value) not in _EXACT_SCALARS and not _is_plain(field_value, depth + 2):
                        return False
                continue
            if not _is_plain(item, depth + 1):
                return False
        return True
    return isinstance(value, _PLAIN_SCALARS)


def check_plain_context(value, path: str = "context", depth: int = 0) -> None:
    """Templates receive plain data only: an ORM object in the sandbox could reach Model.query."""
    if depth == 0 and _is_plain(value):
        return
    if isinstance(value, _PLAIN_SCALARS):
        return
    if depth > _MAX_CONTEXT_DEPTH:
        raise TypeError(f"Template context is nested too deeply at {path}.")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"Template context keys must be strings ({path} has {key!r}).")
            check_plain_context(item, f"{path}.{key}", depth + 1)
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_plain_context(item, f"{path}[{index}]", depth + 1)
        return
    raise TypeError(
        f"Template context must be plain data (dicts, lists, strings, numbers, dates); "
        f"{path} is a {type(value).__name__}."
    )


def missing_required(template: ResolvedTemplate, context: dict) -> list[str]:
    return [name for name in template.required_variables if context.get(name) is None or context.get(name) == ""]


class RenderRefused(TemplateRenderError):
    """The template ran into a limit (time, memory, nesting, size) or crashed its worker process: it is
    refused whatever the values, so queued emails of it fail and saving it is refused."""


def _prepared_context(template: ResolvedTemplate, context: dict) -> dict:
    """The checks made before a render is sent to a worker: required values given, plain data only."""
    missing = missing_required(template, context)
    if missing:
        raise TemplateRenderError(
            "Missing required variables: " + ", ".join(missing) + ".", missing_variables=missing
        )
    check_plain_context(context)
    return context


def _process_failure_message(failure: sandbox.JobFailed) -> str:
    if failure.reason == "timeout":
        return f"This template takes too long to render (limit {MAX_SECONDS:g} s)."
    if failure.reason == "memory":
        return f"This template uses too much memory (limit {sandbox.settings()['SANDBOX_MEMORY_MB']} MB)."
    return "This template is nested too deeply or too complex to render; its renderer stopped."


class _RefusedVersions:
    """Saved template versions that a worker could not render (timeout, memory, crash), for a while: the
    next email of the same version fails at once instead of costing another deadline. An edit changes the
    version (updated_at), which gets a fresh chance."""

    def __init__(self, seconds: float = 600.0, size: int = 256):
        self._seconds, self._size = seconds, size
        self._entries: OrderedDict[tuple, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> str | None:
        if not key:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] < time.monotonic():
                self._entries.pop(key, None)
                return None
            return entry[1]

    def put(self, key: tuple, message: str) -> None:
        if not key:
            return
        with self._lock:
            self._entries[key] = (time.monotonic() + self._seconds, message)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


refused_versions = _RefusedVersions()


def render_emails(items: list[tuple[ResolvedTemplate, dict]], *, inline: bool = True,
                  background: bool = False) -> list[RenderedEmail | TemplateRenderError]:
    """Render many emails in a sandbox worker, in one round trip: each is the RenderedEmail or the
    TemplateRenderError (RenderRefused when a limit stopped it) that says why not, in order.

    `background` (workers, notification runs) waits longer for a free worker than a request does; a
    request that finds every worker busy gets a RenderRefused asking to try again.
    """
    results: list[RenderedEmail | TemplateRenderError | None] = [None] * len(items)
    pending: list[tuple[int, dict]] = []
    for index, (template, context) in enumerate(items):
        try:
            context = _prepared_context(template, context)
        except TemplateRenderError as exc:
            results[index] = exc
            continue
        pending.append((index, {
            "subject": template.subject, "body_html": template.body_html, "body_text": template.body_text,
            "variables": template.variables, "cache_key": template.cache_key, "context": context, "inline": inline,
        }))
    while pending:
        # A version refused meanwhile (by this batch's own failure, say) is not tried again.
        waiting = []
        for index, payload in pending:
            refused = refused_versions.get(items[index][0].cache_key)
            if refused is None:
                waiting.append((index, payload))
            else:
                results[index] = RenderRefused(refused, field="body_html")
        if not waiting:
            break
        try:
            answers = sandbox.run_renders([payload for _, payload in waiting], seconds=MAX_SECONDS,
                                          background=background)
        except sandbox.PoolBusy:
            busy = RenderRefused("Many templates are being rendered just now; please try again in a moment.")
            answers = [busy] * len(waiting)
        for (index, _), answer in zip(waiting, answers, strict=False):
            results[index] = _rendered_or_error(items[index][0], answer)
        pending = waiting[len(answers):]
    return results


def _rendered_or_error(template: ResolvedTemplate, answer) -> RenderedEmail | TemplateRenderError:
    if isinstance(answer, TemplateRenderError):
        return answer
    if isinstance(answer, sandbox.JobFailed):
        message = _process_failure_message(answer)
        refused_versions.put(template.cache_key, message)
        return RenderRefused(message, field="body_html")
    if "error" in answer:
        kind = RenderRefused if answer["refused"] else TemplateRenderError
        return kind(answer["error"], field=answer["field"], line=answer["line"])
    return RenderedEmail(subject=answer["subject"], html=answer["html"], text=answer["text"])


def render_email(template: ResolvedTemplate, context: dict, *, inline: bool = True,
                 background: bool = False) -> RenderedEmail:
    """Subject, HTML (CSS inlined) and text of an email, rendered in a sandbox worker with plain-data `context`.

    Raises TemplateRenderError (a ValidationError) naming missing required variables before rendering,
    and with a readable message for syntax errors, sandbox refusals, undefined names and run-away templates
    (RenderRefused for those stopped by a limit). `inline=False` skips CSS inlining (for the benchmark).
    """
    [result] = render_emails([(template, context)], inline=inline, background=background)
    if isinstance(result, TemplateRenderError):
        raise result
    return result


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


def check_template_source(source: TemplateSource, *, code: str = "", sample: dict | None = None) -> None:
    """Refuse text that cannot be saved: too large, does not compile, uses undeclared variables, runs into a
    limit in a trial render with `sample` (else the shipped sample values of `code`, placeholders for the
    rest), or renders a subject that could never be sent."""
    if not source.subject.strip():
        raise ValidationError("The subject is empty.", field="subject")
    if len(source.subject) > 500:
        raise ValidationError("The subject is longer than 500 characters.", field="subject")
    if not source.body_html.strip():
        raise ValidationError("The HTML body is empty.", field="body_html")
    for field_name in ("body_html", "body_text"):
        text = getattr(source, field_name) or ""
        if len(text.encode("utf-8")) > MAX_BODY_BYTES:
            raise ValidationError(f"The {PART_LABELS[field_name]} is larger than 512 KB.", field=field_name)
    missing_declared = [name for name in source.required_variables if name not in source.variables]
    if missing_declared:
        raise ValidationError(
            "Required variables must also be listed as variables: " + ", ".join(missing_declared) + ".",
            field="required_variables",
        )
    _check_syntax(source)
    undeclared = sorted(used_variables(source) - set(source.variables))
    if undeclared:
        raise ValidationError(
            "The template uses variables that are not declared: " + ", ".join(undeclared) + ".",
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
            raise TemplateRenderError(problem.message, field=problem.field, line=problem.line) from exc
        except (RecursionError, MemoryError) as exc:
            raise RenderRefused(
                f"{PART_LABELS[field_name]}: this template is nested too deeply to compile.", field=field_name
            ) from exc


def _trial_render(source: TemplateSource, code: str, sample: dict | None) -> None:
    """Render as a queued email would be, under the same limits. Errors that depend on the values (an
    undefined attribute of a placeholder) are the preview's to show; a limit or a crash refuses the text,
    since no values would make it sendable."""
    if sample is None:
        from . import template_catalog  # it imports this module

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
            raise ValidationError(f"Subject: {exc}", field="subject") from None


@dataclass(frozen=True)
class Preview:
    email: RenderedEmail | None
    problems: list[str]


def preview_template(source: TemplateSource, sample: dict) -> Preview:
    """Render unsaved text with sample values, the way render_email will send it; list what is wrong."""
    too_large = [
        f"The {PART_LABELS[name]} is larger than 512 KB."
        for name in ("subject", "body_html", "body_text")
        if len((getattr(source, name) or "").encode("utf-8")) > MAX_BODY_BYTES
    ]
    if too_large:
        return Preview(email=None, problems=too_large)
    problems: list[str] = []
    undeclared = sorted(used_variables(source) - set(source.variables))
    if undeclared:
        problems.append("Uses variables that are not declared: " + ", ".join(undeclared) + ".")
    try:
        email = render_email(source.as_resolved(), sample)
    except TemplateRenderError as exc:
        problems.append(exc.message)
        email = None
    except TypeError as exc:
        problems.append(f"Sample values: {exc}")
        email = None
    return Preview(email=email, problems=problems)


def sample_values_for(variables: list[str], known: dict | None = None) -> dict:
    """Sample values for a preview: the known ones (shipped with the default set), a placeholder for the rest."""
    known = known or {}
    return {name: known.get(name, f"[{name}]") for name in variables}


def parse_sample_values(raw: str | None) -> dict:
    """The editor's sample values (a JSON object) -> a dict; a readable ValidationError otherwise."""
    if not (raw or "").strip():
        return {}
    if len(raw) > MAX_SAMPLE_CHARS:
        raise ValidationError("Sample values: keep them under 256 KB.", field="sample")
    try:
        value = parse_untrusted_json(raw)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"Sample values: not valid JSON (line {exc.lineno}: {exc.msg}).", field="sample") from exc
    except ValueError as exc:
        raise ValidationError(f"Sample values: {exc}.", field="sample") from exc
    if not isinstance(value, dict):
        raise ValidationError("Sample values must be a JSON object: {\"name\": \"value\", ...}.", field="sample")
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


def _check_platform_input(data: PlatformTemplateInput) -> PlatformTemplateInput:
    data.code = (data.code or "").strip()
    if not CODE_PATTERN.match(data.code):
        raise ValidationError("Use a code of lowercase letters, digits and _ (e.g. order_shipped).", field="code")
    data.language = normalize_language(data.language)
    if data.category not in EmailCategory.values():
        raise ValidationError("Choose a category.", field="category")
    if not (data.name or "").strip():
        raise ValidationError("The name is empty.", field="name")
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
            f"A template '{data.code}' in {data.language} exists already; edit it instead.", field="language"
        )
    template = EmailTemplate(code=data.code, language=data.language)
    _apply_platform_input(template, data)
    db.session.add(template)
    _flush_unique(f"A template '{data.code}' in {data.language} exists already.", "language")
    return template


def update_platform_template(template: EmailTemplate, data: PlatformTemplateInput) -> EmailTemplate:
    data = _check_platform_input(data)
    if _platform_exists(data.code, data.language, exclude_id=template.id):
        raise ValidationError(f"A template '{data.code}' in {data.language} exists already.", field="language")
    template.code, template.language = data.code, data.language
    _apply_platform_input(template, data)
    _flush_unique(f"A template '{data.code}' in {data.language} exists already.", "language")
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


def _flush_unique(message: str, field_name: str) -> None:
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


def save_store_override(store_id: int, base: EmailTemplate, data: OverrideInput) -> StoreEmailTemplate:
    """Create or update the store's override of `base` (same code and language)."""
    if base.is_platform_only or not base.is_active:
        raise ValidationError("This template cannot be customized.")
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
    _flush_unique("This template was customized meanwhile; reload the page.", "subject")
    return override


def revert_template_override(override: StoreEmailTemplate) -> None:
    """Remove the store's override: the platform default applies again."""
    db.session.delete(override)
    db.session.flush()


# --- lists for the editors --------------------------------------------------------------------


@dataclass
class TemplateGroup:
    """One code with its rows, one per language (platform rows, or a store's view of them)."""

    code: str
    name: str
    category: str
    rows: list = field(default_factory=list)


def _matches(search: str):
    """Code or name contains the search text, case-insensitively; % and _ are plain characters."""
    text = search.strip().lower()
    return sa.or_(sa.func.lower(EmailTemplate.code).contains(text, autoescape=True),
                  sa.func.lower(EmailTemplate.name).contains(text, autoescape=True))


def list_platform_templates(*, search: str = "", category: str = "", language: str = "", active: str = "",
                            page: int = 1, per_page: int = 25) -> Page:
    """Platform templates grouped by code (a page of codes), filtered and searched. Three queries."""
    conditions = []
    if search:
        conditions.append(_matches(search))
    if category:
        conditions.append(EmailTemplate.category == category)
    if language:
        conditions.append(EmailTemplate.language == language)
    if active in ("yes", "no"):
        conditions.append(EmailTemplate.is_active.is_(active == "yes"))
    codes_query = sa.select(EmailTemplate.code).where(*conditions).distinct()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(codes_query.subquery())) or 0
    page = clamp_page(page, total, per_page)
    codes = list(db.session.scalars(
        codes_query.order_by(EmailTemplate.code).limit(per_page).offset((page - 1) * per_page)
    ))
    rows = db.session.scalars(
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
    conditions = [EmailTemplate.is_active.is_(True), EmailTemplate.is_platform_only.is_(False)]
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
    codes_query = sa.select(EmailTemplate.code).where(*conditions).distinct()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(codes_query.subquery())) or 0
    page = clamp_page(page, total, per_page)
    codes = list(db.session.scalars(
        codes_query.order_by(EmailTemplate.code).limit(per_page).offset((page - 1) * per_page)
    ))
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
