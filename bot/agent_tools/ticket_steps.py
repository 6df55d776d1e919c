"""Which statuses a ticket may go to next in the console, and who works on it.

Statuses (docs/ARCHITECTURE.md): ``new`` → ``accepted`` (受理) → ``dispatched`` (派工, repairs)
→ ``arrived`` (到达现场) → ``resolved`` → ``closed``; also ``in_progress`` and ``cancelled``.
The console offers the next steps only (never a step back such as 已受理 after 已派工); a
resolved ticket may be reopened (处理中) when the customer says it is not fixed. The REST API
keeps its own wider rule (``bot.tickets.change_status``) for the bot and other systems.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import StaffUser, Ticket, TicketEvent
from bot.store.types import now_utc

REPAIR_STEPS = {
    "new": ("accepted", "dispatched", "cancelled"),
    "accepted": ("dispatched", "in_progress", "resolved", "cancelled"),
    "dispatched": ("arrived", "in_progress", "resolved", "cancelled"),
    "arrived": ("in_progress", "resolved"),
    "in_progress": ("resolved", "cancelled"),
    "resolved": ("closed", "in_progress"),
}
OTHER_STEPS = {
    "new": ("accepted", "in_progress", "cancelled"),
    "accepted": ("in_progress", "resolved", "cancelled"),
    "in_progress": ("resolved", "cancelled"),
    "resolved": ("closed", "in_progress"),
    # statuses set by other systems through the API still lead somewhere
    "dispatched": ("arrived", "in_progress", "resolved", "cancelled"),
    "arrived": ("in_progress", "resolved"),
}
MAX_ASSIGNEE = 64


def next_statuses(ticket_type: str, status: str) -> tuple[str, ...]:
    """The statuses the console offers after ``status``, in the order of the work."""
    steps = REPAIR_STEPS if ticket_type == "repair" else OTHER_STEPS
    return steps.get(status, ())


def set_assignee(session: Session, ticket_no: str, assignee: str, *, actor: str) -> Ticket | None:
    """Sets (or clears, with an empty value) the staff member or crew working on a ticket;
    records an ``assigned`` event. None when there is no such ticket; ValueError when final."""
    ticket = session.execute(select(Ticket).where(Ticket.ticket_no == ticket_no).with_for_update()).scalar_one_or_none()
    if ticket is None:
        return None
    if ticket.status in ("closed", "cancelled"):
        raise ValueError("final")
    value = " ".join(assignee.split())[:MAX_ASSIGNEE] or None
    if value == ticket.assignee:
        return ticket
    previous = ticket.assignee
    ticket.assignee = value
    at = now_utc()
    ticket.updated_at = at
    ticket.events.append(TicketEvent(at=at, actor=actor, kind="assigned", data={"from": previous, "to": value}))
    session.flush()
    return ticket


def staff_choices(session: Session) -> list[dict]:
    """Active staff, offered as assignees next to free-text crew names."""
    rows = session.execute(select(StaffUser.username, StaffUser.display_name)
                           .where(StaffUser.active.is_(True)).order_by(StaffUser.display_name)).all()
    return [{"username": u, "display_name": d} for u, d in rows]
