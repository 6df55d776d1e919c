"""Response-time compliance: ``python -m bot sla-report [--json] [--since ISO] [--until ISO]``.

``compute_report(session, since, until)`` (also used by the console page) looks at the
tickets created in ``[since, until)`` (cancelled ones left out) and, per ticket type and
area type, at their milestones whose outcome is known: met, or past due without being met.
- ``count``: such milestones; ``met_on_time``: met no later than due; ``share_on_time``;
- ``median_minutes`` / ``worst_minutes``: time from the ticket's creation to the milestone
  being met (met milestones only; how long the customer waited for that step);
- ``overdue_open``: past due and still not met (counted as late in the share);
- ``by_rule``: the same figures per milestone rule.
Hand-offs created in the period (staff take-overs left out, nobody waited for those):
time from the request to a person accepting it, median/worst/count, and the share
accepted within the queue limit (``accept_due_at``) among those whose outcome is known
(accepted, missed, or still waiting past the limit).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import vocabulary
from bot.store.models import Handoff, Milestone, Ticket
from bot.store.types import SHANGHAI, iso_local, now_utc

DEFAULT_DAYS = 30
AREA_NAMES: dict[str | None, str] = dict(vocabulary.AREA_TYPES.items())
AREA_NAMES[None] = "未知"


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60


def _figures(outcomes: list[tuple[bool, float | None]]) -> dict[str, Any]:
    """outcomes: (met on time, minutes to meet or None when not met) per decided milestone."""
    waits = [minutes for _, minutes in outcomes if minutes is not None]
    on_time = sum(1 for ok, _ in outcomes if ok)
    return {
        "count": len(outcomes),
        "met_on_time": on_time,
        "share_on_time": round(on_time / len(outcomes), 4) if outcomes else None,
        "median_minutes": round(statistics.median(waits), 2) if waits else None,
        "worst_minutes": round(max(waits), 2) if waits else None,
        "overdue_open": sum(1 for _, minutes in outcomes if minutes is None),
    }


def compute_report(session: Session, since: datetime, until: datetime,
                   now: datetime | None = None) -> dict[str, Any]:
    """Compliance figures for tickets and hand-offs created in ``[since, until)``."""
    now = now or now_utc()
    rows = session.execute(
        select(Ticket.id, Ticket.type, Ticket.area_type, Ticket.created_at,
               Milestone.rule, Milestone.name, Milestone.due_at, Milestone.met_at)
        .join(Milestone, Milestone.ticket_id == Ticket.id)
        .where(Ticket.created_at >= since, Ticket.created_at < until, Ticket.status != "cancelled")
    ).all()
    tickets: dict[tuple, set[int]] = defaultdict(set)
    outcomes: dict[tuple, list] = defaultdict(list)
    by_rule: dict[tuple, dict[tuple, list]] = defaultdict(lambda: defaultdict(list))
    everything: list = []
    for ticket_id, ticket_type, area_type, created_at, rule, name, due_at, met_at in rows:
        group = (ticket_type, area_type)
        tickets[group].add(ticket_id)
        outcome: tuple[bool, float | None]
        if met_at is not None:
            outcome = (met_at <= due_at, _minutes(met_at - created_at))
        elif due_at <= now:
            outcome = (False, None)
        else:
            continue  # still running: neither on time nor late yet
        outcomes[group].append(outcome)
        by_rule[group][(rule, name)].append(outcome)
        everything.append(outcome)

    groups = []
    for group in sorted(tickets, key=lambda g: (g[0], g[1] or "")):
        entry = {"ticket_type": group[0], "area_type": group[1], "tickets": len(tickets[group]),
                 **_figures(outcomes[group])}
        entry["by_rule"] = [{"rule": rule, "name": name, **_figures(items)}
                            for (rule, name), items in sorted(by_rule[group].items())]
        groups.append(entry)

    return {
        "since": iso_local(since), "until": iso_local(until), "generated_at": iso_local(now),
        "groups": groups,
        "totals": {"tickets": sum(len(ids) for ids in tickets.values()), **_figures(everything)},
        "handoffs": handoff_figures(session, since, until, now),
    }


def handoff_figures(session: Session, since: datetime, until: datetime, now: datetime) -> dict[str, Any]:
    handoffs = session.execute(
        select(Handoff.created_at, Handoff.accepted_at, Handoff.accept_due_at, Handoff.status)
        .where(Handoff.created_at >= since, Handoff.created_at < until, Handoff.reason != "staff_takeover")
    ).all()
    waits, within, decided = [], 0, 0
    for created_at, accepted_at, accept_due_at, status in handoffs:
        if accepted_at is not None:
            waits.append(_minutes(accepted_at - created_at))
            decided += 1
            if accept_due_at is None or accepted_at <= accept_due_at:
                within += 1
        elif status == "missed" or (accept_due_at is not None and accept_due_at <= now):
            decided += 1
    return {
        "count": len(handoffs),
        "accepted": len(waits),
        "median_minutes": round(statistics.median(waits), 2) if waits else None,
        "worst_minutes": round(max(waits), 2) if waits else None,
        "within_limit": within,
        "share_within_limit": round(within / decided, 4) if decided else None,
    }


# ---- command line -----------------------------------------------------------------------

def parse_time(text: str) -> datetime:
    """ISO date or date-time; without an offset it is Asia/Shanghai time."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date or date-time: {text!r}") from exc
    return value if value.tzinfo else value.replace(tzinfo=SHANGHAI)


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--since", type=parse_time, default=None,
                        help=f"tickets created from this time (ISO, default {DEFAULT_DAYS} days before --until)")
    parser.add_argument("--until", type=parse_time, default=None,
                        help="tickets created before this time (ISO, default now)")


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.1f}%"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def format_table(report: dict[str, Any]) -> str:
    lines = [f"服务时限达标情况 {report['since']} 至 {report['until']}", "",
             f"{'工单类型':<8}{'区域':<6}{'工单数':>6}{'考核节点':>8}{'按时':>6}{'按时率':>8}"
             f"{'中位(分钟)':>12}{'最长(分钟)':>12}{'超时未办':>8}"]
    rows: Iterable[dict] = report["groups"]
    for group in rows:
        lines.append(f"{vocabulary.TICKET_TYPES.get(group['ticket_type'], group['ticket_type']):<8}"
                     f"{AREA_NAMES.get(group['area_type'], group['area_type']):<6}{group['tickets']:>6}"
                     f"{group['count']:>8}{group['met_on_time']:>6}{_percent(group['share_on_time']):>8}"
                     f"{_number(group['median_minutes']):>12}{_number(group['worst_minutes']):>12}"
                     f"{group['overdue_open']:>8}")
    totals = report["totals"]
    lines.append(f"{'合计':<14}{totals['tickets']:>6}{totals['count']:>8}{totals['met_on_time']:>6}"
                 f"{_percent(totals['share_on_time']):>8}{_number(totals['median_minutes']):>12}"
                 f"{_number(totals['worst_minutes']):>12}{totals['overdue_open']:>8}")
    handoffs = report["handoffs"]
    lines += ["", f"转人工首次响应：{handoffs['count']} 次，已接入 {handoffs['accepted']} 次，"
                  f"中位 {_number(handoffs['median_minutes'])} 分钟，最长 {_number(handoffs['worst_minutes'])} 分钟，"
                  f"排队时限内接入率 {_percent(handoffs['share_within_limit'])}"]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from bot.config import load_settings
    from bot.store import Store, migrate

    until = args.until or now_utc()
    since = args.since or until - timedelta(days=DEFAULT_DAYS)
    if since >= until:
        print("sla-report: --since must be before --until", file=sys.stderr)
        return 2
    settings = load_settings()
    migrate(settings.database_url)
    store = Store(settings.database_url)
    try:
        with store.session() as session:
            report = compute_report(session, since, until)
    finally:
        store.close()
    print(json.dumps(report, ensure_ascii=False, indent=2) if args.json else format_table(report))
    return 0
