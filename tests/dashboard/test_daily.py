"""The stored per-day figures (bot.dashboard.daily) give exactly the figures of the rows, on
SQLite and PostgreSQL: after a refresh, after late data (the day is stale until refreshed
again), as time passes deadlines, with two gateways refreshing at once."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from bot.dashboard import daily, queries, report
from bot.dashboard.queries import Scope, day_scope
from bot.store.models import (Conversation, Customer, DashboardDay, DashboardDayFigures, Handoff, Message, Milestone,
                              SurveyAnswer, Ticket)
from bot.store.types import SHANGHAI as SH, now_utc
from tests.support import dashboard as data
from tests.support.dashboard import FIRST_DAY, LAST_DAY, NOW, t

SCOPES = [
    day_scope(FIRST_DAY, LAST_DAY),
    day_scope(FIRST_DAY, LAST_DAY, "wechat"),
    day_scope(FIRST_DAY, LAST_DAY, "web", "urban"),
    day_scope(FIRST_DAY, LAST_DAY, "", "rural"),
    day_scope(FIRST_DAY, LAST_DAY, "", "remote"),
    day_scope(FIRST_DAY - timedelta(days=30), LAST_DAY),
    # As `bot report` gives it: not whole days (the partial days are read from the rows).
    Scope(datetime(2026, 11, 23, 9, 31, tzinfo=SH), datetime(2026, 11, 29, 12, 0, tzinfo=SH)),
    Scope(datetime(2026, 11, 16, 12, 0, tzinfo=SH), now_utc()),
]


def both(store, scope, now=NOW) -> tuple[dict, dict]:
    with store.session() as session:
        stored = queries.compute(session, scope, now=now)
        live = queries.compute(session, scope, now=now, live=True)
    return stored, live


def assert_same(store, now=NOW) -> dict:
    for scope in SCOPES:
        stored, live = both(store, scope, now)
        for key in live:
            assert stored[key] == live[key], (scope, key)
        assert list(report.rows(stored)) == list(report.rows(live)), scope  # CSV/Excel, row by row
    return both(store, SCOPES[0], now)[0]


def stale_days(store) -> set[str]:
    with store.session() as session:
        return set(session.execute(select(DashboardDay.day).where(
            DashboardDay.aggregated_version.is_(None) | (DashboardDay.aggregated_version != DashboardDay.version)))
            .scalars())


@pytest.fixture
def store(backend_store):
    with backend_store.session() as session:
        data.load(session)
    return backend_store


def test_stored_days_give_the_figures_of_the_rows(store, monkeypatch):
    assert stale_days(store) >= {"2026-11-23", "2026-11-29"}  # written rows of past days: stale
    first = daily.refresh(store)
    assert first >= 14 and daily.refresh(store) == 0 and stale_days(store) == set()
    with store.session() as session:
        rows = session.execute(select(func.count()).select_from(DashboardDayFigures)
                               .where(DashboardDayFigures.day == "2026-11-23")).scalar()
    assert rows > 1  # buckets and roll-ups
    # The stored days are read, not the rows: only the days before the first data (16-17 November,
    # in the previous period) are read from the rows.
    built = []
    real_build = daily.build
    monkeypatch.setattr(daily, "build", lambda s, a, b, *rest: built.append((a, b)) or real_build(s, a, b, *rest))
    with store.session() as session:
        queries.compute(session, day_scope(FIRST_DAY, LAST_DAY), now=NOW)
    assert built == [(datetime(2026, 11, 16, tzinfo=SH), datetime(2026, 11, 18, tzinfo=SH))]
    monkeypatch.setattr(daily, "build", real_build)
    figures = assert_same(store)
    assert figures["conversations"]["total"] == data.EXPECTED["conversations"]
    assert figures["handoffs"]["wait_p90_seconds"] == data.EXPECTED["wait_p90"]


def test_late_data_makes_its_day_stale_until_refreshed(store):
    daily.refresh(store)
    # A message of Tuesday 24 arrives late (a platform's retry), Wednesday's c4 gets its answer today,
    # a person takes over Sunday's c6, ticket T3 is closed, T2's opinion is met, B moves to the town.
    with store.session() as session:
        session.add(Message(conversation_id="c3", sender="customer", channel="wechat", text="还在吗",
                            intent="nlu_fallback", created_at=t(24, 20, 7)))
        session.add(SurveyAnswer(conversation_id="c4", rating="dissatisfied", comment="没人回电", created_at=now_utc()))
        session.add(Handoff(conversation_id="c6", channel="web", reason="staff_takeover", status="accepted",
                            created_at=now_utc(), accepted_at=now_utc(), agent="li"))
        session.add(Message(conversation_id="c6", sender="staff", channel="web", text="您好", created_at=now_utc()))
    assert stale_days(store) == {"2026-11-24", "2026-11-25", "2026-11-29"}
    after_first = assert_same(store)  # stale days are read from the rows meanwhile
    assert after_first["containment"]["fallback_messages"] == 4 and after_first["containment"]["contained"] == 1
    assert after_first["satisfaction"]["responded"] == 5
    with store.session() as session:
        session.execute(text("UPDATE tickets SET status = 'closed', closed_at = :at WHERE ticket_no = 'T3'"),
                        {"at": now_utc() if session.get_bind().dialect.name == "postgresql"
                         else now_utc().replace(tzinfo=None).isoformat(sep=" ")})
        t2 = session.execute(select(Ticket.id).where(Ticket.ticket_no == "T2")).scalar()
        session.execute(Milestone.__table__.update().where(Milestone.ticket_id == t2,
                                                           Milestone.rule == "complaint.opinion")
                        .values(met_at=t(28, 9)))
        session.execute(Customer.__table__.update().where(Customer.account_no == "3209000002")
                        .values(area_type="urban"))
    assert {"2026-11-25", "2026-11-26"} <= stale_days(store)  # T2's and T3's days
    assert {"2026-11-23", "2026-11-29"} <= stale_days(store)  # B's conversations c2, c6
    assert_same(store)
    assert daily.refresh(store) >= 5 and stale_days(store) == set()
    figures = assert_same(store)
    assert figures["containment"]["fallback_messages"] == 4
    assert figures["sla"]["open"] == 0 and figures["tickets"]["by_status"][0]["tickets"] == 2  # T1, T3 closed
    rural = both(store, day_scope(FIRST_DAY, LAST_DAY, "", "rural"))[0]
    assert rural["conversations"]["total"] == 0  # B is urban now
    # A deleted conversation (retention) is taken out of its day too.
    with store.session() as session:
        session.execute(Message.__table__.delete().where(Message.conversation_id == "c1"))
        session.execute(SurveyAnswer.__table__.delete().where(SurveyAnswer.conversation_id == "c1"))
        session.execute(Conversation.__table__.delete().where(Conversation.id == "c1"))
    assert "2026-11-23" in stale_days(store)
    daily.refresh(store)
    assert assert_same(store)["conversations"]["total"] == 6


def test_rows_of_today_mark_nothing(store):
    daily.refresh(store)
    with store.session() as session:
        session.add(Conversation(id="today-1", channel="web", created_at=now_utc()))
        session.flush()
        session.add(Message(conversation_id="today-1", sender="customer", channel="web", text="你好",
                            intent="greet", created_at=now_utc()))
    today = now_utc().astimezone(SH).date().isoformat()
    with store.session() as session:
        assert session.get(DashboardDay, today) is None
    assert stale_days(store) == set()
    assert_same(store)


def test_deadlines_passing_change_stored_days_as_the_rows(store):
    """Whether an unmet milestone is breached depends on the time of reading, not of the refresh."""
    daily.refresh(store)
    later = datetime(2100, 1, 1, tzinfo=SH)  # every deadline of the data set has passed
    before, _ = both(store, SCOPES[0], NOW)
    after = assert_same(store, later)
    assert (before["sla"]["at_risk"], before["sla"]["open"]) == (1, 1)
    assert (after["sla"]["at_risk"], after["sla"]["open"], after["sla"]["breached"]) == (0, 0, 5)


def test_two_gateways_refreshing_at_once_do_each_day_once(store):
    days = len(daily.days_to_aggregate(store, now_utc().astimezone(SH).date()))
    done: list[int] = []
    errors: list[BaseException] = []

    def run():
        try:
            done.append(daily.refresh(store))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors and sum(done) == days and stale_days(store) == set()
    assert_same(store)


def test_migration_0007_both_ways(store_url):
    from alembic import command
    from sqlalchemy import inspect

    from bot.store.db import alembic_config, make_engine

    def tables() -> set[str]:
        engine = make_engine(store_url)
        try:
            return set(inspect(engine).get_table_names()) & {"dashboard_days", "dashboard_day_figures"}
        finally:
            engine.dispose()

    assert tables() == {"dashboard_days", "dashboard_day_figures"}
    command.downgrade(alembic_config(store_url), "0006_dashboard_indexes")
    assert tables() == set()
    engine = make_engine(store_url)
    try:  # no trigger left behind: writing a past day's row works without the table
        with engine.begin() as conn:
            conn.execute(Conversation.__table__.insert().values(
                id="old", channel="web", state="closed", tags=[], reviewed=False,
                created_at=datetime(2026, 1, 5, tzinfo=SH), last_message_at=datetime(2026, 1, 5, tzinfo=SH)))
    finally:
        engine.dispose()
    command.upgrade(alembic_config(store_url), "head")
    assert tables() == {"dashboard_days", "dashboard_day_figures"}
