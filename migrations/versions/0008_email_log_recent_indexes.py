"""email logs: indexes for recent emails counted by status (analytics, home pages) and for search

Revision ID: 0008_email_log_recent_indexes
Revises: 0007_webhook_keys
Create Date: 2026-12-01 11:50:00.000000

The search (recipient or subject ILIKE '%term%') gets pg_trgm GIN indexes on PostgreSQL (migration
0006 created the extension); SQLite keeps scanning. On PostgreSQL built CONCURRENTLY (messaging_web/concurrent_indexes.py): a plain CREATE INDEX would hold up
every email queued while it builds on a large log.
"""
from alembic import op

from messaging_web.concurrent_indexes import create_concurrently, drop_concurrently


# revision identifiers, used by Alembic.
revision = '0008_email_log_recent_indexes'
down_revision = '0007_webhook_keys'
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_email_logs_created_at_store_id_status", ["created_at", "store_id", "status"]),
    ("ix_email_logs_store_id_created_at_status", ["store_id", "created_at", "status"]),
)
TRIGRAM_INDEXES = (
    ("ix_email_logs_recipient_email_trgm", "recipient_email"),
    ("ix_email_logs_subject_trgm", "subject"),
)


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        for name, columns in INDEXES:
            op.create_index(name, "email_logs", columns, unique=False)
        return
    with op.get_context().autocommit_block():
        for name, columns in INDEXES:
            create_concurrently(op, name, "email_logs", columns)
        for name, column in TRIGRAM_INDEXES:
            create_concurrently(
                op, name, "email_logs", [column], postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"}
            )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        for name, _columns in INDEXES:
            op.drop_index(name, table_name="email_logs")
        return
    with op.get_context().autocommit_block():
        for name, _columns in (*INDEXES, *TRIGRAM_INDEXES):
            drop_concurrently(op, name, "email_logs")
