"""messages: index for the thread poll's 'deleted since' lookup

Revision ID: 0005_message_deleted_at
Revises: 0004_conversations
Create Date: 2026-11-26 10:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0005_message_deleted_at'
down_revision = '0004_conversations'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index('ix_messages_conversation_id_deleted_at', ['conversation_id', 'deleted_at'], unique=False)


def downgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_conversation_id_deleted_at')
