"""template history: every saved state of a platform template or a store's version, and which one is in use

Revision ID: 0012_template_versions
Revises: 0011_saved_replies
Create Date: 2026-12-03 08:40:00

Existing templates and store versions get their current text as version 1.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0012_template_versions'
down_revision = '0011_saved_replies'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('template_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('template_code', sa.String(length=100), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=True),
    sa.Column('variables', sa.Text(), nullable=True),
    sa.Column('required_variables', sa.Text(), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('author_name', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("action IN ('created', 'saved', 'restored', 'reverted')", name=op.f('ck_template_versions_template_version_action_valid')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_template_versions_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_template_versions')),
    sa.UniqueConstraint('store_id', 'template_code', 'language', 'number', name='uq_template_versions_store_id_template_code_language_number')
    )
    with op.batch_alter_table('template_versions', schema=None) as batch_op:
        batch_op.create_index('ix_template_versions_template_code_language', ['template_code', 'language'], unique=False)
    for table in ('email_templates', 'store_email_templates'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('current_version_id', sa.Integer(), nullable=True))
            batch_op.create_foreign_key(batch_op.f(f'fk_{table}_current_version_id_template_versions'), 'template_versions', ['current_version_id'], ['id'], ondelete='SET NULL')
    with op.batch_alter_table('email_logs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('template_version_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_email_logs_template_version_id_template_versions'), 'template_versions', ['template_version_id'], ['id'], ondelete='SET NULL')

    # What is in use now becomes version 1 of each.
    op.execute(
        "INSERT INTO template_versions (store_id, template_code, language, number, action, subject, body_html, "
        "body_text, variables, required_variables, created_at) "
        "SELECT NULL, code, language, 1, 'created', subject, body_html, body_text, variables, required_variables, "
        "updated_at FROM email_templates"
    )
    op.execute(
        "INSERT INTO template_versions (store_id, template_code, language, number, action, subject, body_html, "
        "body_text, created_at) "
        "SELECT store_id, template_code, language, 1, 'created', subject, body_html, body_text, updated_at "
        "FROM store_email_templates"
    )
    op.execute(
        "UPDATE email_templates SET current_version_id = (SELECT v.id FROM template_versions v WHERE "
        "v.store_id IS NULL AND v.template_code = email_templates.code AND v.language = email_templates.language)"
    )
    op.execute(
        "UPDATE store_email_templates SET current_version_id = (SELECT v.id FROM template_versions v WHERE "
        "v.store_id = store_email_templates.store_id AND v.template_code = store_email_templates.template_code "
        "AND v.language = store_email_templates.language)"
    )


def downgrade():
    with op.batch_alter_table('email_logs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_email_logs_template_version_id_template_versions'), type_='foreignkey')
        batch_op.drop_column('template_version_id')
    for table in ('store_email_templates', 'email_templates'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'fk_{table}_current_version_id_template_versions'), type_='foreignkey')
            batch_op.drop_column('current_version_id')
    with op.batch_alter_table('template_versions', schema=None) as batch_op:
        batch_op.drop_index('ix_template_versions_template_code_language')
    op.drop_table('template_versions')
