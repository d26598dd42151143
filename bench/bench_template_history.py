"""Benchmark: a template's history page and the comparison of two 50 KB versions, next to their floors.

A store version of `order_shipped` is saved 30 times with a 50 KB HTML body (each save changing a few
lines), then through the real app (Flask test client, signed in as the store's owner) this times:
- the history page (30 versions) against its floor: one hand-written SELECT of the same columns and the rows
  joined into escaped HTML;
- the comparison of two 50 KB versions (the diff of each part and both versions rendered in the sandboxed
  preview) against its floor: difflib.unified_diff of the same two bodies, escaped and joined.
It also counts the INSERTs one save makes into template_versions (target: at most one).

    /work/main/.venv/bin/python bench/bench_template_history.py
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/history_bench  (default: a SQLite file)

Targets (issue 15): history page and the diff of two 50 KB versions each within 50 ms. Each version's rendered
preview is a fragment the comparison page loads after it; its time is reported too.
"""
from __future__ import annotations

import difflib
import html
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import jinja2
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from messaging_web import create_app  # noqa: E402
from messaging_web.extensions import db  # noqa: E402
from messaging_web.models import Store, TemplateVersion  # noqa: E402
from messaging_web.services import accounts, template_catalog, templates  # noqa: E402

SAVES = 30
ROUNDS = 40


def body(revision: int) -> str:
    """About 50 KB of HTML: 700 lines, a few of which each revision changes."""
    lines = [f"<p>Line {i}: your order {{{{ order_number }}}} is packed with care by our team.</p>"
             for i in range(700)]
    for i in range(0, 700, 100):
        lines[(i + revision) % 700] = f"<p>Revision {revision} changed line {i}.</p>"
    return "\n".join(lines)


def timed(fn) -> list[float]:
    fn()
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def report(name: str, samples: list[float], floor: list[float], *, target_ms: float | None = 50) -> None:
    p50, f50 = statistics.median(samples), statistics.median(floor)
    verdict = "no target" if target_ms is None else f"target {target_ms:g} ms: {'met' if p50 <= target_ms else 'NOT met'}"
    print(f"   {name:<14} p50 {p50:7.2f} ms  min {min(samples):7.2f} ms | floor p50 {f50:6.2f} ms"
          f"  min {min(floor):6.2f} ms | {p50 / f50:5.1f}x the floor | {verdict}")


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-history-"))
    url = os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{tmp / 'bench.sqlite3'}")
    if url.startswith("postgresql"):
        target = sa.make_url(url)
        admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
        admin.dispose()
    app = create_app({"MESSAGING_ENV": "testing", "SECRET_KEY": "bench", "INSTANCE_DIR": str(tmp),
                      "SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False,
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        template_catalog.load_default_templates()
        store = Store(name="Bench shop", slug="bench", tier="starter", default_language="en")
        db.session.add(store)
        db.session.flush()
        accounts.create_store_user(store, "owner@bench.test", "Owen", "bench-password")
        base = templates.customizable_platform_template("order_shipped", "en")
        inserts = []
        sa.event.listen(db.engine, "before_cursor_execute",
                        lambda _c, _cur, statement, *_: inserts.append(statement))
        for revision in range(SAVES):
            inserts.clear()
            templates.save_store_override(store.id, base, templates.OverrideInput(
                subject=f"Parcel {{{{ order_number }}}} (revision {revision})", body_html=body(revision),
                body_text=None, author_name="Owen", note=f"revision {revision}"))
        version_inserts = sum(s.lstrip().upper().startswith("INSERT INTO TEMPLATE_VERSIONS") for s in inserts)
        db.session.commit()
        ids = db.session.scalars(sa.select(TemplateVersion.id).where(TemplateVersion.store_id == store.id)
                                 .order_by(TemplateVersion.number)).all()
        older_id, newer_id = ids[-2], ids[-1]

    client = app.test_client()
    client.post("/store/bench/login", data={"email": "owner@bench.test", "password": "bench-password"})
    history_url = "/store/bench/templates/order_shipped/en/history"
    compare_url = f"{history_url}/compare?a={older_id}&b={newer_id}"
    assert client.get(history_url).status_code == 200 and client.get(compare_url).status_code == 200

    def history_page():
        assert client.get(history_url).status_code == 200

    def compare_page():
        assert client.get(compare_url).status_code == 200

    def history_floor():
        with app.app_context():
            rows = db.session.execute(sa.text(
                "SELECT number, action, created_at, author_name, note FROM template_versions "
                "WHERE store_id = :store AND template_code = 'order_shipped' AND language = 'en' "
                "ORDER BY number DESC LIMIT 200"), {"store": store.id}).all()
            "".join(f"<tr><td>{n}</td><td>{a}</td><td>{c}</td><td>{html.escape(w or '')}</td>"
                    f"<td>{html.escape(t or '')}</td></tr>" for n, a, c, w, t in rows)

    older_body, newer_body = body(SAVES - 2), body(SAVES - 1)

    def compare_floor():
        lines = difflib.unified_diff(older_body.splitlines(), newer_body.splitlines(), lineterm="", n=2)
        "".join(f"<span>{html.escape(line)}</span>\n" for line in lines)

    preview_url = f"{history_url}/{newer_id}/preview"
    floor_template = jinja2.Environment(autoescape=True).from_string(newer_body)

    def preview_fragment():
        assert client.get(preview_url).status_code == 200

    def preview_floor():
        floor_template.render(order_number="A-10045")

    print(f"== template history: {SAVES} versions of a {len(body(0)) / 1024:.0f} KB template "
          f"({sa.make_url(url).get_backend_name()}); {version_inserts} INSERT into template_versions per save "
          f"(target: at most 1)")
    report("history page", timed(history_page), timed(history_floor))
    report("compare 50 KB", timed(compare_page), timed(compare_floor))
    # Each version's rendering loads after the diff, as a fragment of its own (sandbox worker, CSS inlining
    # and the derived text part); its floor is a plain jinja2 render of the same body.
    report("one preview", timed(preview_fragment), timed(preview_floor), target_ms=None)


if __name__ == "__main__":
    main()
