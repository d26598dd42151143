"""platform moderation: the audit of admins opening store-customer threads

Revision ID: 0010_moderation_views
Revises: 0009_inbound_emails
Create Date: 2026-12-03 08:30:00

Platform admins may open any store-customer conversation read-only (PLATFORM_MODERATION); every time one
does is a row of moderation_views.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0010_moderation_views'
down_revision = '0009_inbound_emails'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('moderation_views',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('admin_user_id', sa.Integer(), nullable=True),
    sa.Column('admin_name', sa.String(length=255), nullable=False),
    sa.Column('viewed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_moderation_views_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_moderation_views_store_id_stores'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['admin_user_id'], ['users.id'], name=op.f('fk_moderation_views_admin_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moderation_views'))
    )
    with op.batch_alter_table('moderation_views', schema=None) as batch_op:
        batch_op.create_index('ix_moderation_views_viewed_at', ['viewed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_moderation_views_conversation_id'), ['conversation_id'], unique=False)


def downgrade():
    with op.batch_alter_table('moderation_views', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_moderation_views_conversation_id'))
        batch_op.drop_index('ix_moderation_views_viewed_at')
    op.drop_table('moderation_views')
