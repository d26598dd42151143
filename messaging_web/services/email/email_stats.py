"""The email log's daily roll-ups (models/email_stats.py): the fold job that sums the triggers' deltas into them,
and the one query that reads them (with the deltas not folded yet, so that figures are never behind the log)."""
from __future__ import annotations

import datetime as dt
from typing import cast

import sqlalchemy as sa

from ...extensions import db
from ...models import (
    EmailDailyStats,
    EmailDailyStatsAllStores,
    EmailDailyStatsPerStore,
    EmailStatDelta,
    EmailWeeklyStatsPerStore,
)
from ...models.email_stats import STAGES

KEYS = ("day", "store_key", "template_code", "category", "reports_delivery")
ROLL_UPS = {  # each roll-up and the key it sums the deltas by
    EmailDailyStats.__table__: KEYS,
    EmailDailyStatsAllStores.__table__: ("day", "template_code", "category", "reports_delivery"),
    EmailDailyStatsPerStore.__table__: ("day", "store_key", "reports_delivery"),
    EmailWeeklyStatsPerStore.__table__: ("week", "store_key", "reports_delivery"),
}
SMALLEST_FIRST = (EmailDailyStatsAllStores.__table__, EmailDailyStatsPerStore.__table__, EmailDailyStats.__table__)
WEEKLY = EmailWeeklyStatsPerStore.__table__
DAILY_PER_STORE = EmailDailyStatsPerStore.__table__
FOLD_BATCH = 50_000


def _week_of(day: str, dialect: str) -> str:
    """The Monday of the week of `day` (an SQL expression), as migration 0015 writes it."""
    if dialect == "postgresql":
        return f"CAST(date_trunc('week', {day}) AS date)"
    return f"date({day}, '-6 days', 'weekday 1')"


def _upsert_from(source: str, table: sa.Table, keys: tuple[str, ...], dialect: str) -> str:
    """INSERT INTO the roll-up the deltas of `source` (a table or CTE name) summed by its key, adding to the rows
    that exist."""
    selected = ", ".join(_week_of("day", dialect) if key == "week" else key for key in keys)
    updates = ", ".join(f"{stage} = {table.name}.{stage} + excluded.{stage}" for stage in STAGES)
    return (f"INSERT INTO {table.name} ({', '.join(keys + STAGES)}) "
            f"SELECT {selected}, {', '.join(f'sum({stage})' for stage in STAGES)} FROM {source} "
            f"{{where}} GROUP BY {selected} ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}")


def fold(limit: int = FOLD_BATCH) -> int:
    """Sum up to `limit` deltas into the roll-ups and delete them, in one transaction; returns how many.
    Commits. On PostgreSQL the deltas are taken with SKIP LOCKED in the statement that deletes them, so
    concurrent folds (two beats, a fold and a manual run) never count one twice; SQLite writes one at a time."""
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        inserts = ", ".join(f"fold_{n} AS ({_upsert_from('moved', table, keys, 'postgresql').format(where='')})"
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
            upsert = _upsert_from("email_stat_deltas", table, keys, "sqlite").format(where=bound)
            session.execute(sa.text(upsert), params)
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


def summed_per_store(*, since: dt.date, today: dt.date) -> sa.Select:
    """The stage counts of every store from `since` to `today`, one row per store: whole weeks (Monday to Sunday)
    from the weekly roll-up, the days before the first and after the last from the daily one, and the deltas not
    folded yet. A 90-day period reads about 13 + 6 rows per store instead of 90."""
    first_week = since + dt.timedelta(days=(7 - since.weekday()) % 7)  # the first Monday on or after `since`
    end = today + dt.timedelta(days=1)  # the first day after the period
    last_week_end = end - dt.timedelta(days=end.weekday())  # the Monday after the last whole week
    columns = ("store_key", "reports_delivery", *STAGES)
    daily, weekly, deltas = DAILY_PER_STORE, WEEKLY, EmailStatDelta.__table__
    parts = [sa.select(*(deltas.c[name] for name in columns)).where(deltas.c.day >= since)]
    if first_week < last_week_end:
        parts += [
            sa.select(*(weekly.c[name] for name in columns)).where(weekly.c.week >= first_week,
                                                                   weekly.c.week < last_week_end),
            sa.select(*(daily.c[name] for name in columns)).where(
                sa.or_(sa.and_(daily.c.day >= since, daily.c.day < first_week), daily.c.day >= last_week_end)),
        ]
    else:  # no whole week in the period
        parts.append(sa.select(*(daily.c[name] for name in columns)).where(daily.c.day >= since))
    return _sums(sa.union_all(*parts).subquery(), ("store_key",))


def _sums(both, group_by: tuple[str, ...]) -> sa.Select:
    keys = [both.c[name] for name in group_by]
    sums = [sa.func.coalesce(sa.func.sum(both.c[stage]), 0).label(stage) for stage in STAGES]
    reporting = sa.func.coalesce(
        sa.func.sum(sa.case((both.c.reports_delivery.is_(True), both.c.sent), else_=0)), 0
    ).label("sent_reporting")
    return sa.select(*keys, *sums, reporting).group_by(*keys)


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
    return _sums(sa.union_all(*parts).subquery(), group_by)
