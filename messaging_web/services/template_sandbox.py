"""The Jinja sandbox user-authored email templates run in: refusals that report, limits on work and size.

The sandbox (ImmutableSandboxedEnvironment) already refuses private attributes, `str.format` tricks and
mutation of lists and dicts. On top of it this module bounds what a template may cost, so that one
template typed into an editor cannot stall or exhaust the server:

- every loop iteration, call and intercepted operator is a step; a render may take MAX_STEPS steps and
  MAX_SECONDS seconds;
- operations that multiply sizes (`'x' * n`, `** n`, `%`-formats, `center(n)`, `replace('', s)`, `join`,
  ...) are checked *before* they allocate, and every string they build is held to MAX_OUTPUT_CHARS;
- the rendered output itself is counted as it streams out.

Undefined names raise instead of rendering "" (StrictUndefined), so the editor can say what is wrong.
"""
from __future__ import annotations

import datetime as dt
import re
import time
from contextvars import ContextVar
from dataclasses import dataclass, field

from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_OUTPUT_CHARS = 1_000_000
MAX_ITEMS = 100_000
MAX_STEPS = 1_000_000
MAX_SECONDS = 2.0
MAX_INT_BITS = 4096


class RenderLimitExceeded(Exception):
    """The template ran into a limit on work, time or size; the message says which, for the user."""


class ReportingUndefined(StrictUndefined):
    """Undefined that raises when printed, iterated or used, but may be tested (`{% if x %}`, `x is defined`).

    A sandbox refusal (an unsafe attribute) raises even in a test, so it never silently reads as false.
    """

    __slots__ = ()

    def __bool__(self) -> bool:
        if self._undefined_exception is SecurityError:
            self._fail_with_undefined_error()
        return False

    def __getattr__(self, name: str):
        # A refused value stays refused however it is used (`''|attr('__class__')|attr('__mro__')`).
        if name != "_undefined_exception" and self._undefined_exception is SecurityError:
            self._fail_with_undefined_error()
        return super().__getattr__(name)


@dataclass
class _Budget:
    deadline: float
    steps: int = 0
    output: int = field(default=0)


_budget: ContextVar[_Budget | None] = ContextVar("template_render_budget", default=None)


class render_budget:
    """Context manager: the limits of one render (subject, HTML and text of one email share it)."""

    def __enter__(self) -> _Budget:
        self._budget = _Budget(deadline=time.monotonic() + MAX_SECONDS)
        self._token = _budget.set(self._budget)
        return self._budget

    def __exit__(self, *exc) -> None:
        _budget.reset(self._token)


def _step(count: int = 1) -> None:
    budget = _budget.get()
    if budget is None:
        return
    budget.steps += count
    if budget.steps > MAX_STEPS:
        raise RenderLimitExceeded(f"the template does too much work (more than {MAX_STEPS:,} steps)")
    if budget.steps & 0x3FF == 0 and time.monotonic() > budget.deadline:
        raise RenderLimitExceeded(f"the template took longer than {MAX_SECONDS:g} seconds to render")


def _refuse_size(size: int, what: str = "text") -> None:
    if size > MAX_OUTPUT_CHARS:
        raise RenderLimitExceeded(f"the template would build a {what} of more than {MAX_OUTPUT_CHARS:,} characters")


def _refuse_items(count: int) -> None:
    if count > MAX_ITEMS:
        raise RenderLimitExceeded(f"the template would build a list of more than {MAX_ITEMS:,} items")


def _check_built(value):
    if isinstance(value, str | bytes):
        _refuse_size(len(value))
    elif isinstance(value, list | tuple):
        _refuse_items(len(value))
    return value


def count_output(chunks, budget: _Budget):
    """Yield the rendered chunks, stopping when the email grows past the output limit."""
    for chunk in chunks:
        budget.output += len(chunk)
        _refuse_size(budget.output, "message")
        yield chunk


_PERCENT_WIDTH = re.compile(r"%[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_NUMBER = re.compile(r"\d+")
_NESTED_SPEC = re.compile(r"\{[^{}]*:[^{}]*\{")


def _check_percent_format(fmt: str, args) -> None:
    numbers = [a for a in (args if isinstance(args, tuple | list) else (args,)) if isinstance(a, int)]
    for match in _PERCENT_WIDTH.finditer(fmt):
        for group in match.groups():
            if group == "*" and any(abs(n) > MAX_OUTPUT_CHARS for n in numbers):
                _refuse_size(max(abs(n) for n in numbers))
            elif group and group.isdigit():
                _refuse_size(int(group))


def _check_brace_format(fmt: str, args, kwargs) -> None:
    for spec in re.findall(r"\{[^{}]*:([^{}]*)\}", fmt):
        for number in _FORMAT_NUMBER.findall(spec):
            _refuse_size(int(number))
    if _NESTED_SPEC.search(fmt):
        for value in list(args) + list(kwargs.values()):
            if isinstance(value, int):
                _refuse_size(abs(value))


def _check_sequence_join(separator: str, items) -> list:
    items = list(items)
    _refuse_items(len(items))
    size = len(separator) * max(len(items) - 1, 0)
    for item in items:
        size += len(item) if isinstance(item, str) else 32
    _refuse_size(size)
    return items


def _check_replace(text: str, old: str, new: str, count: int = -1) -> None:
    occurrences = len(text) + 1 if old == "" else text.count(old)
    if count is not None and count >= 0:
        occurrences = min(occurrences, count)
    _refuse_size(len(text) + occurrences * len(new))


def _check_string_method(method, args, kwargs) -> list | None:
    """Refuse a str method call that would allocate too much; returns replaced args when it consumed them."""
    name = getattr(method, "__name__", "")
    text = method.__self__
    if name in {"center", "ljust", "rjust", "zfill"} and args and isinstance(args[0], int):
        _refuse_size(args[0])
    elif name == "expandtabs":
        tabsize = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(tabsize, int):
            _refuse_size(len(text) + text.count("\t") * max(tabsize, 0))
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        _check_replace(text, args[0], args[1], args[2] if len(args) > 2 else kwargs.get("count", -1))
    elif name == "join" and args:
        return [_check_sequence_join(text, args[0]), *args[1:]]
    return None


def format_date(value, fmt: str | None = None):
    """`{{ sent_at|date }}` or `|date('%d.%m.%Y')`: dates, datetimes and ISO 8601 text; other text passes through."""
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value) if len(value) == 10 else dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        return value.strftime(fmt or "%Y-%m-%d %H:%M %Z").strip()
    if isinstance(value, dt.date):
        return value.strftime(fmt or "%Y-%m-%d")
    return value


def _counted(iterable):
    """Every loop's iterable goes through this (see _parse): one step per iteration."""
    for item in iterable:
        _step()
        yield item


def _sized(value):
    """Every `~` concatenation goes through this: the string it built is held to the size limit."""
    return _check_built(value)


def _wrap_filter(original, check):
    def guarded(*args, **kwargs):
        check(*args, **kwargs)
        return _check_built(original(*args, **kwargs))

    guarded.__name__ = getattr(original, "__name__", "guarded")
    for marker in ("jinja_pass_arg",):
        if hasattr(original, marker):
            setattr(guarded, marker, getattr(original, marker))
    return guarded


def _width_check(position: int, keyword: str):
    def check(*args, **kwargs):
        width = kwargs.get(keyword, args[position] if len(args) > position else None)
        if isinstance(width, int):
            _refuse_size(width)
        elif isinstance(width, str):
            _refuse_size(len(width))

    return check


def _count_check(position: int, keyword: str):
    def check(*args, **kwargs):
        count = kwargs.get(keyword, args[position] if len(args) > position else None)
        if isinstance(count, int):
            _refuse_items(count)

    return check


def _format_filter_check(value, *args, **kwargs):
    if isinstance(value, str):
        _check_percent_format(value, args or tuple(kwargs.values()))


def _replace_filter_check(*args, **kwargs):
    # do_replace is pass_eval_context: (eval_ctx, s, old, new, count=None)
    text, old, new = (list(args[1:4]) + [None, None, None])[:3]
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        count = args[4] if len(args) > 4 else kwargs.get("count")
        _check_replace(text, old, new, -1 if count is None else count)


def _join_filter_check(*args, **kwargs):
    # do_join is pass_eval_context: (eval_ctx, value, d="", attribute=None)
    value = args[1] if len(args) > 1 else None
    separator = args[2] if len(args) > 2 else kwargs.get("d", "")
    if isinstance(value, list | tuple) and isinstance(separator, str):
        _check_sequence_join(separator, [str(v) if not isinstance(v, str) else v for v in value])


class EmailSandbox(ImmutableSandboxedEnvironment):
    """The one Jinja environment user-authored email templates are compiled and rendered in."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, *, autoescape: bool):
        super().__init__(autoescape=autoescape, undefined=ReportingUndefined, auto_reload=False, cache_size=0)
        # lipsum builds text of any requested size; email templates have no use for it.
        self.globals.pop("lipsum", None)
        self.filters["date"] = format_date
        self.filters["_counted"] = _counted
        self.filters["_sized"] = _sized
        guards = {
            "center": _width_check(1, "width"),
            "indent": _width_check(1, "width"),
            "format": _format_filter_check,
            "replace": _replace_filter_check,
            "join": _join_filter_check,
            "slice": _count_check(2, "slices"),
            "batch": _count_check(1, "linecount"),
            "wordwrap": _width_check(2, "width"),
            "truncate": _width_check(2, "length"),
        }
        for name, check in guards.items():
            self.filters[name] = _wrap_filter(self.filters[name], check)

    def _parse(self, source, name, filename):
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, "_counted", [], [], None, None, lineno=loop.lineno)
        for concat in list(tree.find_all(nodes.Concat)):
            _wrap_in_parent(tree, concat)
        return tree

    def call_binop(self, context, operator, left, right):
        _step()
        if operator == "*":
            _check_multiplication(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "%" and isinstance(left, str):
            _check_percent_format(left, right)
        return _check_built(super().call_binop(context, operator, left, right))

    def wrap_str_format(self, value):
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text, is_format_map = value.__self__, value.__name__ == "format_map"

        def checked(*args, **kwargs):
            mapping = (args[0] if args else {}) if is_format_map else kwargs
            _check_brace_format(text, () if is_format_map else args, mapping if isinstance(mapping, dict) else {})
            return _check_built(wrapped(*args, **kwargs))

        return checked

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (same signature as the sandbox's)
        _step()
        if isinstance(getattr(__obj, "__self__", None), str | bytes):
            replaced = _check_string_method(__obj, args, kwargs)
            if replaced is not None:
                args = tuple(replaced)
        return _check_built(super().call(__context, __obj, *args, **kwargs))


def _check_multiplication(left, right) -> None:
    for sequence, times in ((left, right), (right, left)):
        if isinstance(sequence, str | bytes) and isinstance(times, int):
            _refuse_size(len(sequence) * max(times, 0))
        elif isinstance(sequence, list | tuple) and isinstance(times, int):
            _refuse_items(len(sequence) * max(times, 0))
    if isinstance(left, int) and isinstance(right, int):
        if abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
            raise RenderLimitExceeded("the template computes a number that is too large")


def _check_power(base, exponent) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and abs(base) > 1:
        if exponent * abs(base).bit_length() > MAX_INT_BITS:
            raise RenderLimitExceeded("the template computes a number that is too large")


def _wrap_in_parent(tree: nodes.Node, target: nodes.Concat) -> None:
    """Replace `target` in its parent by `target|_sized` (the AST has no parent links, so search)."""
    for parent in tree.find_all(nodes.Node):
        for field_name, value in parent.iter_fields():
            if value is target:
                setattr(parent, field_name, nodes.Filter(target, "_sized", [], [], None, None, lineno=target.lineno))
                return
            if isinstance(value, list):
                for index, item in enumerate(value):
                    if item is target:
                        value[index] = nodes.Filter(target, "_sized", [], [], None, None, lineno=target.lineno)
                        return


HTML_SANDBOX = EmailSandbox(autoescape=True)
TEXT_SANDBOX = EmailSandbox(autoescape=False)
