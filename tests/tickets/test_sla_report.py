"""The compliance report against a hand-computed case, and its command line."""
from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.sla import report
from bot.store.models import Handoff, Ticket
from tests.support.sla import SH, add_conversation, add_ticket, migrated_store, sqlite_url

SINCE = datetime(2026, 11, 1, tzinfo=SH)
UNTIL = datetime(2026, 12, 1, tzinfo=SH)
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=SH)


def t(day, hour, minute=0, second=0):
    return datetime(2026, 11, day, hour, minute, second, tzinfo=SH)


def meet(store, ticket_no, **met_at_by_rule):
    with store.session() as session:
        ticket = session.execute(select(Ticket).where(Ticket.ticket_no == ticket_no)).scalar_one()
        for milestone in ticket.milestones:
            key = milestone.rule.replace(".", "_")
            if key in met_at_by_rule:
                milestone.met_at = met_at_by_rule.pop(key)
    assert not met_at_by_rule, f"unknown rules {met_at_by_rule}"


def handoff(store, conversation_id, created_at, *, due_minutes=3, accepted_after=None, status="waiting",
            reason="customer_request"):
    add_conversation(store, conversation_id, at=created_at)
    with store.session() as session:
        session.add(Handoff(conversation_id=conversation_id, channel="web", reason=reason, status=status,
                            created_at=created_at, accept_due_at=created_at + timedelta(minutes=due_minutes),
                            accepted_at=created_at + accepted_after if accepted_after else None))


@pytest.fixture(scope="module")
def store():
    s = migrated_store(sqlite_url())
    # A: urban repair, 10 Nov 10:00 — accepted after 10 min, crew at 10:40 (due 10:45),
    #    power back 14:00 (due 13:45: late).
    a = add_ticket(s, "repair", t(10, 10), status="resolved")
    meet(s, a, first_response=t(10, 10, 10), repair_arrival=t(10, 10, 40), repair_restoration=t(10, 14))
    # B: urban repair, 11 Nov 08:00 — accepted 08:30, crew 09:00 (due 08:45: late), power 11:00 (due 11:45).
    b = add_ticket(s, "repair", t(11, 8), status="resolved")
    meet(s, b, first_response=t(11, 8, 30), repair_arrival=t(11, 9), repair_restoration=t(11, 11))
    # C: rural repair, 12 Nov 09:00 — accepted 09:05, then nothing: arrival and restoration overdue.
    c = add_ticket(s, "repair", t(12, 9), area_type="rural", status="accepted")
    meet(s, c, first_response=t(12, 9, 5))
    # D: urban complaint, Sunday 29 Nov 10:00 — accepted 11:00; contact due 30 Nov 10:00 is overdue
    #    at NOW; the 7-working-day opinion is still running (not counted).
    d = add_ticket(s, "complaint", t(29, 10), status="accepted")
    meet(s, d, first_response=t(29, 11))
    # Left out: created before the period, and a cancelled ticket.
    add_ticket(s, "repair", datetime(2026, 10, 31, 23, 0, tzinfo=SH))
    add_ticket(s, "repair", t(15, 9), status="cancelled")

    # Hand-offs (queue limit 3 minutes): accepted after 1.5 min; after 5 min (late); missed;
    # still waiting within its limit at NOW (not decided); a staff take-over (left out);
    # one outside the period.
    handoff(s, "web-h1", t(10, 10), accepted_after=timedelta(seconds=90), status="closed")
    handoff(s, "web-h2", t(11, 10), accepted_after=timedelta(minutes=5), status="closed")
    handoff(s, "web-h3", t(12, 10), status="missed")
    handoff(s, "web-h5", t(30, 11, 59), status="waiting")
    handoff(s, "web-h4", t(13, 10), accepted_after=timedelta(0), status="closed", reason="staff_takeover")
    handoff(s, "web-h6", datetime(2026, 10, 20, 10, 0, tzinfo=SH), accepted_after=timedelta(minutes=1))
    yield s
    s.close()


def figures(count, on_time, share, median, worst, overdue):
    return {"count": count, "met_on_time": on_time, "share_on_time": share, "median_minutes": median,
            "worst_minutes": worst, "overdue_open": overdue}


def test_report_matches_the_hand_computed_figures(store):
    with store.session() as session:
        data = report.compute_report(session, SINCE, UNTIL, now=NOW)
    groups = {(g["ticket_type"], g["area_type"]): g for g in data["groups"]}
    assert list(groups) == [("complaint", "urban"), ("repair", "rural"), ("repair", "urban")]

    urban = groups[("repair", "urban")]
    # Waits 10, 40, 240, 30, 60, 180 min; on time 4 of 6; median (40 + 60) / 2.
    assert {k: urban[k] for k in figures(0, 0, 0, 0, 0, 0)} == figures(6, 4, 0.6667, 50.0, 240.0, 0)
    assert urban["tickets"] == 2
    assert urban["by_rule"] == [
        {"rule": "first_response", "name": "受理", **figures(2, 2, 1.0, 20.0, 30.0, 0)},
        {"rule": "repair.arrival", "name": "抢修人员到达现场", **figures(2, 1, 0.5, 50.0, 60.0, 0)},
        {"rule": "repair.restoration", "name": "恢复送电", **figures(2, 1, 0.5, 210.0, 240.0, 0)},
    ]
    rural = groups[("repair", "rural")]
    assert {k: rural[k] for k in figures(0, 0, 0, 0, 0, 0)} == figures(3, 1, 0.3333, 5.0, 5.0, 2)
    complaint = groups[("complaint", "urban")]
    assert {k: complaint[k] for k in figures(0, 0, 0, 0, 0, 0)} == figures(2, 1, 0.5, 60.0, 60.0, 1)
    assert [r["rule"] for r in complaint["by_rule"]] == ["complaint.contact", "first_response"]

    # All: 11 decided, 6 on time; waits 5, 10, 30, 40, 60, 60, 180, 240 -> median 50.
    assert data["totals"] == {"tickets": 4, **figures(11, 6, 0.5455, 50.0, 240.0, 3)}
    # Hand-offs: 4 counted, 2 accepted (1.5 and 5 min), 1 of 3 decided within the limit.
    assert data["handoffs"] == {"count": 4, "accepted": 2, "median_minutes": 3.25, "worst_minutes": 5.0,
                                "within_limit": 1, "share_within_limit": 0.3333}
    assert data["since"] == "2026-11-01T00:00:00+08:00" and data["until"] == "2026-12-01T00:00:00+08:00"


def test_a_later_now_turns_running_milestones_into_overdue_ones(store):
    later = datetime(2026, 12, 20, 12, 0, tzinfo=SH)  # the complaint's opinion (7 working days) is late
    with store.session() as session:
        data = report.compute_report(session, SINCE, UNTIL, now=later)
    complaint = next(g for g in data["groups"] if g["ticket_type"] == "complaint")
    assert (complaint["count"], complaint["overdue_open"]) == (3, 2)
    assert data["handoffs"]["share_within_limit"] == 0.25  # the waiting one is now past its limit


def test_empty_period_has_no_shares(store):
    with store.session() as session:
        data = report.compute_report(session, datetime(2025, 1, 1, tzinfo=SH), datetime(2025, 2, 1, tzinfo=SH), now=NOW)
    assert data["groups"] == []
    assert data["totals"]["share_on_time"] is None and data["handoffs"]["share_within_limit"] is None


def _cli(argv, store, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", store.url)
    monkeypatch.setattr(report, "now_utc", lambda: NOW)
    parser = argparse.ArgumentParser()
    report.add_arguments("sla-report", parser)
    code = report.run(parser.parse_args(argv))
    return code, capsys.readouterr()


def test_command_line_json_is_the_same_report(store, monkeypatch, capsys):
    code, out = _cli(["--json", "--since", "2026-11-01", "--until", "2026-12-01T00:00:00+08:00"],
                     store, monkeypatch, capsys)
    assert code == 0
    with store.session() as session:
        expected = report.compute_report(session, SINCE, UNTIL, now=NOW)
    assert json.loads(out.out) == json.loads(json.dumps(expected, ensure_ascii=False))


def test_command_line_table_and_bad_period(store, monkeypatch, capsys):
    code, out = _cli(["--since", "2026-11-01", "--until", "2026-12-01"], store, monkeypatch, capsys)
    assert code == 0
    lines = out.out.splitlines()
    assert any(line.startswith("故障报修") and "66.7%" in line and "240" in line for line in lines)
    assert "排队时限内接入率 33.3%" in out.out

    code, out = _cli(["--since", "2026-12-01", "--until", "2026-11-01"], store, monkeypatch, capsys)
    assert code == 2 and "--since must be before --until" in out.err
    with pytest.raises(SystemExit):
        _cli(["--since", "last tuesday"], store, monkeypatch, capsys)
