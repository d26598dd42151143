"""saved replies: named answers of a store's team or of the platform team, per language

Revision ID: 0011_saved_replies
Revises: 0010_moderation_views
Create Date: 2026-12-03 08:30:00
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0011_saved_replies'
down_revision = '0010_moderation_views'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('saved_replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_saved_replies_store_id_stores'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_saved_replies_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_replies')),
    sa.UniqueConstraint('store_id', 'language', 'name', name='uq_saved_replies_store_id_language_name')
    )
    with op.batch_alter_table('saved_replies', schema=None) as batch_op:
        batch_op.create_index('ix_saved_replies_store_id_language', ['store_id', 'language'], unique=False)


def downgrade():
    with op.batch_alter_table('saved_replies', schema=None) as batch_op:
        batch_op.drop_index('ix_saved_replies_store_id_language')
    op.drop_table('saved_replies')
