"""reply by email: inbound emails, messages from them

Revision ID: 0009_inbound_emails
Revises: 0008_email_log_recent_indexes
Create Date: 2026-12-02 22:50:32.493281

Every email received at a reply address is a row of inbound_emails (posted, held for a person, or ignored);
a message posted from one points back to it.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0009_inbound_emails'
down_revision = '0008_email_log_recent_indexes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('inbound_emails',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('dedupe_key', sa.String(length=64), nullable=False),
    sa.Column('message_id_header', sa.String(length=998), nullable=True),
    sa.Column('envelope_sender', sa.String(length=320), nullable=True),
    sa.Column('from_email', sa.String(length=320), nullable=True),
    sa.Column('from_name', sa.String(length=255), nullable=True),
    sa.Column('recipient', sa.String(length=320), nullable=True),
    sa.Column('subject', sa.String(length=500), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=True),
    sa.Column('reason_detail', sa.Text(), nullable=True),
    sa.Column('conversation_id', sa.Integer(), nullable=True),
    sa.Column('participant_id', sa.Integer(), nullable=True),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('reply_text', sa.Text(), nullable=True),
    sa.Column('raw', sa.LargeBinary(), nullable=True),
    sa.Column('raw_size', sa.Integer(), nullable=False),
    sa.Column('attachment_count', sa.Integer(), nullable=False),
    sa.Column('bounce_sent', sa.Boolean(), nullable=False),
    sa.Column('decided_by_type', sa.String(length=20), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("source IN ('smtp', 'sendgrid', 'mailgun', 'ses')", name=op.f('ck_inbound_emails_inbound_source_valid')),
    sa.CheckConstraint("status IN ('posted', 'held', 'accepted', 'discarded', 'ignored')", name=op.f('ck_inbound_emails_inbound_status_valid')),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_inbound_emails_conversation_id_conversations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['participant_id'], ['conversation_participants.id'], name=op.f('fk_inbound_emails_participant_id_conversation_participants'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_inbound_emails_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_emails')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_inbound_emails_dedupe_key'))
    )
    with op.batch_alter_table('inbound_emails', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_emails_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index('ix_inbound_emails_status_created_at', ['status', 'created_at'], unique=False)
        batch_op.create_index('ix_inbound_emails_store_id_status_created_at', ['store_id', 'status', 'created_at'], unique=False)

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inbound_email_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('attachment_note', sa.String(length=500), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_messages_inbound_email_id_inbound_emails'), 'inbound_emails', ['inbound_email_id'], ['id'], ondelete='SET NULL')



def downgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_messages_inbound_email_id_inbound_emails'), type_='foreignkey')
        batch_op.drop_column('attachment_note')
        batch_op.drop_column('inbound_email_id')

    with op.batch_alter_table('inbound_emails', schema=None) as batch_op:
        batch_op.drop_index('ix_inbound_emails_store_id_status_created_at')
        batch_op.drop_index('ix_inbound_emails_status_created_at')
        batch_op.drop_index(batch_op.f('ix_inbound_emails_conversation_id'))

    op.drop_table('inbound_emails')
