"""Issue 16 item 5: agents see personal numbers masked on every console page and JSON answer,
in fields and in free text (ticket summaries, details, notes, hand-off summaries, messages);
supervisors see them whole. One rule for it: ``bot.masking``."""
from __future__ import annotations

import json

import pytest
from aiohttp import web

from bot import masking, tickets
from bot.store.models import Conversation, Handoff, Message
from bot.store.types import now_utc
from tests.support.console import add_staff
from bot.sla import SLA_RULES
from bot.store import STORE

TICKET_NO = web.AppKey("test_ticket_no", str)  # the ticket the fixture made

MOBILE, MOBILE_SPACED, ID_NO, LANDLINE = "13912345678", "139 1234 5678", "32010219900101123X", "025-84561234"
REGISTERED = "13851620518"  # 3201000001's registered phone (demo data)
SECRETS = (MOBILE, MOBILE_SPACED, ID_NO, "84561234", REGISTERED)
CID = "web-privacy-1"


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")


@pytest.fixture
def app(demo_gateway_app):
    app = demo_gateway_app
    add_staff(app, "li", "李娜", "agent")
    add_staff(app, "boss", "王主管", "supervisor")
    now = now_utc()
    with app[STORE].session() as session:
        session.add(Conversation(id=CID, channel="web", state="waiting", account_no="3201000001",
                                 note=f"客户身份证 {ID_NO}", created_at=now, last_message_at=now))
        session.flush()
        session.add(Message(conversation_id=CID, sender="customer", channel="web",
                            text=f"我的手机{MOBILE_SPACED}，座机{LANDLINE}", intent="request_human",
                            confidence=0.9, created_at=now))
        session.add(Handoff(conversation_id=CID, channel="web", reason="customer_request", status="waiting",
                            summary=f"客户留了电话 {MOBILE}", created_at=now, accept_due_at=now))
        result = tickets.create_ticket(
            session, app[SLA_RULES], type="repair", summary=f"中山路18号停电，联系{MOBILE}，身份证{ID_NO}",
            channel="web", account_no="3201000001", conversation_id=CID, contact_phone=MOBILE,
            details={"address": "南京市玄武区中山路18号", "description": f"请打{LANDLINE}或{MOBILE}"},
            request_key="privacy-test-1")
        app[TICKET_NO] = result.ticket.ticket_no
        tickets.change_status(session, app[SLA_RULES], result.ticket.ticket_no, "accepted", actor="li",
                              note=f"已联系 {MOBILE}")
    return app






def _pages(app) -> list[str]:
    no = app[TICKET_NO]
    return [f"/console/tickets/{no}", "/console/tickets", f"/console/tickets?q={no}",
            f"/console/conversations/{CID}", f"/console/conversations/{CID}/transcript",
            f"/console/api/conversations/{CID}", "/console/queue", "/console/queue/fragment",
            "/console/api/queue", "/console/review"]


@pytest.mark.asyncio
async def test_agents_see_no_phone_or_id_number_on_any_page_or_json(agent, app):
    for path in _pages(app):
        response = await agent.get(path)
        assert response.status == 200, path
        body = await response.text()
        if response.content_type == "application/json":
            body = json.dumps(await response.json(), ensure_ascii=False)
        for secret in SECRETS:
            assert secret not in body, (path, secret)
    ticket_page = await (await agent.get(f"/console/tickets/{app[TICKET_NO]}")).text()
    # Masked, not removed: the first three and last four digits help staff talk about a number.
    assert "139****5678" in ticket_page and "320***********123X" in ticket_page and "025****1234" in ticket_page
    assert "南京市玄武区中山路18号" in ticket_page  # addresses stay: crews need them
    sidebar = await (await agent.get(f"/console/api/conversations/{CID}")).json()
    assert sidebar["tickets"][0]["summary"] == "中山路18号停电，联系139****5678，身份证320***********123X"
    assert sidebar["customer"]["phone"] == "138****0518"
    assert sidebar["id"] == CID and sidebar["tickets"][0]["ticket_no"] == app[TICKET_NO]  # links intact
    queue = await (await agent.get("/console/api/queue")).json()
    assert queue["waiting"][0]["phone"] == "138****0518"


@pytest.mark.asyncio
async def test_supervisors_see_the_numbers_whole(boss, app):
    ticket_page = await (await boss.get(f"/console/tickets/{app[TICKET_NO]}")).text()
    assert MOBILE in ticket_page and ID_NO in ticket_page and LANDLINE in ticket_page
    sidebar = await (await boss.get(f"/console/api/conversations/{CID}")).json()
    assert MOBILE in sidebar["tickets"][0]["summary"] and sidebar["customer"]["phone"] == REGISTERED
    transcript = await (await boss.get(f"/console/conversations/{CID}/transcript")).text()
    assert MOBILE_SPACED in transcript


@pytest.mark.parametrize("text, masked", [
    ("我的电话13812340001", "我的电话138****0001"),
    ("138 1234 0001", "138****0001"),
    ("+86 138-1234-0001", "138****0001"),
    ("身份证320102199001011234", "身份证320***********1234"),
    ("(025)84561234", "025****1234"),
    ("02584561234", "025****1234"),
    ("户号3201000001，工单BX20261126001，95598", "户号3201000001，工单BX20261126001，95598"),
])
def test_one_masking_rule_for_free_text(text, masked):
    assert masking.mask_text(text) == masked


def test_one_masking_rule_everywhere():
    import importlib

    from actions import common
    from bot import handoff

    routes = importlib.import_module("bot.api.routes")

    assert common.mask_phone is masking.mask_phone
    assert routes.mask_phone is masking.mask_phone
    assert handoff.mask_phone is masking.mask_phone
    assert masking.mask_phone("13851620518") == "138****0518"
    assert masking.mask_phone("025-84561234") == "025****1234"


@pytest.mark.asyncio
async def test_no_console_page_an_agent_can_open_shows_the_numbers(agent, app):
    """Every GET route of the console, present and future: masked for agents or refused."""
    opened = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if route.method != "GET" or not path or not path.startswith("/console"):
            continue
        if path in ("/console/login", "/console/api/events"):  # the log-in form; a live stream of ids
            continue
        path = (path.replace("{cid}", CID).replace("{no}", app[TICKET_NO]).replace("{mid}", "1")
                .replace("{account_no}", "3201000001").replace("{fmt:csv|xlsx}", "csv"))
        if "{" in path:
            continue
        response = await agent.get(path, params={"account": "3201000001", "kind": "account",
                                                 "id": "3201000001"})
        body = await response.text()
        for secret in SECRETS:
            assert secret not in body, (path, secret)
        opened.append((path, response.status))
    assert len([p for p, status in opened if status == 200]) >= 8, opened
