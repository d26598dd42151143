"""email logs: indexes for recent emails counted by status (analytics, home pages)

Revision ID: 0008_email_log_recent_indexes
Revises: 0007_webhook_keys
Create Date: 2026-12-01 11:50:00.000000

On PostgreSQL built CONCURRENTLY, outside the migration's transaction: a plain CREATE INDEX would
hold up every email queued while it builds on a large log. An invalid index left by a failed
concurrent build is dropped first, so that running the upgrade again builds it.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0008_email_log_recent_indexes'
down_revision = '0007_webhook_keys'
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_email_logs_created_at_store_id_status", ["created_at", "store_id", "status"]),
    ("ix_email_logs_store_id_created_at_status", ["store_id", "created_at", "status"]),
)


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        for name, columns in INDEXES:
            op.create_index(name, "email_logs", columns, unique=False)
        return
    with op.get_context().autocommit_block():
        for name, columns in INDEXES:
            if _is_invalid(name):
                op.drop_index(name, table_name="email_logs", postgresql_concurrently=True)
            op.create_index(name, "email_logs", columns, unique=False, postgresql_concurrently=True,
                            if_not_exists=True)


def _is_invalid(index_name):
    return bool(op.get_bind().execute(
        sa.text(
            "SELECT 1 FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid"
            " WHERE c.relname = :name AND c.relnamespace = current_schema()::regnamespace AND NOT x.indisvalid"
        ),
        {"name": index_name},
    ).first())


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        for name, _columns in INDEXES:
            op.drop_index(name, table_name="email_logs")
        return
    with op.get_context().autocommit_block():
        for name, _columns in INDEXES:
            op.drop_index(name, table_name="email_logs", postgresql_concurrently=True, if_exists=True)
