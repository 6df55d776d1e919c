"""The agent's tools in the console (issue 18): customer header and page, ticket next steps and
assignee, notes, labels, canned replies, transfer, availability, search — with roles and CSRF."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from aiohttp import web
from sqlalchemy import select

from bot import tickets
from bot.store.models import Conversation, Message, Ticket, TicketEvent
from bot.store.types import now_utc
from tests.support.console import add_staff, log_in
from bot.sla import SLA_RULES
from bot.store import STORE

REPAIR_NO = web.AppKey("test_repair_no", str)  # a repair ticket the fixture made
COMPLAINT_NO = web.AppKey("test_complaint_no", str)  # an older complaint ticket the fixture made


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")


@pytest.fixture
def app(demo_gateway_app):
    from bot.handoff import HANDOFF_SERVICE, HandoffSettings, StaffHours

    # Staff on duty at any hour: no test here may depend on the time it runs at (the default
    # 08:00-20:00 made a hand-off 'missed' when CI ran in the evening).
    demo_gateway_app[HANDOFF_SERVICE].settings = HandoffSettings(
        accept_seconds=180, staff_hours=StaffHours.parse("00:00-24:00"))
    add_staff(demo_gateway_app, "li", "李娜", "agent")
    add_staff(demo_gateway_app, "zhao", "赵强", "agent")
    add_staff(demo_gateway_app, "boss", "王主管", "supervisor")
    now = now_utc()
    with demo_gateway_app[STORE].session() as session:
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
        repair = tickets.create_ticket(session, demo_gateway_app[SLA_RULES], type="repair", summary="家中停电",
                                       channel="wechat", account_no="3201000002", conversation_id="cv-1",
                                       request_key="tools-1").ticket
        # An older ticket of the account opened in a conversation later verified for nobody.
        older = tickets.create_ticket(session, demo_gateway_app[SLA_RULES], type="complaint", summary="电表走字快",
                                      channel="web", account_no="3201000002", conversation_id="cv-2",
                                      request_key="tools-2").ticket
        demo_gateway_app[REPAIR_NO], demo_gateway_app[COMPLAINT_NO] = repair.ticket_no, older.ticket_no
    return demo_gateway_app






def _customer_name(app, account_no: str) -> str:
    from bot.store.models import Customer

    with app[STORE].session() as session:
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
    assert app[REPAIR_NO] in html and app[COMPLAINT_NO] in html
    assert "家里停电了" in html and "电表坏了" in html
    assert name not in html and re.search(r"1\d{2}\*{4}\d{4}", html)
    assert name in await (await boss.get("/console/customers/3201000002")).text()
    assert (await agent.get("/console/customers/9999999999")).status == 404
    assert (await agent.get("/console/customers/abc")).status == 404
    # Opening it is audited (PIPL).
    from bot.store.models import AuditEntry

    with app[STORE].session() as session:
        rows = session.execute(select(AuditEntry.actor, AuditEntry.subject_id)
                               .where(AuditEntry.action == "view_customer")).all()
    assert ("li", "3201000002") in rows


# ---------------------------------------------------------------- tickets

@pytest.mark.asyncio
async def test_ticket_dropdown_offers_next_steps_only(boss, app):
    no = app[REPAIR_NO]

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
    with app[STORE].session() as session:
        assert session.execute(select(Ticket.status).where(Ticket.ticket_no == no)).scalar_one() == "dispatched"
    # A complaint has no dispatch step.
    html = await (await boss.get(f"/console/tickets/{app[COMPLAINT_NO]}")).text()
    assert 'value="dispatched"' not in html and 'value="accepted"' in html


@pytest.mark.asyncio
async def test_ticket_assignee_is_stored_with_an_event(agent, app):
    no = app[REPAIR_NO]
    refused = await agent.post(f"/console/tickets/{no}/assignee", data={"assignee": "抢修一班"})
    assert refused.status == 403  # no CSRF token
    saved = await agent.post(f"/console/tickets/{no}/assignee", data={"csrf_token": agent.csrf,
                                                                       "assignee": "  抢修一班  "},
                             allow_redirects=False)
    assert saved.status == 303
    with app[STORE].session() as session:
        ticket = session.execute(select(Ticket).where(Ticket.ticket_no == no)).scalar_one()
        assert ticket.assignee == "抢修一班"
        event = session.execute(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                          TicketEvent.kind == "assigned")).scalar_one()
        assert (event.actor, event.data) == ("li", {"from": None, "to": "抢修一班"})
    html = await (await agent.get(f"/console/tickets/{no}")).text()
    assert "处理人：抢修一班" in html and 'value="zhao"' in html
    customer_page = await (await agent.get("/console/customers/3201000002")).text()
    assert "抢修一班" in customer_page


# ---------------------------------------------------------------- notes and labels

def _notes(app, cid: str) -> list[tuple[str, str, str]]:
    from bot.store.models import ConversationNote

    with app[STORE].session() as session:
        return [(n.kind, n.author, n.text) for n in session.execute(
            select(ConversationNote).where(ConversationNote.conversation_id == cid)
            .order_by(ConversationNote.id)).scalars()]


@pytest.mark.asyncio
async def test_private_note_is_shown_to_staff_in_the_transcript_and_never_a_message(agent, boss, app):
    assert (await agent.post("/console/conversations/cv-1/notes", data={"text": "x"})).status == 403  # CSRF
    posted = await agent.post("/console/conversations/cv-1/notes",
                              data={"csrf_token": agent.csrf, "text": "客户情绪激动，<b>先安抚</b>，电话13812345678"},
                              allow_redirects=False)
    assert posted.status == 303 and "note_added" in posted.headers["Location"]
    assert _notes(app, "cv-1") == [("note", "li", "客户情绪激动，<b>先安抚</b>，电话13812345678")]
    with app[STORE].session() as session:
        texts = list(session.execute(select(Message.text).where(Message.conversation_id == "cv-1")).scalars())
    assert all("先安抚" not in (t or "") for t in texts)
    transcript = await (await agent.get("/console/conversations/cv-1/transcript")).text()
    assert "仅坐席可见" in transcript and "&lt;b&gt;先安抚&lt;/b&gt;" in transcript  # escaped
    assert "138****5678" in transcript and "13812345678" not in transcript  # masked for agents
    assert "13812345678" in await (await boss.get("/console/conversations/cv-1/transcript")).text()
    as_json = await (await agent.get("/console/api/conversations/cv-1")).json()
    assert [(n["kind"], n["author"]) for n in as_json["notes"]] == [("note", "li")]
    assert "138****5678" in as_json["notes"][0]["text"]
    assert all("先安抚" not in (m["text"] or "") for m in as_json["messages"])
    # The note comes after the customer's message in the transcript.
    assert transcript.index("家里停电了") < transcript.index("先安抚")
    empty = await agent.post("/console/conversations/cv-1/notes", data={"csrf_token": agent.csrf, "text": " "},
                             allow_redirects=False)
    assert empty.status == 303 and "error=" in empty.headers["Location"]
    assert (await agent.post("/console/conversations/nope/notes",
                             data={"csrf_token": agent.csrf, "text": "x"})).status == 404


@pytest.mark.asyncio
async def test_labels_kept_by_supervisors_chosen_by_staff_at_any_time(agent, boss, app):
    # Agents cannot keep the list.
    assert (await agent.get("/console/labels")).status == 403
    assert (await agent.post("/console/labels", data={"csrf_token": agent.csrf, "name": "x"})).status == 403
    for name in ("电费争议", "停电报修", "已安抚"):
        saved = await boss.post("/console/labels", data={"csrf_token": boss.csrf, "name": name},
                                allow_redirects=False)
        assert saved.status == 303 and "label_saved" in saved.headers["Location"]
    bad = await boss.post("/console/labels", data={"csrf_token": boss.csrf, "name": "a, b"}, allow_redirects=False)
    assert "error=" in bad.headers["Location"]
    page = await (await boss.get("/console/labels")).text()
    assert all(n in page for n in ("电费争议", "停电报修", "已安抚"))

    # An agent labels a conversation the bot still serves (not theirs, not closing): list labels only.
    html = await (await agent.get("/console/conversations/cv-1")).text()
    assert 'name="labels" value="停电报修"' in html
    set_ = await agent.post("/console/conversations/cv-1/labels",
                            data=[("csrf_token", agent.csrf), ("labels", "停电报修"), ("labels", "已安抚"),
                                  ("labels", "随便写的")], allow_redirects=False)
    assert set_.status == 303
    with app[STORE].session() as session:
        assert session.get(Conversation, "cv-1").tags == ["停电报修", "已安抚"]
    assert _notes(app, "cv-1")[-1] == ("labels", "li", "添加标签：停电报修、已安抚")
    # Unticking removes; the history says so.
    await agent.post("/console/conversations/cv-1/labels", data=[("csrf_token", agent.csrf), ("labels", "已安抚")])
    with app[STORE].session() as session:
        assert session.get(Conversation, "cv-1").tags == ["已安抚"]
    assert _notes(app, "cv-1")[-1][2] == "移除标签：停电报修"
    # A deactivated label is no longer offered, and can no longer be put on.
    with app[STORE].session() as session:
        from bot.store.models import Label

        label_id = session.execute(select(Label.id).where(Label.name == "电费争议")).scalar_one()
    await boss.post(f"/console/labels/{label_id}/active", data={"csrf_token": boss.csrf, "active": "0"})
    html = await (await agent.get("/console/conversations/cv-2")).text()
    assert 'value="电费争议"' not in html and 'value="停电报修"' in html
    await agent.post("/console/conversations/cv-2/labels", data=[("csrf_token", agent.csrf), ("labels", "电费争议")])
    with app[STORE].session() as session:
        assert session.get(Conversation, "cv-2").tags == []
    # The review filter finds labelled conversations.
    assert "/console/conversations/cv-1" in await (await boss.get("/console/review?tag=已安抚")).text()


@pytest.mark.asyncio
async def test_close_form_takes_list_labels_only(boss, app):
    await boss.post("/console/labels", data={"csrf_token": boss.csrf, "name": "已解决"})
    taken = await boss.post("/console/conversations/cv-1/takeover", data={"csrf_token": boss.csrf},
                            allow_redirects=False)
    assert taken.status == 303
    html = await (await boss.get("/console/conversations/cv-1")).text()
    assert 'name="tags" value="已解决"' in html and 'placeholder="如：电费, 已解决"' not in html
    closed = await boss.post("/console/conversations/cv-1/close",
                             data=[("csrf_token", boss.csrf), ("tags", "已解决"), ("tags", "自由文本")],
                             allow_redirects=False)
    assert closed.status == 303
    with app[STORE].session() as session:
        assert session.get(Conversation, "cv-1").tags == ["已解决"]


# ---------------------------------------------------------------- canned replies

@pytest.mark.asyncio
async def test_canned_replies_kept_by_supervisors_filled_on_send(agent, boss, app):
    name = _customer_name(app, "3201000002")
    # Agents cannot see or change the list page.
    assert (await agent.get("/console/canned")).status == 403
    assert (await agent.post("/console/canned", data={"csrf_token": agent.csrf, "shortcut": "x", "title": "x",
                                                      "body": "x"})).status == 403
    assert (await boss.post("/console/canned", data={"shortcut": "hi", "title": "t", "body": "b"})).status == 403
    saved = await boss.post("/console/canned", data={
        "csrf_token": boss.csrf, "shortcut": "问候", "title": "开场问候",
        "body": "{{姓名}}您好，我是{{坐席}}。您登记的手机是{{手机}}，户号{{户号}}。<b>请讲</b>"}, allow_redirects=False)
    assert saved.status == 303 and "canned_saved" in saved.headers["Location"]
    bad = await boss.post("/console/canned", data={"csrf_token": boss.csrf, "shortcut": "x", "title": "t",
                                                   "body": "{{身份证}}"}, allow_redirects=False)
    assert "error=" in bad.headers["Location"]
    await boss.post("/console/canned", data={"csrf_token": boss.csrf, "shortcut": "bye", "title": "结束语",
                                             "body": "感谢来电，{{姓名}}。"})
    page = await (await boss.get("/console/canned")).text()
    assert "/问候" in page and "&lt;b&gt;请讲&lt;/b&gt;" in page

    # The "/" popup's list: bodies with variables, previews with what the viewer may see.
    listed = (await (await agent.get("/console/api/canned?conversation_id=cv-1")).json())["replies"]
    assert [r["shortcut"] for r in listed] == ["bye", "问候"]
    greet = listed[1]
    assert greet["body"].startswith("{{姓名}}您好")
    masked_name = name[0] + "*" * (len(name) - 1)
    assert greet["preview"].startswith(masked_name + "您好，我是李娜") and "3201000002" in greet["preview"]
    assert re.search(r"1\d{2}\*{4}\d{4}", greet["preview"])
    boss_list = (await (await boss.get("/console/api/canned?conversation_id=cv-1")).json())["replies"]
    assert boss_list[1]["preview"].startswith(name + "您好，我是王主管")
    # A conversation without a verified customer.
    anon = (await (await agent.get("/console/api/canned?conversation_id=cv-anon")).json())["replies"]
    assert anon[0]["preview"] == "感谢来电，客户。"

    # Sent: filled on the server (the customer reads their name, the phone stays masked).
    await agent.post("/console/conversations/cv-1/takeover", data={"csrf_token": agent.csrf})
    sent = await agent.post("/console/conversations/cv-1/reply",
                            data={"csrf_token": agent.csrf, "text": greet["body"]},
                            headers={"X-Requested-With": "fetch"})
    assert sent.status == 200, await sent.text()
    with app[STORE].session() as session:
        text = session.execute(select(Message.text).where(Message.conversation_id == "cv-1",
                                                          Message.sender == "staff")).scalar_one()
    assert text.startswith(name + "您好，我是李娜。") and "{{" not in text
    assert re.search(r"1\d{2}\*{4}\d{4}", text) and "<b>请讲</b>" in text
    # The agent's transcript shows the name masked, the supervisor's in full.
    transcript = await (await agent.get("/console/conversations/cv-1/transcript")).text()
    assert masked_name + "您好" in transcript and name not in transcript
    assert name + "您好" in await (await boss.get("/console/conversations/cv-1/transcript")).text()

    # Edit and delete.
    with app[STORE].session() as session:
        from bot.store.models import CannedReply

        rid = session.execute(select(CannedReply.id).where(CannedReply.shortcut == "bye")).scalar_one()
    await boss.post("/console/canned", data={"csrf_token": boss.csrf, "id": str(rid), "shortcut": "bye2",
                                             "title": "结束语", "body": "再见"})
    clash = await boss.post("/console/canned", data={"csrf_token": boss.csrf, "id": str(rid), "shortcut": "问候",
                                                     "title": "x", "body": "y"}, allow_redirects=False)
    assert "error=" in clash.headers["Location"]
    assert (await agent.post(f"/console/canned/{rid}/delete", data={"csrf_token": agent.csrf})).status == 403
    deleted = await boss.post(f"/console/canned/{rid}/delete", data={"csrf_token": boss.csrf}, allow_redirects=False)
    assert deleted.status == 303
    listed = (await (await agent.get("/console/api/canned?conversation_id=cv-1")).json())["replies"]
    assert [r["shortcut"] for r in listed] == ["问候"]


def test_fill_is_one_pass():
    from bot.agent_tools.canned import fill

    assert fill("{{姓名}}/{{ 手机 }}", {"姓名": "{{手机}}", "手机": "138****0001"}) == "{{手机}}/138****0001"


# ---------------------------------------------------------------- availability and transfer

def _availability(app, username: str) -> str:
    from bot.store.models import StaffUser

    with app[STORE].session() as session:
        return session.execute(select(StaffUser.availability).where(StaffUser.username == username)).scalar_one()


@pytest.mark.asyncio
async def test_availability_set_by_login_logout_and_choice_and_respected_by_accept(agent, boss, app, aiohttp_client):
    assert _availability(app, "li") == "online"  # logging in
    assert _availability(app, "zhao") == "away"  # never logged in
    from bot.handoff import HANDOFF_SERVICE

    data, _ = await app[HANDOFF_SERVICE].request("cv-anon", "web", "customer_request")
    assert data["status"] == "waiting"  # somebody is online: the customer waits

    assert (await agent.post("/console/availability", data={"availability": "busy"})).status == 403  # CSRF
    busy = await agent.post("/console/availability", data={"csrf_token": agent.csrf, "availability": "busy"},
                            headers={"X-Requested-With": "fetch"})
    assert busy.status == 200 and _availability(app, "li") == "busy"
    assert (await agent.post("/console/availability", data={"csrf_token": agent.csrf,
                                                            "availability": "asleep"})).status == 400
    queue = await (await agent.get("/console/queue/fragment")).text()
    assert "设为在线后可接入" in queue and "cv-anon/accept" not in queue
    refused = await agent.post("/console/conversations/cv-anon/accept", data={"csrf_token": agent.csrf},
                               headers={"X-Requested-With": "fetch"})
    assert refused.status == 409 and (await refused.json())["error"] == "not_online"
    await agent.post("/console/availability", data={"csrf_token": agent.csrf, "availability": "online"})
    accepted = await agent.post("/console/conversations/cv-anon/accept", data={"csrf_token": agent.csrf},
                                headers={"X-Requested-With": "fetch"})
    assert accepted.status == 200

    # Supervisors see everyone's state; agents do not.
    boss_queue = await (await boss.get("/console/queue")).text()
    assert 'data-username="li" data-availability="online"' in boss_queue
    assert 'data-username="zhao" data-availability="away"' in boss_queue
    assert 'id="staff-states"' not in await (await agent.get("/console/queue")).text()

    other = await aiohttp_client(app)
    other.csrf = await log_in(other, "zhao")
    assert _availability(app, "zhao") == "online"
    await other.post("/console/logout", data={"csrf_token": other.csrf})
    assert _availability(app, "zhao") == "away"


@pytest.mark.asyncio
async def test_nobody_online_counts_as_desk_closed(app):
    """Within STAFF_HOURS, with staff accounts but nobody online (or online but gone for minutes),
    a hand-off ends at once in a callback ticket; someone present and online makes it wait."""
    from bot.handoff import HANDOFF_SERVICE, HandoffSettings, StaffHours
    from bot.store.models import StaffUser

    service = app[HANDOFF_SERVICE]
    service.settings = HandoffSettings(accept_seconds=180, staff_hours=StaffHours.parse("00:00-24:00"))
    sent = []

    async def tell(cid, text, sender="system", agent=None):
        sent.append(text)
    service._tell = tell
    data, created = await service.request("cv-1", "wechat", "customer_request")
    assert created and data["status"] == "missed" and data["callback_ticket_no"]
    assert "都不在线" in sent[-1] and "服务时间" not in sent[-1]
    with app[STORE].session() as session:
        ticket = session.execute(select(Ticket).where(Ticket.ticket_no == data["callback_ticket_no"])).scalar_one()
        assert ticket.details["nobody_online"] is True and ticket.details["desk_closed"] is True
        assert "无坐席在线" in ticket.summary
        # Online but last seen four minutes ago: gone.
        li = session.execute(select(StaffUser).where(StaffUser.username == "li")).scalar_one()
        li.availability, li.last_seen_at = "online", now_utc() - timedelta(minutes=4)
    data, _ = await service.request("cv-2", "web", "customer_request")
    assert data["status"] == "missed"
    with app[STORE].session() as session:
        li = session.execute(select(StaffUser).where(StaffUser.username == "li")).scalar_one()
        li.last_seen_at = now_utc()
    data, _ = await service.request("cv-anon", "web", "customer_request")
    assert data["status"] == "waiting"
    # STAFF_HOURS still rules: outside the hours nobody waits even with agents online.
    service.settings = HandoffSettings(accept_seconds=180, staff_hours=StaffHours.parse("00:00-00:01"))
    with app[STORE].session() as session:
        session.add(Conversation(id="cv-late", channel="web", state="bot"))
    from bot.store.types import SHANGHAI
    from datetime import datetime

    service.clock = lambda: datetime(2026, 11, 26, 12, 0, tzinfo=SHANGHAI)
    data, _ = await service.request("cv-late", "web", "customer_request")
    assert data["status"] == "missed" and "服务时间" in sent[-1]


@pytest.mark.asyncio
async def test_transfer_to_an_online_agent(agent, boss, app, aiohttp_client):
    assert (await agent.post("/console/conversations/cv-1/takeover", data={"csrf_token": agent.csrf},
                             allow_redirects=False)).status == 303
    # The target must be online.
    page = await (await agent.get("/console/conversations/cv-1")).text()
    assert 'id="transfer-to"' not in page or 'value="zhao"' not in page
    refused = await agent.post("/console/conversations/cv-1/transfer", data={"csrf_token": agent.csrf, "to": "zhao"},
                               headers={"X-Requested-With": "fetch"})
    assert refused.status == 409 and (await refused.json())["error"] == "target_not_online"
    zhao = await aiohttp_client(app)
    zhao.csrf = await log_in(zhao, "zhao")
    page = await (await agent.get("/console/conversations/cv-1")).text()
    assert '<option value="zhao">赵强</option>' in page
    assert (await agent.post("/console/conversations/cv-1/transfer", data={"to": "zhao"})).status == 403  # CSRF
    moved = await agent.post("/console/conversations/cv-1/transfer",
                             data={"csrf_token": agent.csrf, "to": "zhao", "reason": "电价政策问题"},
                             allow_redirects=False)
    assert moved.status == 303 and "transferred" in moved.headers["Location"]
    from bot.store.models import Handoff

    with app[STORE].session() as session:
        h = session.execute(select(Handoff).where(Handoff.conversation_id == "cv-1")).scalar_one()
        assert (h.status, h.agent) == ("accepted", "zhao")
        conv = session.get(Conversation, "cv-1")
        assert (conv.state, conv.assigned_agent) == ("human", "zhao")
        told = session.execute(select(Message.text).where(Message.conversation_id == "cv-1", Message.sender == "system")
                               .order_by(Message.id.desc())).scalars().first()
    assert told == "您的会话已转给客服赵强，请稍候，马上为您继续服务。"
    assert _notes(app, "cv-1")[-1] == ("transfer", "li", "李娜 将会话转接给 赵强：电价政策问题")
    # The target has it in their queue; the former agent can no longer reply or transfer it.
    queue = await (await zhao.get("/console/queue")).text()
    assert 'class="serving-row" data-conversation-id="cv-1"' in queue
    assert 'data-conversation-id="cv-1"' not in await (await agent.get("/console/queue/fragment")).text()
    again = await agent.post("/console/conversations/cv-1/reply", data={"csrf_token": agent.csrf, "text": "在吗"},
                             headers={"X-Requested-With": "fetch"})
    assert again.status == 403
    back = await agent.post("/console/conversations/cv-1/transfer", data={"csrf_token": agent.csrf, "to": "li"},
                            headers={"X-Requested-With": "fetch"})
    assert back.status in (403, 409)
    ok = await zhao.post("/console/conversations/cv-1/reply", data={"csrf_token": zhao.csrf, "text": "您好，我是赵强"},
                         headers={"X-Requested-With": "fetch"})
    assert ok.status == 200
    # The history shows the transfer to staff.
    assert "转接记录" in await (await boss.get("/console/conversations/cv-1/transcript")).text()


@pytest.mark.asyncio
async def test_notes_are_exported_and_erased_with_the_customer(agent, app):
    from bot.privacy import subject as subjects

    await agent.post("/console/conversations/cv-1/notes", data={"csrf_token": agent.csrf, "text": "客户要求上午来"})
    with app[STORE].session() as session:
        data = subjects.collect(session, subjects.Subject(account_no="3201000002"))
    conv = next(c for c in data["conversations"] if c["id"] == "cv-1")
    assert [n["text"] for n in conv["staff_notes"]] == ["客户要求上午来"]
    with app[STORE].session() as session:
        counts = subjects.erase(session, subjects.Subject(account_no="3201000002"))
    assert counts["notes"] == 1 and _notes(app, "cv-1") == []
