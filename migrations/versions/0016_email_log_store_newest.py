"""email logs: a store's newest emails from one index (store_id, id)

Revision ID: 0016_email_log_store_newest
Revises: 0015_email_daily_stats
Create Date: 2026-12-04 19:20:00

The store's email log lists its newest 25: with (store_id, id) that is the first 25 entries of the store's range
instead of sorting all its emails (bench/bench_email_log.py). Built CONCURRENTLY on PostgreSQL
(messaging_web/concurrent_indexes.py), so queueing goes on meanwhile on a large log.
"""
from alembic import op

from messaging_web.concurrent_indexes import create_concurrently, drop_concurrently


# revision identifiers, used by Alembic.
revision = '0016_email_log_store_newest'
down_revision = '0015_email_daily_stats'
branch_labels = None
depends_on = None

NAME, COLUMNS = "ix_email_logs_store_id_id", ["store_id", "id"]


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        op.create_index(NAME, "email_logs", COLUMNS, unique=False)
        return
    with op.get_context().autocommit_block():
        create_concurrently(op, NAME, "email_logs", COLUMNS)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        op.drop_index(NAME, table_name="email_logs")
        return
    with op.get_context().autocommit_block():
        drop_concurrently(op, NAME, "email_logs")
