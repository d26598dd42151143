"""The email log's daily roll-up (models/email_stats.py): the fold job that sums the triggers' deltas into it,
and the one query that reads it (with the deltas not folded yet, so that figures are never behind the log)."""
from __future__ import annotations

import datetime as dt
from typing import cast

import sqlalchemy as sa

from ...extensions import db
from ...models import EmailDailyStats, EmailStatDelta
from ...models.email_stats import STAGES

KEYS = ("day", "store_key", "template_code", "category", "reports_delivery")
FOLD_BATCH = 50_000


def fold(limit: int = FOLD_BATCH) -> int:
    """Sum up to `limit` deltas into the roll-up and delete them, in one transaction; returns how many.
    Commits. On PostgreSQL the deltas are taken with SKIP LOCKED in the statement that deletes them, so
    concurrent folds (two beats, a fold and a manual run) never count one twice; SQLite writes one at a time."""
    columns = ", ".join(KEYS + STAGES)
    sums = ", ".join(f"sum({stage})" for stage in STAGES)
    updates = ", ".join(f"{stage} = email_daily_stats.{stage} + excluded.{stage}" for stage in STAGES)
    conflict = f"ON CONFLICT ({', '.join(KEYS)}) DO UPDATE SET {updates}"
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        result = session.execute(sa.text(
            f"WITH moved AS (DELETE FROM email_stat_deltas WHERE id IN (SELECT id FROM email_stat_deltas ORDER BY id "
            f"LIMIT :limit FOR UPDATE SKIP LOCKED) RETURNING *), "
            f"folded AS (INSERT INTO email_daily_stats ({columns}) SELECT {', '.join(KEYS)}, {sums} FROM moved "
            f"GROUP BY {', '.join(KEYS)} {conflict}) SELECT count(*) FROM moved"
        ), {"limit": limit})
        moved = result.scalar() or 0
    else:
        last = session.scalar(sa.text("SELECT id FROM email_stat_deltas ORDER BY id LIMIT 1 OFFSET :n"),
                              {"n": limit - 1})
        bound = "id <= :last" if last is not None else "1 = 1"
        params = {"last": last} if last is not None else {}
        session.execute(sa.text(
            f"INSERT INTO email_daily_stats ({columns}) SELECT {', '.join(KEYS)}, {sums} FROM email_stat_deltas "
            f"WHERE {bound} GROUP BY {', '.join(KEYS)} {conflict}"
        ), params)
        delete = sa.text(f"DELETE FROM email_stat_deltas WHERE {bound}")
        deleted = cast(sa.CursorResult, session.execute(delete, params))
        moved = deleted.rowcount or 0
    session.commit()
    return moved


def fold_all() -> int:
    """Fold until no delta is left (the scheduled job)."""
    total = 0
    while True:
        moved = fold()
        total += moved
        if moved < FOLD_BATCH:
            return total


def summed(group_by: tuple[str, ...], *, since: dt.date, store_key: int | None = None) -> sa.Select:
    """A query of the roll-up and the deltas not folded yet, summed by `group_by` (names of key columns), from
    the day `since` on, for one store (its id; 0 for the platform's own emails) or all; besides the stages,
    `sent_reporting` counts the sent emails whose provider reports deliveries."""
    parts = []
    for table in (EmailDailyStats.__table__, EmailStatDelta.__table__):
        conditions = [table.c.day >= since]
        if store_key is not None:
            conditions.append(table.c.store_key == store_key)
        parts.append(sa.select(*(table.c[name] for name in KEYS + STAGES)).where(*conditions))
    both = sa.union_all(*parts).subquery()
    keys = [both.c[name] for name in group_by]
    sums = [sa.func.coalesce(sa.func.sum(both.c[stage]), 0).label(stage) for stage in STAGES]
    reporting = sa.func.coalesce(
        sa.func.sum(sa.case((both.c.reports_delivery.is_(True), both.c.sent), else_=0)), 0
    ).label("sent_reporting")
    return sa.select(*keys, *sums, reporting).group_by(*keys)
