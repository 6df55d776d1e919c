"""Availability of staff (在线 / 忙碌 / 离开) and the queue rule that uses it.

An agent is *online* when they chose 在线 (log-in sets it, log-out sets 离开) and their console
was seen lately: every console request and the open live-event stream (pinged every 15 s)
refresh ``last_seen_at``; a closed browser drops out after ``PRESENCE_SECONDS``.

The queue rule (``bot.handoff``): within ``STAFF_HOURS`` a hand-off waits up to
``HANDOFF_ACCEPT_SECONDS`` for an agent only when somebody is online; when nobody is, the desk
counts as closed — the customer is told at once and a callback ticket is opened, as outside
the hours. A store without any active staff account (no console in use, e.g. a bare
development stack) keeps the hours-only rule. Only online agents accept waiting hand-offs
(supervisors always may) and only online agents receive transfers.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from bot.store.models import AVAILABILITY, StaffUser
from bot.store.types import now_utc

PRESENCE_SECONDS = 180
TOUCH_EVERY_SECONDS = 60
LABELS = {"online": "在线", "busy": "忙碌", "away": "离开"}


def set_availability(session: Session, user_id: int, value: str, now: datetime | None = None) -> bool:
    if value not in AVAILABILITY:
        raise ValueError(value)
    now = now or now_utc()
    return (session.execute(update(StaffUser).where(StaffUser.id == user_id)
                            .values(availability=value, last_seen_at=now)).rowcount or 0) == 1


def touch(session: Session, user_id: int, now: datetime | None = None) -> None:
    """Marks the staff member as present (at most one write a minute)."""
    now = now or now_utc()
    session.execute(update(StaffUser).where(
        StaffUser.id == user_id,
        or_(StaffUser.last_seen_at.is_(None), StaffUser.last_seen_at < now - timedelta(seconds=TOUCH_EVERY_SECONDS)))
        .values(last_seen_at=now).execution_options(synchronize_session=False))


def _online_clause(now: datetime):
    return (StaffUser.active.is_(True), StaffUser.availability == "online",
            StaffUser.last_seen_at >= now - timedelta(seconds=PRESENCE_SECONDS))


def is_online(session: Session, username: str, now: datetime | None = None) -> bool:
    now = now or now_utc()
    return session.execute(select(StaffUser.id).where(StaffUser.username == username, *_online_clause(now))
                           ).first() is not None


def online_staff(session: Session, now: datetime | None = None) -> list[dict]:
    now = now or now_utc()
    return [{"username": u, "display_name": d, "role": r} for u, d, r in session.execute(
        select(StaffUser.username, StaffUser.display_name, StaffUser.role)
        .where(*_online_clause(now)).order_by(StaffUser.display_name)).all()]


def desk_staffed(session: Session, now: datetime | None = None) -> bool:
    """Somebody online to take a hand-off (True also when no staff account is in use at all)."""
    now = now or now_utc()
    if session.execute(select(StaffUser.id).where(*_online_clause(now)).limit(1)).first() is not None:
        return True
    accounts = session.execute(select(func.count()).select_from(StaffUser)
                               .where(StaffUser.active.is_(True))).scalar_one()
    return accounts == 0


def staff_states(session: Session, now: datetime | None = None) -> list[dict]:
    """Every active staff member's availability as the supervisors' queue shows it."""
    now = now or now_utc()
    cutoff = now - timedelta(seconds=PRESENCE_SECONDS)
    rows = session.execute(select(StaffUser).where(StaffUser.active.is_(True))
                           .order_by(StaffUser.role, StaffUser.display_name)).scalars()
    out = []
    for u in rows:
        present = u.last_seen_at is not None and u.last_seen_at >= cutoff
        state = u.availability if present else "away"
        out.append({"username": u.username, "display_name": u.display_name, "role": u.role,
                    "availability": state, "chosen": u.availability, "last_seen_at": u.last_seen_at})
    return out
