"""email logs: the workers' claim walks the unclaimed pending rows in id order (a partial index)

Revision ID: 0021_email_log_unclaimed
Revises: 0020_email_log_address_search
Create Date: 2026-12-08 04:00:00

The claim (services/email/delivery.py) takes the oldest 50 due rows. Through (status, next_attempt_at) it read a
bitmap of every 'pending' row version the last vacuum had not removed yet, thousands during a delivery run, and
sorted them, at every claim and at every poll of an idle worker: 2-5 ms each. A partial index on id over the
unclaimed pending rows reads the 50 it needs (0.1 ms), and its scan marks the dead entries it passes so the next
one skips them. Built CONCURRENTLY on PostgreSQL (messaging_web/concurrent_indexes.py).
"""
import sqlalchemy as sa
from alembic import op

from messaging_web.concurrent_indexes import create_concurrently, drop_concurrently


# revision identifiers, used by Alembic.
revision = '0021_email_log_unclaimed'
down_revision = '0020_email_log_address_search'
branch_labels = None
depends_on = None

NAME, COLUMNS = "ix_email_logs_unclaimed", ["id"]
UNCLAIMED = sa.text("status = 'pending' AND claimed_at IS NULL")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        op.create_index(NAME, "email_logs", COLUMNS, unique=False, sqlite_where=UNCLAIMED)
        return
    with op.get_context().autocommit_block():
        create_concurrently(op, NAME, "email_logs", COLUMNS, postgresql_where=UNCLAIMED)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        op.drop_index(NAME, table_name="email_logs")
        return
    with op.get_context().autocommit_block():
        drop_concurrently(op, NAME, "email_logs")
