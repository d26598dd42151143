"""The migrations build exactly the schema the models describe (no drift)."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from messaging_web.extensions import db
from messaging_web.models.base import include_object_for


def test_migrated_schema_matches_the_models(ctx):
    with db.engine.connect() as conn:
        # The same filter as migrations/env.py: PostgreSQL-only indexes are not expected on SQLite.
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": include_object_for(conn.dialect.name)}
        )
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_schema_is_at_the_latest_revision(ctx):
    from alembic.script import ScriptDirectory
    from flask import current_app

    config = current_app.extensions["migrate"].migrate.get_config()
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"migrations have several heads: {heads}"
    with db.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_heads() == tuple(heads)
