"""Building PostgreSQL indexes CONCURRENTLY from migrations, so that a re-run finishes a failed build.

A plain CREATE INDEX blocks writes to the table while it builds: on a live database with millions of
rows that holds up every new message or email. A concurrent build runs outside the migration's
transaction and, when it fails or is cancelled, leaves an invalid index behind: it is dropped here
first, so that running the upgrade again builds it instead of stopping at "already exists".
"""
from __future__ import annotations

import sqlalchemy as sa


def _is_invalid(bind, index_name: str) -> bool:
    return bool(bind.execute(
        sa.text(
            "SELECT 1 FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid"
            " WHERE c.relname = :name AND c.relnamespace = current_schema()::regnamespace AND NOT x.indisvalid"
        ),
        {"name": index_name},
    ).first())


def create_concurrently(op, name: str, table: str, columns: list[str], **kwargs) -> None:
    """Call inside `op.get_context().autocommit_block()`, on PostgreSQL."""
    if _is_invalid(op.get_bind(), name):
        op.drop_index(name, table_name=table, postgresql_concurrently=True)
    op.create_index(name, table, columns, unique=False, postgresql_concurrently=True, if_not_exists=True, **kwargs)


def drop_concurrently(op, name: str, table: str) -> None:
    """Call inside `op.get_context().autocommit_block()`, on PostgreSQL; an index already gone is no error."""
    op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
