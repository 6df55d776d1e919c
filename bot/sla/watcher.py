"""Enforcement: find milestones at risk or breached, record them once, escalate, tell supervisors.

Every ``scan_interval_seconds`` the watcher looks at the open milestones (not met, ticket
not finished). A milestone is *at risk* once ``at_risk_fraction`` (80 %) of its time is
used, *breached* once its deadline passes. Each transition is claimed in the database::

    UPDATE milestones SET at_risk_at = :now WHERE id = :id AND at_risk_at IS NULL AND met_at IS NULL

and acted on only by the watcher whose UPDATE changed the row, in the same transaction as
its ticket event and priority change. So a restart, or a second gateway on the same
PostgreSQL, never records or escalates the same transition twice, and a crash between
claim and event leaves neither. Supervisors get a live notice on the event bus
(``bot.events.SlaEvent``, ``{"type": "sla", ...}``) after the commit; the bus shows it to the
supervisors' consoles of every gateway, never to agents.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Literal

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.app import START_BACKGROUND
from bot.events import Publisher, SlaEvent, bus_of
from bot.sla import SLA_RULES
from bot.store import STORE
from bot.store.models import Milestone, Ticket, TicketEvent
from bot.store.types import iso_local, now_utc

log = logging.getLogger(__name__)

ACTOR = "sla-watcher"
FINISHED_STATUSES = ("resolved", "closed", "cancelled")
# Escalation: at risk lifts a normal ticket to high; a breach makes it urgent.
RAISE_TO = {"at_risk": "high", "breached": "urgent"}
_RANK = {"normal": 0, "high": 1, "urgent": 2}

Clock = Callable[[], datetime]
Kind = Literal["at_risk", "breached"]


@dataclass(frozen=True)
class Transition:
    """One transition this watcher claimed (and nobody else will)."""

    kind: Kind
    milestone_id: int
    ticket_no: str
    ticket_type: str
    area_type: str | None
    rule: str
    name: str
    due_at: datetime
    at: datetime
    priority_before: str
    priority_after: str

    def notice(self) -> SlaEvent:
        """The live notice for supervisors' consoles."""
        return SlaEvent(type="sla", kind=self.kind, audience="supervisor",
                        ticket_no=self.ticket_no, ticket_type=self.ticket_type,
                        area_type=self.area_type, rule=self.rule, milestone=self.name,
                        due_at=iso_local(self.due_at), at=iso_local(self.at),
                        priority=self.priority_after, priority_before=self.priority_before)


def at_risk_time(milestone: Milestone, fraction: float) -> datetime:
    return milestone.started_at + (milestone.due_at - milestone.started_at) * fraction


class SlaWatcher:
    def __init__(self, store, *, at_risk_fraction: float = 0.8, interval_seconds: float = 30.0,
                 events: Publisher | None = None, now: Clock = now_utc):
        self.store = store
        self.at_risk_fraction = at_risk_fraction
        self.interval_seconds = interval_seconds
        self.events = events  # the app's event bus (bot.events); None: no live notices
        self.now = now

    @classmethod
    def for_app(cls, app, now: Clock = now_utc) -> "SlaWatcher":
        rules = app[SLA_RULES]
        return cls(app[STORE], at_risk_fraction=rules.at_risk_fraction,
                   interval_seconds=rules.scan_interval_seconds, events=bus_of(app), now=now)

    # ---- one scan ------------------------------------------------------------------------
    async def scan_once(self) -> list[Transition]:
        """Claims and records every due transition; returns those this watcher claimed."""
        now = self.now()
        transitions = await self.store.run(self._scan, now)
        await self._announce(transitions)
        return transitions

    def _scan(self, now: datetime) -> list[Transition]:
        with self.store.session() as session:
            candidates = session.execute(
                select(Milestone.id, Milestone.started_at, Milestone.due_at, Milestone.at_risk_at)
                .join(Ticket, Ticket.id == Milestone.ticket_id)
                .where(Milestone.met_at.is_(None), Milestone.breached_at.is_(None),
                       Milestone.started_at <= now, Ticket.status.not_in(FINISHED_STATUSES))
                .order_by(Milestone.due_at)
            ).all()
        claimed = []
        for milestone_id, started_at, due_at, at_risk_at in candidates:
            kind: Kind
            if due_at <= now:
                kind = "breached"
            elif at_risk_at is None and started_at + (due_at - started_at) * self.at_risk_fraction <= now:
                kind = "at_risk"
            else:
                continue
            # One transaction per claim: a failure leaves this milestone for the next scan.
            try:
                with self.store.session() as session:
                    transition = self._claim(session, milestone_id, kind, now)
            except Exception:
                log.exception("could not record %s for milestone %s", kind, milestone_id)
                continue
            if transition is not None:
                claimed.append(transition)
        return claimed

    def _claim(self, session: Session, milestone_id: int, kind: Kind, now: datetime) -> Transition | None:
        open_milestone = (Milestone.id == milestone_id) & Milestone.met_at.is_(None)
        if kind == "breached":
            statement = (update(Milestone)
                         .where(open_milestone, Milestone.breached_at.is_(None))
                         .values(breached_at=now, breached=True))
        else:
            statement = (update(Milestone)
                         .where(open_milestone, Milestone.at_risk_at.is_(None), Milestone.breached_at.is_(None))
                         .values(at_risk_at=now))
        if session.execute(statement.execution_options(synchronize_session=False)).rowcount != 1:
            return None  # met meanwhile, or another watcher got there first
        if kind == "breached":
            # A breach found without an earlier at-risk (the gateway was down) counts as both.
            session.execute(update(Milestone).where(Milestone.id == milestone_id, Milestone.at_risk_at.is_(None))
                            .values(at_risk_at=now).execution_options(synchronize_session=False))
        milestone = session.get(Milestone, milestone_id)
        ticket = session.execute(select(Ticket).where(Ticket.id == milestone.ticket_id).with_for_update()).scalar_one()
        before = ticket.priority
        target = RAISE_TO[kind]
        after = target if _RANK.get(target, 0) > _RANK.get(before, 0) else before
        session.add(TicketEvent(ticket_id=ticket.id, at=now, actor=ACTOR, kind=kind,
                                data={"rule": milestone.rule, "name": milestone.name,
                                      "due_at": iso_local(milestone.due_at), "milestone_id": milestone.id}))
        if after != before:
            ticket.priority = after
            ticket.updated_at = now
            session.add(TicketEvent(ticket_id=ticket.id, at=now, actor=ACTOR, kind="priority_raised",
                                    data={"from": before, "to": after, "reason": kind, "rule": milestone.rule}))
        return Transition(kind=kind, milestone_id=milestone.id, ticket_no=ticket.ticket_no,
                          ticket_type=ticket.type, area_type=ticket.area_type, rule=milestone.rule,
                          name=milestone.name, due_at=milestone.due_at, at=now,
                          priority_before=before, priority_after=after)

    async def _announce(self, transitions: list[Transition]) -> None:
        if self.events is None:
            return
        for transition in transitions:
            try:
                await self.events.publish(transition.notice())
            except Exception:  # a broken console must not stop enforcement
                log.exception("could not publish the SLA notice for %s", transition.ticket_no)

    # ---- background loop -----------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                found = await self.scan_once()
                for transition in found:
                    log.info("ticket %s: %s %s (due %s), priority %s", transition.ticket_no,
                             transition.name, transition.kind, iso_local(transition.due_at),
                             transition.priority_after)
            except Exception:
                log.exception("SLA scan failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.interval_seconds)
            except asyncio.TimeoutError:
                pass


WATCHER = web.AppKey("sla_watcher", SlaWatcher)  # on the gateway's app while it runs


def setup(app) -> None:
    """Starts the watcher with the app's background tasks (``app[START_BACKGROUND]``)."""
    if not app.get(START_BACKGROUND):
        return
    service = SlaWatcher.for_app(app)
    app[WATCHER] = service

    async def watcher(app):
        stop = asyncio.Event()
        task = asyncio.create_task(service.run(stop))
        yield
        stop.set()
        await task

    app.cleanup_ctx.append(watcher)
