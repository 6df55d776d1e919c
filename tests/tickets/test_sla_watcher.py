"""Enforcement of response-time rules with a controllable clock: found once, escalated once,
across a restart and with two gateways on one PostgreSQL."""
from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta

import pytest
from aiohttp import web
from sqlalchemy import select, update

from bot.sla import watcher as sla_watcher
from bot.sla.watcher import SlaWatcher
from bot.store.models import Milestone, Ticket, TicketEvent
from bot.store.types import now_utc
from tests.support.sla import SH, FakeClock, add_ticket, migrated_store, rules, sqlite_url
from bot.app import START_BACKGROUND
from bot.config import SETTINGS
from bot.store import STORE

pytestmark = pytest.mark.asyncio
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=SH)  # an urban repair ticket is created at 10:00


class RecordingHub:
    def __init__(self):
        self.published: list[dict] = []

    async def publish(self, event: dict) -> None:
        self.published.append(event)


@pytest.fixture
def store():
    s = migrated_store(sqlite_url())
    yield s
    s.close()


def ticket_state(store, ticket_no: str):
    with store.session() as session:
        ticket = session.execute(select(Ticket).where(Ticket.ticket_no == ticket_no)).scalar_one()
        events = [(e.kind, e.data) for e in ticket.events if e.kind != "created"]
        milestones = {m.rule: m for m in ticket.milestones}
        return ticket.priority, events, milestones


def kinds(transitions) -> list[tuple[str, str]]:
    return [(t.kind, t.rule) for t in transitions]


async def test_at_risk_and_breach_are_found_once_and_escalated_once(store):
    number = add_ticket(store, "repair", T0)
    clock, hub = FakeClock(T0 + timedelta(minutes=35)), RecordingHub()
    watcher = SlaWatcher(store, at_risk_fraction=0.8, events=hub, now=clock)

    assert await watcher.scan_once() == []  # 35 of 45 minutes: not yet 80 %

    clock.set(T0 + timedelta(minutes=36))  # 80 % of the 45-minute arrival limit
    assert kinds(await watcher.scan_once()) == [("at_risk", "repair.arrival")]
    assert await watcher.scan_once() == []
    priority, events, milestones = ticket_state(store, number)
    assert priority == "high"
    assert [kind for kind, _ in events] == ["at_risk", "priority_raised"]
    assert events[1][1] == {"from": "normal", "to": "high", "reason": "at_risk", "rule": "repair.arrival"}
    assert milestones["repair.arrival"].at_risk_at == clock()
    assert milestones["repair.arrival"].breached is False

    clock.set(T0 + timedelta(minutes=45))
    assert kinds(await watcher.scan_once()) == [("breached", "repair.arrival")]
    assert await watcher.scan_once() == []
    priority, events, milestones = ticket_state(store, number)
    assert priority == "urgent"
    arrival = milestones["repair.arrival"]
    assert arrival.breached is True and arrival.breached_at == clock() and arrival.at_risk_at == T0 + timedelta(minutes=36)

    # A restart: a new watcher finds nothing new; the 2-hour first response becomes at risk at 96 min.
    restarted = SlaWatcher(store, at_risk_fraction=0.8, events=hub, now=clock)
    clock.set(T0 + timedelta(minutes=95))
    assert await restarted.scan_once() == []
    clock.set(T0 + timedelta(minutes=96))
    assert kinds(await restarted.scan_once()) == [("at_risk", "first_response")]
    assert await SlaWatcher(store, events=hub, now=clock).scan_once() == []

    priority, events, _ = ticket_state(store, number)
    assert priority == "urgent"  # already urgent: not raised again
    assert Counter(kind for kind, _ in events) == {"at_risk": 2, "breached": 1, "priority_raised": 2}
    assert [(n["kind"], n["milestone"], n["priority"]) for n in hub.published] == [
        ("at_risk", "抢修人员到达现场", "high"), ("breached", "抢修人员到达现场", "urgent"),
        ("at_risk", "受理", "urgent")]
    assert hub.published[1] == {
        "type": "sla", "kind": "breached", "audience": "supervisor", "ticket_no": number,
        "ticket_type": "repair", "area_type": "urban", "rule": "repair.arrival", "milestone": "抢修人员到达现场",
        "due_at": "2026-11-26T10:45:00+08:00", "at": "2026-11-26T10:45:00+08:00",
        "priority": "urgent", "priority_before": "high"}


async def test_restoration_is_watched_from_the_arrival_deadline(store):
    add_ticket(store, "repair", T0, area_type="rural", status="arrived")
    with store.session() as session:  # crew arrived and staff accepted in time
        session.execute(update(Milestone).where(Milestone.rule.in_(["repair.arrival", "first_response"]))
                        .values(met_at=T0 + timedelta(minutes=30)))
    # Restoration: 4 h counted from the 11:30 arrival deadline, at risk after 80 % = 11:30 + 192 min.
    clock = FakeClock(datetime(2026, 11, 26, 14, 41, tzinfo=SH))
    watcher = SlaWatcher(store, now=clock)
    assert await watcher.scan_once() == []
    clock.set(datetime(2026, 11, 26, 14, 42, tzinfo=SH))
    assert kinds(await watcher.scan_once()) == [("at_risk", "repair.restoration")]


async def test_met_milestones_and_finished_tickets_are_left_alone(store):
    met = add_ticket(store, "repair", T0)
    resolved = add_ticket(store, "repair", T0, status="resolved")
    cancelled = add_ticket(store, "complaint", T0, status="cancelled")
    with store.session() as session:
        ticket_id = session.execute(select(Ticket.id).where(Ticket.ticket_no == met)).scalar_one()
        session.execute(update(Milestone).where(Milestone.ticket_id == ticket_id)
                        .values(met_at=T0 + timedelta(minutes=20)))
    watcher = SlaWatcher(store, now=FakeClock(T0 + timedelta(days=30)))
    assert await watcher.scan_once() == []
    for number in (met, resolved, cancelled):
        priority, events, _ = ticket_state(store, number)
        assert priority == "normal" and events == []


async def test_breach_found_late_counts_once_without_a_separate_at_risk(store):
    # The gateway was down through the at-risk moment and the deadline.
    number = add_ticket(store, "callback", T0, priority="high")
    watcher = SlaWatcher(store, now=FakeClock(T0 + timedelta(hours=3)))
    assert sorted(kinds(await watcher.scan_once())) == [("breached", "callback.call"), ("breached", "first_response")]
    priority, events, milestones = ticket_state(store, number)
    assert priority == "urgent"
    assert Counter(kind for kind, _ in events) == {"breached": 2, "priority_raised": 1}
    assert all(m.at_risk_at == T0 + timedelta(hours=3) and m.breached for m in milestones.values())


async def test_a_milestone_met_after_the_scan_read_it_is_not_flagged(store):
    number = add_ticket(store, "praise", T0)
    clock = FakeClock(T0 + timedelta(hours=2))
    watcher = SlaWatcher(store, now=clock)
    real_claim = watcher._claim

    def claim_after_staff_accepted(session, milestone_id, kind, now):
        # Staff accept the ticket between the watcher's read and its claim.
        session.execute(update(Milestone).where(Milestone.id == milestone_id).values(met_at=now))
        return real_claim(session, milestone_id, kind, now)

    watcher._claim = claim_after_staff_accepted
    assert await watcher.scan_once() == []
    priority, events, milestones = ticket_state(store, number)
    assert priority == "normal" and events == [] and milestones["first_response"].breached is False


def _many_tickets(store, count: int) -> list[str]:
    sla = rules()
    types = ["repair", "complaint", "callback", "praise"]
    return [add_ticket(store, types[i % 4], T0 + timedelta(minutes=i % 7), area_type=("urban", "rural", "remote")[i % 3],
                       sla=sla) for i in range(count)]


async def test_two_gateways_on_postgresql_claim_each_transition_once(postgres_url):
    first_store = migrated_store(postgres_url)
    second_store = migrated_store(postgres_url)  # a second gateway: its own engine and pool
    try:
        numbers = _many_tickets(first_store, 24)
        clock = FakeClock(T0)
        hubs = RecordingHub(), RecordingHub()
        gateways = [SlaWatcher(first_store, events=hubs[0], now=clock), SlaWatcher(second_store, events=hubs[1], now=clock)]

        claimed = []
        for minutes in (40, 50, 100, 130, 60 * 24 + 10):  # at risk, breaches, 24-hour contact
            clock.set(T0 + timedelta(minutes=minutes))
            rounds = await asyncio.gather(*(g.scan_once() for g in gateways for _ in range(3)))
            claimed += [t for found in rounds for t in found]

        keys = [(t.ticket_no, t.rule, t.kind) for t in claimed]
        assert len(keys) == len(set(keys)) > 0
        # The database holds exactly one event per claimed transition, and nothing else.
        with first_store.session() as session:
            rows = session.execute(
                select(Ticket.ticket_no, TicketEvent.kind, TicketEvent.data)
                .join(TicketEvent, TicketEvent.ticket_id == Ticket.id)
                .where(TicketEvent.kind.in_(["at_risk", "breached"]))).all()
            flagged = session.execute(select(Milestone).where(Milestone.breached_at.is_not(None))).scalars().all()
            priorities = dict(session.execute(select(Ticket.ticket_no, Ticket.priority)).all())
        assert sorted((no, data["rule"], kind) for no, kind, data in rows) == sorted(keys)
        assert len(flagged) == sum(1 for _, _, kind in keys if kind == "breached")
        # Every open milestone past due by now was found: first response (2 h) of all 24 tickets.
        assert sum(1 for _, rule, kind in keys if rule == "first_response" and kind == "breached") == 24
        assert all(priorities[no] == "urgent" for no in numbers)
        published = [(n["ticket_no"], n["rule"], n["kind"]) for hub in hubs for n in hub.published]
        assert sorted(published) == sorted(keys)

        # Both gateways restart: nothing is found again.
        restarted = [SlaWatcher(migrated_store(postgres_url), now=clock) for _ in range(2)]
        try:
            assert await asyncio.gather(*(w.scan_once() for w in restarted)) == [[], []]
        finally:
            for w in restarted:
                w.store.close()
    finally:
        first_store.close()
        second_store.close()


async def test_background_task_runs_with_the_app_and_stops_on_cleanup(tmp_path):
    store = migrated_store(sqlite_url())
    fast = tmp_path / "sla.yml"
    from tests.support.sla import SLA_YML
    fast.write_text(SLA_YML.read_text(encoding="utf-8").replace("scan_interval_seconds: 30",
                                                                 "scan_interval_seconds: 0.05"), encoding="utf-8")

    class Settings:
        sla_config = fast

    app = web.Application()
    app[SETTINGS], app[STORE], app[START_BACKGROUND] = Settings(), store, True
    hub = RecordingHub()
    from bot.events import EVENT_BUS, EventBus
    app[EVENT_BUS] = EventBus()
    app[EVENT_BUS].subscribe(hub.publish)
    from bot.sla import setup as sla_setup
    sla_setup(app)
    number = add_ticket(store, "repair", now_utc() - timedelta(minutes=100))

    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    try:
        for _ in range(100):
            if len(hub.published) >= 2:
                break
            await asyncio.sleep(0.05)
    finally:
        await runner.cleanup()
    assert {(n["ticket_no"], n["rule"], n["kind"]) for n in hub.published} >= {
        (number, "repair.arrival", "breached"), (number, "first_response", "at_risk")}
    count = len(hub.published)
    await asyncio.sleep(0.2)
    assert len(hub.published) == count  # stopped with the app
    store.close()


async def test_no_background_task_when_the_app_does_not_run_timers():
    app = web.Application()

    class Settings:
        from tests.support.sla import SLA_YML as sla_config

    app[SETTINGS], app[START_BACKGROUND] = Settings(), False
    from bot.sla import setup as sla_setup
    sla_setup(app)
    assert sla_watcher.WATCHER not in app and not app.cleanup_ctx
