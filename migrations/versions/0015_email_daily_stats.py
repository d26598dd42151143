"""email daily stats: the email log's daily roll-ups, kept by triggers through a table of deltas

Revision ID: 0015_email_daily_stats
Revises: 0014_suppressions
Create Date: 2026-12-04 19:45:00

Every insert into email_logs, and every update that moves a row's status (or its complaint, or what sends it),
writes delta rows; the fold job sums them into email_daily_stats (per store, template and category),
email_daily_stats_all_stores (per template and category) and email_daily_stats_per_store. The triggers are written here in full
rather than imported, so that this migration keeps building the same schema whatever the code becomes.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0015_email_daily_stats'
down_revision = '0014_suppressions'
branch_labels = None
depends_on = None

KEYS = ("day", "store_key", "template_code", "category", "reports_delivery")
STAGES = ("queued", "sent", "delivered", "opened", "clicked", "bounced", "complained", "suppressed", "failed")
STAGE_STATUSES = {
    "sent": ("sent", "delivered", "opened", "clicked", "bounced"),
    "delivered": ("delivered", "opened", "clicked"),
    "opened": ("opened", "clicked"),
    "clicked": ("clicked",),
    "bounced": ("bounced",),
    "suppressed": ("suppressed",),
    "failed": ("failed",),
}
REPORTING = "('sendgrid', 'mailgun', 'ses')"
# What an email's roll-up key is made of: when one changes, its counts move from the old key to the new.
KEYED_BY = ("store_id", "template_code", "category", "provider", "via_store_settings", "created_at")


def _stage(stage: str, row: str) -> str:
    if stage == "queued":
        return "1"
    if stage == "complained":
        return f"CASE WHEN {row}.complained_at IS NOT NULL THEN 1 ELSE 0 END"
    statuses = ", ".join(f"'{s}'" for s in STAGE_STATUSES[stage])
    return f"CASE WHEN {row}.status IN ({statuses}) THEN 1 ELSE 0 END"


def _keys(row: str, dialect: str) -> list[str]:
    if dialect == "postgresql":
        day = f"({row}.created_at AT TIME ZONE 'UTC')::date"
        reports = f"({row}.via_store_settings AND COALESCE({row}.provider, '') IN {REPORTING})"
    else:
        day = f"date({row}.created_at)"
        reports = f"(CASE WHEN {row}.via_store_settings AND COALESCE({row}.provider, '') IN {REPORTING} THEN 1 ELSE 0 END)"
    return [day, f"COALESCE({row}.store_id, 0)", f"COALESCE({row}.template_code, '')",
            f"COALESCE({row}.category, '')", reports]


def _delta_insert(row: str, sign: str, dialect: str) -> str:
    values = _keys(row, dialect) + [f"{sign}({_stage(stage, row)})" for stage in STAGES]
    return f"INSERT INTO email_stat_deltas ({', '.join(KEYS + STAGES)}) VALUES ({', '.join(values)});"


def _moved_insert(dialect: str) -> str:
    """One delta for an update that keeps the key: what NEW counts in less what OLD did (most updates: a
    status moving on)."""
    values = _keys("NEW", dialect) + [f"({_stage(stage, 'NEW')}) - ({_stage(stage, 'OLD')})" for stage in STAGES]
    return f"INSERT INTO email_stat_deltas ({', '.join(KEYS + STAGES)}) VALUES ({', '.join(values)});"


def _distinct(dialect: str) -> str:
    return "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"


def _key_changed(dialect: str) -> str:
    return " OR ".join(f"OLD.{column} {_distinct(dialect)} NEW.{column}" for column in KEYED_BY)


def _stage_changed(dialect: str) -> str:
    return (f"OLD.status {_distinct(dialect)} NEW.status "
            "OR (OLD.complained_at IS NULL) <> (NEW.complained_at IS NULL)")


def _counter_columns():
    return [sa.Column(stage, sa.Integer(), nullable=False) for stage in STAGES]


KEY_TYPES = {"day": sa.Date, "week": sa.Date, "store_key": sa.Integer, "template_code": lambda: sa.String(length=100),
             "category": lambda: sa.String(length=50), "reports_delivery": sa.Boolean}
ROLL_UPS = {
    "email_daily_stats": KEYS,
    "email_daily_stats_all_stores": ("day", "template_code", "category", "reports_delivery"),
    "email_daily_stats_per_store": ("day", "store_key", "reports_delivery"),
    "email_weekly_stats_per_store": ("week", "store_key", "reports_delivery"),
}


def week_of(day: str, dialect: str) -> str:
    """The Monday of the week of `day` (an SQL expression)."""
    if dialect == "postgresql":
        return f"CAST(date_trunc('week', {day}) AS date)"
    return f"date({day}, '-6 days', 'weekday 1')"


def _key_columns(keys):
    return [sa.Column(name, KEY_TYPES[name](), nullable=False) for name in keys]


def backfill_statements(dialect: str) -> list[str]:
    """The roll-ups of the whole log, set-based (also what bench/bench_analytics.py builds its roll-ups with)."""
    sums = ", ".join(f"sum({_stage(stage, 'l')})" for stage in STAGES)
    keys = _keys("l", dialect)
    statements = [f"INSERT INTO email_daily_stats ({', '.join(KEYS + STAGES)}) "
                  f"SELECT {', '.join(keys)}, {sums} FROM email_logs l GROUP BY {', '.join(keys)}"]
    totals = ", ".join(f"sum({stage})" for stage in STAGES)
    for table, table_keys in ROLL_UPS.items():
        if table != "email_daily_stats":
            selected = [week_of("day", dialect) if key == "week" else key for key in table_keys]
            statements.append(f"INSERT INTO {table} ({', '.join(table_keys + STAGES)}) SELECT {', '.join(selected)}, "
                              f"{totals} FROM email_daily_stats GROUP BY {', '.join(selected)}")
    return statements


def upgrade():
    for table, keys in ROLL_UPS.items():
        op.create_table(table, *_key_columns(keys), *_counter_columns(),
                        sa.PrimaryKeyConstraint(*keys, name=op.f(f'pk_{table}')))
    op.create_index('ix_email_daily_stats_store_key_day', 'email_daily_stats', ['store_key', 'day'])
    op.create_index('ix_email_daily_stats_per_store_store_key_day', 'email_daily_stats_per_store',
                    ['store_key', 'day'])
    op.create_table('email_stat_deltas',
                    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
                    *_key_columns(KEYS), *_counter_columns(),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_stat_deltas')))

    dialect = op.get_bind().dialect.name
    for statement in backfill_statements(dialect):  # what is in the log already, rolled up once
        op.execute(statement)
    if dialect == "postgresql":
        op.execute(f"""
CREATE FUNCTION email_logs_count_stages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {_delta_insert('NEW', '', dialect)}
  ELSIF {_key_changed(dialect)} THEN
    {_delta_insert('OLD', '-', dialect)}
    {_delta_insert('NEW', '', dialect)}
  ELSE
    {_moved_insert(dialect)}
  END IF;
  RETURN NULL;
END $$""")
        op.execute("CREATE TRIGGER email_logs_stats_insert AFTER INSERT ON email_logs "
                   "FOR EACH ROW EXECUTE FUNCTION email_logs_count_stages()")
        op.execute(f"CREATE TRIGGER email_logs_stats_update AFTER UPDATE ON email_logs FOR EACH ROW "
                   f"WHEN ({_stage_changed(dialect)} OR {_key_changed(dialect)}) "
                   f"EXECUTE FUNCTION email_logs_count_stages()")
    else:
        op.execute(f"CREATE TRIGGER email_logs_stats_insert AFTER INSERT ON email_logs BEGIN "
                   f"{_delta_insert('NEW', '', dialect)} END")
        op.execute(f"CREATE TRIGGER email_logs_stats_update AFTER UPDATE ON email_logs "
                   f"WHEN ({_stage_changed(dialect)}) AND NOT ({_key_changed(dialect)}) BEGIN {_moved_insert(dialect)} END")
        op.execute(f"CREATE TRIGGER email_logs_stats_rekey AFTER UPDATE ON email_logs WHEN {_key_changed(dialect)} "
                   f"BEGIN {_delta_insert('OLD', '-', dialect)} {_delta_insert('NEW', '', dialect)} END")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TRIGGER IF EXISTS email_logs_stats_rekey")
    op.execute("DROP TRIGGER IF EXISTS email_logs_stats_update" + (" ON email_logs" if op.get_bind().dialect.name == "postgresql" else ""))
    op.execute("DROP TRIGGER IF EXISTS email_logs_stats_insert" + (" ON email_logs" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS email_logs_count_stages()")
    op.drop_table('email_stat_deltas')
    op.drop_index('ix_email_daily_stats_store_key_day', table_name='email_daily_stats')
    op.drop_index('ix_email_daily_stats_per_store_store_key_day', table_name='email_daily_stats_per_store')
    for table in ROLL_UPS:
        op.drop_table(table)
