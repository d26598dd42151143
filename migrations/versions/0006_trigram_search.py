"""inbox search: pg_trgm GIN indexes on conversation subjects and message text (PostgreSQL only)

Revision ID: 0006_trigram_search
Revises: 0005_message_deleted_at
Create Date: 2026-11-26 05:20:00.000000

The inbox search is `ILIKE '%term%'`, which no b-tree can serve; a trigram GIN index can. SQLite has
neither pg_trgm nor GIN: there the search keeps scanning, and this revision does nothing (the models
declare the indexes with .ddl_if(dialect="postgresql")).

pg_trgm is a trusted extension (PostgreSQL 13+): the database owner, or any role with CREATE on the
database, may create it; it ships in postgresql-contrib.
"""
from alembic import op

from messaging_web.concurrent_indexes import create_concurrently, drop_concurrently


# revision identifiers, used by Alembic.
revision = '0006_trigram_search'
down_revision = '0005_message_deleted_at'
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_messages_content_trgm", "messages", "content"),
    ("ix_conversations_subject_trgm", "conversations", "subject"),
)


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # Built CONCURRENTLY: a plain CREATE INDEX would block every new message while it builds.
    with op.get_context().autocommit_block():
        for name, table, column in INDEXES:
            create_concurrently(
                op, name, table, [column], postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"}
            )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    with op.get_context().autocommit_block():
        for name, table, _column in INDEXES:
            drop_concurrently(op, name, table)
    # The extension stays: other schemas of the database may use it, and it costs nothing unused.
