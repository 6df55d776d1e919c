"""Hand-off service: queue rule, accept, staff replies, hand back — with a controllable clock.

Uses the real ConversationHub with a fake channel adapter and a fake Rasa server, on a
temporary SQLite store; nothing sleeps through the 3-minute accept time.
"""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
import pytest_asyncio
from aiohttp import web
from sqlalchemy import select, update

from bot.config import Settings
from bot.conversations import ConversationHub
from bot.handoff import HandoffError, HandoffService, HandoffSettings, StaffHours
from bot.sla import load_rules
from bot.store import Store, migrate
from bot.store.models import Conversation, Customer, Handoff, Message, Ticket
from bot.store.types import SHANGHAI
from bot.config import ROOT
from bot.store import STORE



class FakeChannel:
    name = "web"

    def __init__(self) -> None:
        self.delivered: list[tuple[str, dict]] = []

    async def deliver(self, conversation_id: str, message: dict) -> bool:
        self.delivered.append((conversation_id, message))
        return True

    def texts(self, conversation_id: str) -> list[str]:
        return [m.get("text") or "" for cid, m in self.delivered if cid == conversation_id]


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest_asyncio.fixture
async def fake_rasa(aiohttp_server):
    calls: list[dict] = []

    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        calls.append(body)
        return web.json_response([{"recipient_id": body["sender"], "text": f"机器人回答：{body['message']}"}],
                                 headers={"X-Rasa-Intent": "query_bill", "X-Rasa-Confidence": "0.93"})

    app = web.Application()
    app.router.add_post("/webhooks/gateway/webhook", webhook)
    server = await aiohttp_server(app)
    server.calls = calls
    return server


@pytest_asyncio.fixture
async def world(tmp_path, fake_rasa):
    url = f"sqlite:///{tmp_path / 'handoff.db'}"
    migrate(url)
    settings = Settings(database_url=url, rasa_url=str(fake_rasa.make_url("")).rstrip("/"), rasa_timeout=5)
    store = Store(url)
    hub = ConversationHub(store, settings)
    channel = FakeChannel()
    hub.register_channel(channel)
    # 10:00 in Shanghai: the desk (08:00-20:00) is open.
    clock = Clock(datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI).astimezone(timezone.utc))
    service = HandoffService(store, hub, HandoffSettings(accept_seconds=180,
                                                         staff_hours=StaffHours.parse("08:00-20:00")),
                             clock=clock, sla=load_rules(ROOT / "sla.yml"))
    with store.session() as session:
        session.add(Customer(account_no="3201000001", name="张伟", phone="13812340001",
                             address="江苏省南京市玄武区中山路18号3栋501", area_type="urban",
                             customer_type="residential"))
        session.add(Conversation(id="conv-1", channel="web", state="bot", account_no="3201000001"))
        session.add(Conversation(id="conv-2", channel="web", state="bot"))

    class World:
        pass

    w = World()
    w.store, w.hub, w.channel, w.clock, w.service, w.rasa = store, hub, channel, clock, service, fake_rasa
    yield w
    await hub.close()
    store.close()


def _handoff(store, conversation_id: str) -> Handoff:
    with store.session() as session:
        return session.execute(select(Handoff).where(Handoff.conversation_id == conversation_id)
                               .order_by(Handoff.id.desc())).scalars().first()


def _state(store, conversation_id: str) -> str:
    with store.session() as session:
        return session.get(Conversation, conversation_id).state


@pytest.mark.asyncio
async def test_request_queues_and_tells_the_customer(world):
    data, created = await world.service.request("conv-1", "web", "customer_request", "客户想问电费")
    assert created and data["status"] == "waiting"
    assert _state(world.store, "conv-1") == "waiting"
    assert any("转接人工客服" in t for t in world.channel.texts("conv-1"))
    # Asking again while waiting gives the same hand-off, not a second one.
    again, created_again = await world.service.request("conv-1", "web", "customer_request")
    assert not created_again and again["id"] == data["id"]


@pytest.mark.asyncio
async def test_timeout_opens_callback_ticket_with_deadline(world):
    await world.service.request("conv-1", "web", "customer_request")
    world.clock.advance(179)
    assert await world.service.check_timeouts() == []
    assert _handoff(world.store, "conv-1").status == "waiting"

    world.clock.advance(2)
    missed = await world.service.check_timeouts()
    assert [m["conversation_id"] for m in missed] == ["conv-1"]
    h = _handoff(world.store, "conv-1")
    assert h.status == "missed" and h.callback_ticket_no and h.callback_ticket_no.startswith("HD")
    with world.store.session() as session:
        ticket = session.execute(select(Ticket).where(Ticket.ticket_no == h.callback_ticket_no)).scalar_one()
        assert ticket.type == "callback"
        assert ticket.conversation_id == "conv-1" and ticket.account_no == "3201000001"
        assert ticket.contact_phone == "13812340001"
        due = min(m.due_at for m in ticket.milestones)
    # sla.yml: call back within 2 hours of the ticket's creation (10:03:01 -> 12:03).
    assert due.astimezone(SHANGHAI).strftime("%H:%M") == "12:03"
    last = world.channel.texts("conv-1")[-1]
    assert "繁忙" in last and h.callback_ticket_no in last and "将于今天12:03前与您联系" in last
    assert _state(world.store, "conv-1") == "bot"

    # A second watcher (another gateway) finds nothing left to do: one ticket only.
    assert await world.service.check_timeouts() == []
    with world.store.session() as session:
        assert len(session.execute(select(Ticket).where(Ticket.type == "callback")).scalars().all()) == 1


@pytest.mark.asyncio
async def test_two_gateways_racing_on_a_timeout_open_one_ticket(world):
    await world.service.request("conv-1", "web", "customer_request")
    other = HandoffService(world.store, world.hub, world.service.settings, clock=world.clock, sla=world.service.sla)
    world.clock.advance(200)
    results = await asyncio.gather(world.service.check_timeouts(), other.check_timeouts())
    assert sum(len(r) for r in results) == 1
    with world.store.session() as session:
        assert len(session.execute(select(Ticket).where(Ticket.type == "callback")).scalars().all()) == 1


@pytest.mark.asyncio
async def test_desk_closed_opens_callback_ticket_at_once(world):
    world.clock.now = datetime(2026, 11, 26, 21, 30, tzinfo=SHANGHAI).astimezone(timezone.utc)
    data, created = await world.service.request("conv-2", "web", "fallback")
    assert created and data["status"] == "missed" and data["callback_ticket_no"].startswith("HD")
    last = world.channel.texts("conv-2")[-1]
    assert "08:00-20:00" in last and data["callback_ticket_no"] in last
    # No account known and no phone left: the customer is asked for a number to call back.
    assert "请直接回复您的手机号" in last
    assert _state(world.store, "conv-2") == "bot"


@pytest.mark.asyncio
async def test_asking_again_while_the_desk_is_closed_keeps_the_one_callback(world):
    world.clock.now = datetime(2026, 11, 26, 21, 30, tzinfo=SHANGHAI).astimezone(timezone.utc)
    first, created = await world.service.request("conv-1", "web", "customer_request", "客户最近说：转人工")
    assert created
    world.clock.advance(60)
    again, created_again = await world.service.request("conv-1", "web", "customer_request",
                                                       "客户最近说：你让人给我回个电话")
    assert not created_again and again["callback_ticket_no"] == first["callback_ticket_no"]
    with world.store.session() as session:
        callbacks = session.execute(select(Ticket).where(Ticket.type == "callback")).scalars().all()
        assert [t.ticket_no for t in callbacks] == [first["callback_ticket_no"]]
        notes = [e.data.get("note") or "" for e in callbacks[0].events if e.kind == "note"]
    assert any("你让人给我回个电话" in note for note in notes)
    last = world.channel.texts("conv-1")[-1]
    assert first["callback_ticket_no"] in last and "不用重复登记" in last and "138****0001" in last
    # Once that callback is done, a new request opens a new one.
    with world.store.session() as session:
        session.execute(update(Ticket).where(Ticket.ticket_no == first["callback_ticket_no"]).values(status="closed"))
    third, created_third = await world.service.request("conv-1", "web", "customer_request")
    assert created_third and third["callback_ticket_no"] != first["callback_ticket_no"]


def test_staff_hours_parse_and_cross_midnight():
    day = StaffHours.parse("08:00-20:00")
    night = StaffHours.parse("20:00-08:00")
    always = StaffHours.parse("00:00-24:00")
    at = lambda h, m=0: datetime(2026, 11, 26, h, m, tzinfo=SHANGHAI)  # noqa: E731
    assert day.is_open(at(8)) and day.is_open(at(19, 59)) and not day.is_open(at(20)) and not day.is_open(at(7, 59))
    assert night.is_open(at(23)) and night.is_open(at(3)) and not night.is_open(at(12))
    assert always.is_open(at(0)) and always.is_open(at(23, 59))
    with pytest.raises(ValueError):
        StaffHours.parse("8 to 20")


@pytest.mark.asyncio
async def test_accept_reply_and_hand_back(world):
    await world.service.request("conv-1", "web", "customer_request")
    world.clock.advance(30)
    data = await world.service.accept("conv-1", "li", "李娜")
    assert data["status"] == "accepted" and data["agent"] == "li"
    h = _handoff(world.store, "conv-1")
    assert h.accepted_at <= h.accept_due_at  # first response met
    assert (h.accepted_at - h.created_at).total_seconds() == 30
    assert _state(world.store, "conv-1") == "human"
    assert "李娜" in world.channel.texts("conv-1")[-1]

    # Accepted hand-offs never time out.
    world.clock.advance(600)
    assert await world.service.check_timeouts() == []

    # While a person serves, the customer's message goes to staff, not to Rasa.
    await world.hub.handle_customer_message("web", "conv-1", "我的电费为什么这么高")
    assert world.rasa.calls == []

    await world.service.reply("conv-1", "li", "李娜", "您好，我来帮您查一下。")
    conversation_id, message = world.channel.delivered[-1]
    assert message["text"] == "您好，我来帮您查一下。" and message["metadata"]["agent"] == "李娜"
    with world.store.session() as session:
        staff_msg = session.execute(select(Message).where(Message.sender == "staff")).scalar_one()
        assert staff_msg.agent == "李娜"

    # Someone else cannot answer or hand back this conversation.
    with pytest.raises(HandoffError):
        await world.service.reply("conv-1", "wang", "王强", "插一句")
    with pytest.raises(HandoffError):
        await world.service.hand_back("conv-1", "wang")

    await world.service.hand_back("conv-1", "li")
    assert _handoff(world.store, "conv-1").status == "returned"
    assert _state(world.store, "conv-1") == "bot"
    assert "智能客服" in world.channel.texts("conv-1")[-1]

    # The bot answers the next message again.
    await world.hub.handle_customer_message("web", "conv-1", "上个月电费多少")
    assert [c["message"] for c in world.rasa.calls] == ["上个月电费多少"]
    assert world.channel.texts("conv-1")[-1] == "机器人回答：上个月电费多少"


@pytest.mark.asyncio
async def test_only_one_agent_wins_an_accept(world):
    await world.service.request("conv-1", "web", "customer_request")
    results = await asyncio.gather(world.service.accept("conv-1", "li", "李娜"),
                                   world.service.accept("conv-1", "wang", "王强"), return_exceptions=True)
    winners = [r for r in results if isinstance(r, dict)]
    losers = [r for r in results if isinstance(r, HandoffError)]
    assert len(winners) == 1 and len(losers) == 1
    assert _handoff(world.store, "conv-1").agent == winners[0]["agent"]


@pytest.mark.asyncio
async def test_take_over_and_close_with_tags(world):
    data = await world.service.take_over("conv-2", "li", "李娜")
    assert data["reason"] == "staff_takeover" and data["status"] == "accepted"
    assert _state(world.store, "conv-2") == "human"
    await world.service.close("conv-2", "li", tags=["电费", "已解决"], note="客户满意")
    assert _handoff(world.store, "conv-2").status == "closed"
    with world.store.session() as session:
        conv = session.get(Conversation, "conv-2")
        assert conv.state == "closed" and conv.tags == ["电费", "已解决"] and conv.note == "客户满意"


@pytest.mark.asyncio
async def test_rest_api_answers_the_error_codes_of_the_rest_of_api_v1(gateway_client, service_headers):
    """docs/ARCHITECTURE.md (REST API): a non-JSON body is 415, unparsable JSON 400 invalid_json,
    a bad field 400 validation_error naming it, as for every other /api/v1 path."""
    body = {"conversation_id": "api-err-1", "channel": "web", "reason": "customer_request"}
    json_headers = {**service_headers, "Content-Type": "application/json"}
    resp = await gateway_client.post("/api/v1/handoffs", data="{not json", headers=json_headers)
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_json"
    resp = await gateway_client.post("/api/v1/handoffs", data="[1, 2]", headers=json_headers)
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_json"
    resp = await gateway_client.post("/api/v1/handoffs", data="conversation_id=x",
                                     headers={**service_headers, "Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 415 and (await resp.json())["error"] == "unsupported_media_type"
    for field, value in (("conversation_id", None), ("channel", " "), ("reason", "bored"), ("reason", 7),
                         ("summary", 42), ("summary", "长" * 2001), ("conversation_id", "x" * 129)):
        resp = await gateway_client.post("/api/v1/handoffs", json={**body, field: value}, headers=service_headers)
        data = await resp.json()
        assert resp.status == 400 and data["error"] == "validation_error" and data["field"] == field, (field, data)
        assert data["message"].startswith(f"{field}: ")


@pytest.mark.asyncio
async def test_rest_api_queues_a_conversation_behind_the_service_token(gateway_client, gateway_app, service_headers,
                                                                      monkeypatch):
    from bot.handoff import HANDOFF_SERVICE

    service = gateway_app[HANDOFF_SERVICE]
    service.settings = HandoffSettings(accept_seconds=180, staff_hours=StaffHours.parse("00:00-24:00"))
    with gateway_app[STORE].session() as session:
        session.add(Conversation(id="api-1", channel="web", state="bot"))
    body = {"conversation_id": "api-1", "channel": "web", "reason": "customer_request", "summary": "想问电费"}

    refused = await gateway_client.post("/api/v1/handoffs", json=body)
    assert refused.status == 401
    bad = await gateway_client.post("/api/v1/handoffs", json={**body, "reason": "bored"}, headers=service_headers)
    # The error codes of the rest of /api/v1 (docs/ARCHITECTURE.md, REST API): validation_error naming the field.
    assert bad.status == 400 and (await bad.json())["error"] == "validation_error"
    assert (await bad.json())["field"] == "reason"

    created = await gateway_client.post("/api/v1/handoffs", json=body, headers=service_headers)
    assert created.status == 201
    data = await created.json()
    contract = ["conversation_id", "channel", "reason", "status", "created_at", "accepted_at", "agent",
                "callback_ticket_no"]
    assert all(key in data for key in contract)
    assert (data["status"], data["reason"], data["accepted_at"]) == ("waiting", "customer_request", None)
    assert data["created_at"].endswith("+08:00") and data["customer_notified"] is True

    again = await gateway_client.post("/api/v1/handoffs", json=body, headers=service_headers)
    assert again.status == 200 and (await again.json())["id"] == data["id"]
    with gateway_app[STORE].session() as session:
        assert session.get(Conversation, "api-1").state == "waiting"
        texts = [m.text for m in session.execute(select(Message).where(Message.conversation_id == "api-1")
                                                 .order_by(Message.id)).scalars()]
    assert "转接人工客服" in texts[0] and "排队中" in texts[1]


@pytest.mark.asyncio
@pytest.mark.parametrize("how", ["take_over", "accept"])
async def test_an_agent_serving_the_conversation_live_starts_its_callback(world, how):
    """Tried in the console: a callback opened a moment before (nobody free) stayed 新建 after an agent
    took the conversation over and talked to the customer."""
    world.clock.now = datetime(2026, 11, 26, 21, 30, tzinfo=SHANGHAI).astimezone(timezone.utc)
    missed, _ = await world.service.request("conv-1", "web", "customer_request", "客户最近说：转人工")
    callback_no = missed["callback_ticket_no"]
    world.clock.now = datetime(2026, 11, 27, 8, 10, tzinfo=SHANGHAI).astimezone(timezone.utc)
    if how == "accept":
        await world.service.request("conv-1", "web", "customer_request")
        with world.store.session() as session:  # the new request notes itself on the same callback
            assert session.execute(select(Ticket.status).where(Ticket.ticket_no == callback_no)).scalar_one() == "new"
        await world.service.accept("conv-1", "li", "李娜")
    else:
        await world.service.take_over("conv-1", "li", "李娜")
    with world.store.session() as session:
        ticket = session.execute(select(Ticket).where(Ticket.ticket_no == callback_no)).scalar_one()
        assert ticket.status == "in_progress"
        changed = [e for e in ticket.events if e.kind == "status_changed"]
        assert changed[-1].actor == "li" and "李娜" in changed[-1].data["note"]
        assert all(m.met_at is not None for m in ticket.milestones)  # the 2-hour call-back rule is met
