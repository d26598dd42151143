"""The render of one email, as a sandbox worker runs it: compile (cached per template version), render the
parts in the Jinja sandbox under its budget, refuse HTML nested too deeply, inline the CSS, derive the text.

This module and what it imports (jinja_sandbox, Jinja, css-inline, html-to-markdown) are all a worker loads, so it
imports nothing else of the application: a worker starts in a fraction of a second. templates.render_emails
is the way in; render_payload is the worker's side.
"""
from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

import css_inline
import html_to_markdown
from jinja2 import Template, TemplateSyntaxError, Undefined
from jinja2.exceptions import SecurityError, UndefinedError

try:
    from . import jinja_sandbox
except ImportError:  # in a worker, loaded beside jinja_sandbox as a top-level module (see child.py)
    import jinja_sandbox  # type: ignore[import-not-found, no-redef]  # mypy reads the import above

HTML_SANDBOX, TEXT_SANDBOX = jinja_sandbox.HTML_SANDBOX, jinja_sandbox.TEXT_SANDBOX
collect_output, render_budget = jinja_sandbox.collect_output, jinja_sandbox.render_budget
NoTextForm, RenderLimitExceeded = jinja_sandbox.NoTextForm, jinja_sandbox.RenderLimitExceeded
N_, spec_english = jinja_sandbox.N_, jinja_sandbox.spec_english

MAX_SUBJECT_CHARS = 500
MAX_HTML_DEPTH = 500
PART_LABELS = {"subject": N_("Subject"), "body_html": N_("HTML body"), "body_text": N_("Text body")}

# What a problem says ("<part>: <what went wrong>"), as message specs (jinja_sandbox: [msgid, values]).
PART_PROBLEM = N_("%(part)s: %(problem)s")
SYNTAX_ERROR = N_("%(part)s: syntax error on line %(line)s: %(error)s")
TOO_DEEP_TO_COMPILE = N_("%(part)s: this template is nested too deeply to compile.")
STOPPED_BECAUSE = N_("%(part)s: stopped because %(reason)s.")
CALLS_ITSELF = N_("%(part)s: stopped because the template calls itself too deeply.")
TOO_MUCH_MEMORY = N_("%(part)s: stopped because the template uses too much memory.")
REFUSED_BY_SANDBOX = N_("refused by the sandbox: %(error)s")
NO_TEXT_FORM = N_("%(problem)s.")
IS_UNDEFINED = N_("%(error)s (it is not in the values this email is sent with).")
CSS_NOT_INLINED = N_("HTML body: its CSS could not be inlined: %(error)s")
NESTED_TOO_DEEPLY = N_("HTML body: this template is nested too deeply (more than %(levels)s levels of tags).")
RENDERING_MESSAGES = {*PART_LABELS.values(), PART_PROBLEM, SYNTAX_ERROR, TOO_DEEP_TO_COMPILE, STOPPED_BECAUSE,
                      CALLS_ITSELF, TOO_MUCH_MEMORY, REFUSED_BY_SANDBOX, NO_TEXT_FORM, IS_UNDEFINED, CSS_NOT_INLINED,
                      NESTED_TOO_DEEPLY, *jinja_sandbox.SANDBOX_MESSAGES}


def part(field_name: str) -> list:
    """The spec of a part's name (Subject, HTML body, Text body)."""
    return [PART_LABELS[field_name], {}]


class RenderProblem(Exception):
    """Why a template did not render, for the person editing it; `refused` when a limit stopped it (no
    values would make it render). `message` is English; `spec` the same message for translation."""

    def __init__(self, spec: list, field: str | None = None, line: int | None = None, refused: bool = False):
        message = spec_english(spec)
        super().__init__(message)
        self.message = message
        self.spec = spec
        self.field = field
        self.line = line
        self.refused = refused


@dataclass(frozen=True)
class CompiledTemplate:
    subject: Template
    html: Template
    text: Template | None


class _CompiledCache:
    """Compiled templates by (kind, id, updated_at): an edit changes updated_at, so stale entries just age out."""

    def __init__(self, size: int = 512):
        self._size = size
        self._entries: OrderedDict[tuple, CompiledTemplate] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> CompiledTemplate | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple, compiled: CompiledTemplate) -> None:
        with self._lock:
            self._entries[key] = compiled
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


compiled_cache = _CompiledCache()


def syntax_problem(exc: TemplateSyntaxError, field_name: str) -> RenderProblem:
    return RenderProblem([SYNTAX_ERROR, {"part": part(field_name), "line": str(exc.lineno), "error": str(exc.message)}],
                         field=field_name, line=exc.lineno)


def _compile_part(source: str, field_name: str) -> Template:
    environment = HTML_SANDBOX if field_name == "body_html" else TEXT_SANDBOX
    try:
        return environment.from_string(source)
    except TemplateSyntaxError as exc:
        raise syntax_problem(exc, field_name) from exc
    except Exception as exc:  # noqa: BLE001 (Python's compiler refuses deep nesting with SyntaxError, RecursionError, ...)
        raise RenderProblem([TOO_DEEP_TO_COMPILE, {"part": part(field_name)}], field=field_name,
                            refused=True) from exc


def compile_template(subject: str, body_html: str, body_text: str | None, cache_key: tuple) -> CompiledTemplate:
    """The three parts compiled; cached under `cache_key` unless it is empty (unsaved text)."""
    if cache_key:
        cached = compiled_cache.get(cache_key)
        if cached is not None:
            return cached
    compiled = CompiledTemplate(
        subject=_compile_part(subject, "subject"),
        html=_compile_part(body_html, "body_html"),
        text=_compile_part(body_text, "body_text") if body_text and body_text.strip() else None,
    )
    if cache_key:
        compiled_cache.put(cache_key, compiled)
    return compiled


def _render_part(compiled: Template, context: dict, field_name: str, budget) -> str:
    try:
        return collect_output(compiled.root_render_func(compiled.new_context(context)), budget)
    except Exception as exc:  # noqa: BLE001 (user-authored code can raise anything: 1/0, 'a' + 1, ...)
        raise _render_problem(exc, field_name) from exc


def _render_problem(exc: Exception, field_name: str) -> RenderProblem:
    label = part(field_name)
    if isinstance(exc, RenderLimitExceeded):
        return RenderProblem([STOPPED_BECAUSE, {"part": label, "reason": exc.spec}], field=field_name, refused=True)
    if isinstance(exc, RecursionError):
        return RenderProblem([CALLS_ITSELF, {"part": label}], field=field_name, refused=True)
    if isinstance(exc, MemoryError):
        return RenderProblem([TOO_MUCH_MEMORY, {"part": label}], field=field_name, refused=True)
    if isinstance(exc, TemplateSyntaxError):
        return syntax_problem(exc, field_name)
    problem: list | str
    if isinstance(exc, SecurityError):
        problem = [REFUSED_BY_SANDBOX, {"error": str(exc)}]
    elif isinstance(exc, NoTextForm):
        problem = [NO_TEXT_FORM, {"problem": exc.spec}]
    elif isinstance(exc, UndefinedError):
        problem = _undefined_message(exc)
    else:
        problem = f"{type(exc).__name__}: {exc}"
    return RenderProblem([PART_PROBLEM, {"part": label, "problem": problem}], field=field_name)


_UNDEFINED_OBJECT = re.compile(r"'[\w.]*ReportingUndefined object'")


def _undefined_message(exc: UndefinedError) -> list | str:
    message = _UNDEFINED_OBJECT.sub("an undefined value", exc.message or "a variable is undefined")
    if message.endswith("is undefined"):
        return [IS_UNDEFINED, {"error": message}]
    return message


_CSS_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True)


def inline_css(html: str) -> str:
    try:
        return _CSS_INLINER.inline(html)
    except (css_inline.InlineError, ValueError) as exc:
        raise RenderProblem([CSS_NOT_INLINED, {"error": str(exc)}], field="body_html") from exc


# Markdown-flavoured plain text, as mail clients show a text part: headings, links with their URLs, lists and
# aligned tables; no images, no emphasis marks. html-to-markdown is compiled (Rust): 3-10x html2text here,
# which was most of queueing's cost (bench/bench_delivery.py).
_TEXT_OPTIONS = html_to_markdown.ConversionOptions(
    output_format="markdown", skip_images=True, extract_metadata=False, bullets="*", heading_style="atx",
    strip_tags=["b", "strong", "em", "i", "u"],
)


def _prepared_converter():
    """html_to_markdown.convert rebuilds its native options from the Python ones on every call, which cost more
    than the conversion of an email: build them once, and call the native converter with them. Falls back to the
    public call should a release rename either (tests/unit/test_templates.py compares the two)."""
    try:
        from html_to_markdown import _html_to_markdown as native
        from html_to_markdown.api import _to_rust_conversion_options

        native_options = _to_rust_conversion_options(_TEXT_OPTIONS)
        convert = native.convert
    except (ImportError, AttributeError):
        return lambda html: html_to_markdown.convert(html, _TEXT_OPTIONS)
    return lambda html: convert(html=html, options=native_options, visitor=None)


_convert_to_markdown = _prepared_converter()


def text_from_html(html: str) -> str:
    return (_convert_to_markdown(html).content or "").strip() + "\n"


# Tags that do not open a level: void elements, and those whose end tag is optional (a parser closes an open
# <p> or <li> at the next one, so a long list of them is not nesting).
_FLAT_ELEMENTS = ("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr",
                  "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "rt", "rp")
# One match per tag that opens or closes a level ('/' for a closing one).
_LEVEL_TAG = re.compile(r"<(/?)(?!(?:" + "|".join(_FLAT_ELEMENTS) + r")\b)[a-zA-Z][^>]*?(?<!/)>", re.IGNORECASE)


def check_nesting(html: str) -> None:
    """Refuse HTML nested deeper than any email needs: css-inline parses it recursively (it crashed at about
    20,000 levels), and mail clients give up far earlier."""
    if html.count("<") <= MAX_HTML_DEPTH:
        return
    depth = 0
    for closing in _LEVEL_TAG.findall(html):  # no call per tag: this runs for every long email
        if closing:
            if depth:
                depth -= 1
        else:
            depth += 1
            if depth > MAX_HTML_DEPTH:
                raise RenderProblem([NESTED_TOO_DEEPLY, {"levels": str(MAX_HTML_DEPTH)}], field="body_html",
                                    refused=True)


def render(subject: str, body_html: str, body_text: str | None, *, variables: list[str], cache_key: tuple,
           context: dict, inline: bool = True) -> tuple[str, str, str]:
    """(subject, html, text) of one email; raises RenderProblem.

    Only a sandbox worker, or a benchmark's floor, calls this: templates someone typed render in a worker.
    """
    absent = [name for name in variables if name not in context]
    if absent:
        # Declared but optional and not given: reads as empty and false, whereas a name the template
        # does not declare still raises (ReportingUndefined).
        context = {**{name: Undefined(name=name) for name in absent}, **context}
    compiled = compile_template(subject, body_html, body_text, cache_key)
    with render_budget() as budget:
        subject_text = _render_part(compiled.subject, context, "subject", budget)
        html = _render_part(compiled.html, context, "body_html", budget)
        text = _render_part(compiled.text, context, "body_text", budget) if compiled.text is not None else None
    # One line (no header injection through newlines), and short enough for EmailLog.subject.
    subject_text = " ".join(subject_text.split())
    if len(subject_text) > MAX_SUBJECT_CHARS:
        subject_text = subject_text[: MAX_SUBJECT_CHARS - 1] + "…"
    check_nesting(html)
    if text is None:
        text = text_from_html(html)
    return subject_text, inline_css(html) if inline else html, text


def render_payload(payload: dict) -> dict:
    """A worker's render job: the payload templates.render_emails sends -> the email or the problem, as JSON data."""
    try:
        subject, html, text = render(
            payload["subject"], payload["body_html"], payload["body_text"], variables=payload["variables"],
            cache_key=tuple(payload["cache_key"]), context=payload["context"], inline=payload["inline"],
        )
    except RenderProblem as problem:
        return {"error": problem.message, "spec": problem.spec, "field": problem.field, "line": problem.line,
                "refused": problem.refused}
    return {"subject": subject, "html": html, "text": text}
