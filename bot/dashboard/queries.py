"""The figures of the supervisor's dashboard and of ``python -m bot report`` (blocking).

``compute(session, scope)`` returns one JSON-ready dict; the page, the CSV/Excel downloads
and the command line all show this very dict. Definitions (period = ``[since, until)``,
channel and area filters as in ``Scope``):

- conversations: conversations started in the period (channel = the conversation's; area =
  the area type of its customer's account, so a conversation without an account has no area);
  customer messages: the customers' messages of those conversations sent in the period;
  customers: distinct accounts among them. Days, hours and weekdays are Asia/Shanghai time.
- containment: those conversations without any hand-off to a person (rate = contained /
  conversations); fallback rate: customer messages understood as ``nlu_fallback`` / customer
  messages with an intent; misunderstood: the fallback messages, by text.
- handoffs: the hand-offs of those conversations; waiting time = accepted - requested
  (staff take-overs left out: nobody waited), p50/p90 by linear interpolation between
  ranks (as PostgreSQL's percentile_cont); missed and callback tickets; per agent: the
  conversations they accepted, the first response (their first message after accepting),
  the satisfaction answers of those conversations.
- tickets: created in the period (channel = the ticket's, area = the ticket's area type)
  by type and status; closed: closed in the period.
- sla: the milestones of those tickets (cancelled left out) per rule: met on time, breached
  (met late, or past due / flagged breached while unmet), at risk (unmet, not yet due, flagged
  at risk by the watcher), open (the rest); share on time = met / (met + breached).
- satisfaction: survey answers given in the period (channel/area of their conversation, else
  of their ticket); share satisfied against the 95 % target; response rate = conversations of
  the period that answered / those that were asked (the survey question sent) or answered.
- complaint_topics: keywords and keyword pairs of the complaints' and suggestions' texts
  (bot.dashboard.topics), counted in tickets, against the previous period.
- trends: each headline figure against the previous period of the same length.

``compute`` reads the stored per-day figures where they are current (``bot.dashboard.daily``,
the same figures, merged) and the rows elsewhere; ``compute(..., live=True)`` reads the rows only.
"""
from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Integer, and_, case, cast, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from bot.store.models import (SURVEY_QUESTIONS, Conversation, Customer, Handoff, Message, Milestone, SurveyAnswer,
                              Ticket)
from bot.store.types import SHANGHAI, iso_local, now_utc

SATISFACTION_TARGET = 0.95
FALLBACK_INTENT = "nlu_fallback"
TOPIC_TICKET_TYPES = ("complaint", "suggestion")
# Rules shown first: the 2-hour response (受理) and the 24-hour complaint contact.
LEADING_RULES = ("first_response", "complaint.contact")
TOP = 10
WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


@dataclass(frozen=True)
class Scope:
    since: datetime
    until: datetime
    channel: str = ""
    area: str = ""

    def previous(self) -> "Scope":
        length = self.until - self.since
        return replace(self, since=self.since - length, until=self.since)

    @property
    def first_day(self) -> date:
        return self.since.astimezone(SHANGHAI).date()

    @property
    def last_day(self) -> date:
        return (self.until - timedelta(microseconds=1)).astimezone(SHANGHAI).date()


def day_scope(first: date, last: date, channel: str = "", area: str = "") -> Scope:
    """Whole Shanghai days ``first`` .. ``last`` (inclusive)."""
    since = datetime.combine(first, time.min, tzinfo=SHANGHAI)
    until = datetime.combine(last + timedelta(days=1), time.min, tzinfo=SHANGHAI)
    return Scope(since, until, channel, area)


# ---------------------------------------------------------------- SQL helpers

def _local_day(session: Session, column):
    # Asia/Shanghai has kept UTC+8 without daylight saving since 1991: +8 hours is exact.
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("Asia/Shanghai", column), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column, "+8 hours")


def _local_hour(session: Session, column):
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("hour", func.timezone("Asia/Shanghai", column)), Integer)
    return cast(func.strftime("%H", column, "+8 hours"), Integer)


def _area_accounts(area: str):
    return select(Customer.account_no).where(Customer.area_type == area)


def conversation_conditions(scope: Scope) -> list:
    conds = [Conversation.created_at >= scope.since, Conversation.created_at < scope.until]
    if scope.channel:
        conds.append(Conversation.channel == scope.channel)
    if scope.area:
        conds.append(Conversation.account_no.in_(_area_accounts(scope.area)))
    return conds


def ticket_conditions(scope: Scope, column=None) -> list:
    column = Ticket.created_at if column is None else column
    conds = [column >= scope.since, column < scope.until]
    if scope.channel:
        conds.append(Ticket.channel == scope.channel)
    if scope.area:
        conds.append(Ticket.area_type == scope.area)
    return conds


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL percentile_cont, numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (position - low), 2)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


# ---------------------------------------------------------------- links

def _days(scope: Scope) -> dict[str, str]:
    return {"from": scope.first_day.isoformat(), "to": scope.last_day.isoformat()}


def review_link(scope: Scope, started: bool = True, **extra: str) -> str:
    """The review page on the conversations behind a figure (``started``: begun in the period)."""
    params = {**_days(scope), **({"started": "1"} if started else {})}
    if scope.channel:
        params["channel"] = scope.channel
    if scope.area:
        params["area"] = scope.area
    params.update({k: v for k, v in extra.items() if v not in (None, "")})
    return "/console/review?" + urlencode(params)


def tickets_link(scope: Scope, **extra: str) -> str:
    params = {"status": "all", **_days(scope)}
    if scope.channel:
        params["channel"] = scope.channel
    if scope.area:
        params["area"] = scope.area
    params.update({k: v for k, v in extra.items() if v not in (None, "")})
    return "/console/tickets?" + urlencode(params)


# ---------------------------------------------------------------- figures

def per_day_rows(scope: Scope, conversations_by_day: dict[str, int], messages_by_day: dict[str, int]) -> list[dict]:
    """Every day of the period (days without a conversation too), each linked to its conversations."""
    rows = []
    day = scope.first_day
    while day <= scope.last_day:
        key = day.isoformat()
        rows.append({"day": key, "conversations": conversations_by_day.get(key, 0),
                     "messages": messages_by_day.get(key, 0),
                     "link": review_link(day_scope(day, day, scope.channel, scope.area))})
        day += timedelta(days=1)
    return rows


def top_intent_rows(scope: Scope, intent_counts: dict[str, int]) -> list[dict]:
    """The TOP most frequent intents (ties by name), each linked to its messages."""
    top = sorted(((i, n) for i, n in intent_counts.items() if i), key=lambda kv: (-kv[1], kv[0]))[:TOP]
    return [{"intent": i, "messages": n, "link": review_link(scope, intent=i)} for i, n in top]


def volume(session: Session, scope: Scope, light: bool = False) -> dict[str, Any]:
    """Conversations, customer messages, containment and intents (``light``: the totals only)."""
    conds = conversation_conditions(scope)
    total, customers, contained = session.execute(
        select(func.count(), func.count(func.distinct(Conversation.account_no)),
               func.coalesce(func.sum(case((~exists().where(Handoff.conversation_id == Conversation.id), 1),
                                           else_=0)), 0))
        .select_from(Conversation).where(*conds)).one()
    customer_messages = [Message.sender == "customer", Message.created_at >= scope.since,
                         Message.created_at < scope.until]
    if scope.channel:
        customer_messages.append(Message.channel == scope.channel)
    if scope.area:
        customer_messages.append(Message.conversation_id.in_(
            select(Conversation.id).where(Conversation.account_no.in_(_area_accounts(scope.area)))))
    msg_day = _local_day(session, Message.created_at)
    msg_hour = _local_hour(session, Message.created_at)
    # One pass over the period's customer messages: per day, hour and intent.
    grouped = session.execute(
        select(*((msg_day, msg_hour) if not light else (literal(""), literal(0))), Message.intent, func.count())
        .where(*customer_messages)
        .group_by(*((msg_day, msg_hour) if not light else ()), Message.intent)).all()
    intent_counts: Counter = Counter()
    messages_by_day: Counter = Counter()
    heatmap = [[0] * 24 for _ in range(7)]  # [weekday Monday=0][hour]
    for day_text, hour, intent, n in grouped:
        intent_counts[intent] += n
        if not light:
            messages_by_day[day_text] += n
            heatmap[date.fromisoformat(day_text).weekday()][int(hour)] += n
    messages_total = sum(intent_counts.values())
    with_intent = sum(n for intent, n in intent_counts.items() if intent)
    fallback = intent_counts.get(FALLBACK_INTENT, 0)
    figures = {
        "conversations": {"total": total, "customer_messages": messages_total, "customers": customers},
        "containment": {"conversations": total, "contained": contained, "rate": _share(contained, total),
                        "messages_with_intent": with_intent, "fallback_messages": fallback,
                        "fallback_rate": _share(fallback, with_intent)},
    }
    if light:
        return figures

    per_channel = [{"channel": ch, "conversations": n, "link": review_link(replace(scope, channel=ch))}
                   for ch, n in session.execute(
                       select(Conversation.channel, func.count()).where(*conds)
                       .group_by(Conversation.channel).order_by(func.count().desc(), Conversation.channel)).all()]
    conv_day = _local_day(session, Conversation.created_at)
    conversations_by_day = dict(session.execute(
        select(conv_day, func.count()).where(*conds).group_by(conv_day)).all())
    per_day = per_day_rows(scope, conversations_by_day, messages_by_day)
    per_intent = top_intent_rows(scope, intent_counts)
    misunderstood = [
        {"text": text, "messages": n, "link": review_link(scope, text=text[:500])}
        for text, n in session.execute(
            select(Message.text, func.count())
            # Fallbacks only: the index (time, sender, intent) finds them without reading the period's
            # other messages. Staff-flagged messages have their own filter on the review page.
            .where(*customer_messages, Message.intent == FALLBACK_INTENT, Message.text.is_not(None))
            .group_by(Message.text).order_by(func.count().desc(), Message.text).limit(TOP)).all()]
    figures["conversations"].update({
        "link": review_link(scope), "per_day": per_day, "heatmap": heatmap, "weekdays": list(WEEKDAYS),
        "per_channel": per_channel, "per_intent": per_intent})
    figures["containment"].update({
        "contained_link": review_link(scope, handoff="no"),
        "fallback_link": review_link(scope, intent=FALLBACK_INTENT),
        "misunderstood": misunderstood, "top_intents": per_intent})
    return figures


def people(session: Session, scope: Scope) -> tuple[dict[str, Any], dict[str, set[str]]]:
    """Hand-off figures and, per agent, the conversations they accepted."""
    first_staff = (select(func.min(Message.created_at))
                   .where(Message.conversation_id == Handoff.conversation_id, Message.sender == "staff",
                          Message.created_at >= Handoff.accepted_at)
                   .correlate(Handoff).scalar_subquery())
    rows = session.execute(
        select(Handoff.conversation_id, Handoff.reason, Handoff.status, Handoff.created_at, Handoff.accepted_at,
               Handoff.agent, Handoff.callback_ticket_no, first_staff)
        .join(Conversation, Conversation.id == Handoff.conversation_id)
        .where(*conversation_conditions(scope)).order_by(Handoff.id)).all()
    waits: list[float] = []
    by_status: Counter = Counter()
    by_reason: Counter = Counter()
    agents: dict[str, dict] = defaultdict(lambda: {"conversations": set(), "first_response": []})
    missed = callbacks = 0
    for cid, reason, status, created_at, accepted_at, agent, callback_no, first_at in rows:
        by_status[status] += 1
        by_reason[reason] += 1
        if status == "missed":
            missed += 1
        if callback_no:
            callbacks += 1
        if accepted_at is not None and reason != "staff_takeover":
            waits.append((accepted_at - created_at).total_seconds())
        if accepted_at is not None and agent:
            agents[agent]["conversations"].add(cid)
            if first_at is not None:
                agents[agent]["first_response"].append((first_at - accepted_at).total_seconds())
    figures = {
        "total": len(rows), "accepted": sum(1 for r in rows if r.accepted_at is not None),
        "missed": missed, "callback_tickets": callbacks,
        "by_status": dict(sorted(by_status.items())), "by_reason": dict(sorted(by_reason.items())),
        "wait_p50_seconds": percentile(waits, 0.5), "wait_p90_seconds": percentile(waits, 0.9),
        "waits_counted": len(waits),
        "link": review_link(scope, handoff="yes"),
        "missed_link": review_link(scope, handoff="missed"),
        "callback_link": tickets_link(scope, type="callback"),
        "agents": [{"agent": name, "conversations": len(a["conversations"]),
                    "first_response_p50_seconds": _median(a["first_response"]),
                    "link": review_link(scope, agent=name)}
                   for name, a in sorted(agents.items())],
    }
    return figures, {name: a["conversations"] for name, a in agents.items()}


def tickets(session: Session, scope: Scope) -> dict[str, Any]:
    opened = session.execute(select(Ticket.type, Ticket.status, func.count()).where(*ticket_conditions(scope))
                             .group_by(Ticket.type, Ticket.status)).all()
    closed = dict(session.execute(select(Ticket.type, func.count())
                                  .where(*ticket_conditions(scope, Ticket.closed_at))
                                  .group_by(Ticket.type)).all())
    by_type: dict[str, int] = Counter()
    by_status: dict[str, int] = Counter()
    for ticket_type, status, n in opened:
        by_type[ticket_type] += n
        by_status[status] += n
    types = sorted(set(by_type) | set(closed), key=lambda t: (-by_type.get(t, 0), t))
    return {
        "opened": sum(by_type.values()), "closed": sum(closed.values()),
        "link": tickets_link(scope), "closed_link": tickets_link(scope, closed="1"),
        "by_type": [{"type": t, "opened": by_type.get(t, 0), "closed": closed.get(t, 0),
                     "link": tickets_link(scope, type=t), "closed_link": tickets_link(scope, type=t, closed="1")}
                    for t in types],
        "by_status": [{"status": s, "tickets": n, "link": tickets_link(scope, status=s)}
                      for s, n in sorted(by_status.items(), key=lambda kv: (-kv[1], kv[0]))],
    }


def sla(session: Session, scope: Scope, now: datetime) -> dict[str, Any]:
    met = and_(Milestone.met_at.is_not(None), Milestone.met_at <= Milestone.due_at, Milestone.breached.is_(False))
    breached = or_(and_(Milestone.met_at.is_not(None), or_(Milestone.met_at > Milestone.due_at,
                                                             Milestone.breached.is_(True))),
                   and_(Milestone.met_at.is_(None), or_(Milestone.due_at <= now, Milestone.breached.is_(True))))
    at_risk = and_(Milestone.met_at.is_(None), Milestone.due_at > now, Milestone.breached.is_(False),
                   Milestone.at_risk_at.is_not(None))

    def total(cond):
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    rows = session.execute(
        select(Milestone.rule, func.min(Milestone.name), func.count(), total(met), total(breached), total(at_risk))
        .join(Ticket, Ticket.id == Milestone.ticket_id)
        .where(*ticket_conditions(scope), Ticket.status != "cancelled")
        .group_by(Milestone.rule)).all()
    rules = []
    for rule, name, n, n_met, n_breached, n_risk in rows:
        rules.append({"rule": rule, "name": name, "milestones": n, "met": n_met, "breached": n_breached,
                      "at_risk": n_risk, "open": n - n_met - n_breached - n_risk,
                      "share_on_time": _share(n_met, n_met + n_breached),
                      "links": {state: tickets_link(scope, rule=rule, sla=state)
                                for state in ("met", "breached", "at_risk", "open")}})
    rules.sort(key=lambda r: (LEADING_RULES.index(r["rule"]) if r["rule"] in LEADING_RULES else len(LEADING_RULES),
                              r["rule"]))
    sums = {key: sum(r[key] for r in rules) for key in ("milestones", "met", "breached", "at_risk", "open")}
    return {**sums, "share_on_time": _share(sums["met"], sums["met"] + sums["breached"]), "rules": rules,
            "breached_link": tickets_link(scope, sla="breached"), "at_risk_link": tickets_link(scope, sla="at_risk")}


def satisfaction(session: Session, scope: Scope, agent_conversations: dict[str, set[str]]) -> dict[str, Any]:
    rows = session.execute(
        select(SurveyAnswer.conversation_id, SurveyAnswer.ticket_no, SurveyAnswer.rating, SurveyAnswer.comment,
               SurveyAnswer.created_at, Conversation.channel, Customer.area_type, Ticket.channel, Ticket.type,
               Ticket.area_type)
        .outerjoin(Conversation, Conversation.id == SurveyAnswer.conversation_id)
        .outerjoin(Customer, Customer.account_no == Conversation.account_no)
        .outerjoin(Ticket, Ticket.ticket_no == SurveyAnswer.ticket_no)
        .where(SurveyAnswer.created_at >= scope.since, SurveyAnswer.created_at < scope.until)
        .order_by(SurveyAnswer.id)).all()
    answers = []
    for cid, ticket_no, rating, comment, at, conv_channel, cust_area, t_channel, t_type, t_area in rows:
        channel = conv_channel or t_channel
        area = cust_area if cid and conv_channel else t_area
        if (scope.channel and channel != scope.channel) or (scope.area and area != scope.area):
            continue
        answers.append({"conversation_id": cid, "ticket_no": ticket_no, "rating": rating, "comment": comment,
                        "at": at, "channel": channel or "", "type": t_type or "conversation"})

    def figures(items: list[dict]) -> dict[str, Any]:
        counts = Counter(a["rating"] for a in items)
        return {"answers": len(items), "satisfied": counts["satisfied"], "neutral": counts["neutral"],
                "dissatisfied": counts["dissatisfied"], "share": _share(counts["satisfied"], len(items))}

    def grouped(key: str) -> list[dict]:
        groups: dict[str, list] = defaultdict(list)
        for a in answers:
            groups[a[key]].append(a)
        return [{key: k, **figures(v)} for k, v in sorted(groups.items())]

    by_agent = []
    for agent, conversations in sorted(agent_conversations.items()):
        by_agent.append({"agent": agent, **figures([a for a in answers if a["conversation_id"] in conversations])})

    conds = conversation_conditions(scope)
    # IN (not EXISTS per row): hashed once; the asked side reads the partial index of survey questions.
    # An answer comes after its conversation began: answers read from the period's start. The
    # questions are read whole from their partial index (index-only: no table rows to visit).
    answered = Conversation.id.in_(select(SurveyAnswer.conversation_id).where(
        SurveyAnswer.conversation_id.is_not(None), SurveyAnswer.created_at >= scope.since))
    asked = Conversation.id.in_(select(Message.conversation_id).where(
        Message.sender == "bot", Message.text.in_(SURVEY_QUESTIONS)))
    surveyed, responded = session.execute(
        select(func.count(), func.coalesce(func.sum(case((answered, 1), else_=0)), 0))
        .select_from(Conversation).where(*conds, or_(asked, answered))).one()

    dissatisfied = [{"conversation_id": a["conversation_id"], "ticket_no": a["ticket_no"], "channel": a["channel"],
                     "comment": a["comment"], "at": iso_local(a["at"])}
                    for a in reversed(answers) if a["rating"] == "dissatisfied"][:20]
    return {
        **figures(answers), "target": SATISFACTION_TARGET,
        "surveyed": surveyed, "responded": responded, "response_rate": _share(responded, surveyed),
        "by_channel": grouped("channel"), "by_type": grouped("type"), "by_agent": by_agent,
        "dissatisfied_conversations": dissatisfied,
        # Answers count by when they were given: the conversations active in the period.
        "dissatisfied_link": review_link(scope, started=False, satisfaction="dissatisfied"),
    }


def topic_texts(session: Session, scope: Scope, limit: int = 20000) -> list[str]:
    return list(session.execute(
        select(Ticket.summary).where(*ticket_conditions(scope), Ticket.type.in_(TOPIC_TICKET_TYPES))
        .order_by(Ticket.created_at.desc()).limit(limit)).scalars())


def topic_count(session: Session, scope: Scope, limit: int = 20000) -> int:
    """``len(topic_texts(session, scope, limit))``, counted by the database."""
    return session.execute(select(func.count()).select_from(
        select(Ticket.id).where(*ticket_conditions(scope), Ticket.type.in_(TOPIC_TICKET_TYPES)).limit(limit)
        .subquery())).scalar()


def complaint_topics(session: Session, scope: Scope) -> dict[str, Any]:
    from bot.dashboard.topics import hot_topics

    topics = hot_topics(topic_texts(session, scope), topic_texts(session, scope.previous()))
    types = ",".join(TOPIC_TICKET_TYPES)
    for entry in topics["keywords"]:
        entry["link"] = tickets_link(scope, type=types, q=entry["keyword"])
    for entry in topics["pairs"]:
        entry["link"] = tickets_link(scope, type=types, q=entry["keywords"][0], q2=entry["keywords"][1])
    topics["link"] = tickets_link(scope, type=types)
    return topics


HEADLINES = (
    # key, (section, field), label
    ("conversations", ("conversations", "total"), "会话量"),
    ("customer_messages", ("conversations", "customer_messages"), "客户消息数"),
    ("customers", ("conversations", "customers"), "客户数"),
    ("containment_rate", ("containment", "rate"), "机器人独立解决率"),
    ("fallback_rate", ("containment", "fallback_rate"), "未识别率"),
    ("handoffs", ("handoffs", "total"), "转人工次数"),
    ("wait_p50_seconds", ("handoffs", "wait_p50_seconds"), "接入等待 P50（秒）"),
    ("wait_p90_seconds", ("handoffs", "wait_p90_seconds"), "接入等待 P90（秒）"),
    ("missed_handoffs", ("handoffs", "missed"), "未接入（转回电）"),
    ("tickets_opened", ("tickets", "opened"), "新建工单"),
    ("tickets_closed", ("tickets", "closed"), "办结工单"),
    ("sla_share_on_time", ("sla", "share_on_time"), "时限达标率"),
    ("satisfaction_share", ("satisfaction", "share"), "满意率"),
    ("survey_response_rate", ("satisfaction", "response_rate"), "评价参与率"),
    ("complaint_texts", ("complaint_topics", "texts"), "投诉与建议"),
)


def _core(session: Session, scope: Scope, now: datetime, with_topics: bool, live: bool) -> dict[str, Any]:
    from bot.dashboard import daily

    figures = None if live else daily.figures(session, scope, now, light=not with_topics)
    if figures is None:  # from the rows (``live``, or no day of the period stored yet)
        figures = volume(session, scope, light=not with_topics)
        figures["handoffs"], agent_conversations = people(session, scope)
        figures["tickets"] = tickets(session, scope)
        figures["sla"] = sla(session, scope, now)
        figures["satisfaction"] = satisfaction(session, scope, agent_conversations)
    if with_topics:
        figures["complaint_topics"] = complaint_topics(session, scope)
    else:
        figures["complaint_topics"] = {"texts": topic_count(session, scope)}
    return figures


def compute(session: Session, scope: Scope, now: datetime | None = None, live: bool = False) -> dict[str, Any]:
    """Every figure of ``scope``: from the stored per-day figures where they are current and
    the rows elsewhere (``bot.dashboard.daily``), or from the rows alone (``live``): the same dict."""
    now = now or now_utc()
    current = _core(session, scope, now, with_topics=True, live=live)
    previous = _core(session, scope.previous(), now, with_topics=False, live=live)
    trends = {}
    for key, (section, name), label in HEADLINES:
        value, before = current[section][name], previous[section][name]
        change = None if value is None or before is None else round(value - before, 4)
        trends[key] = {"label": label, "current": value, "previous": before, "change": change}
    by_agent = {a["agent"]: a for a in current["satisfaction"]["by_agent"]}
    for agent in current["handoffs"]["agents"]:
        answers = by_agent.get(agent["agent"], {})
        agent["satisfaction_answers"] = answers.get("answers", 0)
        agent["satisfaction_share"] = answers.get("share")
    prev = scope.previous()
    return {
        "period": {"since": iso_local(scope.since), "until": iso_local(scope.until),
                   "first_day": scope.first_day.isoformat(), "last_day": scope.last_day.isoformat(),
                   "previous_since": iso_local(prev.since), "previous_until": iso_local(prev.until),
                   "channel": scope.channel or None, "area": scope.area or None,
                   "generated_at": iso_local(now)},
        **current,
        "trends": trends,
    }
