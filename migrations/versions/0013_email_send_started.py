"""email send started: which row of a claim a worker was sending when it stopped

Revision ID: 0013_email_send_started
Revises: 0012_template_versions
Create Date: 2026-12-03 12:40:00

A worker killed mid-batch leaves its claim behind; only the row marked as started may have been
delivered, the rest of the claim is released and sent again by the sweep.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0013_email_send_started'
down_revision = '0012_template_versions'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('email_logs') as batch_op:
        batch_op.add_column(sa.Column('send_started_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('email_logs') as batch_op:
        batch_op.drop_column('send_started_at')
