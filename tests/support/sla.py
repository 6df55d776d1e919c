"""Helpers for the response-time tests: a controllable clock, stores, tickets with planned milestones."""
from __future__ import annotations

import itertools
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.sla import load_rules
from bot.store import Store, migrate
from bot.store.models import Conversation, Milestone, Ticket, TicketEvent

SH = ZoneInfo("Asia/Shanghai")
SLA_YML = Path(__file__).resolve().parent.parent.parent / "sla.yml"
_numbers = itertools.count(1)


class FakeClock:
    """``now`` for the code under test; tests move it forward by hand."""

    def __init__(self, start: datetime):
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def set(self, value: datetime) -> None:
        self.current = value

    def advance(self, **kwargs) -> None:
        self.current += timedelta(**kwargs)


def sqlite_url() -> str:
    return f"sqlite:///{Path(tempfile.mkdtemp(prefix='sla-')) / 'store.db'}"


def migrated_store(url: str) -> Store:
    migrate(url)
    return Store(url)


def rules():
    return load_rules(SLA_YML)


def add_ticket(store: Store, ticket_type: str, created_at: datetime, *, area_type: str = "urban",
               priority: str = "normal", status: str = "new", business_type: str | None = None,
               conversation_id: str | None = None, channel: str = "web", sla=None) -> str:
    """Inserts a ticket with the milestones sla.yml plans for it; returns its number."""
    sla = sla or rules()
    number = f"T{ticket_type[:2].upper()}{next(_numbers):06d}"
    with store.session() as session:
        ticket = Ticket(ticket_no=number, type=ticket_type, status=status, priority=priority,
                        conversation_id=conversation_id, channel=channel, summary="测试工单",
                        details={}, business_type=business_type, area_type=area_type,
                        created_at=created_at, updated_at=created_at)
        for planned in sla.plan(ticket_type, priority, area_type, business_type, created_at):
            ticket.milestones.append(Milestone(name=planned.name, rule=planned.rule,
                                               started_at=planned.started_at, due_at=planned.due_at,
                                               breached=False))
        ticket.events.append(TicketEvent(at=created_at, actor="system", kind="created", data={}))
        session.add(ticket)
    return number


def add_conversation(store: Store, conversation_id: str, channel: str = "web", at: datetime | None = None) -> None:
    with store.session() as session:
        values = {"id": conversation_id, "channel": channel, "state": "bot", "tags": []}
        if at is not None:
            values.update(created_at=at, last_message_at=at)
        session.add(Conversation(**values))
