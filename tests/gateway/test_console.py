"""Console features: review search, flagging and NLU export, ticket status changes, staff CLI."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import bcrypt
import pytest
from aiohttp import web
import yaml
from sqlalchemy import select

from bot import tickets
from bot.events import EVENT_BUS
from bot.store.models import Conversation, Message, StaffUser, SurveyAnswer
from bot.store.types import now_utc
from tests.support.console import add_staff, log_in
from bot.sla import SLA_RULES
from bot.store import STORE

TEST_TICKET_NO = web.AppKey("test_ticket_no", str)  # the ticket the fixture made

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")


@pytest.fixture
def app(demo_gateway_app):
    add_staff(demo_gateway_app, "li", "李娜", "agent")
    add_staff(demo_gateway_app, "boss", "王主管", "supervisor")
    now = now_utc()
    with demo_gateway_app[STORE].session() as session:
        for cid, account, tags, days in (("rev-a", "3201000001", ["电费", "已解决"], 1),
                                         ("rev-b", "3201000002", ["报修"], 3),
                                         ("rev-c", None, [], 10)):
            session.add(Conversation(id=cid, channel="web" if cid != "rev-b" else "wechat", state="closed",
                                     account_no=account, tags=tags, created_at=now - timedelta(days=days),
                                     last_message_at=now - timedelta(days=days)))
        session.flush()
        session.add(Message(conversation_id="rev-a", sender="customer", channel="web", text="电费咋这么贵\n啊",
                            intent="chitchat", confidence=0.4, created_at=now))
        session.add(Message(conversation_id="rev-a", sender="bot", channel="web", text="您好", created_at=now))
        session.add(SurveyAnswer(conversation_id="rev-b", rating="dissatisfied", created_at=now))
        result = tickets.create_ticket(session, demo_gateway_app[SLA_RULES], type="repair", summary="家中停电",
                                       channel="wechat", account_no="3201000002", conversation_id="rev-b",
                                       request_key="console-test-1")
        demo_gateway_app[TEST_TICKET_NO] = result.ticket.ticket_no
    return demo_gateway_app




def _ids(html: str) -> set[str]:
    return {cid for cid in ("rev-a", "rev-b", "rev-c") if f"/console/conversations/{cid}" in html}


@pytest.mark.asyncio
async def test_review_search_filters(boss, app):
    async def found(query: str) -> set[str]:
        response = await boss.get("/console/review?" + query)
        assert response.status == 200
        return _ids(await response.text())

    assert await found("") == {"rev-a", "rev-b", "rev-c"}
    assert await found("tag=电费") == {"rev-a"}
    assert await found("account=3201000002") == {"rev-b"}
    assert await found("channel=wechat") == {"rev-b"}
    assert await found("satisfaction=dissatisfied") == {"rev-b"}
    assert await found(f"ticket={app[TEST_TICKET_NO]}") == {"rev-b"}
    today = now_utc().date()
    assert await found(f"from={(today - timedelta(days=4)).isoformat()}") == {"rev-a", "rev-b"}
    assert await found("reviewed=yes") == set()
    marked = await boss.post("/console/conversations/rev-c/review", data={"csrf_token": boss.csrf, "reviewed": "1"},
                             allow_redirects=False)
    assert marked.status == 303
    assert await found("reviewed=yes") == {"rev-c"}


@pytest.mark.asyncio
async def test_flag_and_export_as_rasa_nlu_yaml(boss, app, aiohttp_client):
    with app[STORE].session() as session:
        message_id = session.execute(select(Message.id).where(Message.conversation_id == "rev-a",
                                                              Message.sender == "customer")).scalar_one()
        bot_message_id = session.execute(select(Message.id).where(Message.sender == "bot")).scalar_one()
    flagged = await boss.post(f"/console/messages/{message_id}/flag",
                              data={"csrf_token": boss.csrf, "intent": "ask_bill_reason"}, allow_redirects=False)
    assert flagged.status == 303
    # Only customer messages can be flagged; intent names are checked.
    assert (await boss.post(f"/console/messages/{bot_message_id}/flag",
                            data={"csrf_token": boss.csrf, "intent": "query_bill"})).status == 404
    assert (await boss.post(f"/console/messages/{message_id}/flag",
                            data={"csrf_token": boss.csrf, "intent": "x: y"})).status == 400

    response = await boss.get("/console/review/nlu.yml")
    assert response.status == 200
    data = yaml.safe_load(await response.text())
    assert data["version"] == "3.1"
    assert data["nlu"] == [{"intent": "ask_bill_reason", "examples": "- 电费咋这么贵 啊\n"}]

    # Rasa itself reads it as training data.
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    training = RasaYAMLReader().reads(await response.text())
    assert [(m.get("text"), m.get("intent")) for m in training.intent_examples] == [("电费咋这么贵 啊", "ask_bill_reason")]

    # Agents flag, supervisors export.
    agent = await aiohttp_client(app)
    await log_in(agent, "li")
    assert (await agent.get("/console/review/nlu.yml")).status == 403


@pytest.mark.asyncio
async def test_ticket_status_change_meets_milestone_and_records_note(boss, app):
    ticket_no = app[TEST_TICKET_NO]
    page = await boss.get(f"/console/tickets/{ticket_no}")
    assert page.status == 200 and "剩余" in await page.text()
    response = await boss.post(f"/console/tickets/{ticket_no}/status",
                               data={"csrf_token": boss.csrf, "status": "accepted", "note": "已电话联系客户"},
                               allow_redirects=False)
    assert response.status == 303 and "notice=status_changed" in response.headers["Location"]
    with app[STORE].session() as session:
        ticket = tickets.get_ticket(session, ticket_no)
        assert ticket.status == "accepted"
        accept = next(m for m in ticket.milestones if "accepted" in m.rule or m.name == "受理")
        assert accept.met_at is not None
        change = next(e for e in ticket.events if e.kind == "status_changed")
        assert change.actor == "boss" and change.data["note"] == "已电话联系客户"
        # The customer was told on their conversation (the SLA engineer's notifier).
        texts = [m.text for m in session.execute(select(Message).where(Message.conversation_id == "rev-b")).scalars()]
    assert any(ticket_no in (t or "") or "受理" in (t or "") for t in texts)
    bad = await boss.post(f"/console/tickets/{ticket_no}/status", data={"csrf_token": boss.csrf, "status": "flying"},
                          allow_redirects=False)
    assert bad.status == 303 and "error=" in bad.headers["Location"]
    overdue = await boss.get("/console/tickets?overdue=1")
    assert ticket_no not in await overdue.text()  # nothing is late yet


def test_create_staff_cli_stores_a_bcrypt_hash(tmp_path):
    url = f"sqlite:///{tmp_path / 'staff.db'}"
    env = {**os.environ, "DATABASE_URL": url, "BCRYPT_ROUNDS": "4", "PYTHONPATH": str(ROOT)}
    run = lambda *args, stdin: subprocess.run([sys.executable, "-m", "bot", "create-staff", *args],  # noqa: E731
                                              cwd=ROOT, env=env, input=stdin, capture_output=True, text=True,
                                              timeout=120)
    done = run("zhang", "--name", "张敏", "--role", "supervisor", "--password-stdin", stdin="s3cret-pass\n")
    assert done.returncode == 0, done.stderr
    short = run("wu", "--name", "吴", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "password" in short.stderr

    from bot.store import Store

    store = Store(url)
    try:
        with store.session() as session:
            users = session.execute(select(StaffUser)).scalars().all()
            assert [(u.username, u.display_name, u.role) for u in users] == [("zhang", "张敏", "supervisor")]
            assert bcrypt.checkpw(b"s3cret-pass", users[0].password_hash.encode())
            assert "s3cret-pass" not in users[0].password_hash
    finally:
        store.close()


async def _next_data_event(response, timeout: float = 5.0) -> dict:
    import asyncio
    import json

    async def read() -> dict:
        while True:
            line = (await response.content.readline()).decode("utf-8").strip()
            if line.startswith("data: "):
                return json.loads(line[len("data: "):])

    return await asyncio.wait_for(read(), timeout)


@pytest.mark.asyncio
async def test_sla_notice_reaches_supervisors_live_but_not_agents(app, aiohttp_client):
    import asyncio

    boss_client = await aiohttp_client(app)
    await log_in(boss_client, "boss")
    agent_client = await aiohttp_client(app)
    await log_in(agent_client, "li")
    boss_stream = await boss_client.get("/console/api/events")
    agent_stream = await agent_client.get("/console/api/events")
    assert boss_stream.status == 200 and agent_stream.status == 200
    await asyncio.sleep(0.1)  # both streams registered

    notice = {"type": "sla", "kind": "breached", "audience": "supervisor", "ticket_no": app[TEST_TICKET_NO],
              "ticket_type": "repair", "area_type": "rural", "rule": "repair.arrival",
              "milestone": "抢修人员到达现场", "due_at": "2026-11-26T10:30:00+08:00", "priority": "urgent",
              "priority_before": "normal"}
    bus = app[EVENT_BUS]
    await bus.publish(notice)
    await bus.publish({"type": "message", "conversation_id": "rev-a"})

    first_for_boss = await _next_data_event(boss_stream)
    assert first_for_boss["type"] == "sla"
    assert first_for_boss["ticket_no"] == app[TEST_TICKET_NO]
    assert first_for_boss["milestone"] == "抢修人员到达现场" and first_for_boss["kind"] == "breached"
    # The agent's stream skips the supervisor notice: its first event is the message.
    first_for_agent = await _next_data_event(agent_stream)
    assert first_for_agent == {"type": "message", "conversation_id": "rev-a"}
    boss_stream.close()
    agent_stream.close()


@pytest.mark.asyncio
async def test_conversation_json_has_customer_tickets_and_deadlines_masked_for_agents(boss, app, aiohttp_client):
    with app[STORE].session() as session:
        session.add(Message(conversation_id="rev-b", sender="customer", channel="wechat",
                            text="家里停电了，电话13905172316", created_at=now_utc()))
    agent = await aiohttp_client(app)
    await log_in(agent, "li")
    seen = {}
    for who, client in (("agent", agent), ("supervisor", boss)):
        response = await client.get("/console/api/conversations/rev-b")
        assert response.status == 200
        seen[who] = await response.json()
    full, masked = seen["supervisor"], seen["agent"]
    assert full["customer"]["name"] == "李秀英" and full["customer"]["phone"] == "13905172316"
    assert masked["customer"]["phone"] == "139****2316" and masked["customer"]["area_type"] == "rural"
    assert masked["messages"][-1]["text"] == "家里停电了，电话139****2316"
    assert full["messages"][-1]["text"].endswith("13905172316")
    ticket = full["tickets"][0]
    assert ticket["ticket_no"] == app[TEST_TICKET_NO] and ticket["type"] == "repair"
    arrival = next(m for m in ticket["milestones"] if m["rule"] == "repair.arrival")
    # Rural repair: the crew is due within 90 minutes of the report.
    assert arrival["name"] == "抢修人员到达现场" and arrival["state"] == "open" and arrival["met_at"] is None
    assert 85 * 60 < arrival["seconds_left"] <= 90 * 60
    # The two requests are a moment apart: the seconds left may differ by the clock's tick.
    def without_clock(tickets):
        return [{**t, "milestones": [{k: v for k, v in m.items() if k != "seconds_left"} for m in t["milestones"]]}
                for t in tickets]

    assert without_clock(masked["tickets"]) == without_clock(full["tickets"])
    for seen_by_agent, seen_by_boss in zip(masked["tickets"][0]["milestones"], full["tickets"][0]["milestones"]):
        assert abs(seen_by_agent["seconds_left"] - seen_by_boss["seconds_left"]) <= 2
    missing = await agent.get("/console/api/conversations/no-such")
    assert missing.status == 404


@pytest.mark.asyncio
async def test_ticket_page_names_details_and_events_in_chinese_with_phones_masked_for_agents(boss, app,
                                                                                            aiohttp_client):
    with app[STORE].session() as session:
        created = tickets.create_ticket(session, app[SLA_RULES], type="callback", summary="回电：客户要求转人工，非服务时间",
                                        channel="web", conversation_id="rev-a", request_key="console-callback-1",
                                        details={"handoff_id": 7, "reason": "customer_request", "desk_closed": True})
        ticket_no = created.ticket.ticket_no
        tickets.set_contact(session, ticket_no, contact_phone="13912345678", actor="bot")
    agent = await aiohttp_client(app)
    await log_in(agent, "li")
    page = await (await agent.get(f"/console/tickets/{ticket_no}")).text()
    for shown in ("转人工原因", "客户要求转人工", "非服务时间", "<dd>是</dd>", "登记联系电话 139****5678", "机器人"):
        assert shown in page, shown
    for raw in ("contact_changed", "desk_closed", "customer_request", "13912345678", "handoff_id"):
        assert raw not in page, raw
    supervisor_page = await (await boss.get(f"/console/tickets/{ticket_no}")).text()
    assert "登记联系电话 13912345678" in supervisor_page
