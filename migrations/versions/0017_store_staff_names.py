"""stores: whether customers see which team member is typing

Revision ID: 0017_store_staff_names
Revises: 0016_email_log_store_newest
Create Date: 2026-12-07 15:20:00

A boolean with a server default: on PostgreSQL adding it rewrites nothing (a constant default is stored in
the catalog), so it is instant on a large stores table.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0017_store_staff_names'
down_revision = '0016_email_log_store_newest'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("stores") as batch:
        batch.add_column(sa.Column("show_staff_names_to_customers", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade():
    with op.batch_alter_table("stores") as batch:
        batch.drop_column("show_staff_names_to_customers")
