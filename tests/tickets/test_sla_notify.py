"""Customers hear about their ticket on their own channel: a real socket.io web client."""
from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
import pytest_asyncio
import socketio
from sqlalchemy import select

from bot.sla.notify import compose, describe_time, notify_ticket_status, survey_message
from bot.store.models import Message, Ticket, TicketEvent
from tests.support.sla import SH, add_ticket
from tests.support.webchat import FakeRasa, start_mini_gateway
from bot.conversations import HUB
from bot.store import STORE

pytestmark = pytest.mark.asyncio
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=SH)


class WebCustomer:
    """A browser speaking Rasa's socket.io protocol to the gateway."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.uttered: asyncio.Queue = asyncio.Queue()
        self.confirmed: asyncio.Queue = asyncio.Queue()
        self.sio.on("bot_uttered", self.uttered.put)
        self.sio.on("session_confirm", self.confirmed.put)

    async def open(self, url: str, session_id: str | None = None) -> str:
        await self.sio.connect(url, transports=["websocket"], wait_timeout=5)
        await self.sio.emit("session_request", {"session_id": session_id})
        return await asyncio.wait_for(self.confirmed.get(), 5)

    async def next(self, timeout: float = 5) -> dict:
        return await asyncio.wait_for(self.uttered.get(), timeout)


@pytest_asyncio.fixture
async def gateway():
    rasa = await FakeRasa().start()
    gw = await start_mini_gateway(rasa.url, rasa_timeout=1.5)
    yield gw
    await gw.stop()
    await rasa.stop()


@pytest_asyncio.fixture
async def customer(gateway):
    """A web customer who has said hello (so the conversation exists on the web channel)."""
    web = WebCustomer()
    session_id = await web.open(gateway.url)
    await web.sio.call("user_uttered", {"message": "你好", "session_id": session_id}, timeout=5)
    assert (await web.next())["text"] == "收到：你好"
    web.session_id = session_id
    yield web
    if web.sio.connected:
        await web.sio.disconnect()


def set_status(store, ticket_no: str, status: str, **met_at_by_rule) -> None:
    with store.session() as session:
        ticket = session.execute(select(Ticket).where(Ticket.ticket_no == ticket_no)).scalar_one()
        ticket.status = status
        for milestone in ticket.milestones:
            if milestone.rule in met_at_by_rule:
                milestone.met_at = met_at_by_rule[milestone.rule]


async def test_repair_customer_is_told_each_step_and_asked_for_a_rating(gateway, customer):
    number = add_ticket(gateway.store, "repair", T0, conversation_id=customer.session_id)

    set_status(gateway.store, number, "accepted", first_response=T0)
    assert await notify_ticket_status(gateway.app, number, "accepted", now=T0)
    assert (await customer.next())["text"] == f"您的故障报修工单（{number}）已受理。抢修人员将在今天10:45前到达现场。"

    set_status(gateway.store, number, "dispatched")
    assert await notify_ticket_status(gateway.app, number, "dispatched", now=T0)
    assert (await customer.next())["text"] == f"抢修人员已出发，正赶往现场（工单号 {number}）。抢修人员将在今天10:45前到达现场。"

    set_status(gateway.store, number, "arrived", **{"repair.arrival": T0})
    assert await notify_ticket_status(gateway.app, number, "arrived", now=T0)
    assert (await customer.next())["text"] == f"抢修人员已到达现场，正在抢修（工单号 {number}）。预计今天13:45前恢复送电。"

    set_status(gateway.store, number, "resolved", **{"repair.restoration": T0})
    assert await notify_ticket_status(gateway.app, number, "resolved", now=T0)
    done, survey = await customer.next(), await customer.next()
    assert done["text"].startswith("您报修的故障已处理完毕，供电已恢复")
    assert survey["text"] == "为了把服务做得更好，想请您对本次服务做个评价："
    assert [(b["title"], b["payload"]) for b in survey["quick_replies"]] == [
        ("满意", f'/rate_service{{"rating":"satisfied","ticket_no":"{number}"}}'),
        ("一般", f'/rate_service{{"rating":"neutral","ticket_no":"{number}"}}'),
        ("不满意", f'/rate_service{{"rating":"dissatisfied","ticket_no":"{number}"}}'),
    ]

    # Stored in the conversation as system messages, delivered.
    with gateway.store.session() as session:
        stored = session.execute(select(Message).where(Message.conversation_id == customer.session_id,
                                                       Message.sender == "system").order_by(Message.id)).scalars().all()
        events = session.execute(select(TicketEvent.data).join(Ticket).where(
            Ticket.ticket_no == number, TicketEvent.kind == "customer_notified")).scalars().all()
    assert len(stored) == 5 and all(m.delivered_at is not None for m in stored)
    assert [e["status"] for e in events] == ["accepted", "dispatched", "arrived", "resolved"]
    assert [e["survey"] for e in events] == [False, False, False, True]


async def test_a_notice_is_sent_once_and_only_for_the_current_status(gateway, customer):
    number = add_ticket(gateway.store, "complaint", T0, conversation_id=customer.session_id)
    set_status(gateway.store, number, "accepted")
    assert await notify_ticket_status(gateway.app, number, "accepted", now=T0)
    first = await customer.next()
    assert first["text"] == f"您的投诉工单（{number}）已受理。工作人员将在明天10:00前与您联系。"
    # A retried status request, a stale status, an unannounced status, an unknown ticket.
    assert not await notify_ticket_status(gateway.app, number, "accepted", now=T0)
    assert not await notify_ticket_status(gateway.app, number, "resolved", now=T0)
    assert not await notify_ticket_status(gateway.app, number, "in_progress", now=T0)
    assert not await notify_ticket_status(gateway.app, "NOPE0001", "accepted", now=T0)
    with pytest.raises(asyncio.TimeoutError):
        await customer.next(timeout=0.5)


async def test_offline_customer_gets_the_notice_when_back(gateway, customer):
    number = add_ticket(gateway.store, "application", T0, business_type="new_connection",
                        conversation_id=customer.session_id)
    await customer.sio.disconnect()
    await asyncio.sleep(0.1)
    set_status(gateway.store, number, "accepted")
    assert await notify_ticket_status(gateway.app, number, "accepted", now=T0)

    back = WebCustomer()
    assert await back.open(gateway.url, customer.session_id) == customer.session_id
    assert (await back.next())["text"] == f"您的业务办理工单（{number}）已受理。工作人员将在明天17:30前上门勘察。"
    await back.sio.disconnect()


async def test_tickets_without_a_conversation_are_not_announced(gateway):
    number = add_ticket(gateway.store, "repair", T0)
    set_status(gateway.store, number, "accepted")
    assert not await notify_ticket_status(gateway.app, number, "accepted", now=T0)


async def test_wording_of_times_and_other_types():
    now = datetime(2026, 12, 30, 9, 0, tzinfo=SH)
    assert describe_time(datetime(2026, 12, 30, 17, 30, tzinfo=SH), now) == "今天17:30"
    assert describe_time(datetime(2026, 12, 31, 9, 0, tzinfo=SH), now) == "明天09:00"
    assert describe_time(datetime(2027, 1, 8, 17, 30, tzinfo=SH), now) == "2027年1月8日17:30"
    assert describe_time(datetime(2026, 12, 2, 17, 30, tzinfo=SH) , datetime(2026, 11, 26, tzinfo=SH)) == "12月2日17:30"

    ticket = Ticket(ticket_no="BY20261126001", type="praise", milestones=[])
    assert compose(ticket, "accepted", now) == [{"text": "感谢您的表扬（工单号 BY20261126001），我们已转达给相关同事。"}]
    assert compose(ticket, "closed", now) == []
    assert survey_message()["buttons"][0] == {"title": "满意", "payload": '/rate_service{"rating":"satisfied"}'}


class FakeWebAdapter:
    """Stands in for the socket.io adapter on the real hub of the full gateway."""

    name = "web"

    def __init__(self) -> None:
        self.delivered: list[tuple[str, dict]] = []

    async def deliver(self, conversation_id: str, message: dict) -> bool:
        self.delivered.append((conversation_id, message))
        return True


async def test_rest_status_changes_meet_milestones_notify_and_the_rating_is_stored(
        gateway_app, gateway_client, service_headers):
    from tests.support.sla import add_conversation

    adapter = FakeWebAdapter()
    gateway_app[HUB].register_channel(adapter)
    add_conversation(gateway_app[STORE], "web-notify-1")
    created = await gateway_client.post("/api/v1/tickets", headers=service_headers, json={
        "type": "repair", "summary": "家里停电了", "channel": "web", "area_type": "urban",
        "conversation_id": "web-notify-1", "request_key": "web-notify-1:m1"})
    assert created.status == 201
    number = (await created.json())["ticket_no"]

    async def move(status: str) -> dict:
        response = await gateway_client.post(f"/api/v1/tickets/{number}/status", headers=service_headers,
                                             json={"status": status, "actor": "zhang.gong"})
        assert response.status == 200
        return await response.json()

    accepted = await move("accepted")
    assert next(m for m in accepted["milestones"] if m["name"] == "受理")["met_at"] is not None
    assert adapter.delivered[-1][1]["text"].startswith(f"您的故障报修工单（{number}）已受理。抢修人员将在")
    await move("accepted")  # a retry: no second notice
    assert len(adapter.delivered) == 1

    arrived = await move("arrived")
    assert next(m for m in arrived["milestones"] if m["name"] == "抢修人员到达现场")["met_at"] is not None
    resolved = await move("resolved")
    assert all(m["met_at"] is not None for m in resolved["milestones"])
    texts = [message.get("text") for _, message in adapter.delivered]
    assert len(texts) == 4 and texts[-1] == "为了把服务做得更好，想请您对本次服务做个评价："
    payload = adapter.delivered[-1][1]["buttons"][2]["payload"]
    assert payload == f'/rate_service{{"rating":"dissatisfied","ticket_no":"{number}"}}'

    # What the assistant's action posts when the customer taps 不满意, even without the number:
    # the answer goes to the ticket the follow-up asked about.
    answer = await gateway_client.post("/api/v1/surveys", headers=service_headers, json={
        "conversation_id": "web-notify-1", "rating": "dissatisfied"})
    assert answer.status == 201 and (await answer.json())["ticket_no"] == number
    with gateway_app[STORE].session() as session:
        ticket = session.execute(select(Ticket).where(Ticket.ticket_no == number)).scalar_one()
        assert ticket.satisfaction == "dissatisfied"
        assert [e.data["rating"] for e in ticket.events if e.kind == "survey"] == ["dissatisfied"]
    # A later rating in the same chat (about the chat itself) is not pinned on the rated ticket.
    again = await gateway_client.post("/api/v1/surveys", headers=service_headers, json={
        "conversation_id": "web-notify-1", "rating": "satisfied"})
    assert again.status == 201 and (await again.json())["ticket_no"] is None
