"""Read models of the console pages (blocking; call through ``store.run``).

Each function returns plain dicts/lists so templates never touch a live ORM session.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Integer, String, and_, cast, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from bot import vocabulary
from bot.store.models import (
    Conversation,
    Customer,
    Handoff,
    Message,
    Milestone,
    StaffSession,
    StaffUser,
    SurveyAnswer,
    Ticket,
)
from bot.store.types import SHANGHAI, now_utc

FINAL_TICKET_STATUSES = vocabulary.FINAL_STATUSES
LIVE_BOT_MINUTES = 30


def _customer(session: Session, account_no: str | None) -> dict | None:
    if not account_no:
        return None
    c = session.execute(select(Customer).where(Customer.account_no == account_no)).scalar_one_or_none()
    if c is None:
        return None
    return {"account_no": c.account_no, "name": c.name, "phone": c.phone, "address": c.address,
            "area_type": c.area_type, "customer_type": c.customer_type}


def _last_intents(session: Session, conversation_id: str, limit: int = 3) -> list[dict]:
    rows = session.execute(
        select(Message.intent, Message.confidence, Message.text)
        .where(Message.conversation_id == conversation_id, Message.sender == "customer",
               Message.intent.is_not(None))
        .order_by(Message.id.desc()).limit(limit)
    ).all()
    return [{"intent": r.intent, "confidence": r.confidence, "text": r.text} for r in rows]


def _last_customer_text(session: Session, conversation_id: str) -> str | None:
    return session.execute(
        select(Message.text).where(Message.conversation_id == conversation_id, Message.sender == "customer")
        .order_by(Message.id.desc()).limit(1)
    ).scalar_one_or_none()


def _open_tickets(session: Session, account_no: str | None, conversation_id: str | None) -> list[dict]:
    conds = []
    if account_no:
        conds.append(Ticket.account_no == account_no)
    if conversation_id:
        conds.append(Ticket.conversation_id == conversation_id)
    if not conds:
        return []
    rows = session.execute(
        select(Ticket).where(or_(*conds), Ticket.status.not_in(FINAL_TICKET_STATUSES))
        .order_by(Ticket.created_at.desc()).limit(10)
    ).scalars()
    return [{"ticket_no": t.ticket_no, "type": t.type, "status": t.status, "summary": t.summary} for t in rows]


def agent_names(session: Session) -> dict[str, str]:
    """username -> display name, to show people by name while the store keeps usernames."""
    return dict(session.execute(select(StaffUser.username, StaffUser.display_name)).all())


def _handoff_row(session: Session, h: Handoff, conv: Conversation | None) -> dict:
    account_no = conv.account_no if conv else None
    return {
        "id": h.id, "conversation_id": h.conversation_id, "channel": h.channel, "reason": h.reason,
        "status": h.status, "summary": h.summary, "created_at": h.created_at,
        "accept_due_at": h.accept_due_at, "accepted_at": h.accepted_at, "agent": h.agent,
        "account_no": account_no, "customer": _customer(session, account_no),
        "intents": _last_intents(session, h.conversation_id),
        "last_text": _last_customer_text(session, h.conversation_id),
        "tickets": _open_tickets(session, account_no, h.conversation_id),
    }


def queue(session: Session, username: str, supervisor: bool) -> dict:
    """Waiting hand-offs (oldest first), conversations people serve, live bot conversations."""
    waiting = []
    for h in session.execute(select(Handoff).where(Handoff.status == "waiting")
                             .order_by(Handoff.created_at, Handoff.id)).scalars():
        waiting.append(_handoff_row(session, h, session.get(Conversation, h.conversation_id)))
    serving = []
    query = select(Handoff).where(Handoff.status == "accepted").order_by(Handoff.accepted_at)
    if not supervisor:
        query = query.where(Handoff.agent == username)
    for h in session.execute(query).scalars():
        serving.append(_handoff_row(session, h, session.get(Conversation, h.conversation_id)))
    since = now_utc() - timedelta(minutes=LIVE_BOT_MINUTES)
    live = []
    for conv in session.execute(select(Conversation).where(Conversation.state == "bot",
                                                           Conversation.last_message_at >= since)
                                .order_by(Conversation.last_message_at.desc()).limit(30)).scalars():
        live.append({"conversation_id": conv.id, "channel": conv.channel, "account_no": conv.account_no,
                     "last_message_at": conv.last_message_at,
                     "intents": _last_intents(session, conv.id, 2),
                     "last_text": _last_customer_text(session, conv.id)})
    return {"waiting": waiting, "serving": serving, "live": live, "names": agent_names(session)}


def conversation(session: Session, conversation_id: str) -> dict | None:
    conv = session.get(Conversation, conversation_id)
    if conv is None:
        return None
    messages = [{
        "id": m.id, "sender": m.sender, "agent": m.agent, "text": m.text, "payload": m.payload,
        "intent": m.intent, "confidence": m.confidence, "flagged": m.flagged, "flag_intent": m.flag_intent,
        "created_at": m.created_at,
    } for m in session.execute(select(Message).where(Message.conversation_id == conversation_id)
                               .order_by(Message.id)).scalars()]
    handoffs = [{
        "id": h.id, "reason": h.reason, "status": h.status, "created_at": h.created_at,
        "accept_due_at": h.accept_due_at, "accepted_at": h.accepted_at, "agent": h.agent,
        "ended_at": h.ended_at, "callback_ticket_no": h.callback_ticket_no, "summary": h.summary,
    } for h in session.execute(select(Handoff).where(Handoff.conversation_id == conversation_id)
                               .order_by(Handoff.id)).scalars()]
    conds = [Ticket.conversation_id == conversation_id]
    if conv.account_no:
        conds.append(Ticket.account_no == conv.account_no)
    tickets = [{
        "ticket_no": t.ticket_no, "type": t.type, "status": t.status, "summary": t.summary,
        "created_at": t.created_at, "milestones": milestone_rows(t.milestones),
    } for t in session.execute(select(Ticket).where(or_(*conds)).order_by(Ticket.created_at.desc())
                               .limit(20)).scalars()]
    ratings = list(session.execute(select(SurveyAnswer.rating).where(
        SurveyAnswer.conversation_id == conversation_id).order_by(SurveyAnswer.id)).scalars())
    active = next((h for h in reversed(handoffs) if h["status"] in ("waiting", "accepted")), None)
    from bot.agent_tools.notes import notes_of

    notes = notes_of(session, conversation_id)
    # Messages and staff-only entries (notes, transfers, label changes) in the order they happened.
    timeline = sorted([{**m, "entry": "message"} for m in messages] + [{**n, "entry": "note"} for n in notes],
                      key=lambda e: (e["created_at"], 0 if e["entry"] == "message" else 1))
    return {
        "id": conv.id, "channel": conv.channel, "state": conv.state, "assigned_agent": conv.assigned_agent,
        "account_no": conv.account_no, "customer": _customer(session, conv.account_no),
        "tags": conv.tags or [], "note": conv.note, "reviewed": conv.reviewed,
        "satisfaction": conv.satisfaction or (ratings[-1] if ratings else None),
        "created_at": conv.created_at, "last_message_at": conv.last_message_at, "closed_at": conv.closed_at,
        "messages": messages, "notes": notes, "timeline": timeline,
        "handoffs": handoffs, "active_handoff": active, "tickets": tickets,
        "names": agent_names(session),
    }


def milestone_rows(milestones) -> list[dict]:
    now = now_utc()
    rows = []
    for m in sorted(milestones, key=lambda m: m.due_at):
        if m.met_at is not None:
            breached = m.breached or m.met_at > m.due_at
            state = "met_late" if breached else "met"
        else:
            breached = m.breached or now > m.due_at
            state = "breached" if breached else "open"
        rows.append({"name": m.name, "rule": m.rule, "due_at": m.due_at, "met_at": m.met_at,
                     "state": state, "seconds_left": (m.due_at - now).total_seconds()})
    return rows


# ---------------------------------------------------------------- review

@dataclass
class ReviewFilters:
    date_from: date | None = None
    date_to: date | None = None
    account_no: str = ""
    ticket_no: str = ""
    channel: str = ""
    tag: str = ""
    satisfaction: str = ""
    reviewed: str = ""  # "", "yes", "no"
    flagged: str = ""  # "", "yes"
    # Filters the dashboard's links use (the figure behind a number):
    started: bool = False  # the dates bound the conversation's start, not its activity
    area: str = ""  # area type of the conversation's account
    intent: str = ""  # a customer message understood as this intent
    text: str = ""  # a customer message with this text
    handoff: str = ""  # "", "yes", "no", "missed"
    agent: str = ""  # a hand-off accepted by this staff username


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=SHANGHAI)


def review_search(session: Session, f: ReviewFilters, limit: int = 200) -> list[dict]:
    query = select(Conversation)
    if f.date_from:
        start_column = Conversation.created_at if f.started else Conversation.last_message_at
        query = query.where(start_column >= _day_start(f.date_from))
    if f.date_to:
        query = query.where(Conversation.created_at < _day_start(f.date_to + timedelta(days=1)))
    if f.account_no:
        query = query.where(Conversation.account_no == f.account_no)
    if f.ticket_no:
        query = query.where(exists().where(and_(Ticket.conversation_id == Conversation.id,
                                                Ticket.ticket_no == f.ticket_no)))
    if f.channel:
        query = query.where(Conversation.channel == f.channel)
    if f.tag:
        # Tags are a JSON list; matching the quoted value works on SQLite and PostgreSQL alike.
        needle = '"' + f.tag.replace("\\", "\\\\").replace('"', '\\"') + '"'
        query = query.where(or_(cast(Conversation.tags, String).contains(needle),
                                cast(Conversation.tags, String).contains(_json_unicode(needle))))
    if f.satisfaction:
        query = query.where(or_(Conversation.satisfaction == f.satisfaction,
                                exists().where(and_(SurveyAnswer.conversation_id == Conversation.id,
                                                    SurveyAnswer.rating == f.satisfaction))))
    if f.reviewed == "yes":
        query = query.where(Conversation.reviewed.is_(True))
    elif f.reviewed == "no":
        query = query.where(Conversation.reviewed.is_(False))
    if f.flagged == "yes":
        query = query.where(exists().where(and_(Message.conversation_id == Conversation.id,
                                                Message.flagged.is_(True))))
    if f.area:
        query = query.where(Conversation.account_no.in_(select(Customer.account_no)
                                                        .where(Customer.area_type == f.area)))
    customer_says = (Message.conversation_id == Conversation.id, Message.sender == "customer")
    if f.intent:
        query = query.where(exists().where(and_(*customer_says, Message.intent == f.intent)))
    if f.text:
        query = query.where(exists().where(and_(*customer_says, Message.text == f.text)))
    if f.handoff == "yes":
        query = query.where(exists().where(Handoff.conversation_id == Conversation.id))
    elif f.handoff == "no":
        query = query.where(~exists().where(Handoff.conversation_id == Conversation.id))
    elif f.handoff == "missed":
        query = query.where(exists().where(and_(Handoff.conversation_id == Conversation.id,
                                                Handoff.status == "missed")))
    if f.agent:
        query = query.where(exists().where(and_(Handoff.conversation_id == Conversation.id,
                                                Handoff.agent == f.agent, Handoff.accepted_at.is_not(None))))
    query = query.order_by(Conversation.last_message_at.desc()).limit(limit)
    conversations = list(session.execute(query).scalars())
    ids = [conv.id for conv in conversations]
    # A few queries for the whole page, not four per row (the dashboard links here on a year of data).
    counts = {cid: (n, flagged) for cid, n, flagged in session.execute(
        select(Message.conversation_id, func.count(Message.id), func.sum(cast(Message.flagged, Integer)))
        .where(Message.conversation_id.in_(ids)).group_by(Message.conversation_id)).all()} if ids else {}
    last_text_ids = select(func.max(Message.id)).where(Message.conversation_id.in_(ids),
                                                        Message.sender == "customer").group_by(Message.conversation_id)
    last_texts = dict(session.execute(select(Message.conversation_id, Message.text)
                                      .where(Message.id.in_(last_text_ids))).all()) if ids else {}
    last_rating_ids = select(func.max(SurveyAnswer.id)).where(SurveyAnswer.conversation_id.in_(ids)) \
        .group_by(SurveyAnswer.conversation_id)
    last_ratings = dict(session.execute(select(SurveyAnswer.conversation_id, SurveyAnswer.rating)
                                        .where(SurveyAnswer.id.in_(last_rating_ids))).all()) if ids else {}
    last_handoff_ids = select(func.max(Handoff.id)).where(Handoff.conversation_id.in_(ids)) \
        .group_by(Handoff.conversation_id)
    last_handoffs = {h.conversation_id: h for h in session.execute(
        select(Handoff).where(Handoff.id.in_(last_handoff_ids))).scalars()} if ids else {}
    rows = []
    for conv in conversations:
        n, flagged = counts.get(conv.id, (0, 0))
        rating = conv.satisfaction or last_ratings.get(conv.id)
        handoff = last_handoffs.get(conv.id)
        rows.append({"id": conv.id, "channel": conv.channel, "state": conv.state, "account_no": conv.account_no,
                     "tags": conv.tags or [], "reviewed": conv.reviewed, "satisfaction": rating,
                     "created_at": conv.created_at, "last_message_at": conv.last_message_at,
                     "messages": n or 0, "flagged": int(flagged or 0),
                     "handoff": handoff.status if handoff else None,
                     "agent": handoff.agent if handoff else None,
                     "last_text": last_texts.get(conv.id)})
    return rows


def _json_unicode(text: str) -> str:
    return text.encode("ascii", "backslashreplace").decode("ascii").replace("\\x", "\\u00")


def set_reviewed(session: Session, conversation_id: str, reviewed: bool) -> bool:
    result = session.execute(update(Conversation).where(Conversation.id == conversation_id)
                             .values(reviewed=reviewed).execution_options(synchronize_session=False))
    return result.rowcount == 1


def flag_message(session: Session, message_id: int, intent: str | None) -> str | None:
    """Flags a customer message as wrongly understood (``intent`` None clears the flag)."""
    message = session.get(Message, message_id)
    if message is None or message.sender != "customer":
        return None
    message.flagged = intent is not None
    message.flag_intent = intent
    return message.conversation_id


def flagged_examples(session: Session) -> dict[str, list[str]]:
    examples: dict[str, list[str]] = {}
    rows = session.execute(select(Message.flag_intent, Message.text)
                           .where(Message.flagged.is_(True), Message.flag_intent.is_not(None),
                                  Message.text.is_not(None))
                           .order_by(Message.flag_intent, Message.id)).all()
    for intent, text in rows:
        text = " ".join(text.split())
        if text and text not in examples.setdefault(intent, []):
            examples[intent].append(text)
    return examples


# ---------------------------------------------------------------- tickets

@dataclass
class TicketFilters:
    type: str = ""
    status: str = "open"  # open | closed | all | an exact status
    overdue: bool = False
    account_no: str = ""
    q: str = ""
    # Filters the dashboard's links use (the tickets behind a figure):
    date_from: date | None = None  # created from this day (Asia/Shanghai)
    date_to: date | None = None
    closed: bool = False  # the dates bound the closing time instead
    channel: str = ""
    area: str = ""
    q2: str = ""  # a second word the summary contains
    rule: str = ""  # a milestone of this rule ...
    sla: str = ""  # ... met | breached | at_risk | open (as the dashboard counts them)


def _sla_state(state: str, now: datetime):
    met = and_(Milestone.met_at.is_not(None), Milestone.met_at <= Milestone.due_at, Milestone.breached.is_(False))
    breached = or_(and_(Milestone.met_at.is_not(None), or_(Milestone.met_at > Milestone.due_at,
                                                             Milestone.breached.is_(True))),
                   and_(Milestone.met_at.is_(None), or_(Milestone.due_at <= now, Milestone.breached.is_(True))))
    at_risk = and_(Milestone.met_at.is_(None), Milestone.due_at > now, Milestone.breached.is_(False),
                   Milestone.at_risk_at.is_not(None))
    if state == "met":
        return met
    if state == "breached":
        return breached
    if state == "at_risk":
        return at_risk
    return and_(~met, ~breached, ~at_risk)


def ticket_list(session: Session, f: TicketFilters, limit: int = 300) -> list[dict]:
    now = now_utc()
    query = select(Ticket)
    if f.type:
        types = [t for t in f.type.split(",") if t]
        query = query.where(Ticket.type.in_(types) if len(types) > 1 else Ticket.type == types[0])
    if f.status == "open":
        query = query.where(Ticket.status.not_in(FINAL_TICKET_STATUSES))
    elif f.status == "closed":
        query = query.where(Ticket.status.in_(FINAL_TICKET_STATUSES))
    elif f.status and f.status != "all":
        query = query.where(Ticket.status == f.status)
    if f.account_no:
        query = query.where(Ticket.account_no == f.account_no)
    if f.q:
        query = query.where(or_(Ticket.ticket_no == f.q, Ticket.summary.contains(f.q)))
    if f.q2:
        query = query.where(Ticket.summary.contains(f.q2))
    date_column = Ticket.closed_at if f.closed else Ticket.created_at
    if f.date_from:
        query = query.where(date_column >= _day_start(f.date_from))
    if f.date_to:
        query = query.where(date_column < _day_start(f.date_to + timedelta(days=1)))
    if f.channel:
        query = query.where(Ticket.channel == f.channel)
    if f.area:
        query = query.where(Ticket.area_type == f.area)
    if f.rule or f.sla:
        conds = [Milestone.ticket_id == Ticket.id]
        if f.rule:
            conds.append(Milestone.rule == f.rule)
        if f.sla in ("met", "breached", "at_risk", "open"):
            conds.append(_sla_state(f.sla, now))
            query = query.where(Ticket.status != "cancelled")  # as the dashboard counts
        query = query.where(exists().where(and_(*conds)))
    if f.overdue:
        query = query.where(exists().where(and_(
            Milestone.ticket_id == Ticket.id,
            or_(Milestone.breached.is_(True), and_(Milestone.met_at.is_(None), Milestone.due_at < now)))))
    # Milestones of the whole page in one query (not one per ticket).
    query = query.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit) \
        .options(selectinload(Ticket.milestones))
    rows = []
    for t in session.execute(query).scalars():
        ms = milestone_rows(t.milestones)
        pending = [m for m in ms if m["state"] in ("open", "breached")]
        rows.append({"ticket_no": t.ticket_no, "type": t.type, "status": t.status, "priority": t.priority,
                     "account_no": t.account_no, "channel": t.channel, "summary": t.summary,
                     "created_at": t.created_at, "milestones": ms,
                     "next": pending[0] if pending else None,
                     "breached": any(m["state"] in ("breached", "met_late") for m in ms)})
    return rows


def ticket_detail(session: Session, ticket_no: str) -> dict | None:
    from bot import tickets as ticket_service

    t = ticket_service.get_ticket(session, ticket_no)
    if t is None:
        return None
    return {"ticket_no": t.ticket_no, "type": t.type, "status": t.status, "priority": t.priority,
            "account_no": t.account_no, "conversation_id": t.conversation_id, "channel": t.channel,
            "summary": t.summary, "details": t.details or {}, "business_type": t.business_type,
            "area_type": t.area_type, "contact_name": t.contact_name, "contact_phone": t.contact_phone,
            "assignee": t.assignee,
            "created_at": t.created_at, "updated_at": t.updated_at, "closed_at": t.closed_at,
            "customer": _customer(session, t.account_no),
            "milestones": milestone_rows(t.milestones),
            "events": [{"at": e.at, "actor": e.actor, "kind": e.kind, "data": e.data or {}} for e in t.events]}


def staff_list(session: Session) -> list[dict]:
    return [{"id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role,
             "active": u.active, "created_at": u.created_at}
            for u in session.execute(select(StaffUser).order_by(StaffUser.role.desc(), StaffUser.username)).scalars()]


def set_staff_active(session: Session, user_id: int, active: bool) -> bool:
    user = session.get(StaffUser, user_id)
    if user is None:
        return False
    user.active = active
    if not active:
        session.execute(delete(StaffSession).where(StaffSession.user_id == user_id))
    return True
