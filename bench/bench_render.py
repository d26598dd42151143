"""Benchmark: rendering a cached email template through render_email against the floor of a raw,
pre-compiled jinja2.Template.render of the same source.

    /work/main/.venv/bin/python bench/bench_render.py [--seconds 2]

Prints the best per-email times for: the floor (plain jinja2 Environment, subject + HTML + text), the
sandboxed render without CSS inlining (the Jinja sandbox with its limits, in this process), as sent (with
CSS inlining), the same with the text part derived from the HTML (html2text), and resolve_template (the
database lookups). The target: without inlining at most 1.3x the floor.

Then the isolated path (services/sandbox/: every render of a template someone typed runs in a worker
process), side by side with the same renders in this process: a batch of 200 queued emails (one round
trip; target at most 1.5x) and one preview (target at most 5 ms added).
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jinja2  # noqa: E402

from messaging_web import create_app  # noqa: E402
from messaging_web.extensions import db  # noqa: E402
from messaging_web.models import EmailTemplate  # noqa: E402
from messaging_web.services import template_catalog, templates  # noqa: E402
from messaging_web.services.sandbox import rendering  # noqa: E402
from messaging_web.services.sandbox.jinja_sandbox import format_date  # noqa: E402

TEXT_BODY = """Thank you for your order, {{ customer_name }}!

Order {{ order_number }}{% if order_date %} of {{ order_date }}{% endif %}:
{% for item in items %}- {{ item.quantity }} x {{ item.name }}: {{ item.price }} {{ currency }}
{% endfor %}
Total: {{ total }} {{ currency }}
{% if order_url %}View your order: {{ order_url }}{% endif %}
"""


def context(items: int) -> dict:
    return {
        "customer_name": "Alice Martin <alice>",
        "store_name": "Alpine Outfitters",
        "order_number": "A-10045",
        "order_date": "2026-11-24",
        "currency": "EUR",
        "total": "184.50",
        "order_url": "https://shop.example/orders/A-10045",
        "items": [{"name": f"Item {i} & co", "quantity": i % 3 + 1, "price": f"{i}.50"} for i in range(items)],
    }


def measure(functions: dict, seconds: float) -> dict[str, float]:
    """Per-call time (µs) of each function: the variants run in alternating batches (so a busy machine
    slows them alike) and the fastest batch counts (timeit's advice: the minimum is the least disturbed)."""
    batches = {}
    for name, fn in functions.items():
        fn()
        batch = 1
        while True:
            t0 = time.perf_counter()
            for _ in range(batch):
                fn()
            if time.perf_counter() - t0 > 0.02:
                break
            batch *= 2
        batches[name] = batch
    best = {name: float("inf") for name in functions}
    started = time.perf_counter()
    while time.perf_counter() - started < seconds * len(functions):
        for name, fn in functions.items():
            batch = batches[name]
            t0 = time.perf_counter()
            for _ in range(batch):
                fn()
            best[name] = min(best[name], (time.perf_counter() - t0) / batch * 1e6)
    return best


def python_calls(fn) -> int:
    """How many Python-level function calls one run of `fn` makes (after a warm-up run)."""
    fn()
    profile = cProfile.Profile()
    profile.enable()
    fn()
    profile.disable()
    return pstats.Stats(profile).total_calls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-render-"))
    app = create_app({
        "MESSAGING_ENV": "testing", "SECRET_KEY": "bench", "INSTANCE_DIR": str(tmp),
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.sqlite3'}",
    })
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        template_catalog.load_default_templates()
        shipped = db.session.scalar(
            db.select(EmailTemplate).where(
                EmailTemplate.code == "order_confirmation", EmailTemplate.language == "en"
            )
        )
        shipped.body_text = TEXT_BODY
        shipped.updated_at = dt.datetime.now(dt.UTC)
        db.session.commit()
        resolved = templates.resolve_template("order_confirmation", language="en")
        derived = templates.ResolvedTemplate(**{**resolved.__dict__, "body_text": None,
                                                "cache_key": ("bench-derived", 0, 0)})

        floor_env = jinja2.Environment(autoescape=False)
        floor_html_env = jinja2.Environment(autoescape=True)
        for env in (floor_env, floor_html_env):
            env.filters["date"] = format_date  # the one filter the sandbox adds
        floor = (floor_env.from_string(resolved.subject), floor_html_env.from_string(resolved.body_html),
                 floor_env.from_string(resolved.body_text))

        print(f"jinja2 {jinja2.__version__}; template order_confirmation/en "
              f"(HTML {len(resolved.body_html)} chars, text {len(resolved.body_text)} chars); "
              f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (a busy machine blurs small ratios)")
        print(f"{'items':>6} {'floor µs':>10} {'no-inline µs':>13} {'ratio':>6} {'inlined µs':>11} {'ratio':>6} "
              f"{'derived text µs':>16} {'ratio':>6}")
        for items in (2, 20, 200):
            ctx = context(items)
            # The ratio's two sides alternate on their own, so the heavy variants do not disturb them.
            times = measure({
                "floor": lambda ctx=ctx: (floor[0].render(ctx), floor[1].render(ctx), floor[2].render(ctx)),
                "plain": lambda ctx=ctx: in_process(resolved, ctx, inline=False),
            }, args.seconds)
            times |= measure({
                "inlined": lambda ctx=ctx: in_process(resolved, ctx),
                "derived": lambda ctx=ctx: in_process(derived, ctx),
            }, args.seconds / 2)
            floor_us = times["floor"]
            print(f"{items:>6} {floor_us:>10.1f} {times['plain']:>13.1f} {times['plain'] / floor_us:>6.2f} "
                  f"{times['inlined']:>11.1f} {times['inlined'] / floor_us:>6.2f} "
                  f"{times['derived']:>16.1f} {times['derived'] / floor_us:>6.2f}")
        ctx = context(200)
        floor_calls = python_calls(lambda: (floor[0].render(ctx), floor[1].render(ctx), floor[2].render(ctx)))
        plain_calls = python_calls(lambda: in_process(resolved, ctx, inline=False))
        print(f"python function calls per email, 200 items (independent of load): floor {floor_calls}, "
              f"no-inline {plain_calls} ({plain_calls / floor_calls:.2f}x)")
        resolve = measure({"resolve": lambda: templates.resolve_template("order_confirmation", language="fr")},
                          args.seconds)
        print(f"resolve_template (SQLite, platform template, 2 queries): {resolve['resolve']:.1f} µs")
        print("target: no-inline ratio <= 1.30")

        print("\nisolated (a sandbox worker process) next to the same render in this process, CSS inlined:")
        batch = [(resolved, context(20 + i % 5)) for i in range(200)]
        templates.render_emails(batch)  # the workers are started and have compiled the template
        times = measure({
            "in-process": lambda: [in_process(t, c) for t, c in batch],
            "isolated": lambda: templates.render_emails(batch),
        }, args.seconds)
        print(f"batch of 200 queued emails: in-process {times['in-process'] / 1000:.1f} ms, isolated "
              f"{times['isolated'] / 1000:.1f} ms, ratio {times['isolated'] / times['in-process']:.2f} (target <= 1.5)")
        ctx = context(20)
        times = measure({
            "in-process": lambda: in_process(resolved, ctx),
            "isolated": lambda: templates.render_email(resolved, ctx),
        }, args.seconds)
        added = (times["isolated"] - times["in-process"]) / 1000
        print(f"one preview: in-process {times['in-process'] / 1000:.2f} ms, isolated {times['isolated'] / 1000:.2f} ms, "
              f"added {added:.2f} ms (target <= 5)")


def in_process(template: templates.ResolvedTemplate, ctx: dict, *, inline: bool = True):
    """The render a sandbox worker runs, in this process: the floor of the isolated path."""
    return rendering.render(template.subject, template.body_html, template.body_text, variables=template.variables,
                            cache_key=template.cache_key, context=ctx, inline=inline)


if __name__ == "__main__":
    main()
