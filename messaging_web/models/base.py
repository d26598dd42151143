"""Column types and mixins shared by every model: tz-aware UTC timestamps, enum columns."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, ClassVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db

if TYPE_CHECKING:
    from flask_sqlalchemy.model import Model as _FlaskModel
    from sqlalchemy.orm import DeclarativeBase

    class Model(DeclarativeBase, _FlaskModel):
        """db.Model as the type checker sees it: a declarative base with Flask-SQLAlchemy's additions."""

        __table__: ClassVar[sa.Table]  # every model here maps one table

else:
    # The base of every model. Spelt as a name because mypy takes no attribute of an object as a base class
    # (python/mypy#8603).
    Model = db.Model

# Every id is an INTEGER column: PostgreSQL refuses a larger parameter for one, SQLite one beyond 2**63
# (OverflowError). An id or id cursor from outside is kept within this before it reaches a query.
LARGEST_ID = 2**31 - 1


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


def include_object_for(dialect_name: str):
    """Alembic's include_object hook for a database of `dialect_name`: a schema item declared for other
    databases only (`.ddl_if(dialect=...)`, such as PostgreSQL's trigram indexes) is not compared there,
    so autogenerate and the drift test see no difference where the migrations rightly created nothing."""

    def include_object(obj, name, type_, reflected, compare_to) -> bool:
        only = getattr(obj, "_ddl_if", None)
        if only is None or only.dialect is None:
            return True
        return dialect_name == only.dialect if isinstance(only.dialect, str) else dialect_name in only.dialect

    return include_object


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


event.listen(Model, "load", _mark_loaded_datetimes_utc, propagate=True)
event.listen(Model, "refresh", _mark_loaded_datetimes_utc, propagate=True)
