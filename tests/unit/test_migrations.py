"""The migrations build exactly the schema the models describe (no drift)."""
from __future__ import annotations

import sqlalchemy as sa
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


def test_inbox_search_has_trigram_indexes_on_postgresql_and_none_on_sqlite(ctx):
    names = {"ix_messages_content_trgm", "ix_conversations_subject_trgm"}
    with db.engine.connect() as conn:
        if conn.dialect.name != "postgresql":
            present = {ix["name"] for table in ("messages", "conversations") for ix in sa.inspect(conn).get_indexes(table)}
            assert not names & present
            return
        assert conn.scalar(sa.text("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")) == 1
        definitions = dict(conn.execute(sa.text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i JOIN pg_class c ON c.relname = i.indexname"
            " JOIN pg_index x ON x.indexrelid = c.oid WHERE x.indisvalid AND i.indexname IN :names"
        ).bindparams(sa.bindparam("names", expanding=True)), {"names": sorted(names)}).all())
    assert definitions == {
        "ix_messages_content_trgm": "CREATE INDEX ix_messages_content_trgm ON public.messages USING gin (content gin_trgm_ops)",
        "ix_conversations_subject_trgm":
            "CREATE INDEX ix_conversations_subject_trgm ON public.conversations USING gin (subject gin_trgm_ops)",
    }


def test_a_concurrent_index_build_that_failed_is_built_again_on_the_next_run(ctx):
    import pytest
    from alembic.operations import Operations

    from messaging_web.concurrent_indexes import create_concurrently

    if db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent index builds are PostgreSQL's")
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(sa.text("CREATE TABLE index_probe (x integer)"))
        try:
            conn.execute(sa.text("INSERT INTO index_probe VALUES (1), (1)"))
            # A unique build over duplicates fails half-way and leaves an invalid index, as a cancelled one would.
            with pytest.raises(sa.exc.IntegrityError):
                conn.execute(sa.text("CREATE UNIQUE INDEX CONCURRENTLY ix_index_probe_x ON index_probe (x)"))
            valid = sa.text("SELECT x.indisvalid FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid"
                            " WHERE c.relname = 'ix_index_probe_x'")
            assert conn.scalar(valid) is False

            operations = Operations(MigrationContext.configure(conn))
            create_concurrently(operations, "ix_index_probe_x", "index_probe", ["x"])
            assert conn.scalar(valid) is True
            create_concurrently(operations, "ix_index_probe_x", "index_probe", ["x"])  # built: nothing to do
            assert conn.scalar(valid) is True
        finally:
            conn.execute(sa.text("DROP TABLE index_probe"))
