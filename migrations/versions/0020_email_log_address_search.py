"""email logs: an address search ("ana@", "customer12@example.c") by the address's parts (PostgreSQL only)

Revision ID: 0020_email_log_address_search
Revises: 0019_refused_files
Create Date: 2026-12-08 03:45:00

A search term with an '@' is an address or a piece of one. In an address with one '@' the term's '@' is that
one, so the term matches when what it has before its '@' ends the local part and what it has after starts the
domain: two prefix searches in one btree on (the local part reversed, the domain), both lower-cased. The trigram
index cannot do that quickly: the trigrams every address shares (' cu', 'mer', 'com', ...) have posting lists as
long as the log, and its scan reads them all (bench/bench_email_log.py). The few addresses with several '@',
where the term's '@' may be any of them, are searched by trigrams as before, in a partial index of them alone.
SQLite has no reverse() or split_part() and scans anyway: nothing there. Built CONCURRENTLY
(messaging_web/concurrent_indexes.py), so queueing goes on meanwhile on a large log.
"""
import sqlalchemy as sa
from alembic import op

from messaging_web.concurrent_indexes import create_concurrently, drop_concurrently


# revision identifiers, used by Alembic.
revision = '0020_email_log_address_search'
down_revision = '0019_refused_files'
branch_labels = None
depends_on = None

# As the model declares them (messaging_web/models/email.py): the search's query repeats these expressions.
PARTS = "ix_email_logs_recipient_address_parts", [
    sa.text("reverse(split_part(lower(recipient_email), '@', 1)) text_pattern_ops"),
    sa.text("split_part(lower(recipient_email), '@', 2) text_pattern_ops"),
]
SEVERAL_AT = "ix_email_logs_recipient_several_at_trgm", "recipient_email", sa.text("recipient_email LIKE '%@%@%'")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    with op.get_context().autocommit_block():
        name, expressions = PARTS
        create_concurrently(op, name, "email_logs", expressions)
        name, column, where = SEVERAL_AT
        create_concurrently(op, name, "email_logs", [column], postgresql_using="gin",
                            postgresql_ops={column: "gin_trgm_ops"}, postgresql_where=where)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    with op.get_context().autocommit_block():
        for name in (PARTS[0], SEVERAL_AT[0]):
            drop_concurrently(op, name, "email_logs")
