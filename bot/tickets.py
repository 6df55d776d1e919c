"""Ticket service: creation (numbering, milestones, idempotency), status changes, queries, JSON.

Every function is synchronous and takes a ``Session`` inside a transaction (``Store.session()``);
async callers wrap them with ``await store.run(...)``.

- Numbers are a type prefix, the Asia/Shanghai date and a per-day counter (``BX20261126001``).
  The counter lives in ``ticket_sequences`` and is bumped with one atomic upsert, so concurrent
  creations on PostgreSQL never get the same number (the row lock is held until commit).
- ``request_key`` makes creation idempotent: a retried request gets the first ticket back, also
  when two identical requests race (the loser's insert hits the unique key and re-reads).
- Milestones come from the response-time rules (``bot.sla``: ``rules.plan(...)``); a status
  change meets every open milestone whose rule lists the new status in ``met_by``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Protocol, Sequence

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from bot import vocabulary
from bot.store.models import (
    AREA_TYPES,
    PRIORITIES,
    TICKET_TYPES,
    Customer,
    Milestone,
    Ticket,
    TicketEvent,
    TicketSequence,
)
from bot.store.types import SHANGHAI, iso_local, now_utc

TICKET_PREFIXES = {
    "repair": "BX",  # 报修
    "complaint": "TS",  # 投诉
    "tip_off": "JB",  # 举报
    "suggestion": "JY",  # 建议
    "praise": "BY",  # 表扬
    "application": "YK",  # 业扩 (业务办理)
    "callback": "HD",  # 回电
}
TICKET_STATUSES = tuple(vocabulary.TICKET_STATUSES)  # in their order, named in bot.vocabulary
FINAL_STATUSES = vocabulary.FINAL_STATUSES
OPEN_STATUSES = tuple(s for s in TICKET_STATUSES if s not in FINAL_STATUSES)
# Without an account or an explicit area, a ticket is planned with the strictest (urban) limits.
DEFAULT_AREA_TYPE = "urban"


class TicketError(Exception):
    """A request the ticket service refuses; ``code`` maps to an HTTP status in the API."""

    status = 400

    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class TicketNotFound(TicketError):
    status = 404


class TicketConflict(TicketError):
    status = 409


class PlannedMilestoneLike(Protocol):
    # Read-only, so that a frozen dataclass (bot.sla.PlannedMilestone) is one.
    @property
    def rule(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def due_at(self) -> datetime: ...
    @property
    def met_by(self) -> tuple[str, ...]: ...


class SlaPlanner(Protocol):
    def plan(self, ticket_type: str, priority: str, area_type: str | None, business_type: str | None,
             created_at: datetime, *, customer_type: str | None = None) -> Sequence[PlannedMilestoneLike]: ...


@dataclass
class CreateResult:
    ticket: Ticket
    created: bool  # False: the request_key was seen before and this is the first ticket


# ---------------------------------------------------------------- numbering


def _next_sequence_value(session: Session, prefix: str, day: str) -> int:
    """Bumps and returns the counter of (prefix, day) atomically."""
    dialect = session.get_bind().dialect.name
    table = TicketSequence.__table__
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(table).values(prefix=prefix, day=day, last_value=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.prefix, table.c.day],
            set_={"last_value": table.c.last_value + 1},
        ).returning(table.c.last_value)
        return int(session.execute(stmt).scalar_one())
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        # SQLite serialises writers: after this write our transaction holds the database
        # lock until commit, so the read below sees our own value.
        stmt = sqlite_insert(table).values(prefix=prefix, day=day, last_value=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.prefix, table.c.day],
            set_={"last_value": table.c.last_value + 1},
        )
        session.execute(stmt)
    else:  # generic: lock by updating first, insert the first row of the day otherwise
        bumped = session.execute(
            update(table).where(table.c.prefix == prefix, table.c.day == day)
            .values(last_value=table.c.last_value + 1))
        if bumped.rowcount == 0:
            session.execute(table.insert().values(prefix=prefix, day=day, last_value=1))
    return int(session.execute(
        select(table.c.last_value).where(table.c.prefix == prefix, table.c.day == day)).scalar_one())


def next_ticket_no(session: Session, ticket_type: str, at: datetime) -> str:
    prefix = TICKET_PREFIXES[ticket_type]
    day = at.astimezone(SHANGHAI).strftime("%Y%m%d")
    value = _next_sequence_value(session, prefix, day)
    return f"{prefix}{day}{value:03d}"


# ---------------------------------------------------------------- creation


def _by_request_key(session: Session, request_key: str) -> Ticket | None:
    return session.execute(
        select(Ticket).where(Ticket.request_key == request_key)
    ).scalar_one_or_none()


def _check_replay(existing: Ticket, ticket_type: str, account_no: str | None) -> None:
    if existing.type != ticket_type or (existing.account_no or None) != (account_no or None):
        raise TicketConflict(
            "request_key_reused",
            f"request_key was already used for ticket {existing.ticket_no} with a different "
            "type or account", field="request_key")


# Ticket types whose customer is called back: without a number, the account's registered phone.
CONTACT_FROM_ACCOUNT = ("repair", "complaint", "application")


def create_ticket(
    session: Session,
    rules: SlaPlanner,
    *,
    type: str,
    summary: str,
    channel: str = "rest",
    priority: str = "normal",
    account_no: str | None = None,
    conversation_id: str | None = None,
    business_type: str | None = None,
    area_type: str | None = None,
    contact_name: str | None = None,
    contact_phone: str | None = None,
    details: dict[str, Any] | None = None,
    request_key: str | None = None,
    actor: str = "system",
    now: datetime | None = None,
    applicant_type: str | None = None,
) -> CreateResult:
    """Creates a ticket with its number, milestones and a ``created`` event.

    Idempotent on ``request_key``. Raises ``TicketError`` for values the service refuses.
    ``applicant_type`` (residential, commercial, industrial or high_voltage: who applies, as the
    conversation showed) picks an application's schedule instead of the account's customer type.
    """
    if type not in TICKET_TYPES:
        raise TicketError("validation_error", f"type must be one of {', '.join(TICKET_TYPES)}", "type")
    if priority not in PRIORITIES:
        raise TicketError("validation_error", f"priority must be one of {', '.join(PRIORITIES)}", "priority")
    if area_type is not None and area_type not in AREA_TYPES:
        raise TicketError("validation_error", f"area_type must be one of {', '.join(AREA_TYPES)}", "area_type")
    if not summary or not summary.strip():
        raise TicketError("validation_error", "summary must not be empty", "summary")

    if request_key:
        existing = _by_request_key(session, request_key)
        if existing is not None:
            _check_replay(existing, type, account_no)
            return CreateResult(existing, False)

    if account_no is not None:
        customer = session.execute(
            select(Customer).where(Customer.account_no == account_no)).scalar_one_or_none()
        if customer is None:
            raise TicketError("validation_error", f"account {account_no} does not exist", "account_no")
        area_type = area_type or customer.area_type
        if not contact_phone and ((details or {}).get("use_registered_phone") or type in CONTACT_FROM_ACCOUNT):
            # "打我登记的那个号", or the customer named (or proved) the account and left no other
            # number: the crew or the complaint desk calls the registered phone.
            contact_phone = customer.phone or None
    customer_type = None
    if account_no is not None:
        customer_type = customer.customer_type
    area_type = area_type or DEFAULT_AREA_TYPE
    created_at = now or now_utc()

    # A savepoint so that losing a race on request_key leaves the outer transaction usable.
    try:
        with session.begin_nested():
            ticket = Ticket(
                ticket_no=next_ticket_no(session, type, created_at),
                type=type, status="new", priority=priority, account_no=account_no,
                conversation_id=conversation_id, channel=channel, summary=summary.strip(),
                details=dict(details or {}), business_type=business_type, area_type=area_type,
                contact_name=contact_name, contact_phone=contact_phone, request_key=request_key,
                created_at=created_at, updated_at=created_at,
            )
            planned_milestones = rules.plan(type, priority, area_type, business_type, created_at,
                                            customer_type=applicant_type or customer_type)
            for planned in planned_milestones:
                ticket.milestones.append(Milestone(
                    name=planned.name, rule=planned.rule, started_at=planned.started_at,
                    due_at=planned.due_at, met_at=None, breached=False))
            ticket.events.append(TicketEvent(
                at=created_at, actor=actor, kind="created",
                data={"status": "new", "priority": priority, "channel": channel}))
            session.add(ticket)
            session.flush()
    except IntegrityError:
        if not request_key:
            raise
        existing = _by_request_key(session, request_key)
        if existing is None:
            raise
        _check_replay(existing, type, account_no)
        return CreateResult(existing, False)
    return CreateResult(ticket, True)


# ---------------------------------------------------------------- status changes


def _met_by_rule(session: Session, rules: SlaPlanner, ticket: Ticket) -> dict[str, tuple[str, ...]]:
    """Which statuses meet each rule of this ticket, from the current configuration.

    Planning again with the ticket's own attributes yields the same rule keys as at creation;
    a rule since moved elsewhere in the configuration is looked up by its key.
    """
    customer_type = None
    if ticket.account_no:
        customer_type = session.execute(
            select(Customer.customer_type).where(Customer.account_no == ticket.account_no)).scalar_one_or_none()
    planned = rules.plan(ticket.type, ticket.priority, ticket.area_type, ticket.business_type,
                         ticket.created_at, customer_type=customer_type)
    met_by = {p.rule: tuple(p.met_by) for p in planned}
    lookup = getattr(rules, "rule", None)
    for milestone in ticket.milestones:
        if milestone.rule not in met_by and callable(lookup):
            rule = lookup(milestone.rule)
            if rule is not None:
                met_by[milestone.rule] = tuple(getattr(rule, "met_by", ()))
    return met_by


def _locked_ticket(session: Session, ticket_no: str, actor: str) -> Ticket:
    """The ticket to change, locked until the transaction ends (two changes never interleave)."""
    if not actor or not actor.strip():
        raise TicketError("validation_error", "actor must not be empty", "actor")
    ticket = session.execute(
        select(Ticket).where(Ticket.ticket_no == ticket_no).with_for_update()
    ).scalar_one_or_none()
    if ticket is None:
        raise TicketNotFound("not_found", f"ticket {ticket_no} does not exist")
    return ticket


def change_status(
    session: Session,
    rules: SlaPlanner,
    ticket_no: str,
    status: str,
    *,
    actor: str,
    note: str | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Moves a ticket to ``status``, records the event and meets the milestones it satisfies.

    Setting the status a ticket already has changes nothing (a retried request is harmless).
    Closed and cancelled tickets do not change any more (``TicketConflict``).
    """
    if status not in TICKET_STATUSES:
        raise TicketError("validation_error", f"status must be one of {', '.join(TICKET_STATUSES)}", "status")
    ticket = _locked_ticket(session, ticket_no, actor)
    if ticket.status == status:
        return ticket
    if ticket.status in FINAL_STATUSES:
        raise TicketConflict("ticket_final", f"ticket {ticket_no} is {ticket.status} and cannot change")

    at = now or now_utc()
    previous = ticket.status
    ticket.status = status
    ticket.updated_at = at
    if status in FINAL_STATUSES:
        ticket.closed_at = at
    data: dict[str, Any] = {"from": previous, "to": status}
    if note:
        data["note"] = note
    ticket.events.append(TicketEvent(at=at, actor=actor, kind="status_changed", data=data))

    met_by = _met_by_rule(session, rules, ticket)
    for milestone in ticket.milestones:
        if milestone.met_at is None and status in met_by.get(milestone.rule, ()):
            milestone.met_at = at
            if at > milestone.due_at:
                milestone.breached = True
            ticket.events.append(TicketEvent(
                at=at, actor=actor, kind="milestone_met",
                data={"rule": milestone.rule, "name": milestone.name,
                      "due_at": iso_local(milestone.due_at), "met_at": iso_local(at),
                      "breached": bool(milestone.breached)}))
    session.flush()
    return ticket


def set_contact(session: Session, ticket_no: str, *, contact_phone: str, actor: str,
                contact_name: str | None = None, now: datetime | None = None) -> Ticket:
    """Records the phone (and name) to reach the customer on, e.g. a callback ticket opened
    before the customer left a number. Giving the same contact again changes nothing; closed
    and cancelled tickets do not change any more (``TicketConflict``)."""
    ticket = _locked_ticket(session, ticket_no, actor)
    if ticket.contact_phone == contact_phone and (contact_name is None or ticket.contact_name == contact_name):
        return ticket
    if ticket.status in FINAL_STATUSES:
        raise TicketConflict("ticket_final", f"ticket {ticket_no} is {ticket.status} and cannot change")
    at = now or now_utc()
    data: dict[str, Any] = {"from": ticket.contact_phone, "to": contact_phone}
    ticket.contact_phone = contact_phone
    if contact_name is not None:
        ticket.contact_name = contact_name
        data["name"] = contact_name
    ticket.updated_at = at
    ticket.events.append(TicketEvent(at=at, actor=actor, kind="contact_changed", data=data))
    session.flush()
    return ticket


def set_address(session: Session, ticket_no: str, *, address: str, actor: str,
                now: datetime | None = None) -> Ticket:
    """The place the customer corrected after the ticket was opened ("地址说错了 是和平社区81号"):
    the ticket's address changes and the old one stays in its record. The area type and the
    deadlines are kept as they were (staff look again when the place is in another area).
    The same address again changes nothing; closed and cancelled tickets do not change."""
    ticket = _locked_ticket(session, ticket_no, actor)
    details = dict(ticket.details or {})
    if details.get("address") == address:
        return ticket
    if ticket.status in FINAL_STATUSES:
        raise TicketConflict("ticket_final", f"ticket {ticket_no} is {ticket.status} and cannot change")
    at = now or now_utc()
    data: dict[str, Any] = {"from": details.get("address"), "to": address}
    details["address"] = address
    ticket.details = details  # a new dict: the JSON column is written
    old_address = data["from"]
    if old_address and old_address in ticket.summary:
        # A repair's summary opens with its address: staff read the summary in lists.
        ticket.summary = ticket.summary.replace(old_address, address, 1)[:500]
    ticket.updated_at = at
    ticket.events.append(TicketEvent(at=at, actor=actor, kind="address_changed", data=data))
    session.flush()
    return ticket


def add_note(session: Session, ticket_no: str, *, actor: str, note: str) -> Ticket:
    ticket = get_ticket(session, ticket_no)
    if ticket is None:
        raise TicketNotFound("not_found", f"ticket {ticket_no} does not exist")
    ticket.events.append(TicketEvent(at=now_utc(), actor=actor, kind="note", data={"note": note}))
    session.flush()
    return ticket


# ---------------------------------------------------------------- queries


def get_ticket(session: Session, ticket_no: str) -> Ticket | None:
    return session.execute(
        select(Ticket).where(Ticket.ticket_no == ticket_no)
        .options(selectinload(Ticket.milestones), selectinload(Ticket.events))
    ).scalar_one_or_none()


def list_tickets(
    session: Session,
    *,
    account_no: str | None = None,
    status: str = "all",
    ticket_type: str | None = None,
    conversation_id: str | None = None,
    missing_contact: bool = False,
    limit: int | None = None,
) -> list[Ticket]:
    """Tickets newest first. ``status``: ``open``, ``closed``, ``all`` or one exact status;
    ``missing_contact``: only those with no phone to reach the customer on."""
    query = select(Ticket).options(selectinload(Ticket.milestones))
    if account_no:
        query = query.where(Ticket.account_no == account_no)
    if conversation_id:
        query = query.where(Ticket.conversation_id == conversation_id)
    if ticket_type:
        query = query.where(Ticket.type == ticket_type)
    if missing_contact:
        query = query.where(Ticket.contact_phone.is_(None))
    if status == "open":
        query = query.where(Ticket.status.in_(OPEN_STATUSES))
    elif status == "closed":
        query = query.where(Ticket.status.in_(FINAL_STATUSES))
    elif status != "all":
        query = query.where(Ticket.status == status)
    query = query.order_by(Ticket.created_at.desc(), Ticket.id.desc())
    if limit:
        query = query.limit(limit)
    return list(session.execute(query).scalars())


# ---------------------------------------------------------------- JSON


def milestone_json(milestone: Milestone, now: datetime | None = None) -> dict[str, Any]:
    now = now or now_utc()
    if milestone.met_at is not None:
        breached = milestone.breached or milestone.met_at > milestone.due_at
    else:
        breached = milestone.breached or now > milestone.due_at
    return {
        "name": milestone.name,
        "rule": milestone.rule,
        "due_at": iso_local(milestone.due_at),
        "met_at": iso_local(milestone.met_at),
        "breached": bool(breached),
    }


def _sorted_milestones(milestones: Iterable[Milestone]) -> list[Milestone]:
    return sorted(milestones, key=lambda m: (m.due_at, m.id or 0))


def ticket_json(ticket: Ticket, *, with_events: bool = False, now: datetime | None = None) -> dict[str, Any]:
    """The contract's ticket JSON (plus ``details``, ``business_type``, ``area_type``, ``updated_at``)."""
    now = now or now_utc()
    data: dict[str, Any] = {
        "ticket_no": ticket.ticket_no,
        "type": ticket.type,
        "status": ticket.status,
        "priority": ticket.priority,
        "account_no": ticket.account_no,
        "conversation_id": ticket.conversation_id,
        "channel": ticket.channel,
        "summary": ticket.summary,
        "created_at": iso_local(ticket.created_at),
        "updated_at": iso_local(ticket.updated_at),
        "business_type": ticket.business_type,
        "area_type": ticket.area_type,
        "details": ticket.details or {},
        "milestones": [milestone_json(m, now) for m in _sorted_milestones(ticket.milestones)],
    }
    if with_events:
        data["contact_name"] = ticket.contact_name
        data["contact_phone"] = ticket.contact_phone
        data["closed_at"] = iso_local(ticket.closed_at)
        data["events"] = [
            {"at": iso_local(e.at), "actor": e.actor, "kind": e.kind, "data": e.data or {}}
            for e in ticket.events
        ]
    return data
