"""Rendering an email from a resolved template: checks made here, the render itself in a sandbox worker."""
from __future__ import annotations

import datetime as dt
import decimal
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import cast

from flask_babel import gettext
from flask_babel.speaklater import LazyString

from ... import metrics
from ...i18n import _l
from .. import sandbox
from ..errors import ValidationError, format_number, number
from ..sandbox.jinja_sandbox import MAX_SECONDS, spec_english
from ..sandbox.rendering import RENDERING_MESSAGES
from .resolution import ResolvedTemplate


class TemplateRenderError(ValidationError):
    """A template that cannot be compiled or rendered; the message says why, for the person editing it."""

    def __init__(self, message, field: str | None = None, line: int | None = None,
                 missing_variables: list[str] | None = None):
        super().__init__(message, field=field)
        self.line = line
        self.missing_variables = missing_variables or []


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str  # CSS inlined
    text: str  # derived from html (html-to-markdown) when body_text is empty


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
            _l("Missing required variables: %(names)s.", names=", ".join(missing)), missing_variables=missing
        )
    check_plain_context(context)
    return context


def _process_failure_message(failure: sandbox.JobFailed):
    if failure.reason == "timeout":
        return _l("This template takes too long to render (limit %(seconds)s s).", seconds=number(MAX_SECONDS))
    if failure.reason == "memory":
        return _l("This template uses too much memory (limit %(megabytes)s MB).",
                  megabytes=sandbox.settings()["SANDBOX_MEMORY_MB"])
    return _l("This template is nested too deeply or too complex to render; its renderer stopped.")


# --- a worker's message, in the reader's language ---------------------------------------------

_MAX_SPEC_DEPTH = 4


def translated_problem(spec, english: str):
    """A worker's problem (its message spec, sandbox/jinja_sandbox.py) as a lazy string in the reader's
    language; `english` (its plain text) when the spec is not one of the sandbox's own messages: a worker
    runs what anyone typed, so its answer is read as data, never as a format of its choosing."""
    return LazyString(_resolve, spec) if _known_spec(spec) else english


def _known_spec(spec, depth: int = 0) -> bool:
    if depth > _MAX_SPEC_DEPTH or not isinstance(spec, list) or len(spec) != 2:
        return False
    msgid, values = spec
    if msgid not in RENDERING_MESSAGES or not isinstance(values, dict):
        return False
    for name, value in values.items():
        if not isinstance(name, str):
            return False
        if isinstance(value, list):
            if not _known_spec(value, depth + 1):
                return False
        elif isinstance(value, bool) or not isinstance(value, str | int | float):
            return False
        elif isinstance(value, int) and abs(value) > 10**15:
            return False
    return True


def _resolve(spec) -> str:
    msgid, values = spec
    text = gettext(msgid)
    if not values:
        return text
    try:
        return text % {name: _resolved_value(value) for name, value in values.items()}
    except (KeyError, ValueError, TypeError):  # a translation that lost a placeholder: the English
        return spec_english(spec)


def _resolved_value(value) -> str:
    if isinstance(value, list):
        return _resolve(value)
    if isinstance(value, int | float):
        return format_number(value) if value == value else str(value)
    return value


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
    return Renders(items, inline=inline, background=background).results()


def start_renders(items: list[tuple[ResolvedTemplate, dict]], *, background: bool = False) -> Renders:
    """render_emails, started now in a sandbox worker while the caller goes on (drafting the next emails of a
    batch, say): `.results()` waits for the answers."""
    renders = Renders(items, inline=True, background=background)
    renders.start()
    return renders


class Renders:
    """Emails on their way through the sandbox: checked here, rendered in a worker, answered in order."""

    def __init__(self, items: list[tuple[ResolvedTemplate, dict]], *, inline: bool, background: bool):
        self._items, self._background = items, background
        self._results: list[RenderedEmail | TemplateRenderError | None] = [None] * len(items)
        self._pending: list[tuple[int, dict]] = []
        self._started: Future | None = None
        for index, (template, context) in enumerate(items):
            try:
                context = _prepared_context(template, context)
            except TemplateRenderError as exc:
                self._results[index] = exc
                continue
            self._pending.append((index, {
                "subject": template.subject, "body_html": template.body_html, "body_text": template.body_text,
                "variables": template.variables, "cache_key": template.cache_key, "context": context,
                "inline": inline,
            }))

    def _waiting(self) -> list[tuple[int, dict]]:
        """The pending renders, but for versions refused meanwhile (by a failure of this batch, say): those
        are not tried again."""
        waiting = []
        for index, payload in self._pending:
            refused = refused_versions.get(self._items[index][0].cache_key)
            if refused is None:
                waiting.append((index, payload))
            else:
                self._results[index] = RenderRefused(refused, field="body_html")
        return waiting

    def start(self) -> None:
        self._pending = self._waiting()
        if self._pending:
            self._started = sandbox.submit_renders([payload for _, payload in self._pending], seconds=MAX_SECONDS,
                                                   background=self._background)

    def results(self) -> list[RenderedEmail | TemplateRenderError]:
        started, self._started = self._started, None
        while self._pending:
            waiting = self._pending if started is not None else self._waiting()
            if not waiting:
                break
            answers: Sequence[dict | sandbox.JobFailed | RenderRefused]
            try:
                if started is not None:
                    answers, started = started.result(), None
                else:
                    answers = sandbox.run_renders([payload for _, payload in waiting], seconds=MAX_SECONDS,
                                                  background=self._background)
            except sandbox.PoolBusy:
                busy = RenderRefused(_l("Many templates are being rendered just now; please try again in a moment."))
                answers = [busy] * len(waiting)
            for (index, _), answer in zip(waiting, answers, strict=False):
                self._results[index] = _rendered_or_error(self._items[index][0], answer)
            self._pending = waiting[len(answers):]
        # Every slot is filled by now: each item was refused, answered, or failed before the sandbox.
        return cast(list[RenderedEmail | TemplateRenderError], self._results)


def _rendered_or_error(template: ResolvedTemplate, answer) -> RenderedEmail | TemplateRenderError:
    if isinstance(answer, TemplateRenderError):
        metrics.RENDER_FAILURES.labels("busy" if isinstance(answer, RenderRefused) else "error").inc()
        return answer
    if isinstance(answer, sandbox.JobFailed):
        metrics.SANDBOX_KILLS.labels(answer.reason).inc()
        metrics.RENDER_FAILURES.labels(f"killed: {answer.reason}").inc()
        message = _process_failure_message(answer)
        refused_versions.put(template.cache_key, message)
        return RenderRefused(message, field="body_html")
    if "error" in answer:
        metrics.RENDER_FAILURES.labels("refused" if answer["refused"] else "error").inc()
        kind = RenderRefused if answer["refused"] else TemplateRenderError
        return kind(translated_problem(answer.get("spec"), answer["error"]), field=answer["field"],
                    line=answer["line"])
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
