"""suppressions: addresses that get no email, their audit, soft-bounce runs; email log category and complaints

Revision ID: 0014_suppressions
Revises: 0013_email_send_started
Create Date: 2026-12-04 18:40:00

A hard bounce or a run of soft bounces stops every email to the address; a complaint or an unsubscribe
stops the store's. An email to a suppressed address is logged with the new status `suppressed`.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0014_suppressions'
down_revision = '0013_email_send_started'
branch_labels = None
depends_on = None

OLD_STATUSES = "'pending', 'sent', 'failed', 'bounced', 'delivered', 'opened', 'clicked'"
NEW_STATUSES = OLD_STATUSES + ", 'suppressed'"


def upgrade():
    op.create_table(
        'email_suppressions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=255), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=True),
        sa.Column('scope', sa.String(length=20), nullable=False),
        sa.Column('reason', sa.String(length=20), nullable=False),
        sa.Column('detail', sa.String(length=500), nullable=False),
        sa.Column('provider', sa.String(length=50), nullable=True),
        sa.Column('source_email_log_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("reason IN ('hard_bounce', 'soft_bounces', 'complaint', 'unsubscribe')",
                           name=op.f('ck_email_suppressions_reason_valid')),
        sa.CheckConstraint("scope IN ('address', 'all', 'marketing', 'conversations')",
                           name=op.f('ck_email_suppressions_scope_valid')),
        sa.ForeignKeyConstraint(['source_email_log_id'], ['email_logs.id'], ondelete='SET NULL',
                                name=op.f('fk_email_suppressions_source_email_log_id_email_logs')),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], ondelete='CASCADE',
                                name=op.f('fk_email_suppressions_store_id_stores')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_email_suppressions')),
    )
    op.create_index('uq_email_suppressions_email_scope_store', 'email_suppressions',
                    ['email', 'scope', sa.text('coalesce(store_id, 0)')], unique=True)
    op.create_index('ix_email_suppressions_store_id_created_at', 'email_suppressions', ['store_id', 'created_at'])

    op.create_table(
        'email_suppression_audit',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=255), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=True),
        sa.Column('scope', sa.String(length=20), nullable=False),
        sa.Column('reason', sa.String(length=20), nullable=False),
        sa.Column('action', sa.String(length=10), nullable=False),
        sa.Column('actor', sa.String(length=255), nullable=False),
        sa.Column('actor_user_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], ondelete='CASCADE',
                                name=op.f('fk_email_suppression_audit_store_id_stores')),
        sa.ForeignKeyConstraint(['actor_user_id'], ['users.id'], ondelete='SET NULL',
                                name=op.f('fk_email_suppression_audit_actor_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_email_suppression_audit')),
    )
    op.create_index(op.f('ix_email_suppression_audit_email'), 'email_suppression_audit', ['email'])
    op.create_index('ix_email_suppression_audit_store_id_created_at', 'email_suppression_audit',
                    ['store_id', 'created_at'])

    op.create_table(
        'email_soft_bounce_runs',
        sa.Column('email', sa.String(length=255), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('last_bounced_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('email', name=op.f('pk_email_soft_bounce_runs')),
    )

    with op.batch_alter_table('email_logs') as batch_op:
        batch_op.add_column(sa.Column('category', sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column('complained_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(op.f('ck_email_logs_status_valid'), type_='check')
        batch_op.create_check_constraint(op.f('ck_email_logs_status_valid'), sa.text(f"status IN ({NEW_STATUSES})"))


def downgrade():
    op.execute("UPDATE email_logs SET status = 'failed' WHERE status = 'suppressed'")
    with op.batch_alter_table('email_logs') as batch_op:
        batch_op.drop_constraint(op.f('ck_email_logs_status_valid'), type_='check')
        batch_op.create_check_constraint(op.f('ck_email_logs_status_valid'), sa.text(f"status IN ({OLD_STATUSES})"))
        batch_op.drop_column('complained_at')
        batch_op.drop_column('category')
    op.drop_table('email_soft_bounce_runs')
    op.drop_index('ix_email_suppression_audit_store_id_created_at', table_name='email_suppression_audit')
    op.drop_index(op.f('ix_email_suppression_audit_email'), table_name='email_suppression_audit')
    op.drop_table('email_suppression_audit')
    op.drop_index('ix_email_suppressions_store_id_created_at', table_name='email_suppressions')
    op.drop_index('uq_email_suppressions_email_scope_store', table_name='email_suppressions')
    op.drop_table('email_suppressions')
