"""User-authored templates cannot escape the sandbox or run away: classic injection payloads are refused
with a message the editor shows, and templates that would do unbounded work or build huge text are stopped."""
from __future__ import annotations

import time

import pytest

from messaging_web.services.sandbox import rendering
from messaging_web.services.templates import TemplateRenderError, TemplateSource, preview_template, render_email

INJECTION_PAYLOADS = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.os.popen('id').read() }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ ''|attr('__class__') }}",
    "{{ ''|attr('__class__')|attr('__mro__') }}",
    "{{ config }}",
    "{{ config.items() }}",
    "{{ request }}",
    "{{ request.application.__globals__ }}",
    "{{ self.__init__.__globals__ }}",
    "{{ '{0.__class__}'.format('') }}",
    "{{ '{0.__class__.__mro__}'.format(name) }}",
    "{{ '{x.__class__}'.format_map({'x': name}) }}",
    "{{ name.__class__.__base__.__subclasses__() }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ range.__self__ }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{% if ''.__class__ %}leak{% endif %}",
    "{{ dict.__base__ }}",
    "{{ (name|list).pop() }}",
]


@pytest.mark.parametrize("payload", INJECTION_PAYLOADS)
def test_injection_payload_renders_nothing_dangerous(payload):
    source = TemplateSource("Subject", f"<p>{payload}</p>", None, ["name"])
    with pytest.raises(TemplateRenderError) as err:
        render_email(source.as_resolved(), {"name": "Ann"})
    message = err.value.message
    assert message.startswith("HTML body: ")
    assert any(reason in message for reason in ("refused by the sandbox", "is undefined", "has no attribute"))
    assert "class '" not in message and "function " not in message.split(":", 1)[1].replace("'function object'", "")


@pytest.mark.parametrize("payload", INJECTION_PAYLOADS[:6])
def test_injection_payload_in_the_subject_is_refused_too(payload):
    source = TemplateSource(payload, "<p>x</p>", None, ["name"])
    with pytest.raises(TemplateRenderError, match="^Subject: "):
        render_email(source.as_resolved(), {"name": "Ann"})


def test_the_preview_says_the_sandbox_refused():
    source = TemplateSource("Hi", "<p>{{ ''.__class__.__mro__ }}</p>", None)
    preview = preview_template(source, {})
    assert preview.email is None
    assert preview.problems == [
        "HTML body: refused by the sandbox: access to attribute '__class__' of 'str' object is unsafe."
    ]


RUNAWAY_PAYLOADS = {
    "string times a billion": "{{ 'x' * 10**9 }}",
    "huge power": "{{ 10 ** 100000 }}",
    "repeated squaring": "{% set ns = namespace(n=10) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}{% endfor %}",
    "nested range loops": "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
    "nested loops over a big list": "{% set a = [0] * 100000 %}{% for x in a %}{% for y in a %}{% endfor %}{% endfor %}",
    "doubling by concatenation": "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
                                 "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
    "doubling by addition": "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
    "center filter": "{{ 'x'|center(1000000000) }}",
    "indent filter": "{{ 'a\nb'|indent(1000000000) }}",
    "percent format width": "{{ '%999999999s' % 'x' }}",
    "format filter width": "{{ '%999999999s'|format('x') }}",
    "format filter named width": "{{ '%(a)999999999s'|format(a='x') }}",
    "percent format named precision": "{{ '%(a).999999999f' % {'a': 1.5} }}",
    "brace format precision": "{{ '{:.999999999f}'.format(1.5) }}",
    "brace format width": "{{ '{:>999999999}'.format('x') }}",
    "nested brace format width": "{{ '{:>{w}}'.format('x', w=999999999) }}",
    "str.ljust": "{{ 'x'.ljust(999999999) }}",
    "replace empty": "{{ ('x' * 100000).replace('', 'y' * 100000) }}",
    "join of a huge list": "{{ (['x' * 1000] * 100000)|join('') }}",
    "join with a huge separator": "{{ ([1] * 100000)|join('x' * 100000) }}",
    "slice into a billion": "{{ [1, 2]|slice(1000000000)|list }}",
    "output of a loop": "{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}",
    "printing a list of shared large strings": "{{ ['x' * 1000000] * 100000 }}",
    "printing a dict of shared large strings": "{{ dict.fromkeys(range(100000), 'x' * 1000000) }}",
    "string filter on a list of shared strings": "{{ (['x' * 1000000] * 1000)|string|length }}",
    "tojson of shared strings": "{{ (['x' * 1000000] * 1000)|tojson|length }}",
    "concatenating a shared list": "{{ 'a' ~ (['x' * 1000000] * 1000) }}",
    "many concatenated large strings": "{% set s = 'x' * 1000000 %}{{ (s ~ s ~ s)|length }}",
    "percent format of shared strings": "{{ '%s' % ((['x' * 1000000] * 1000),) }}",
    "percent fields times a large value": "{{ ('%(a)s' * 1000) % {'a': 'x' * 1000000} }}",
    "format filter fields times a large value": "{{ ('%s' * 1000)|format(*(['x' * 1000000] * 1000)) }}",
    "brace fields times a large value": "{{ ('{0}' * 100000).format('x' * 1000) }}",
    "many large strings kept in a list": "{{ range(100000)|map('center', 1000000)|list|length }}",
    "indent with a large string per line": "{{ ('a\n' * 100000)|indent('x' * 100000) }}",
    "wordwrap with a large wrap string": "{{ ('x' * 100000)|wordwrap(1, true, 'y' * 100000) }}",
    "work on nested shared lists": "{% set a = range(100000)|list %}{{ ([a] * 100000)|map('sum')|sum }}",
    "membership tests in a loop": "{% set a = range(100000)|list %}{% for i in range(100000) %}"
                                  "{% if -1 in a %}{% endif %}{% endfor %}",
    "printing a loop item the template built": "{% for x in [['x' * 1000000] * 1000] %}{{ x }}{% endfor %}",
    "printing a batch padded with a large string": "{% for chunk in [1]|batch(100000, 'x' * 1000000) %}"
                                                   "{{ chunk }}{% endfor %}",
    "printing through a namespace": "{% set ns = namespace(v=['x' * 1000000] * 1000) %}{{ ns.v }}",
    "infinite recursion": "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "exponential recursion": "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}",
}


@pytest.mark.parametrize("payload", list(RUNAWAY_PAYLOADS.values()), ids=list(RUNAWAY_PAYLOADS))
def test_runaway_template_is_stopped_by_the_sandbox_itself_with_a_clear_message(payload):
    # The first wall, in this process: the worker process around it (tests/security) is the second.
    started = time.monotonic()
    with pytest.raises(rendering.RenderProblem, match=r"^HTML body: stopped because ") as err:
        rendering.render("Subject", payload, None, variables=[], cache_key=(), context={})
    assert time.monotonic() - started < 3  # stopped before allocating: no gigabyte strings were built
    assert err.value.refused
    assert "\n" not in err.value.message


def test_a_long_but_reasonable_email_renders():
    items = [{"name": f"Item {i}", "price": i} for i in range(2000)]
    source = TemplateSource("Order", "<ul>{% for i in items %}<li>{{ i.name }}: {{ i.price }}</li>{% endfor %}</ul>",
                            None, ["items"])
    email = render_email(source.as_resolved(), {"items": items})
    assert email.html.count("<li>") == 2000


def test_user_errors_in_templates_are_messages_not_crashes():
    for body, expected in [
        ("{{ 1 / 0 }}", "HTML body: ZeroDivisionError: division by zero"),
        ("{{ 'a' + 1 }}", "HTML body: TypeError:"),
        ("{{ nope() }}", "HTML body: 'nope' is undefined"),
    ]:
        with pytest.raises(TemplateRenderError, match=expected.replace("(", r"\(")):
            render_email(TemplateSource("s", body, None).as_resolved(), {})


def test_templates_cannot_include_or_import_other_templates():
    for body in ("{% include 'admin/home.html' %}", "{% extends 'base.html' %}", "{% import 'x.html' as x %}"):
        with pytest.raises(TemplateRenderError, match="^HTML body: "):
            render_email(TemplateSource("s", body, None).as_resolved(), {})


def test_compiling_a_template_with_many_concatenations_stays_fast():
    body = "{{ " + " ~ ".join(["'a'"] * 5000) + " }}"
    started = time.monotonic()
    email = render_email(TemplateSource("s", body, None).as_resolved(), {})
    assert time.monotonic() - started < 3
    assert "a" * 5000 in email.html


def test_deeply_nested_template_is_a_message_not_a_crash():
    body = "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}"
    preview = preview_template(TemplateSource("s", body, None), {})
    assert preview.email is None and preview.problems and preview.problems[0].startswith("HTML body: ")


def test_rendered_subject_is_one_line_and_fits_the_email_log():
    source = TemplateSource("{{ a }}\r\nBcc: victim@example.com {{ 'x' * 600 }}", "<p>x</p>", None, ["a"])
    subject = render_email(source.as_resolved(), {"a": "Hi"}).subject
    assert "\n" not in subject and "\r" not in subject and len(subject) == 500 and subject.endswith("…")


def test_a_name_the_template_assigns_is_measured_even_if_the_context_has_it():
    source = TemplateSource("s", "{% set items = ['x' * 1000000] * 1000 %}{{ items }}", None, ["items"])
    with pytest.raises(TemplateRenderError, match="would print a value of more than"):
        render_email(source.as_resolved(), {"items": ["a"]})


def test_context_data_prints_as_given():
    source = TemplateSource("s", "{{ tags }} {% for m in messages %}{{ m.parts }}{% endfor %}", None, ["tags", "messages"])
    email = render_email(source.as_resolved(), {"tags": ["a", "b"], "messages": [{"parts": [1, 2]}]})
    assert "['a', 'b'] [1, 2]" in email.text


@pytest.mark.parametrize("body", [
    "{% set x %}{% for i in range(100000) %}{{ s }}{% endfor %}{% endset %}{{ x|length }}",
    "{% set x %}{% for i in range(100000) %}" + "y" * 1000 + "{% endfor %}{% endset %}{{ x|length }}",
    "{% macro m() %}{% for i in range(100000) %}{{ s }}{% endfor %}{% endmacro %}{{ m()|length }}",
    "{% filter upper %}{% for i in range(100000) %}{{ s }}{% endfor %}{% endfilter %}",
])
def test_text_captured_in_blocks_and_macros_counts_toward_the_limits(body):
    source = TemplateSource("s", body, None, ["s"])
    started = time.monotonic()
    with pytest.raises(TemplateRenderError, match="stopped because the template builds more than"):
        render_email(source.as_resolved(), {"s": "y" * 1000})
    assert time.monotonic() - started < 3


def test_blocks_and_macros_still_render():
    body = ("{% macro line(m) %}<li>{{ m.name }}</li>{% endmacro %}{% set title %}Hi {{ who }}{% endset %}"
            "<h1>{{ title }}</h1><ul>{% for m in items %}{{ line(m) }}{% endfor %}</ul>{% filter upper %}bye{% endfilter %}")
    source = TemplateSource("s", body, None, ["who", "items"])
    html = render_email(source.as_resolved(), {"who": "<Ann>", "items": [{"name": "a&b"}]}).html
    assert "<h1>Hi &lt;Ann&gt;</h1>" in html and "<li>a&amp;b</li>" in html and "BYE" in html
