"""accounts: whether the language and time zone were chosen; messages: system lines as data

Revision ID: 0018_languages
Revises: 0017_store_staff_names
Create Date: 2026-12-07 23:00:00

`language_saved_at` / `timezone_saved_at` (users, customers): null until the person picks a language or a
zone on the profile page; until then a customer's portal follows the store's language, everyone else's the
browser's, and the browser's zone is offered. `messages.system_text`: what a system line says, as a key and
its values ({"key": "closed", "name": "Ana", "side": "store"}), so that each viewer reads it in their own
language; `content` keeps the English words for emails and exports. Nullable columns: adding them rewrites
no table on PostgreSQL. Existing system lines are read back into keys here (they are few: closes, reopens).
"""
import re

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0018_languages'
down_revision = '0017_store_staff_names'
branch_labels = None
depends_on = None

_SIDES = {"the platform team": "admin", "the store team": "store", "the customer": "customer"}
_LINE = re.compile(
    r"^Conversation (?P<what>closed by|reopened by a new message from|reopened by) (?P<name>.*) "
    r"\((?P<side>the platform team|the store team|the customer)\)\.$",
    re.S,
)
_KEYS = {"closed by": "closed", "reopened by a new message from": "reopened_by_message", "reopened by": "reopened"}


def upgrade():
    for table in ("users", "customers"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("language_saved_at", sa.DateTime(timezone=True), nullable=True))
            batch.add_column(sa.Column("timezone_saved_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("system_text", sa.JSON(), nullable=True))

    messages = sa.table("messages", sa.column("id", sa.Integer), sa.column("content", sa.Text),
                        sa.column("is_system_message", sa.Boolean), sa.column("system_text", sa.JSON))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(messages.c.id, messages.c.content).where(messages.c.is_system_message.is_(True))
    ).all()
    for row in rows:
        match = _LINE.match(row.content or "")
        if match:
            text = {"key": _KEYS[match["what"]], "name": match["name"], "side": _SIDES[match["side"]]}
            connection.execute(sa.update(messages).where(messages.c.id == row.id).values(system_text=text))


def downgrade():
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("system_text")
    for table in ("customers", "users"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("timezone_saved_at")
            batch.drop_column("language_saved_at")
