"""Column types and mixins shared by every model: tz-aware UTC timestamps, enum columns."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def in_list_check(column: str, values: list[str], name: str) -> sa.CheckConstraint:
    quoted = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({quoted})", name=name)


def enum_column_type(enum_cls, name: str) -> sa.Enum:
    """A portable enum: VARCHAR + CHECK on every database, storing the member's value."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)


_datetime_keys: dict[type, tuple[str, ...]] = {}


def _datetime_columns(cls) -> tuple[str, ...]:
    keys = _datetime_keys.get(cls)
    if keys is None:
        keys = tuple(
            attr.key
            for attr in sa.inspect(cls).column_attrs
            if isinstance(attr.columns[0].type, sa.DateTime)
        )
        _datetime_keys[cls] = keys
    return keys


def _mark_loaded_datetimes_utc(target, *_args) -> None:
    # SQLite has no time zones and hands back naive datetimes; we only ever store UTC, so say so.
    state = target.__dict__
    for key in _datetime_columns(type(target)):
        value = state.get(key)
        if value is not None and value.tzinfo is None:
            state[key] = value.replace(tzinfo=dt.UTC)


event.listen(db.Model, "load", _mark_loaded_datetimes_utc, propagate=True)
event.listen(db.Model, "refresh", _mark_loaded_datetimes_utc, propagate=True)
