"""Privacy duties (PIPL): retention job, a customer's export and deletion, the audit log."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
import sqlalchemy as sa
from sqlalchemy import func, select

from bot import tickets
from bot.privacy import audit, retention, subject as subjects
from bot.privacy.policy import KINDS, PolicyError, RetentionPolicy, load_policy
from bot.store.models import (AuditEntry, Conversation, Customer, Handoff, Message, RetentionRun, SurveyAnswer,
                              Ticket)
from bot.store.types import now_utc
from tests.support.console import add_staff
from bot.sla import SLA_RULES
from bot.store import STORE

TICKET_NO = web.AppKey("test_ticket_no", str)  # the ticket the fixture made

ROOT = Path(__file__).resolve().parent.parent.parent
POLICY = RetentionPolicy(days={k: 30 for k in KINDS} | {"tickets": 365, "audit_log": 400})


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")


def _conversation(session, cid, account, days_ago, text="我家电话13812345678，地址中山路18号"):
    at = now_utc() - timedelta(days=days_ago)
    session.add(Conversation(id=cid, channel="web", state="closed", account_no=account, note="客户很着急",
                             created_at=at, last_message_at=at))
    session.flush()
    session.add(Message(conversation_id=cid, sender="customer", channel="web", text=text, created_at=at))
    session.add(Message(conversation_id=cid, sender="bot", channel="web", text="好的", created_at=at))
    session.add(Handoff(conversation_id=cid, channel="web", reason="customer_request", status="closed",
                        summary="客户张伟 13812345678 要求人工", created_at=at))
    session.add(SurveyAnswer(conversation_id=cid, rating="dissatisfied", comment="电话13812345678没人接", created_at=at))


def _ticket(session, rules, cid, account, key, closed_days_ago=None):
    result = tickets.create_ticket(session, rules, type="repair", summary="张伟 13812345678 中山路18号停电",
                                   channel="web", account_no=account, conversation_id=cid, request_key=key,
                                   contact_name="张伟", contact_phone="13812345678",
                                   details={"address": "中山路18号", "hazard": False})
    if closed_days_ago is not None:
        result.ticket.status = "closed"
        result.ticket.closed_at = now_utc() - timedelta(days=closed_days_ago)
    return result.ticket.ticket_no


# ---------------------------------------------------------------- policy

def test_policy_file_names_every_kind_and_refuses_bad_periods(tmp_path):
    policy = load_policy(ROOT / "privacy.yml")
    assert set(policy.days) == set(KINDS)
    assert all(days >= 1 for days in policy.days.values())
    bad = tmp_path / "p.yml"
    bad.write_text("retention:\n  messages: 0\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="messages"):
        load_policy(bad)
    bad.write_text("retention: {" + ", ".join(f"{k}: 10" for k in KINDS) + ", chats: 3}\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="unknown"):
        load_policy(bad)


# ---------------------------------------------------------------- retention

def test_retention_removes_only_what_is_past_its_period(backend_store):
    from bot.sla import load_rules

    rules = load_rules(ROOT / "sla.yml")
    with backend_store.session() as session:
        session.add(Customer(account_no="3201000001", name="张伟", phone="13812345678", address="中山路18号",
                             area_type="urban", customer_type="residential"))
        _conversation(session, "old", "3201000001", days_ago=40)
        _conversation(session, "new", "3201000001", days_ago=2)
        old_closed = _ticket(session, rules, "old", "3201000001", "k-old", closed_days_ago=400)
        recent_closed = _ticket(session, rules, "new", "3201000001", "k-new", closed_days_ago=10)
        open_old = _ticket(session, rules, "old", "3201000001", "k-open")
        audit.record(session, actor="li", actor_role="agent", action="view_conversation", subject_kind="conversation",
                     subject_id="old", at=now_utc() - timedelta(days=500))
        audit.record(session, actor="li", actor_role="agent", action="view_conversation", subject_kind="conversation",
                     subject_id="new", at=now_utc() - timedelta(days=5))

    counts = retention.run(backend_store, POLICY, trigger="cli", actor="cli")
    assert counts["messages"] == 2 and counts["tickets"] == 1 and counts["audit_log"] == 1
    assert counts["handoff_summaries"] == 1 and counts["survey_comments"] == 1 and counts["conversations"] == 1
    with backend_store.session() as session:
        left = {m.conversation_id for m in session.execute(select(Message)).scalars()}
        assert left == {"new"}
        old = session.get(Conversation, "old")
        assert old.account_no is None and old.note is None and old.satisfaction is None or old.account_no is None
        assert session.get(Conversation, "new").account_no == "3201000001"
        by_no = {t.ticket_no: t for t in session.execute(select(Ticket)).scalars()}
        erased = by_no[old_closed]
        assert erased.summary == subjects.ERASED and erased.contact_phone is None and erased.account_no is None
        assert "address" not in erased.details and erased.details.get("hazard") is False
        assert by_no[recent_closed].contact_phone == "13812345678"
        assert by_no[open_old].summary.startswith("张伟")  # an open ticket is still being served
        survey = {s.conversation_id: s.comment for s in session.execute(select(SurveyAnswer)).scalars()}
        assert survey == {"old": None, "new": "电话13812345678没人接"}
        run = session.execute(select(RetentionRun)).scalar_one()
        assert run.finished_at is not None and run.counts["messages"] == 2
        actions = [e.action for e in session.execute(select(AuditEntry)).scalars()]
        assert "retention_run" in actions


def test_identity_check_records_go_after_their_period(backend_store):
    from bot.store.models import ThrottleHit

    with backend_store.session() as session:
        session.add(ThrottleHit(scope="identity", key="3201000001|c1", member="a", at=now_utc() - timedelta(days=40)))
        session.add(ThrottleHit(scope="identity", key="3201000001|c2", member="b", at=now_utc() - timedelta(days=1)))
    counts = retention.run(backend_store, POLICY, trigger="cli", actor="cli")
    assert counts["identity_checks"] == 1
    with backend_store.session() as session:
        assert [h.key for h in session.execute(select(ThrottleHit)).scalars()] == ["3201000001|c2"]


def test_a_scheduled_day_runs_once_with_several_gateways(backend_store):
    first = retention.run(backend_store, POLICY, trigger="schedule", actor="system", scheduled_day="2026-12-01")
    second = retention.run(backend_store, POLICY, trigger="schedule", actor="system", scheduled_day="2026-12-01")
    assert first is not None and second is None
    with backend_store.session() as session:
        assert session.execute(select(func.count()).select_from(RetentionRun)).scalar_one() == 1


def test_next_run_is_the_configured_shanghai_time():
    from datetime import datetime, time, timezone

    policy = RetentionPolicy(days=POLICY.days, run_at=time(3, 30))
    before = datetime(2026, 12, 1, 19, 0, tzinfo=timezone.utc)  # 03:00 Shanghai on the 2nd
    after = datetime(2026, 12, 1, 20, 0, tzinfo=timezone.utc)  # 04:00 Shanghai
    assert retention.next_run_after(before, policy).isoformat() == "2026-12-02T03:30:00+08:00"
    assert retention.next_run_after(after, policy).isoformat() == "2026-12-03T03:30:00+08:00"


def test_rasa_tracker_events_go_with_the_messages(tmp_path, monkeypatch, backend_store):
    tracker_url = f"sqlite:///{tmp_path / 'rasa.db'}"
    engine = sa.create_engine(tracker_url, future=True)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255), "
                             "type_name VARCHAR(255), timestamp FLOAT, data TEXT)"))
        old, new = (now_utc() - timedelta(days=40)).timestamp(), now_utc().timestamp()
        conn.execute(sa.text("INSERT INTO events (sender_id, type_name, timestamp, data) VALUES "
                             "('a', 'user', :old, '{}'), ('a', 'user', :new, '{}'), ('b', 'user', :new, '{}')"),
                     {"old": old, "new": new})
    monkeypatch.setenv("TRACKER_DATABASE_URL", tracker_url)
    counts = retention.run(backend_store, POLICY, trigger="cli", actor="cli")
    assert counts["tracker_events"] == 1
    with backend_store.session() as session:
        session.add(Conversation(id="b", channel="web", state="closed"))
    with backend_store.session() as session:
        erased = subjects.erase(session, subjects.Subject(conversation_id="b"))
    assert erased["tracker_events"] == 1
    with engine.connect() as conn:
        assert [r[0] for r in conn.execute(sa.text("SELECT sender_id FROM events"))] == ["a"]
    engine.dispose()


# ---------------------------------------------------------------- a customer's data

def test_export_and_erase_an_account_keep_tickets_without_personal_fields(backend_store):
    from bot.sla import load_rules

    rules = load_rules(ROOT / "sla.yml")
    with backend_store.session() as session:
        session.add(Customer(account_no="3201000001", name="张伟", phone="13812345678", address="中山路18号",
                             area_type="urban", customer_type="residential"))
        session.add(Customer(account_no="3201000002", name="李秀英", phone="13905172316", address="石塘村45号",
                             area_type="rural", customer_type="residential"))
        _conversation(session, "mine", "3201000001", days_ago=1)
        _conversation(session, "via-ticket", None, days_ago=1)  # not linked, but a ticket of the account is
        _conversation(session, "someone-else", "3201000002", days_ago=1, text="李秀英的消息")
        mine = _ticket(session, rules, "via-ticket", "3201000001", "k1")
        theirs = _ticket(session, rules, "someone-else", "3201000002", "k2")

    subject = subjects.Subject(account_no="3201000001")
    with backend_store.session() as session:
        data = subjects.collect(session, subject)
    assert data["customer"]["phone"] == "13812345678"
    assert sorted(c["id"] for c in data["conversations"]) == ["mine", "via-ticket"]
    assert [t["ticket_no"] for t in data["tickets"]] == [mine]
    text = subjects.readable(data)
    assert "张伟" in text and "我家电话13812345678" in text and "李秀英" not in text

    with backend_store.session() as session:
        counts = subjects.erase(session, subject, include_account=True)
    assert counts["messages"] == 4 and counts["tickets"] == 1 and counts["customer"] == 1
    with backend_store.session() as session:
        remaining = {m.conversation_id for m in session.execute(select(Message)).scalars()}
        assert remaining == {"someone-else"}
        kept = session.execute(select(Ticket).where(Ticket.ticket_no == mine)).scalar_one()
        assert kept.type == "repair" and kept.milestones  # still counted in the statistics
        assert kept.summary == subjects.ERASED and kept.contact_name is None and kept.account_no is None
        other = session.execute(select(Ticket).where(Ticket.ticket_no == theirs)).scalar_one()
        assert other.contact_phone == "13812345678" and other.account_no == "3201000002"
        customer = session.execute(select(Customer).where(Customer.account_no == "3201000001")).scalar_one()
        assert customer.name == "（已删除）" and customer.phone != "13812345678"
        again = subjects.collect(session, subject)
    assert again["conversations"] == [] and again["tickets"] == []


def test_subject_must_name_exactly_one_identity():
    with pytest.raises(ValueError):
        subjects.Subject()
    with pytest.raises(ValueError):
        subjects.Subject(account_no="3201000001", conversation_id="x")


# ---------------------------------------------------------------- console and CLI

@pytest.fixture
def app(demo_gateway_app):
    add_staff(demo_gateway_app, "li", "李娜", "agent")
    add_staff(demo_gateway_app, "boss", "王主管", "supervisor")
    with demo_gateway_app[STORE].session() as session:
        _conversation(session, "wechat:oPRIV", "3201000001", days_ago=1)
        demo_gateway_app[TICKET_NO] = _ticket(session, demo_gateway_app[SLA_RULES], "wechat:oPRIV", "3201000001", "k9")
    return demo_gateway_app






def _entries(app, **where):
    with app[STORE].session() as session:
        query = select(AuditEntry).order_by(AuditEntry.id)
        for key, value in where.items():
            query = query.where(getattr(AuditEntry, key) == value)
        return [audit.entry_json(e) for e in session.execute(query).scalars()]


@pytest.mark.asyncio
async def test_viewing_a_conversation_or_ticket_is_audited_with_unmasking(app, agent, boss):
    assert (await agent.get("/console/conversations/wechat%3AoPRIV")).status == 200
    assert (await boss.get("/console/api/conversations/wechat%3AoPRIV")).status == 200
    assert (await agent.get(f"/console/tickets/{app[TICKET_NO]}")).status == 200
    views = _entries(app, subject_id="wechat:oPRIV")
    assert [(e["actor"], e["action"], e["unmasked"]) for e in views] == [
        ("li", "view_conversation", False), ("boss", "view_conversation", True)]
    assert views[0]["detail"] == {"account_no": "3201000001"} and views[0]["client"]
    assert [e["actor"] for e in _entries(app, action="view_ticket")] == ["li"]


@pytest.mark.asyncio
async def test_agents_cannot_reach_privacy_pages_or_the_audit_log(agent):
    for path in ("/console/privacy?kind=account&id=3201000001", "/console/audit",
                 "/console/privacy/export?kind=account&id=3201000001&format=json"):
        response = await agent.get(path, headers={"Accept": "text/html"})
        assert response.status == 403, path
    response = await agent.post("/console/privacy/erase", data={"kind": "account", "id": "3201000001",
                                                                 "confirm": "3201000001", "csrf_token": agent.csrf})
    assert response.status == 403


@pytest.mark.asyncio
async def test_supervisor_exports_and_erases_a_channel_identity(app, boss):
    page = await boss.get("/console/privacy?kind=conversation&id=wechat%3AoPRIV")
    html = await page.text()
    assert page.status == 200 and "消息 2 条" in html
    export = await boss.get("/console/privacy/export?kind=conversation&id=wechat%3AoPRIV&format=json")
    assert export.status == 200 and "attachment" in export.headers["Content-Disposition"]
    data = json.loads(await export.text())
    assert data["conversations"][0]["messages"][0]["text"].startswith("我家电话13812345678")
    readable = await boss.get("/console/privacy/export?kind=conversation&id=wechat%3AoPRIV&format=text")
    assert "我家电话13812345678" in await readable.text()

    # CSRF, and a confirmation that does not match, delete nothing
    refused = await boss.post("/console/privacy/erase", data={"kind": "conversation", "id": "wechat:oPRIV",
                                                               "confirm": "wechat:oPRIV"})
    assert refused.status == 403
    wrong = await boss.post("/console/privacy/erase", data={"kind": "conversation", "id": "wechat:oPRIV",
                                                             "confirm": "wechat:oX", "csrf_token": boss.csrf},
                            allow_redirects=False)
    assert wrong.status == 303 and "error=" in wrong.headers["Location"]
    with app[STORE].session() as session:
        assert session.execute(select(func.count()).select_from(Message)
                               .where(Message.conversation_id == "wechat:oPRIV")).scalar_one() == 2

    done = await boss.post("/console/privacy/erase", data={"kind": "conversation", "id": "wechat:oPRIV",
                                                            "confirm": "wechat:oPRIV", "reason": "客户申请",
                                                            "csrf_token": boss.csrf}, allow_redirects=False)
    assert done.status == 303
    with app[STORE].session() as session:
        assert session.execute(select(func.count()).select_from(Message)
                               .where(Message.conversation_id == "wechat:oPRIV")).scalar_one() == 0
        ticket = session.execute(select(Ticket).where(Ticket.ticket_no == app[TICKET_NO])).scalar_one()
        assert ticket.summary == subjects.ERASED and ticket.contact_phone is None
    actions = [(e["action"], e["actor"]) for e in _entries(app, subject_id="wechat:oPRIV")]
    assert ("export_subject", "boss") in actions and ("erase_subject", "boss") in actions
    erase = next(e for e in _entries(app, action="erase_subject"))
    assert erase["detail"]["counts"]["messages"] == 2 and erase["detail"]["reason"] == "客户申请"

    log_page = await boss.get("/console/audit?action=erase_subject")
    html = await log_page.text()
    assert log_page.status == 200 and "删除个人信息" in html and "wechat:oPRIV" in html
    as_json = await boss.get("/console/audit?format=json&subject=wechat:oPRIV")
    assert {e["action"] for e in (await as_json.json())["entries"]} >= {"export_subject", "erase_subject"}


@pytest.mark.asyncio
async def test_the_audit_log_has_no_way_to_change_it(app, boss):
    from bot.console import SUPERVISOR_ROUTES  # noqa: F401 - the routes are the console's whole surface

    audit_routes = [r for r in app.router.routes() if "/console/audit" in (r.resource.canonical if r.resource else "")]
    assert {r.method for r in audit_routes} <= {"GET", "HEAD"}
    response = await boss.post("/console/audit", data={"csrf_token": boss.csrf})
    assert response.status == 405


def _cli(*args, database_url: str):
    env = dict(os.environ, DATABASE_URL=database_url, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "bot", "privacy", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)


def test_cli_twin_exports_erases_and_runs_retention(tmp_path):
    from bot.store import Store, migrate

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate(url)
    store = Store(url)
    with store.session() as session:
        _conversation(session, "web-1", None, days_ago=1)
    store.close()
    exported = _cli("export", "--conversation", "web-1", "--actor", "王主管", database_url=url)
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["conversations"][0]["id"] == "web-1"
    refused = _cli("erase", "--conversation", "web-1", "--actor", "王主管", database_url=url)
    assert refused.returncode == 2
    erased = _cli("erase", "--conversation", "web-1", "--actor", "王主管", "--yes", database_url=url)
    assert erased.returncode == 0 and json.loads(erased.stdout)["messages"] == 2
    dry = _cli("retention", "--dry-run", database_url=url)
    assert dry.returncode == 0 and json.loads(dry.stdout)["dry_run"] is True
    log = _cli("audit", "--json", database_url=url)
    actions = [(e["action"], e["actor"]) for e in json.loads(log.stdout)]
    assert ("erase_subject", "cli:王主管") in actions and ("export_subject", "cli:王主管") in actions
