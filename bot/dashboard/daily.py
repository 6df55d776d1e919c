"""The dashboard's figures per Shanghai day, kept in the store (migration 0007), and merged.

A period's figures are sums over its days: each fact counts in exactly one bucket, (day,
channel, area) of the fact's own time and filters as ``queries`` defines them (a customer
message by its time and channel and the area of its conversation's account, a ticket
opened by its creation, one closed by its closing, a hand-off by its conversation, an
answer by its time and the channel and area of its conversation or else its ticket).
``build(session, since, until)`` computes the buckets of ``[since, until)`` from the rows;
``figures(session, scope, now)`` merges them into the very sections ``queries`` computes
from the rows (tests check both paths give the same dict). What does not add up is kept
whole: distinct accounts (their list), waiting and first-response times (their values, for
the exact percentiles and medians), the milestones not yet met (their deadlines: whether
one is breached depends on the time of reading), the answers per agent (with the time
their conversation began), the dissatisfied answers (newest 20 of the period), survey
answers given before their conversation (so the response rate's "answered since the
period's start" stays exact). Hot topics and nothing else stay live (``queries``).

Kept correct, with several gateways and late data:

- Only days before today are stored; today and any day whose stored figures are not
  current are computed from the rows at reading time. A reading never waits for a refresh.
- Triggers (migration 0007) bump ``dashboard_days.version`` of every past day whose figures
  a written row changes, in the writer's transaction; stored figures are read only where
  ``aggregated_version = version``, in the same statement as the figures.
- ``refresh`` (every gateway, every few minutes; ``python -m bot dashboard-refresh``)
  re-aggregates stale and missing days, each in one transaction that first takes the day's
  row (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so two gateways never do the same day; a
  writer's bump waits for it and then marks the day stale again; SQLite: the write lock).
  A row written just before midnight bumps nothing (its day was today); before reading a
  day that ended, ``refresh`` waits until every transaction begun before the day ended has
  finished (PostgreSQL: the snapshot's xmin; SQLite: its single writer).
"""
from __future__ import annotations

import logging
import time as clock
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, exists, func, or_, select, text, update
from sqlalchemy.orm import Session

from bot.store.models import (SURVEY_QUESTIONS, Conversation, Customer, DashboardDay, DashboardDayFigures, Handoff,
                              Message, Milestone, SurveyAnswer, Ticket)
from bot.store.types import SHANGHAI, iso_local, now_utc

log = logging.getLogger(__name__)
Key = tuple  # (day, channel, area)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=SHANGHAI)


def _local_day(session: Session, column):
    from bot.dashboard.queries import _local_day as local_day
    return local_day(session, column)


def _section(buckets: dict, key: Key, name: str, factory) -> dict:
    bucket = buckets.setdefault(key, {})
    if name not in bucket:
        bucket[name] = factory()
    return bucket[name]


# ---------------------------------------------------------------- building from the rows

def build(session: Session, since: datetime, until: datetime, channel: str = "", area: str = "") -> dict[Key, dict]:
    """The buckets of ``[since, until)`` (only those of ``channel``/``area`` when given)."""
    from bot.dashboard.queries import FALLBACK_INTENT, _local_hour

    buckets: dict[Key, dict] = {}
    conv_area = func.coalesce(Customer.area_type, "")
    conv_day = _local_day(session, Conversation.created_at)

    def conv_filters() -> list:
        conds = [Conversation.created_at >= since, Conversation.created_at < until]
        if channel:
            conds.append(Conversation.channel == channel)
        if area:
            conds.append(Customer.area_type == area)
        return conds

    # Conversations: count, without a hand-off, accounts.
    contained = func.sum(case((~exists().where(Handoff.conversation_id == Conversation.id), 1), else_=0))
    for day, ch, ar, account, n, n_contained in session.execute(
            select(conv_day, Conversation.channel, conv_area, Conversation.account_no, func.count(), contained)
            .select_from(Conversation).outerjoin(Customer, Customer.account_no == Conversation.account_no)
            .where(*conv_filters()).group_by(conv_day, Conversation.channel, conv_area, Conversation.account_no)):
        c = _section(buckets, (day, ch, ar), "conv", lambda: {"n": 0, "contained": 0, "accounts": ""})
        c["n"] += n
        c["contained"] += int(n_contained or 0)
        if account is not None:
            c["accounts"] = f"{c['accounts']},{account}" if c["accounts"] else account

    # Survey: asked (the survey question sent) or answered; answered at or after the conversation began.
    asked = exists().where(Message.conversation_id == Conversation.id, Message.sender == "bot",
                           Message.text.in_(SURVEY_QUESTIONS))
    last_answer = (select(func.max(SurveyAnswer.created_at)).where(SurveyAnswer.conversation_id == Conversation.id)
                   .correlate(Conversation).scalar_subquery())
    answered = exists().where(SurveyAnswer.conversation_id == Conversation.id)
    for day, ch, ar, created_at, was_asked, last in session.execute(
            select(conv_day, Conversation.channel, conv_area, Conversation.created_at, asked, last_answer)
            .select_from(Conversation).outerjoin(Customer, Customer.account_no == Conversation.account_no)
            .where(*conv_filters(), or_(asked, answered))):
        s = _section(buckets, (day, ch, ar), "survey", lambda: {"normal": 0, "asked": 0, "exceptions": []})
        if last is not None and last >= created_at:
            s["normal"] += 1
        elif last is None:
            s["asked"] += 1 if was_asked else 0
        else:
            s["exceptions"].append([last.isoformat(), bool(was_asked)])

    # Customer messages: per hour and intent; the fallbacks' texts.
    msg_day = _local_day(session, Message.created_at)
    msg_hour = _local_hour(session, Message.created_at)
    msg_conds = [Message.sender == "customer", Message.created_at >= since, Message.created_at < until]
    if channel:
        msg_conds.append(Message.channel == channel)
    if area:
        msg_conds.append(Customer.area_type == area)

    def messages(*columns):
        return (select(msg_day, Message.channel, conv_area, *columns, func.count())
                .select_from(Message).join(Conversation, Conversation.id == Message.conversation_id)
                .outerjoin(Customer, Customer.account_no == Conversation.account_no).where(*msg_conds)
                .group_by(msg_day, Message.channel, conv_area, *columns))

    for day, ch, ar, hour, intent, n in session.execute(messages(msg_hour, Message.intent)):
        m = _section(buckets, (day, ch, ar), "msg", lambda: {"hours": [0] * 24, "intents": {}, "fallback": {}})
        m["hours"][int(hour)] += n
        m["intents"][intent or ""] = m["intents"].get(intent or "", 0) + n
    for day, ch, ar, text_, n in session.execute(
            messages(Message.text).where(Message.intent == FALLBACK_INTENT, Message.text.is_not(None))):
        m = _section(buckets, (day, ch, ar), "msg", lambda: {"hours": [0] * 24, "intents": {}, "fallback": {}})
        m["fallback"][text_] = m["fallback"].get(text_, 0) + n

    # Hand-offs of the conversations begun in the range.
    first_staff = (select(func.min(Message.created_at))
                   .where(Message.conversation_id == Handoff.conversation_id, Message.sender == "staff",
                          Message.created_at >= Handoff.accepted_at)
                   .correlate(Handoff).scalar_subquery())
    agents_seen: dict[Key, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for day, ch, ar, cid, reason, status, created_at, accepted_at, agent, callback_no, first_at in session.execute(
            select(conv_day, Conversation.channel, conv_area, Handoff.conversation_id, Handoff.reason,
                   Handoff.status, Handoff.created_at, Handoff.accepted_at, Handoff.agent,
                   Handoff.callback_ticket_no, first_staff)
            .select_from(Handoff).join(Conversation, Conversation.id == Handoff.conversation_id)
            .outerjoin(Customer, Customer.account_no == Conversation.account_no).where(*conv_filters())
            .order_by(Handoff.id)):
        key = (day, ch, ar)
        h = _section(buckets, key, "handoffs", lambda: {"n": 0, "accepted": 0, "missed": 0, "callbacks": 0,
                                                        "status": {}, "reason": {}, "waits": [], "agents": {}})
        h["n"] += 1
        h["status"][status] = h["status"].get(status, 0) + 1
        h["reason"][reason] = h["reason"].get(reason, 0) + 1
        if accepted_at is not None:
            h["accepted"] += 1
        if status == "missed":
            h["missed"] += 1
        if callback_no:
            h["callbacks"] += 1
        if accepted_at is not None and reason != "staff_takeover":
            h["waits"].append((accepted_at - created_at).total_seconds())
        if accepted_at is not None and agent:
            a = h["agents"].setdefault(agent, [0, []])
            if cid not in agents_seen[key][agent]:
                agents_seen[key][agent].add(cid)
                a[0] += 1
            if first_at is not None:
                a[1].append((first_at - accepted_at).total_seconds())

    # Tickets opened (by creation) and closed (by closing).
    def ticket_conds(column) -> list:
        conds = [column >= since, column < until]
        if channel:
            conds.append(Ticket.channel == channel)
        if area:
            conds.append(Ticket.area_type == area)
        return conds

    t_area = func.coalesce(Ticket.area_type, "")
    opened_day = _local_day(session, Ticket.created_at)
    for day, ch, ar, ttype, status, n in session.execute(
            select(opened_day, Ticket.channel, t_area, Ticket.type, Ticket.status, func.count())
            .where(*ticket_conds(Ticket.created_at))
            .group_by(opened_day, Ticket.channel, t_area, Ticket.type, Ticket.status)):
        t = _section(buckets, (day, ch, ar), "tickets", lambda: {"opened": {}, "closed": {}})
        t["opened"].setdefault(ttype, {})[status] = n
    closed_day = _local_day(session, Ticket.closed_at)
    for day, ch, ar, ttype, n in session.execute(
            select(closed_day, Ticket.channel, t_area, Ticket.type, func.count())
            .where(*ticket_conds(Ticket.closed_at)).group_by(closed_day, Ticket.channel, t_area, Ticket.type)):
        t = _section(buckets, (day, ch, ar), "tickets", lambda: {"opened": {}, "closed": {}})
        t["closed"][ttype] = n

    # Milestones of the tickets opened (cancelled left out): settled ones counted, unmet ones by deadline.
    settled_met = and_(Milestone.met_at.is_not(None), Milestone.met_at <= Milestone.due_at,
                       Milestone.breached.is_(False))
    settled_breached = or_(and_(Milestone.met_at.is_not(None), or_(Milestone.met_at > Milestone.due_at,
                                                                     Milestone.breached.is_(True))),
                           and_(Milestone.met_at.is_(None), Milestone.breached.is_(True)))

    def total(cond):
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    sla_conds = [*ticket_conds(Ticket.created_at), Ticket.status != "cancelled"]
    for day, ch, ar, rule, name, n, n_met, n_breached in session.execute(
            select(opened_day, Ticket.channel, t_area, Milestone.rule, func.min(Milestone.name), func.count(),
                   total(settled_met), total(settled_breached))
            .join(Ticket, Ticket.id == Milestone.ticket_id).where(*sla_conds)
            .group_by(opened_day, Ticket.channel, t_area, Milestone.rule)):
        s = _section(buckets, (day, ch, ar), "sla", dict)
        s[rule] = {"name": name, "n": n, "met": int(n_met), "breached": int(n_breached), "pending": []}
    for day, ch, ar, rule, due_at, at_risk_at in session.execute(
            select(opened_day, Ticket.channel, t_area, Milestone.rule, Milestone.due_at, Milestone.at_risk_at)
            .join(Ticket, Ticket.id == Milestone.ticket_id)
            .where(*sla_conds, Milestone.met_at.is_(None), Milestone.breached.is_(False))):
        buckets[(day, ch, ar)]["sla"][rule]["pending"].append([due_at.isoformat(), at_risk_at is not None])

    # Satisfaction answers given in the range.
    answer_day = _local_day(session, SurveyAnswer.created_at)
    rows = session.execute(
        select(answer_day, SurveyAnswer.id, SurveyAnswer.conversation_id, SurveyAnswer.ticket_no,
               SurveyAnswer.rating, SurveyAnswer.comment, SurveyAnswer.created_at, Conversation.channel,
               Customer.area_type, Ticket.channel, Ticket.type, Ticket.area_type, Conversation.created_at)
        .outerjoin(Conversation, Conversation.id == SurveyAnswer.conversation_id)
        .outerjoin(Customer, Customer.account_no == Conversation.account_no)
        .outerjoin(Ticket, Ticket.ticket_no == SurveyAnswer.ticket_no)
        .where(SurveyAnswer.created_at >= since, SurveyAnswer.created_at < until)
        .order_by(SurveyAnswer.id)).all()
    agent_rows: dict[int, list[str]] = defaultdict(list)
    ids = [r[1] for r in rows if r[2] and r[7]]
    for start in range(0, len(ids), 5000):
        chunk = ids[start:start + 5000]
        for answer_id, agent in session.execute(
                select(SurveyAnswer.id, Handoff.agent).distinct()
                .join(Handoff, Handoff.conversation_id == SurveyAnswer.conversation_id)
                .where(SurveyAnswer.id.in_(chunk), Handoff.accepted_at.is_not(None), Handoff.agent.is_not(None),
                       Handoff.agent != "")):
            agent_rows[answer_id].append(agent)
    for (day, answer_id, cid, ticket_no, rating, comment, at, conv_channel, cust_area, t_channel, t_type, t_ar,
         conv_created) in rows:
        ch = conv_channel or t_channel or ""
        ar = (cust_area if cid and conv_channel else t_ar) or ""
        if (channel and ch != channel) or (area and ar != area):
            continue
        a = _section(buckets, (day, ch, ar), "answers", lambda: {"by_type": {}, "agents": [], "dissatisfied": []})
        ratings = a["by_type"].setdefault(t_type or "conversation", {})
        ratings[rating] = ratings.get(rating, 0) + 1
        for agent in sorted(agent_rows.get(answer_id, ())):
            a["agents"].append([conv_created.isoformat(), agent, rating])
        if rating == "dissatisfied":
            a["dissatisfied"].append([answer_id, cid, ticket_no, ch, comment, iso_local(at)])
    return buckets


# ---------------------------------------------------------------- roll-ups

ALL = "*"  # channel or area of a roll-up row: every channel / every area


def _add_counts(into: dict, more: dict) -> None:
    for k, n in more.items():
        into[k] = into.get(k, 0) + n


def merge_into(into: dict, data: dict) -> None:
    """Adds the bucket ``data`` to ``into`` (same shape): what the readers would add up."""
    for name, section in data.items():
        if name not in into:
            into[name] = _blank(name, section)
        target = into[name]
        if name == "conv":
            target["n"] += section["n"]
            target["contained"] += section["contained"]
            accounts = set(filter(None, target["accounts"].split(","))) | set(filter(None, section["accounts"].split(",")))
            target["accounts"] = ",".join(sorted(accounts))
        elif name == "survey":
            target["normal"] += section["normal"]
            target["asked"] += section["asked"]
            target["exceptions"].extend(section["exceptions"])
        elif name == "msg":
            target["hours"] = [a + b for a, b in zip(target["hours"], section["hours"])]
            _add_counts(target["intents"], section["intents"])
            _add_counts(target["fallback"], section["fallback"])
        elif name == "handoffs":
            for key in ("n", "accepted", "missed", "callbacks"):
                target[key] += section[key]
            _add_counts(target["status"], section["status"])
            _add_counts(target["reason"], section["reason"])
            target["waits"].extend(section["waits"])
            for agent, (n, first) in section["agents"].items():
                mine = target["agents"].setdefault(agent, [0, []])
                mine[0] += n  # a conversation is in one bucket only: distinct counts add up
                mine[1].extend(first)
        elif name == "tickets":
            for ttype, statuses in section["opened"].items():
                _add_counts(target["opened"].setdefault(ttype, {}), statuses)
            _add_counts(target["closed"], section["closed"])
        elif name == "sla":
            for rule, r in section.items():
                mine = target.setdefault(rule, {"name": r["name"], "n": 0, "met": 0, "breached": 0, "pending": []})
                mine["name"] = min(mine["name"], r["name"])
                for key in ("n", "met", "breached"):
                    mine[key] += r[key]
                mine["pending"].extend(r["pending"])
        elif name == "answers":
            for ttype, ratings in section["by_type"].items():
                _add_counts(target["by_type"].setdefault(ttype, {}), ratings)
            target["agents"].extend(section["agents"])
            target["dissatisfied"].extend(section["dissatisfied"])


def _blank(name: str, section: dict) -> dict:
    if name == "conv":
        return {"n": 0, "contained": 0, "accounts": ""}
    if name == "survey":
        return {"normal": 0, "asked": 0, "exceptions": []}
    if name == "msg":
        return {"hours": [0] * 24, "intents": {}, "fallback": {}}
    if name == "handoffs":
        return {"n": 0, "accepted": 0, "missed": 0, "callbacks": 0, "status": {}, "reason": {}, "waits": [],
                "agents": {}}
    if name == "tickets":
        return {"opened": {}, "closed": {}}
    if name == "answers":
        return {"by_type": {}, "agents": [], "dissatisfied": []}
    return {}


def with_rollups(buckets: dict[Key, dict]) -> dict[Key, dict]:
    """The buckets plus, per day, every channel of an area, every area of a channel and everything:
    a period without filters reads one row a day."""
    out = dict(buckets)
    for (day, ch, ar), data in buckets.items():
        for key in ((day, ch, ALL), (day, ALL, ar), (day, ALL, ALL)):
            merge_into(out.setdefault(key, {}), data)
            if key[1] == ALL:  # what the channel of the row told: conversations and answers per channel
                channels = out[key].setdefault("by_channel", {"conv": {}, "answers": {}})
                if "conv" in data:
                    channels["conv"][ch] = channels["conv"].get(ch, 0) + data["conv"]["n"]
                for ratings in data.get("answers", {}).get("by_type", {}).values():
                    _add_counts(channels["answers"].setdefault(ch, {}), ratings)
    return out


# ---------------------------------------------------------------- keeping the days

def _claim_row(session: Session, day: str) -> None:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(DashboardDay).values(day=day, version=0).on_conflict_do_nothing(index_elements=["day"]))


def aggregate_day(store, day: date) -> bool:
    """Stores the figures of ``day`` unless they are current or another gateway is at it."""
    key = day.isoformat()
    with store.session() as session:
        _claim_row(session, key)  # SQLite: takes the write lock; every earlier writer has committed
        row = session.execute(select(DashboardDay.version, DashboardDay.aggregated_version)
                              .where(DashboardDay.day == key).with_for_update(skip_locked=True)).first()
        if row is None or row.aggregated_version == row.version:
            return False
        buckets = with_rollups(build(session, day_start(day), day_start(day + timedelta(days=1))))
        session.execute(delete(DashboardDayFigures).where(DashboardDayFigures.day == key))
        if buckets:
            session.execute(DashboardDayFigures.__table__.insert(),
                            [{"day": d, "channel": ch, "area": ar, "figures": data}
                             for (d, ch, ar), data in buckets.items()])
        session.execute(update(DashboardDay).where(DashboardDay.day == key)
                        .values(aggregated_version=row.version, aggregated_at=now_utc()))
    return True


def _wait_for_older_transactions(store, timeout: float) -> bool:
    """PostgreSQL: True once every transaction begun before this call has ended (SQLite: at once)."""
    if store.engine.dialect.name != "postgresql":
        return True
    with store.transaction() as conn:
        mark = conn.execute(text("SELECT txid_current()")).scalar()
    deadline = clock.monotonic() + timeout
    while True:
        with store.transaction() as conn:
            oldest = conn.execute(text("SELECT txid_snapshot_xmin(txid_current_snapshot())")).scalar()
        if oldest > mark:
            return True
        if clock.monotonic() > deadline:
            return False
        clock.sleep(0.1)


def days_to_aggregate(store, today: date) -> list[date]:
    """Days before ``today`` since the first data whose stored figures are missing or stale, newest first."""
    with store.session() as session:
        firsts = [session.execute(select(func.min(column))).scalar()
                  for column in (Conversation.created_at, Message.created_at, Ticket.created_at,
                                 SurveyAnswer.created_at)]
        known = dict(session.execute(select(DashboardDay.day, DashboardDay.version == DashboardDay.aggregated_version)
                                     .where(DashboardDay.day < today.isoformat())).all())
    firsts = [f.astimezone(SHANGHAI).date() for f in firsts if f is not None]
    days = [date.fromisoformat(d) for d, current in known.items() if not current]
    if firsts:
        day = min(firsts)
        while day < today:
            if day.isoformat() not in known:
                days.append(day)
            day += timedelta(days=1)
    return sorted(set(days), reverse=True)


def refresh(store, limit: int | None = None, wait_seconds: float = 30.0) -> int:
    """Aggregates the missing and stale days before today (newest first); returns how many."""
    today = now_utc().astimezone(SHANGHAI).date()  # before the wait: those days ended before it began
    days = days_to_aggregate(store, today)[:limit]
    if not days:
        return 0
    if not _wait_for_older_transactions(store, wait_seconds):
        log.warning("dashboard: a transaction older than %s s is open; days left to the next refresh", wait_seconds)
        return 0
    done = 0
    for day in days:
        try:
            done += aggregate_day(store, day)
        except Exception:  # e.g. SQLite busy: the day stays computed from the rows until next time
            log.exception("dashboard: aggregating %s failed", day)
    return done


# ---------------------------------------------------------------- reading

def load(session: Session, scope) -> list[tuple[Key, dict]] | None:
    """The buckets of the period: stored where current, built from the rows elsewhere.

    ``None`` when no whole day of the period has current stored figures (``queries`` then
    reads the rows as it always did)."""
    first = scope.since.astimezone(SHANGHAI).date()
    if day_start(first) < scope.since:
        first += timedelta(days=1)
    last = scope.until.astimezone(SHANGHAI).date() - timedelta(days=1)  # the last whole day
    if first > last:
        return None
    join = [DashboardDayFigures.day == DashboardDay.day, DashboardDayFigures.channel == (scope.channel or ALL),
            DashboardDayFigures.area == (scope.area or ALL)]
    # One statement: the days' state and their figures from the same snapshot.
    rows = session.execute(
        select(DashboardDay.day, DashboardDayFigures.channel, DashboardDayFigures.area, DashboardDayFigures.figures)
        .outerjoin(DashboardDayFigures, and_(*join))
        .where(DashboardDay.day >= first.isoformat(), DashboardDay.day <= last.isoformat(),
               DashboardDay.aggregated_version == DashboardDay.version)).all()
    stored = {r[0] for r in rows}
    if not stored:
        return None
    buckets: list[tuple[Key, dict]] = [((d, ch, ar), data) for d, ch, ar, data in rows if data is not None]
    # The rest from the rows, in as few ranges as possible: a partial first or last day, the days not stored.
    cursor = scope.since
    day = first
    while day <= last:
        if day.isoformat() in stored:
            if cursor < day_start(day):
                buckets.extend(build(session, cursor, day_start(day), scope.channel, scope.area).items())
            cursor = day_start(day + timedelta(days=1))
        day += timedelta(days=1)
    if cursor < scope.until:
        buckets.extend(build(session, cursor, scope.until, scope.channel, scope.area).items())
    return buckets


def figures(session: Session, scope, now: datetime, light: bool) -> dict[str, Any] | None:
    """The sections ``conversations``, ``containment``, ``handoffs``, ``tickets``, ``sla``,
    ``satisfaction`` of ``scope`` from the day buckets (``None``: nothing stored, read the rows)."""
    buckets = load(session, scope)
    if buckets is None:
        return None
    result = _volume(buckets, scope, light)
    result["handoffs"], agents = _people(buckets, scope)
    result["tickets"] = _tickets(buckets, scope)
    result["sla"] = _sla(buckets, scope, now)
    result["satisfaction"] = _satisfaction(buckets, scope, agents)
    return result


# ---------------------------------------------------------------- merging

def _volume(buckets, scope, light: bool) -> dict[str, Any]:
    from dataclasses import replace

    from bot.dashboard.queries import (FALLBACK_INTENT, TOP, WEEKDAYS, _share, per_day_rows, review_link,
                                       top_intent_rows)

    total = contained = 0
    accounts: set[str] = set()
    by_channel: Counter = Counter()
    conversations_by_day: Counter = Counter()
    intent_counts: Counter = Counter()
    messages_by_day: Counter = Counter()
    fallback_texts: Counter = Counter()
    heatmap = [[0] * 24 for _ in range(7)]
    for (day, ch, _ar), data in buckets:
        c = data.get("conv")
        if c:
            total += c["n"]
            contained += c["contained"]
            if c["accounts"]:
                accounts.update(c["accounts"].split(","))
            if ch == ALL:
                by_channel.update(data["by_channel"]["conv"])
            else:
                by_channel[ch] += c["n"]
            conversations_by_day[day] += c["n"]
        m = data.get("msg")
        if m:
            intent_counts.update(m["intents"])
            if not light:
                weekday = date.fromisoformat(day).weekday()
                for hour, n in enumerate(m["hours"]):
                    heatmap[weekday][hour] += n
                messages_by_day[day] += sum(m["hours"])
                fallback_texts.update(m["fallback"])
    messages_total = sum(intent_counts.values())
    with_intent = sum(n for intent, n in intent_counts.items() if intent)
    fallback = intent_counts.get(FALLBACK_INTENT, 0)
    figures: dict[str, Any] = {
        "conversations": {"total": total, "customer_messages": messages_total, "customers": len(accounts)},
        "containment": {"conversations": total, "contained": contained, "rate": _share(contained, total),
                        "messages_with_intent": with_intent, "fallback_messages": fallback,
                        "fallback_rate": _share(fallback, with_intent)},
    }
    if light:
        return figures
    per_channel = [{"channel": ch, "conversations": n, "link": review_link(replace(scope, channel=ch))}
                   for ch, n in sorted(by_channel.items(), key=lambda kv: (-kv[1], kv[0])) if n]
    per_day = per_day_rows(scope, conversations_by_day, messages_by_day)
    per_intent = top_intent_rows(scope, intent_counts)
    misunderstood = [{"text": text_, "messages": n, "link": review_link(scope, text=text_[:500])}
                     for text_, n in sorted(fallback_texts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]]
    figures["conversations"].update({
        "link": review_link(scope), "per_day": per_day, "heatmap": heatmap, "weekdays": list(WEEKDAYS),
        "per_channel": per_channel, "per_intent": per_intent})
    figures["containment"].update({
        "contained_link": review_link(scope, handoff="no"),
        "fallback_link": review_link(scope, intent=FALLBACK_INTENT),
        "misunderstood": misunderstood, "top_intents": per_intent})
    return figures


def _people(buckets, scope) -> tuple[dict[str, Any], list[str]]:
    from bot.dashboard.queries import _median, percentile, review_link, tickets_link

    total = accepted = missed = callbacks = 0
    by_status: Counter = Counter()
    by_reason: Counter = Counter()
    waits: list[float] = []
    agents: dict[str, list] = {}
    for _key, data in buckets:
        h = data.get("handoffs")
        if not h:
            continue
        total += h["n"]
        accepted += h["accepted"]
        missed += h["missed"]
        callbacks += h["callbacks"]
        by_status.update(h["status"])
        by_reason.update(h["reason"])
        waits.extend(h["waits"])
        for name, (n, first) in h["agents"].items():
            a = agents.setdefault(name, [0, []])
            a[0] += n
            a[1].extend(first)
    figures = {
        "total": total, "accepted": accepted, "missed": missed, "callback_tickets": callbacks,
        "by_status": dict(sorted(by_status.items())), "by_reason": dict(sorted(by_reason.items())),
        "wait_p50_seconds": percentile(waits, 0.5), "wait_p90_seconds": percentile(waits, 0.9),
        "waits_counted": len(waits),
        "link": review_link(scope, handoff="yes"),
        "missed_link": review_link(scope, handoff="missed"),
        "callback_link": tickets_link(scope, type="callback"),
        "agents": [{"agent": name, "conversations": n, "first_response_p50_seconds": _median(first),
                    "link": review_link(scope, agent=name)}
                   for name, (n, first) in sorted(agents.items())],
    }
    return figures, sorted(agents)


def _tickets(buckets, scope) -> dict[str, Any]:
    from bot.dashboard.queries import tickets_link

    by_type: Counter = Counter()
    by_status: Counter = Counter()
    closed: Counter = Counter()
    for _key, data in buckets:
        t = data.get("tickets")
        if not t:
            continue
        for ttype, statuses in t["opened"].items():
            for status, n in statuses.items():
                by_type[ttype] += n
                by_status[status] += n
        closed.update(t["closed"])
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


def _sla(buckets, scope, now: datetime) -> dict[str, Any]:
    from bot.dashboard.queries import LEADING_RULES, _share, tickets_link

    merged: dict[str, dict] = {}
    for _key, data in buckets:
        for rule, r in (data.get("sla") or {}).items():
            m = merged.setdefault(rule, {"name": r["name"], "n": 0, "met": 0, "breached": 0, "at_risk": 0})
            m["name"] = min(m["name"], r["name"])
            m["n"] += r["n"]
            m["met"] += r["met"]
            m["breached"] += r["breached"]
            for due, at_risk in r["pending"]:
                if datetime.fromisoformat(due) <= now:
                    m["breached"] += 1
                elif at_risk:
                    m["at_risk"] += 1
    rules = []
    for rule, m in merged.items():
        n, n_met, n_breached, n_risk = m["n"], m["met"], m["breached"], m["at_risk"]
        rules.append({"rule": rule, "name": m["name"], "milestones": n, "met": n_met, "breached": n_breached,
                      "at_risk": n_risk, "open": n - n_met - n_breached - n_risk,
                      "share_on_time": _share(n_met, n_met + n_breached),
                      "links": {state: tickets_link(scope, rule=rule, sla=state)
                                for state in ("met", "breached", "at_risk", "open")}})
    rules.sort(key=lambda r: (LEADING_RULES.index(r["rule"]) if r["rule"] in LEADING_RULES else len(LEADING_RULES),
                              r["rule"]))
    sums = {key: sum(r[key] for r in rules) for key in ("milestones", "met", "breached", "at_risk", "open")}
    return {**sums, "share_on_time": _share(sums["met"], sums["met"] + sums["breached"]), "rules": rules,
            "breached_link": tickets_link(scope, sla="breached"), "at_risk_link": tickets_link(scope, sla="at_risk")}


def _satisfaction(buckets, scope, agent_names: list[str]) -> dict[str, Any]:
    from bot.dashboard.queries import SATISFACTION_TARGET, _share, review_link

    def figures(ratings: Counter) -> dict[str, Any]:
        n = sum(ratings.values())
        return {"answers": n, "satisfied": ratings["satisfied"], "neutral": ratings["neutral"],
                "dissatisfied": ratings["dissatisfied"], "share": _share(ratings["satisfied"], n)}

    everything: Counter = Counter()
    by_channel: dict[str, Counter] = defaultdict(Counter)
    by_type: dict[str, Counter] = defaultdict(Counter)
    by_agent: dict[str, Counter] = {name: Counter() for name in agent_names}
    dissatisfied: list = []
    surveyed = responded = 0
    for (_day, ch, _ar), data in buckets:
        a = data.get("answers")
        if a:
            for ttype, ratings in a["by_type"].items():
                everything.update(ratings)
                by_type[ttype].update(ratings)
                if ch != ALL:
                    by_channel[ch].update(ratings)
            if ch == ALL:
                for channel, ratings in data["by_channel"]["answers"].items():
                    by_channel[channel].update(ratings)
            for conv_created, agent, rating in a["agents"]:
                if agent in by_agent and scope.since <= datetime.fromisoformat(conv_created) < scope.until:
                    by_agent[agent][rating] += 1
            dissatisfied.extend(a["dissatisfied"])
        s = data.get("survey")
        if s:
            surveyed += s["normal"] + s["asked"]
            responded += s["normal"]
            for last, asked in s["exceptions"]:
                late_enough = datetime.fromisoformat(last) >= scope.since
                surveyed += 1 if (asked or late_enough) else 0
                responded += 1 if late_enough else 0
    dissatisfied.sort(key=lambda entry: -entry[0])
    return {
        **figures(everything), "target": SATISFACTION_TARGET,
        "surveyed": surveyed, "responded": responded, "response_rate": _share(responded, surveyed),
        "by_channel": [{"channel": k, **figures(v)} for k, v in sorted(by_channel.items())],
        "by_type": [{"type": k, **figures(v)} for k, v in sorted(by_type.items())],
        "by_agent": [{"agent": name, **figures(by_agent[name])} for name in agent_names],
        "dissatisfied_conversations": [
            {"conversation_id": cid, "ticket_no": ticket_no, "channel": ch, "comment": comment, "at": at}
            for _id, cid, ticket_no, ch, comment, at in dissatisfied[:20]],
        "dissatisfied_link": review_link(scope, started=False, satisfaction="dissatisfied"),
    }


# ---------------------------------------------------------------- command line

def add_arguments(name: str, parser) -> None:
    parser.add_argument("--limit", type=int, default=None, help="at most this many days (newest first)")


def run(args) -> int:
    from bot.config import load_settings
    from bot.store import Store, migrate

    settings = load_settings()
    migrate(settings.database_url)
    store = Store(settings.database_url)
    try:
        started = clock.monotonic()
        days = refresh(store, limit=args.limit)
    finally:
        store.close()
    print(f"dashboard: stored the figures of {days} days in {clock.monotonic() - started:.1f} s")
    return 0
