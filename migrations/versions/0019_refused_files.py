"""messages: the names of a reply by email's files that were not accepted, as data

Revision ID: 0019_refused_files
Revises: 0018_languages
Create Date: 2026-12-08 00:10:00

`attachment_note` keeps the English sentence ("1 file not accepted: invoice.exe"); `refused_files` holds the
names, so that each reader reads the sentence in their own language. Nullable: adding it rewrites nothing on
PostgreSQL. Existing notes are read back into names here (they are few: replies by email with refused files).
"""
import re

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0019_refused_files'
down_revision = '0018_languages'
branch_labels = None
depends_on = None

_NOTE = re.compile(r"^\d+ files? not accepted: (?P<names>.*)$", re.S)


def upgrade():
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("refused_files", sa.JSON(), nullable=True))
    messages = sa.table("messages", sa.column("id", sa.Integer), sa.column("attachment_note", sa.String),
                        sa.column("refused_files", sa.JSON))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(messages.c.id, messages.c.attachment_note).where(messages.c.attachment_note.is_not(None))
    ).all()
    for row in rows:
        match = _NOTE.match(row.attachment_note or "")
        if match:
            names = match["names"].split(", ")
            connection.execute(sa.update(messages).where(messages.c.id == row.id).values(refused_files=names))


def downgrade():
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("refused_files")
