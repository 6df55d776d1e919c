"""The agent's tools in the console (issue 18): customer header and page, ticket next steps and
assignee, notes, labels, canned replies, transfer, availability, search — with roles and CSRF."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import pytest_asyncio
from sqlalchemy import select

from bot import tickets
from bot.store.models import Conversation, Message, Ticket, TicketEvent
from bot.store.types import now_utc
from tests.support.console import add_staff, log_in


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")


@pytest.fixture
def app(demo_gateway_app):
    add_staff(demo_gateway_app, "li", "李娜", "agent")
    add_staff(demo_gateway_app, "zhao", "赵强", "agent")
    add_staff(demo_gateway_app, "boss", "王主管", "supervisor")
    now = now_utc()
    with demo_gateway_app["store"].session() as session:
        session.add(Conversation(id="cv-1", channel="wechat", state="bot", account_no="3201000002",
                                 created_at=now - timedelta(days=2), last_message_at=now))
        session.add(Conversation(id="cv-2", channel="web", state="closed", account_no=None,
                                 created_at=now - timedelta(days=5), last_message_at=now - timedelta(days=5)))
        session.add(Conversation(id="cv-anon", channel="web", state="bot"))
        session.flush()
        session.add(Message(conversation_id="cv-1", sender="customer", channel="wechat", text="家里停电了",
                            created_at=now))
        session.add(Message(conversation_id="cv-2", sender="customer", channel="web", text="电表坏了",
                            created_at=now - timedelta(days=5)))
        repair = tickets.create_ticket(session, demo_gateway_app["sla"], type="repair", summary="家中停电",
                                       channel="wechat", account_no="3201000002", conversation_id="cv-1",
                                       request_key="tools-1").ticket
        # An older ticket of the account opened in a conversation later verified for nobody.
        older = tickets.create_ticket(session, demo_gateway_app["sla"], type="complaint", summary="电表走字快",
                                      channel="web", account_no="3201000002", conversation_id="cv-2",
                                      request_key="tools-2").ticket
        demo_gateway_app["repair_no"], demo_gateway_app["complaint_no"] = repair.ticket_no, older.ticket_no
    return demo_gateway_app


@pytest_asyncio.fixture
async def boss(aiohttp_client, app):
    client = await aiohttp_client(app)
    client.csrf = await log_in(client, "boss")
    return client


@pytest_asyncio.fixture
async def agent(aiohttp_client, app):
    client = await aiohttp_client(app)
    client.csrf = await log_in(client, "li")
    return client


def _customer_name(app, account_no: str) -> str:
    from bot.store.models import Customer

    with app["store"].session() as session:
        return session.execute(select(Customer.name).where(Customer.account_no == account_no)).scalar_one()


def _h1(html: str) -> str:
    match = re.search(r'<h1 id="conv-customer">(.*?)</h1>', html, re.S)
    assert match, "no customer header"
    return re.sub(r"<[^>]+>", " ", match.group(1))


# ---------------------------------------------------------------- header and customer page

@pytest.mark.asyncio
async def test_header_shows_customer_masked_for_agents(agent, boss, app):
    name = _customer_name(app, "3201000002")
    masked = name[0] + "*" * (len(name) - 1)
    agent_head = _h1(await (await agent.get("/console/conversations/cv-1")).text())
    assert masked in agent_head and name not in agent_head
    assert "3201000002" in agent_head and "微信公众号" in agent_head and "cv-1" not in agent_head
    boss_head = _h1(await (await boss.get("/console/conversations/cv-1")).text())
    assert name in boss_head and "3201000002" in boss_head
    anon = _h1(await (await agent.get("/console/conversations/cv-anon")).text())
    assert "网页访客" in anon and "未提供户号" in anon
    # The side card and the JSON follow the same rule.
    page = await (await agent.get("/console/conversations/cv-1")).text()
    assert name not in page
    data = await (await agent.get("/console/api/conversations/cv-1")).json()
    assert data["customer"]["name"] == masked


@pytest.mark.asyncio
async def test_customer_page_lists_every_conversation_and_ticket(agent, boss, app):
    name = _customer_name(app, "3201000002")
    page = await agent.get("/console/customers/3201000002")
    assert page.status == 200
    html = await page.text()
    # cv-2 is the account's through its complaint ticket only.
    assert "/console/conversations/cv-1" in html and "/console/conversations/cv-2" in html
    assert "/console/conversations/cv-anon" not in html
    assert app["repair_no"] in html and app["complaint_no"] in html
    assert "家里停电了" in html and "电表坏了" in html
    assert name not in html and re.search(r"1\d{2}\*{4}\d{4}", html)
    assert name in await (await boss.get("/console/customers/3201000002")).text()
    assert (await agent.get("/console/customers/9999999999")).status == 404
    assert (await agent.get("/console/customers/abc")).status == 404
    # Opening it is audited (PIPL).
    from bot.store.models import AuditEntry

    with app["store"].session() as session:
        rows = session.execute(select(AuditEntry.actor, AuditEntry.subject_id)
                               .where(AuditEntry.action == "view_customer")).all()
    assert ("li", "3201000002") in rows


# ---------------------------------------------------------------- tickets

@pytest.mark.asyncio
async def test_ticket_dropdown_offers_next_steps_only(boss, app):
    no = app["repair_no"]

    async def options() -> list[str]:
        html = await (await boss.get(f"/console/tickets/{no}")).text()
        select_html = re.search(r'<select name="status" id="ticket-status">(.*?)</select>', html, re.S).group(1)
        return re.findall(r'<option value="([a-z_]+)"', select_html)

    assert await options() == ["accepted", "dispatched", "cancelled"]
    moved = await boss.post(f"/console/tickets/{no}/status", data={"csrf_token": boss.csrf, "status": "dispatched"},
                            allow_redirects=False)
    assert moved.status == 303 and "status_changed" in moved.headers["Location"]
    # After 已派工 the first choice is 已到达现场, never 已受理 (a step back).
    assert await options() == ["arrived", "in_progress", "resolved", "cancelled"]
    back = await boss.post(f"/console/tickets/{no}/status", data={"csrf_token": boss.csrf, "status": "accepted"},
                           allow_redirects=False)
    assert back.status == 303 and "error=" in back.headers["Location"]
    with app["store"].session() as session:
        assert session.execute(select(Ticket.status).where(Ticket.ticket_no == no)).scalar_one() == "dispatched"
    # A complaint has no dispatch step.
    html = await (await boss.get(f"/console/tickets/{app['complaint_no']}")).text()
    assert 'value="dispatched"' not in html and 'value="accepted"' in html


@pytest.mark.asyncio
async def test_ticket_assignee_is_stored_with_an_event(agent, app):
    no = app["repair_no"]
    refused = await agent.post(f"/console/tickets/{no}/assignee", data={"assignee": "抢修一班"})
    assert refused.status == 403  # no CSRF token
    saved = await agent.post(f"/console/tickets/{no}/assignee", data={"csrf_token": agent.csrf,
                                                                       "assignee": "  抢修一班  "},
                             allow_redirects=False)
    assert saved.status == 303
    with app["store"].session() as session:
        ticket = session.execute(select(Ticket).where(Ticket.ticket_no == no)).scalar_one()
        assert ticket.assignee == "抢修一班"
        event = session.execute(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                          TicketEvent.kind == "assigned")).scalar_one()
        assert (event.actor, event.data) == ("li", {"from": None, "to": "抢修一班"})
    html = await (await agent.get(f"/console/tickets/{no}")).text()
    assert "处理人：抢修一班" in html and 'value="zhao"' in html
    customer_page = await (await agent.get("/console/customers/3201000002")).text()
    assert "抢修一班" in customer_page
