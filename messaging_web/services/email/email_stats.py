"""The email log's daily roll-ups (models/email_stats.py): the fold job that sums the triggers' deltas into them,
and the one query that reads them (with the deltas not folded yet, so that figures are never behind the log)."""
from __future__ import annotations

import datetime as dt
from typing import cast

import sqlalchemy as sa

from ...extensions import db
from ...models import EmailDailyStats, EmailDailyStatsAllStores, EmailDailyStatsPerStore, EmailStatDelta
from ...models.email_stats import STAGES

KEYS = ("day", "store_key", "template_code", "category", "reports_delivery")
ROLL_UPS = {  # each roll-up and the key it sums the deltas by
    EmailDailyStats.__table__: KEYS,
    EmailDailyStatsAllStores.__table__: ("day", "template_code", "category", "reports_delivery"),
    EmailDailyStatsPerStore.__table__: ("day", "store_key", "reports_delivery"),
}
SMALLEST_FIRST = (EmailDailyStatsAllStores.__table__, EmailDailyStatsPerStore.__table__, EmailDailyStats.__table__)
FOLD_BATCH = 50_000


def _upsert_from(source: str, table: sa.Table, keys: tuple[str, ...]) -> str:
    """INSERT INTO the roll-up the deltas of `source` (a table or CTE name) summed by its key, adding to the rows
    that exist."""
    updates = ", ".join(f"{stage} = {table.name}.{stage} + excluded.{stage}" for stage in STAGES)
    return (f"INSERT INTO {table.name} ({', '.join(keys + STAGES)}) "
            f"SELECT {', '.join(keys)}, {', '.join(f'sum({stage})' for stage in STAGES)} FROM {source} "
            f"{{where}} GROUP BY {', '.join(keys)} ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}")


def fold(limit: int = FOLD_BATCH) -> int:
    """Sum up to `limit` deltas into the roll-ups and delete them, in one transaction; returns how many.
    Commits. On PostgreSQL the deltas are taken with SKIP LOCKED in the statement that deletes them, so
    concurrent folds (two beats, a fold and a manual run) never count one twice; SQLite writes one at a time."""
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        inserts = ", ".join(f"fold_{n} AS ({_upsert_from('moved', table, keys).format(where='')})"
                            for n, (table, keys) in enumerate(ROLL_UPS.items()))
        result = session.execute(sa.text(
            f"WITH moved AS (DELETE FROM email_stat_deltas WHERE id IN (SELECT id FROM email_stat_deltas ORDER BY id "
            f"LIMIT :limit FOR UPDATE SKIP LOCKED) RETURNING *), {inserts} SELECT count(*) FROM moved"
        ), {"limit": limit})
        moved = result.scalar() or 0
    else:
        last = session.scalar(sa.text("SELECT id FROM email_stat_deltas ORDER BY id LIMIT 1 OFFSET :n"),
                              {"n": limit - 1})
        bound = "WHERE id <= :last" if last is not None else ""
        params = {"last": last} if last is not None else {}
        for table, keys in ROLL_UPS.items():
            session.execute(sa.text(_upsert_from("email_stat_deltas", table, keys).format(where=bound)), params)
        delete = sa.text(f"DELETE FROM email_stat_deltas {bound}")
        moved = cast(sa.CursorResult, session.execute(delete, params)).rowcount or 0
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
    """A query of the roll-ups and the deltas not folded yet, summed by `group_by` (names of key columns), from
    the day `since` on, for one store (its id; 0 for the platform's own emails) or all; besides the stages,
    `sent_reporting` counts the sent emails whose provider reports deliveries. It reads the smallest roll-up
    that holds the key it needs."""
    needed = set(group_by) | ({"store_key"} if store_key is not None else set())
    roll_up = next(table for table in SMALLEST_FIRST if needed <= set(ROLL_UPS[table]))
    columns = tuple(sorted(needed | {"day", "reports_delivery"}))
    parts = []
    for table in (roll_up, EmailStatDelta.__table__):
        conditions = [table.c.day >= since]
        if store_key is not None:
            conditions.append(table.c.store_key == store_key)
        parts.append(sa.select(*(table.c[name] for name in columns + STAGES)).where(*conditions))
    both = sa.union_all(*parts).subquery()
    keys = [both.c[name] for name in group_by]
    sums = [sa.func.coalesce(sa.func.sum(both.c[stage]), 0).label(stage) for stage in STAGES]
    reporting = sa.func.coalesce(
        sa.func.sum(sa.case((both.c.reports_delivery.is_(True), both.c.sent), else_=0)), 0
    ).label("sent_reporting")
    return sa.select(*keys, *sums, reporting).group_by(*keys)
