"""dashboard days: per-day figures of the dashboard, and triggers that mark a day stale

Revision ID: 0007_dashboard_days
Revises: 0006_dashboard_indexes

``dashboard_day_figures`` holds, per Shanghai day x channel x area, the mergeable figures
of that day (bot/dashboard/daily.py); ``dashboard_days`` holds, per day, a ``version`` and
the ``aggregated_version`` its figures were computed at. A day's figures are used only while
both are equal.

The triggers below bump the version of every past day (before today, Shanghai) whose
figures a written row changes: a late message, a hand-off accepted after midnight, a
ticket closed weeks later, a milestone met or flagged, a satisfaction answer, a customer's
area, a deleted row (retention). They run in the database, so every gateway process, the
importer, bulk loads (COPY) and hand-written SQL are covered alike. Rows of today bump
nothing (today is always computed from the rows), so the hot path pays a comparison only.
A day already stale is not bumped again (the upsert's WHERE).
"""
from alembic import op
import sqlalchemy as sa
import bot.store.types


revision = '0007_dashboard_days'
down_revision = '0006_dashboard_indexes'
branch_labels = None
depends_on = None

SURVEY_QUESTIONS = ("请问您对这次服务满意吗？", "为了把服务做得更好，想请您对本次服务做个评价：")
SURVEY_IN = "({})".format(", ".join(f"'{q}'" for q in SURVEY_QUESTIONS))


def _day(dialect: str, ts: str) -> str:
    if dialect == "postgresql":
        return f"to_char(({ts}) AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')"
    return f"strftime('%Y-%m-%d', {ts}, '+8 hours')"


def _today(dialect: str) -> str:
    # The real time of the statement (not the transaction's start): see bot/dashboard/daily.py.
    return _day(dialect, "clock_timestamp()") if dialect == "postgresql" else \
        "strftime('%Y-%m-%d', 'now', '+8 hours')"


def _sources(table: str, r: str) -> list[str]:
    """SELECTs (one column ``ts``) of the times whose days the row ``r`` (NEW or OLD) counts in."""
    if table == "conversations":
        return [f"SELECT {r}.created_at AS ts",
                f"SELECT m.created_at AS ts FROM messages m WHERE m.conversation_id = {r}.id AND m.sender = 'customer'",
                f"SELECT a.created_at AS ts FROM survey_answers a WHERE a.conversation_id = {r}.id"]
    if table == "messages":
        return [f"SELECT {r}.created_at AS ts WHERE {r}.sender = 'customer'",
                f"SELECT c.created_at AS ts FROM conversations c WHERE c.id = {r}.conversation_id AND "
                f"({r}.sender = 'staff' OR ({r}.sender = 'bot' AND {r}.text IN {SURVEY_IN}))"]
    if table == "handoffs":
        return [f"SELECT c.created_at AS ts FROM conversations c WHERE c.id = {r}.conversation_id",
                f"SELECT a.created_at AS ts FROM survey_answers a WHERE a.conversation_id = {r}.conversation_id"]
    if table == "survey_answers":
        return [f"SELECT {r}.created_at AS ts",
                f"SELECT c.created_at AS ts FROM conversations c WHERE c.id = {r}.conversation_id"]
    if table == "tickets":
        return [f"SELECT {r}.created_at AS ts", f"SELECT {r}.closed_at AS ts",
                f"SELECT a.created_at AS ts FROM survey_answers a WHERE a.ticket_no = {r}.ticket_no"]
    if table == "milestones":
        return [f"SELECT t.created_at AS ts FROM tickets t WHERE t.id = {r}.ticket_id"]
    if table == "customers":
        return [f"SELECT c.created_at AS ts FROM conversations c WHERE c.account_no = {r}.account_no",
                f"SELECT m.created_at AS ts FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                f"WHERE c.account_no = {r}.account_no AND m.sender = 'customer'",
                f"SELECT a.created_at AS ts FROM survey_answers a JOIN conversations c ON c.id = a.conversation_id "
                f"WHERE c.account_no = {r}.account_no"]
    raise KeyError(table)


# table -> the columns whose update changes a figure (None: any column)
WATCHED = {
    "conversations": ("created_at", "channel", "account_no"),
    "messages": ("created_at", "sender", "channel", "intent", "text", "conversation_id"),
    "handoffs": None,
    "survey_answers": None,
    "tickets": ("ticket_no", "type", "status", "channel", "area_type", "created_at", "closed_at"),
    "milestones": None,
    "customers": ("account_no", "area_type"),
}
EVENTS = {"insert": ("NEW",), "update": ("OLD", "NEW"), "delete": ("OLD",)}


def touch_statement(dialect: str, table: str, event: str) -> str:
    union = " UNION ALL ".join(s for r in EVENTS[event] for s in _sources(table, r))
    return (f"INSERT INTO dashboard_days (day, version) "
            f"SELECT DISTINCT d, 1 FROM (SELECT {_day(dialect, 'ts')} AS d FROM ({union}) AS s) AS x "
            f"WHERE d IS NOT NULL AND d < {_today(dialect)} "
            f"ON CONFLICT (day) DO UPDATE SET version = dashboard_days.version + 1 "
            f"WHERE dashboard_days.aggregated_version = dashboard_days.version")


def _name(table: str, event: str) -> str:
    return f"dashboard_stale_{table}_{event}"


def _when(table: str, event: str) -> str:
    columns = WATCHED[table]
    return f"UPDATE OF {', '.join(columns)}" if event == "update" and columns else event.upper()


def create_triggers(dialect: str) -> None:
    for table in WATCHED:
        for event in EVENTS:
            name = _name(table, event)
            statement = touch_statement(dialect, table, event)
            if dialect == "postgresql":
                op.execute(sa.text(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn$ "
                                   f"BEGIN {statement}; RETURN NULL; END $fn$"))
                op.execute(sa.text(f"CREATE TRIGGER {name} AFTER {_when(table, event)} ON {table} "
                                   f"FOR EACH ROW EXECUTE FUNCTION {name}()"))
            else:
                op.execute(sa.text(f"CREATE TRIGGER {name} AFTER {_when(table, event)} ON {table} "
                                   f"FOR EACH ROW BEGIN {statement}; END"))


def drop_triggers(dialect: str) -> None:
    for table in WATCHED:
        for event in EVENTS:
            name = _name(table, event)
            if dialect == "postgresql":
                op.execute(sa.text(f"DROP TRIGGER IF EXISTS {name} ON {table}"))
                op.execute(sa.text(f"DROP FUNCTION IF EXISTS {name}()"))
            else:
                op.execute(sa.text(f"DROP TRIGGER IF EXISTS {name}"))


def upgrade() -> None:
    op.create_table(
        'dashboard_days',
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('aggregated_version', sa.Integer(), nullable=True),
        sa.Column('aggregated_at', bot.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('day'),
    )
    op.create_table(
        'dashboard_day_figures',
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('area', sa.String(length=16), nullable=False),
        sa.Column('figures', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'channel', 'area'),
    )
    create_triggers(op.get_bind().dialect.name)


def downgrade() -> None:
    drop_triggers(op.get_bind().dialect.name)
    op.drop_table('dashboard_day_figures')
    op.drop_table('dashboard_days')
