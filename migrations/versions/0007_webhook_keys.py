"""store email settings: what verifies the providers' event webhooks (SendGrid, Mailgun, SES via SNS)

Revision ID: 0007_webhook_keys
Revises: 0006_trigram_search
Create Date: 2026-12-01 11:30:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0007_webhook_keys'
down_revision = '0006_trigram_search'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('store_email_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sendgrid_webhook_public_key', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('mailgun_webhook_signing_key', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('ses_sns_topic_arn', sa.String(length=300), nullable=True))


def downgrade():
    with op.batch_alter_table('store_email_settings', schema=None) as batch_op:
        batch_op.drop_column('ses_sns_topic_arn')
        batch_op.drop_column('mailgun_webhook_signing_key')
        batch_op.drop_column('sendgrid_webhook_public_key')
