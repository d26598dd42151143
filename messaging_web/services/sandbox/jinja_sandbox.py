"""The Jinja sandbox user-authored email templates run in: refusals that report, limits on work and size.

The sandbox (ImmutableSandboxedEnvironment) already refuses private attributes, `str.format` tricks and
mutation of lists and dicts. On top of it this module bounds what a template may cost, so that one
template typed into an editor cannot stall or exhaust the server:

- work: every loop iteration, call, filter and intercepted operator is a step (a call or filter on a
  collection weighs as much as the collection is long); a render may take MAX_STEPS steps and
  MAX_SECONDS seconds;
- size: operations that multiply sizes (`'x' * n`, `** n`, `%` and `.format` widths, `center(n)`,
  `replace('', s)`, `join`, `~`, ...) are estimated *before* they allocate; every string a template
  builds is held to MAX_OUTPUT_CHARS and all of them together to MAX_BUILT_CHARS;
- printing: a value the template computed is measured before it is turned into text (a list holding
  the same large string a hundred thousand times is small in memory but not when printed), and the
  rendered output is counted as it streams out.

Undefined names raise instead of rendering "" (StrictUndefined), so the editor can say what is wrong.
"""
from __future__ import annotations

import datetime as dt
import decimal
import re
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from itertools import islice

from jinja2 import StrictUndefined, Undefined, meta, nodes, pass_context, pass_eval_context
from jinja2.exceptions import SecurityError
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace
from markupsafe import Markup

MAX_OUTPUT_CHARS = 1_000_000
MAX_BUILT_CHARS = 16 * MAX_OUTPUT_CHARS
MAX_ITEMS = 100_000
MAX_STEPS = 1_000_000
MAX_SECONDS = 2.0
MAX_INT_BITS = 4096


# --- messages for the person editing the template ------------------------------------------------
# A worker imports nothing of the application (no Flask-Babel): it writes English, and hands the message id
# and its values (a "spec": [msgid, {name: value}], a value a str, a number or a spec) to the application,
# which shows them in the reader's language (templates/rendering.py). N_ only marks a msgid for pybabel.


def N_(message: str) -> str:
    return message


TOO_MUCH_WORK = N_("the template does too much work (more than %(steps)s steps)")
TOO_SLOW = N_("the template took longer than %(seconds)s seconds to render")
TEXT_TOO_LARGE = N_("the template would build a text of more than %(chars)s characters")
MESSAGE_TOO_LARGE = N_("the template would build a message of more than %(chars)s characters")
LIST_TOO_LONG = N_("the template would build a list of more than %(items)s items")
TOO_MUCH_TEXT = N_("the template builds more than %(chars)s characters of text in all")
VALUE_TOO_LARGE = N_("the template would print a value of more than %(chars)s characters")
NUMBER_TOO_LARGE = N_("the template computes a number that is too large")
PRINTS_FUNCTION = N_("the template prints a function (%(type)s), which has no text; "
                     "print a value instead (for a cycler, its next())")
PRINTS_OBJECT = N_("the template prints an object (%(type)s), which has no text; "
                   "print a value instead (for a cycler, its next())")
SANDBOX_MESSAGES = {TOO_MUCH_WORK, TOO_SLOW, TEXT_TOO_LARGE, MESSAGE_TOO_LARGE, LIST_TOO_LONG, TOO_MUCH_TEXT,
                    VALUE_TOO_LARGE, NUMBER_TOO_LARGE, PRINTS_FUNCTION, PRINTS_OBJECT}


def spec_english(spec) -> str:
    """The English text of a message spec: numbers as 1,000,000 and 2.5."""
    msgid, values = spec
    if not values:
        return msgid
    return msgid % {name: _english_value(value) for name, value in values.items()}


def _english_value(value) -> str:
    if isinstance(value, list):
        return spec_english(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


class Explained(Exception):
    """An exception whose message is `msgid` with `values`, in English; `spec` carries both for translation."""

    def __init__(self, msgid: str, **values):
        self.spec = [msgid, values]
        super().__init__(spec_english(self.spec))


class RenderLimitExceeded(Explained):
    """The template ran into a limit on work, time or size; the message says which, for the user."""


class NoTextForm(Explained):
    """The template prints something that has no text of its own (a function, a cycler, a method): Python
    would print its memory address, which tells an attacker where things are and nobody anything useful."""


class ReportingUndefined(StrictUndefined):
    """Undefined that raises when printed, iterated or used, but may be tested (`{% if x %}`, `x is defined`).

    A sandbox refusal (an unsafe attribute) raises even in a test, so it never silently reads as false.
    """

    __slots__ = ()

    # StrictUndefined refuses every test (its __bool__ always raises); this one allows them, on purpose.
    def __bool__(self) -> bool:  # type: ignore[override]
        if self._undefined_exception is SecurityError:
            self._fail_with_undefined_error()
        return False

    def __getattr__(self, name: str):
        # A refused value stays refused however it is used (`''|attr('__class__')|attr('__mro__')`).
        if name != "_undefined_exception" and self._undefined_exception is SecurityError:
            self._fail_with_undefined_error()
        return super().__getattr__(name)


# --- the budget of one render ----------------------------------------------------------------


@dataclass
class _Budget:
    deadline: float
    steps: int = 0
    output: int = 0
    built: int = 0


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
    if budget.steps > MAX_STEPS or budget.steps & 0xFF == 0 or count > 0xFF:
        _check_budget(budget)


def _check_budget(budget: _Budget) -> None:
    if budget.steps > MAX_STEPS:
        raise RenderLimitExceeded(TOO_MUCH_WORK, steps=MAX_STEPS)
    if time.monotonic() > budget.deadline:
        raise RenderLimitExceeded(TOO_SLOW, seconds=MAX_SECONDS)


def _weight(values) -> int:
    """Steps a call costs: one, plus the length of every collection it is handed (long text counts per KB)."""
    steps = 1
    for value in values:
        if isinstance(value, list | tuple | dict | set | frozenset | range):
            steps += len(value)
        elif isinstance(value, str) and len(value) > 1024:
            steps += len(value) >> 10
    return steps


def _refuse_size(size: int, what: str = "text") -> None:
    if size > MAX_OUTPUT_CHARS:
        raise RenderLimitExceeded(MESSAGE_TOO_LARGE if what == "message" else TEXT_TOO_LARGE, chars=MAX_OUTPUT_CHARS)


def _refuse_items(count: int) -> None:
    if count > MAX_ITEMS:
        raise RenderLimitExceeded(LIST_TOO_LONG, items=MAX_ITEMS)


def _built(value):
    """Account for a value the template built: one string up to MAX_OUTPUT_CHARS, all up to MAX_BUILT_CHARS."""
    if isinstance(value, str | bytes):
        size = len(value)
        _refuse_size(size)
        budget = _budget.get()
        if budget is not None:
            budget.built += size
            if budget.built > MAX_BUILT_CHARS:
                raise RenderLimitExceeded(TOO_MUCH_TEXT, chars=MAX_BUILT_CHARS)
    elif isinstance(value, list | tuple):
        _refuse_items(len(value))
    return value


def text_size(value, limit: int = MAX_OUTPUT_CHARS) -> int:
    """An upper bound of the length of `value` as text; stops counting once past `limit`.

    Collections are walked without being turned into text, so shared references cost nothing here.
    """
    cls = value.__class__
    if cls is str or cls is Markup:
        return len(value)
    total = 0
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str | bytes):
            total += len(item) + 4
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            if total > limit:
                return total
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + 2 * len(item)
            if total > limit:
                return total
            pending.extend(item)
        elif isinstance(item, Namespace):
            pending.append(object.__getattribute__(item, "_Namespace__attrs"))
            total += 12
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 2
        else:
            check_has_text(item)
            total += 32
        if total > limit:
            return total
    return total


_TEXT_SCALARS = (str, int, float, decimal.Decimal, dt.date, dt.time, dt.timedelta, type(None), Undefined)


def check_has_text(value) -> None:
    """Refuse to turn into text a value whose text would be Python's `<... object at 0x...>`."""
    if not isinstance(value, _TEXT_SCALARS):
        raise NoTextForm(PRINTS_FUNCTION if callable(value) else PRINTS_OBJECT, type=type(value).__name__)


def printable(value):
    """Refuse a value whose text would be too long, or Python's description of an object, before anything
    turns it into text."""
    cls = value.__class__
    if cls is str or cls is Markup or cls is int or value is None:
        return value
    if isinstance(value, list | tuple | dict | set | frozenset | Namespace):
        size = text_size(value)
        if size > MAX_OUTPUT_CHARS:
            raise RenderLimitExceeded(VALUE_TOO_LARGE, chars=MAX_OUTPUT_CHARS)
    else:
        check_has_text(value)
    return value


_OUTPUT_BATCH = 32


def collect_output(chunks, budget: _Budget) -> str:
    """Join the rendered chunks, stopping once the email grows past the output limit.

    Chunks are taken in small batches so that counting costs little per chunk; a single chunk is a
    value `printable` let through, so a batch overshoots the limit by a bounded amount at most."""
    parts: list[str] = []
    size = budget.output
    iterator = iter(chunks)
    while batch := list(islice(iterator, _OUTPUT_BATCH)):
        size += sum(map(len, batch))
        if size > MAX_OUTPUT_CHARS:
            _refuse_size(size, "message")
        parts += batch
    budget.output = size
    return "".join(parts)


# --- estimates of what an operation would build ---------------------------------------------

_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[a-zA-Z%]?")
_BRACE_SPEC = re.compile(r"\{[^{}]*:([^{}]*)\}")
_FORMAT_NUMBER = re.compile(r"\d+")
_NESTED_SPEC = re.compile(r"\{[^{}]*:[^{}]*\{")


def _largest_argument(values) -> int:
    return max((text_size(value) for value in values), default=0)


def _check_percent_format(fmt: str, args) -> None:
    """`fmt % args` (or `fmt|format(...)`): widths and fields times the largest argument, before formatting."""
    if isinstance(args, dict):
        values = list(args.values())
    elif isinstance(args, tuple | list):
        values = list(args)
    else:
        values = [args]
    fields = 0
    for match in _PERCENT_FIELD.finditer(fmt):
        fields += 1
        for group in match.groups():
            if group == "*":
                _refuse_size(max((abs(v) for v in values if isinstance(v, int)), default=0))
            elif group:
                _refuse_size(int(group))
    _refuse_size(len(fmt) + fields * _largest_argument(values))


def _check_brace_format(fmt: str, args, kwargs) -> None:
    """`fmt.format(...)`: widths (literal or nested) and fields times the largest argument."""
    for spec in _BRACE_SPEC.findall(fmt):
        for number in _FORMAT_NUMBER.findall(spec):
            _refuse_size(int(number))
    values = list(args) + list(kwargs.values())
    if _NESTED_SPEC.search(fmt):
        for value in values:
            if isinstance(value, int):
                _refuse_size(abs(value))
    _refuse_size(len(fmt) + fmt.count("{") * _largest_argument(values))


def _check_join(separator: str, items) -> list:
    items = list(items)
    _refuse_items(len(items))
    size = len(separator) * max(len(items) - 1, 0)
    for item in items:
        size += text_size(item)
        _refuse_size(size)
    return items


def _check_replace(text: str, old: str, new: str, count: int | None = -1) -> None:
    occurrences = len(text) + 1 if old == "" else text.count(old)
    if count is not None and count >= 0:
        occurrences = min(occurrences, count)
    _refuse_size(len(text) + occurrences * len(new))


def _check_string_method(method, args, kwargs) -> list | None:
    """Refuse a str method call that would allocate too much; returns new args when it consumed them."""
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
        return [_check_join(text, args[0]), *args[1:]]
    return None


def _check_multiplication(left, right) -> None:
    for sequence, times in ((left, right), (right, left)):
        if isinstance(sequence, str | bytes) and isinstance(times, int):
            _refuse_size(len(sequence) * max(times, 0))
        elif isinstance(sequence, list | tuple) and isinstance(times, int):
            _refuse_items(len(sequence) * max(times, 0))
    if isinstance(left, int) and isinstance(right, int):
        if abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
            raise RenderLimitExceeded(NUMBER_TOO_LARGE)


def _check_power(base, exponent) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and abs(base) > 1:
        if exponent * abs(base).bit_length() > MAX_INT_BITS:
            raise RenderLimitExceeded(NUMBER_TOO_LARGE)


# --- filters ----------------------------------------------------------------------------------


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


@pass_context  # never folded into a constant at compile time: it must count at every render
def _counted(_context, iterable):
    """Every loop's iterable goes through this (see EmailSandbox._parse): one step per iteration."""
    budget = _budget.get()
    if budget is None:
        yield from iterable
        return
    for item in iterable:
        budget.steps += 1
        if budget.steps > MAX_STEPS or budget.steps & 0xFF == 0:
            _check_budget(budget)
        yield item


@pass_eval_context
def _concat(eval_ctx, values):
    """Every `a ~ b ~ ...` goes through this (see EmailSandbox._parse): measured before it is joined."""
    size = 0
    for value in values:
        size += text_size(value)
        _refuse_size(size)
    return _built(markup_join(values) if eval_ctx.autoescape else str_join(values))


# Filters that turn their value (and arguments) into text: what they are handed is measured first.
_STRINGIFYING_FILTERS = frozenset({
    "capitalize", "center", "e", "escape", "forceescape", "format", "indent", "lower", "pprint", "replace",
    "safe", "string", "striptags", "title", "tojson", "trim", "truncate", "upper", "urlencode", "urlize",
    "wordcount", "wordwrap", "xmlattr", "date",
})


def _center_check(value, width=80, *_args, **kwargs):
    width = kwargs.get("width", width)
    if isinstance(width, int):
        _refuse_size(width)


def _indent_check(value, width=4, *_args, **kwargs):
    width = kwargs.get("width", width)
    per_line = width if isinstance(width, int) else len(width) if isinstance(width, str) else 0
    lines = value.count("\n") + 1 if isinstance(value, str) else 1
    _refuse_size(text_size(value) + lines * max(per_line, 0))


def _wordwrap_check(value, width=79, break_long_words=True, wrapstring=None, *_args, **kwargs):
    wrapstring = kwargs.get("wrapstring", wrapstring)
    width = kwargs.get("width", width)
    if isinstance(value, str) and isinstance(wrapstring, str) and isinstance(width, int):
        _refuse_size(len(value) + (len(value) // max(width, 1) + 1) * len(wrapstring))


def _count_check(value, count=None, *_args, **kwargs):
    count = kwargs.get("slices", kwargs.get("linecount", count))
    if isinstance(count, int):
        _refuse_items(count)


def _format_filter_check(value, *args, **kwargs):
    if isinstance(value, str):
        _check_percent_format(value, kwargs if kwargs else args)


def _replace_filter_check(value, old=None, new=None, count=None, *_args, **_kwargs):
    if isinstance(value, str) and isinstance(old, str) and isinstance(new, str):
        _check_replace(value, old, new, count)


def _join_filter_check(value, separator="", *_args, **kwargs):
    separator = kwargs.get("d", separator)
    if isinstance(value, list | tuple) and isinstance(separator, str):
        _check_join(separator, value)


_FILTER_CHECKS: dict[str, Callable[..., None]] = {
    "center": _center_check,
    "indent": _indent_check,
    "wordwrap": _wordwrap_check,
    "format": _format_filter_check,
    "replace": _replace_filter_check,
    "join": _join_filter_check,
    "slice": _count_check,
    "batch": _count_check,
}


# Filters that cost the same however long their value is (the lazy ones are paid for as they are consumed).
_CONSTANT_TIME_FILTERS = frozenset({
    "abs", "attr", "count", "d", "default", "first", "float", "int", "items", "last", "length", "map", "reject",
    "rejectattr", "round", "select", "selectattr",
})


def _guard_filter(name: str, original):
    """The filter, with its work counted, its input measured if it makes text of it, and its result accounted."""
    offset = 1 if getattr(original, "jinja_pass_arg", None) is not None else 0
    stringifies = name in _STRINGIFYING_FILTERS
    weighs_value = name not in _CONSTANT_TIME_FILTERS
    check = _FILTER_CHECKS.get(name)

    def guarded(*args, **kwargs):
        _step(_weight(args[offset:offset + 1]) if weighs_value else 1)
        if stringifies:
            for value in args[offset:]:
                printable(value)
            for value in kwargs.values():
                printable(value)
        if check is not None and len(args) > offset:
            check(*args[offset:], **kwargs)
        return _built(original(*args, **kwargs))

    guarded.__name__ = getattr(original, "__name__", name)
    if hasattr(original, "jinja_pass_arg"):
        # The marker Jinja reads to pass the context first; mypy knows no attributes set on a function.
        guarded.jinja_pass_arg = original.jinja_pass_arg  # type: ignore[attr-defined]
    return guarded


# --- the environment --------------------------------------------------------------------------


class EmailSandbox(ImmutableSandboxedEnvironment):
    """The one Jinja environment user-authored email templates are compiled and rendered in."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, *, autoescape: bool):
        super().__init__(autoescape=autoescape, undefined=ReportingUndefined, auto_reload=False, cache_size=0)
        # lipsum builds text of any requested size; email templates have no use for it.
        self.globals.pop("lipsum", None)
        self.filters["date"] = format_date
        for name, original in list(self.filters.items()):
            self.filters[name] = _guard_filter(name, original)
        self.filters["_counted"] = _counted
        self.filters["_concat"] = _concat
        self.filters["_printable"] = printable
        self.filters["_captured"] = _captured

    def _parse(self, source, name, filename):
        tree = super()._parse(source, name, filename)
        _measure_printed_values(tree)
        _count_captured_output(tree)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, "_counted", [], [], None, None, lineno=loop.lineno)
        _route_concatenations(tree)
        return tree

    def call_binop(self, context, operator, left, right):
        _step()
        if operator == "*":
            _check_multiplication(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "%" and isinstance(left, str):
            _check_percent_format(left, right)
        elif operator == "+" and isinstance(left, str) and isinstance(right, str):
            _refuse_size(len(left) + len(right))
        return _built(super().call_binop(context, operator, left, right))

    def wrap_str_format(self, value):
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text, is_format_map = value.__self__, value.__name__ == "format_map"

        def checked(*args, **kwargs):
            mapping = (args[0] if args else {}) if is_format_map else kwargs
            _check_brace_format(text, () if is_format_map else args, mapping if isinstance(mapping, dict) else {})
            return _built(wrapped(*args, **kwargs))

        return checked

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (same signature as the sandbox's)
        _step(_weight(args))
        if isinstance(getattr(__obj, "__self__", None), str | bytes):
            replaced = _check_string_method(__obj, args, kwargs)
            if replaced is not None:
                args = tuple(replaced)
        return _built(super().call(__context, __obj, *args, **kwargs))


_BINDING_NODES = (nodes.Assign, nodes.AssignBlock, nodes.For, nodes.With, nodes.Macro, nodes.CallBlock,
                  nodes.Import, nodes.FromImport)


def _measure_printed_values(tree: nodes.Template) -> None:
    """Route every printed `{{ expression }}` through `_printable`, except plain lookups into the
    context's own data (`{{ item.name }}` in a loop over a context list): the caller's data is plain and
    bounded, whereas anything the template computed may be a collection that is huge as text."""
    sites: dict[str, int] = {}
    for binding in tree.find_all(_BINDING_NODES):
        for name in _bound_names(binding):
            sites[name] = sites.get(name, 0) + 1
    trusted = set(meta.find_undeclared_variables(tree)) - set(sites)
    changed = True
    while changed:
        changed = False
        for loop in tree.find_all(nodes.For):
            target = loop.target
            if (isinstance(target, nodes.Name) and target.name not in trusted and sites.get(target.name) == 1
                    and loop.test is None and not loop.recursive and _looks_up(loop.iter, trusted)):
                trusted.add(target.name)
                changed = True
    for output in tree.find_all(nodes.Output):
        output.nodes = [
            node if isinstance(node, nodes.TemplateData) or _looks_up(node, trusted)
            else nodes.Filter(node, "_printable", [], [], None, None, lineno=node.lineno)
            for node in output.nodes
        ]


def _bound_names(binding: nodes.Node) -> list[str]:
    if isinstance(binding, nodes.Macro):
        return [binding.name, *(arg.name for arg in binding.args)]
    if isinstance(binding, nodes.CallBlock):
        return [arg.name for arg in binding.args]
    if isinstance(binding, nodes.With):
        return [name.name for target in binding.targets for name in target.find_all(nodes.Name)]
    if isinstance(binding, nodes.Import):
        return [binding.target]
    if isinstance(binding, nodes.FromImport):
        return [name[1] if isinstance(name, tuple) else name for name in binding.names]
    assert isinstance(binding, nodes.Assign | nodes.AssignBlock | nodes.For)  # the rest of _BINDING_NODES
    target = binding.target
    return [target.name] if isinstance(target, nodes.Name) else [n.name for n in target.find_all(nodes.Name)]


# Attributes of the context's plain values that are methods or computed values (`name.upper`, `order.items`,
# `sent_at.year`): printing one is not a plain lookup (a method would print its memory address).
_PLAIN_VALUE_ATTRIBUTES = frozenset(
    name for kind in (str, int, float, bool, decimal.Decimal, dt.date, dt.datetime, dt.time, dt.timedelta, dict,
                      list, tuple) for name in dir(kind)
)


def _looks_up(node: nodes.Node, trusted: set[str]) -> bool:
    """`name`, `name.attr`, `name[key]`, ... rooted in a trusted name, with constant keys, and no attribute that
    plain values have of their own."""
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        if isinstance(node, nodes.Getitem) and not isinstance(node.arg, nodes.Const):
            return False
        if isinstance(node, nodes.Getattr) and node.attr in _PLAIN_VALUE_ATTRIBUTES:
            return False
        node = node.node
    return isinstance(node, nodes.Name) and node.name in trusted


_CAPTURES = (nodes.AssignBlock, nodes.Macro, nodes.CallBlock, nodes.FilterBlock)


@pass_context  # never folded into a constant at compile time: it must count at every render
def _captured(_context, value):
    """Output inside `{% set x %}...{% endset %}`, macros and call/filter blocks: it is joined into one
    string out of sight of collect_output, so it counts as built text as it is produced."""
    printable(value)
    size = len(value) if isinstance(value, str) else text_size(value)
    budget = _budget.get()
    if budget is not None:
        budget.built += size
        if budget.built > MAX_BUILT_CHARS:
            raise RenderLimitExceeded(TOO_MUCH_TEXT, chars=MAX_BUILT_CHARS)
    return value


def _count_captured_output(tree: nodes.Template) -> None:
    seen: set[int] = set()
    for capture in tree.find_all(_CAPTURES):
        for output in capture.find_all(nodes.Output):
            if id(output) in seen:
                continue
            seen.add(id(output))
            output.nodes = [
                nodes.Filter(
                    nodes.MarkSafe(nodes.Const(node.data), lineno=node.lineno)
                    if isinstance(node, nodes.TemplateData) else node,
                    "_captured", [], [], None, None, lineno=node.lineno,
                )
                for node in output.nodes
            ]


def _route_concatenations(node: nodes.Node) -> None:
    """Replace every `a ~ b ~ ...` (Concat) below `node` by `[a, b, ...]|_concat`, in one pass over the tree."""

    def measured(concat: nodes.Concat) -> nodes.Filter:
        items = nodes.List(concat.nodes, lineno=concat.lineno)
        return nodes.Filter(items, "_concat", [], [], None, None, lineno=concat.lineno)

    for field_name, value in node.iter_fields():
        if isinstance(value, nodes.Node):
            _route_concatenations(value)
            if isinstance(value, nodes.Concat):
                setattr(node, field_name, measured(value))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, nodes.Node):
                    _route_concatenations(item)
                    if isinstance(item, nodes.Concat):
                        value[index] = measured(item)


HTML_SANDBOX = EmailSandbox(autoescape=True)
TEXT_SANDBOX = EmailSandbox(autoescape=False)
