"""A customer who proves their identity in a conversation is attached to it.

The chain under test: customer message -> hub (creates the conversation) -> Rasa (a fake that
runs the real identity validation action, as Rasa would) -> ``POST /api/v1/identity/verify``
with the sender id as ``conversation_id`` -> the conversation row carries the account; then the
staff console and the hand-off callback text use it.
"""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest
import pytest_asyncio
from aiohttp import web
from sqlalchemy import func, select

from actions.bills import ValidateBillForm
from bot.handoff import HandoffService, HandoffSettings, StaffHours
from bot.store.models import Conversation, Ticket
from bot.store.types import SHANGHAI
from tests.support.console import add_staff, log_in
from tests.support.dialogue import make_tracker, run_action
from tests.support.gateway import auth_headers
from bot.conversations import HUB
from bot.sla import SLA_RULES
from bot.store import STORE

pytestmark = pytest.mark.asyncio

# Demo customers (demo/demo_data.json).
ACCOUNT, LAST4, PHONE, MASKED, NAME = "3201000001", "0518", "13851620518", "138****0518", "张伟"
MASKED_NAME = "张*"
OTHER_ACCOUNT, OTHER_LAST4 = "3201000002", "2316"
WEB_ID = "k3Vd9xQ2-web-session"
WECHAT_ID = "wechat:oQ9f_3kd8sLx0PqZ"
NOT_LOADED = object()


@pytest.fixture(autouse=True)
def console_env(monkeypatch):
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")
    monkeypatch.setenv("STAFF_HOURS", "00:00-24:00")  # the queue test must not depend on the hour


@pytest_asyncio.fixture
async def gateway(actions_gateway, aiohttp_server):
    """The demo gateway, the actions' API client pointed at it, and a fake Rasa behind its hub.

    ``client.rasa_turn`` is the fake Rasa's behaviour: ``async (body) -> list of bot messages``;
    ``client.events`` collects what the hub publishes (the live consoles' feed)."""
    client = actions_gateway

    async def greet(body: dict) -> list:
        return [{"recipient_id": body["sender"], "text": "您好，请问有什么可以帮您？"}]

    client.rasa_turn = greet

    async def webhook(request: web.Request) -> web.Response:
        return web.json_response(await client.rasa_turn(await request.json()))

    rasa_app = web.Application()
    rasa_app.router.add_post("/webhooks/gateway/webhook", webhook)
    rasa = await aiohttp_server(rasa_app)
    hub = client.app[HUB]
    hub.settings = dataclasses.replace(hub.settings, rasa_url=str(rasa.make_url("")).rstrip("/"), rasa_timeout=10)
    client.events = []

    async def collect(event: dict) -> None:
        client.events.append(event)

    hub.bus.subscribe(collect)  # the gateway's event bus (bot.events)
    return client


def account_of(app, conversation_id: str):
    """The conversation's account number, or NOT_LOADED when there is no such conversation."""
    with app[STORE].session() as session:
        conversation = session.get(Conversation, conversation_id)
        return NOT_LOADED if conversation is None else conversation.account_no


def conversation_count(app) -> int:
    with app[STORE].session() as session:
        return session.execute(select(func.count()).select_from(Conversation)).scalar_one()


async def customer_writes(client, conversation_id: str, text: str, channel: str = "web"):
    return await client.app[HUB].handle_customer_message(channel, conversation_id, text)


async def verify(client, body: dict):
    return await client.post("/api/v1/identity/verify", json=body, headers=auth_headers())


# ---------------------------------------------------------------- the API


async def test_successful_verification_records_the_account_on_the_conversation(gateway):
    await customer_writes(gateway, WEB_ID, "你好")
    assert account_of(gateway.app, WEB_ID) is None
    answer = await verify(gateway, {"account_no": ACCOUNT, "phone_last4": LAST4, "conversation_id": WEB_ID})
    body = await answer.json()
    assert answer.status == 200 and body["verified"] is True and body["conversation_linked"] is True
    assert account_of(gateway.app, WEB_ID) == ACCOUNT
    # Open consoles hear about it (they re-fetch the conversation's customer card).
    assert {"type": "identity", "conversation_id": WEB_ID, "account_no": ACCOUNT} in gateway.events
    # Verifying the same account again changes nothing and announces nothing new.
    before = len(gateway.events)
    again = await verify(gateway, {"account_no": ACCOUNT, "phone_last4": LAST4, "conversation_id": WEB_ID})
    assert (await again.json())["conversation_linked"] is True
    assert len(gateway.events) == before


async def test_failed_verification_leaves_the_conversation_alone(gateway):
    await customer_writes(gateway, WEB_ID, "你好")
    wrong = await verify(gateway, {"account_no": ACCOUNT, "phone_last4": "0519", "conversation_id": WEB_ID})
    assert await wrong.json() == {"verified": False, "reason": "mismatch"}
    unknown = await verify(gateway, {"account_no": "3201999999", "phone_last4": LAST4, "conversation_id": WEB_ID})
    assert (await unknown.json())["reason"] == "not_found"
    assert account_of(gateway.app, WEB_ID) is None
    # Once verified, a failed check for another account does not take the verified one away.
    await verify(gateway, {"account_no": ACCOUNT, "phone_last4": LAST4, "conversation_id": WEB_ID})
    await verify(gateway, {"account_no": OTHER_ACCOUNT, "phone_last4": "0000", "conversation_id": WEB_ID})
    assert account_of(gateway.app, WEB_ID) == ACCOUNT


async def test_a_later_verification_for_another_account_replaces_it(gateway):
    await customer_writes(gateway, WEB_ID, "你好")
    await verify(gateway, {"account_no": ACCOUNT, "phone_last4": LAST4, "conversation_id": WEB_ID})
    answer = await verify(gateway, {"account_no": OTHER_ACCOUNT, "phone_last4": OTHER_LAST4,
                                    "conversation_id": WEB_ID})
    assert (await answer.json())["verified"] is True
    assert account_of(gateway.app, WEB_ID) == OTHER_ACCOUNT


async def test_an_unknown_conversation_is_not_created(gateway):
    before = conversation_count(gateway.app)
    answer = await verify(gateway, {"account_no": ACCOUNT, "phone_last4": LAST4, "conversation_id": "never-seen-1"})
    body = await answer.json()
    assert body["verified"] is True and body["conversation_linked"] is False
    assert account_of(gateway.app, "never-seen-1") is NOT_LOADED
    assert conversation_count(gateway.app) == before


async def test_without_conversation_id_the_answer_is_as_before(gateway):
    await customer_writes(gateway, WEB_ID, "你好")
    answer = await verify(gateway, {"account_no": ACCOUNT, "phone_last4": LAST4})
    body = await answer.json()
    assert set(body) == {"verified", "customer"}
    assert account_of(gateway.app, WEB_ID) is None


@pytest.mark.parametrize("bad", [12345, ["k3Vd9xQ2"], {"id": "x"}, "has space", "tab\there", "x" * 129])
async def test_bad_conversation_id_is_a_json_400_and_changes_nothing(gateway, bad):
    await customer_writes(gateway, WEB_ID, "你好")
    answer = await verify(gateway, {"account_no": ACCOUNT, "phone_last4": LAST4, "conversation_id": bad})
    assert answer.status == 400
    error = await answer.json()
    assert error["error"] == "validation_error" and error["field"] == "conversation_id"
    assert "conversation_id" in error["message"]
    assert account_of(gateway.app, WEB_ID) is None


async def test_openapi_documents_the_optional_conversation_id(gateway):
    spec = await (await gateway.get("/api/openapi.json")).json()
    operation = spec["paths"]["/api/v1/identity/verify"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert "conversation_id" in schema["properties"] and "conversation_id" not in schema["required"]
    assert schema["properties"]["conversation_id"]["maxLength"] == 128
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert "conversation_linked" in answer["properties"]


def age_conversation(app, conversation_id: str, minutes: int) -> None:
    with app[STORE].session() as session:
        conversation = session.get(Conversation, conversation_id)
        conversation.last_message_at = conversation.last_message_at - timedelta(minutes=minutes)


async def test_the_account_is_forgotten_when_rasa_forgets_the_identity(gateway):
    # Rasa's session (and its identity slots) ends after 60 silent minutes: so does the link,
    # or whoever writes next in that browser would be taken for the earlier customer.
    await customer_writes(gateway, WEB_ID, "你好")
    await verify(gateway, {"account_no": ACCOUNT, "phone_last4": LAST4, "conversation_id": WEB_ID})
    age_conversation(gateway.app, WEB_ID, 30)
    await customer_writes(gateway, WEB_ID, "还在吗")
    assert account_of(gateway.app, WEB_ID) == ACCOUNT
    age_conversation(gateway.app, WEB_ID, 61)
    await customer_writes(gateway, WEB_ID, "你好，我想查电费")
    assert account_of(gateway.app, WEB_ID) is None


# ---------------------------------------------------------------- the action, through the hub


def rasa_runs_identity_check(account_no: str):
    """A Rasa turn inside bill_form asking for the last four digits: runs the real validation
    action with the sender id Rasa would give it, and answers what the action uttered."""
    async def turn(body: dict) -> list:
        tracker = make_tracker(body["message"], intent="inform", form="bill_form", sender_id=body["sender"],
                               slots={"account_no": account_no, "requested_slot": "phone_last4"},
                               channel=body["metadata"]["channel"])
        _events, messages = await run_action(ValidateBillForm(), tracker)
        return [{"recipient_id": body["sender"], "text": m["text"]} for m in messages if m.get("text")]

    return turn


@pytest.mark.parametrize("channel, conversation_id", [("web", WEB_ID), ("wechat", WECHAT_ID)])
async def test_identity_check_in_a_conversation_attaches_the_account(gateway, channel, conversation_id):
    await customer_writes(gateway, conversation_id, "查电费", channel=channel)
    gateway.rasa_turn = rasa_runs_identity_check(ACCOUNT)
    wrong = await customer_writes(gateway, conversation_id, "尾号0000", channel=channel)
    assert "不一致" in wrong.replies[0]["text"]
    assert account_of(gateway.app, conversation_id) is None
    right = await customer_writes(gateway, conversation_id, f"尾号{LAST4}", channel=channel)
    assert "身份验证通过" in right.replies[0]["text"]
    assert account_of(gateway.app, conversation_id) == ACCOUNT


async def test_a_sender_id_the_gateway_cannot_hold_does_not_break_the_check(gateway):
    # rasa shell or a REST client may use any sender id: the check still works, nothing is linked.
    tracker = make_tracker(f"尾号{LAST4}", intent="inform", form="bill_form", sender_id="someone from rasa shell",
                           slots={"account_no": ACCOUNT, "requested_slot": "phone_last4"})
    events, messages = await run_action(ValidateBillForm(), tracker)
    assert any(e.get("name") == "identity_verified" and e.get("value") is True for e in events)
    assert account_of(gateway.app, "someone from rasa shell") is NOT_LOADED


# ---------------------------------------------------------------- the console


async def test_console_shows_the_verified_customer_and_their_tickets(gateway, aiohttp_client):
    app = gateway.app
    add_staff(app, "li", "李娜", "agent")
    add_staff(app, "boss", "王主管", "supervisor")
    await customer_writes(gateway, WEB_ID, "我要转人工")
    # A ticket of this account from an earlier conversation, and one of somebody else.
    tickets = {}
    for key, account_no, conversation_id in (("own", ACCOUNT, "earlier-conv-01"),
                                             ("other", OTHER_ACCOUNT, "other-conv-001")):
        created = await gateway.post("/api/v1/tickets", headers=auth_headers(), json={
            "type": "repair", "summary": "家里停电了", "channel": "web", "account_no": account_no,
            "conversation_id": conversation_id, "request_key": f"identity-console-{key}"})
        assert created.status == 201
        tickets[key] = (await created.json())["ticket_no"]
    verified = await verify(gateway, {"account_no": ACCOUNT, "phone_last4": LAST4, "conversation_id": WEB_ID})
    assert (await verified.json())["conversation_linked"] is True
    # An agent is online (logged in), so the hand-off waits for a person (bot.agent_tools.availability).
    agent = await aiohttp_client(app)
    await log_in(agent, "li")
    handoff = await gateway.post("/api/v1/handoffs", headers=auth_headers(), json={
        "conversation_id": WEB_ID, "channel": "web", "reason": "customer_request"})
    assert handoff.status == 201 and (await handoff.json())["status"] == "waiting"

    page = await (await agent.get(f"/console/conversations/{WEB_ID}")).text()
    assert "尚未核验身份" not in page
    assert ACCOUNT in page and MASKED_NAME in page and MASKED in page
    assert PHONE not in page and NAME not in page  # agents see the phone and the name masked
    assert tickets["own"] in page and tickets["other"] not in page
    queue = await (await agent.get("/console/queue")).text()
    assert WEB_ID in queue and ACCOUNT in queue and MASKED_NAME in queue and MASKED in queue and PHONE not in queue
    assert NAME not in queue
    queue_json = await (await agent.get("/console/api/queue")).json()
    waiting = next(w for w in queue_json["waiting"] if w["conversation_id"] == WEB_ID)
    assert waiting["account_no"] == ACCOUNT and waiting["phone"] == MASKED
    assert tickets["own"] in waiting["tickets"] and tickets["other"] not in waiting["tickets"]

    supervisor = await aiohttp_client(app)
    await log_in(supervisor, "boss")
    page = await (await supervisor.get(f"/console/conversations/{WEB_ID}")).text()
    assert PHONE in page and NAME in page


# ---------------------------------------------------------------- hand-off callbacks


@pytest.mark.parametrize("desk_closed", [True, False])
async def test_callback_for_a_verified_customer_does_not_ask_for_the_account(gateway, desk_closed):
    app = gateway.app
    await customer_writes(gateway, WEB_ID, "查电费")
    gateway.rasa_turn = rasa_runs_identity_check(ACCOUNT)
    await customer_writes(gateway, WEB_ID, f"尾号{LAST4}")
    assert account_of(app, WEB_ID) == ACCOUNT

    hour = 21 if desk_closed else 10  # the desk is open 08:00-20:00
    now = [datetime(2026, 11, 26, hour, 0, tzinfo=SHANGHAI).astimezone(timezone.utc)]
    service = HandoffService(app[STORE], app[HUB],
                             HandoffSettings(accept_seconds=180, staff_hours=StaffHours.parse("08:00-20:00")),
                             clock=lambda: now[0], sla=app[SLA_RULES])
    data, created = await service.request(WEB_ID, "web", "customer_request")
    if not desk_closed:
        assert data["status"] == "waiting"
        now[0] += timedelta(seconds=181)
        assert [m["conversation_id"] for m in await service.check_timeouts()] == [WEB_ID]
    history = await app[HUB].history(WEB_ID)
    notice = history[-1]["text"]
    assert history[-1]["sender"] == "system"
    assert ("08:00-20:00" in notice) is desk_closed and ("繁忙" in notice) is not desk_closed
    assert "户号" not in notice and "请留下" not in notice
    assert f"回电将拨打您登记的手机号 {MASKED}" in notice and PHONE not in notice
    with app[STORE].session() as session:
        ticket = session.execute(select(Ticket).where(Ticket.type == "callback",
                                                      Ticket.conversation_id == WEB_ID)).scalar_one()
        assert ticket.account_no == ACCOUNT and ticket.contact_phone == PHONE
        assert ticket.ticket_no in notice


async def callback_notice_after_hours(app) -> str:
    """The customer asks for a person at 21:00 (desk open 08:00-20:00): the callback notice."""
    closed = datetime(2026, 11, 26, 21, 0, tzinfo=SHANGHAI).astimezone(timezone.utc)
    service = HandoffService(app[STORE], app[HUB],
                             HandoffSettings(accept_seconds=180, staff_hours=StaffHours.parse("08:00-20:00")),
                             clock=lambda: closed, sla=app[SLA_RULES])
    await service.request(WEB_ID, "web", "customer_request")
    return (await app[HUB].history(WEB_ID))[-1]["text"]


async def test_callback_for_an_unverified_customer_still_asks_how_to_reach_them(gateway):
    app = gateway.app
    await customer_writes(gateway, WEB_ID, "转人工")
    notice = await callback_notice_after_hours(app)
    assert "请直接回复您的手机号" in notice and "登记的手机号" not in notice and "留下的联系电话" not in notice


async def test_callback_for_an_unverified_customer_calls_the_phone_left_on_an_earlier_request(gateway):
    from bot import tickets

    app = gateway.app
    await customer_writes(gateway, WEB_ID, "转人工")
    with app[STORE].session() as session:  # the repair reported earlier in this conversation
        tickets.create_ticket(session, app[SLA_RULES], type="repair", summary="家中停电", channel="web",
                              conversation_id=WEB_ID, contact_name="刘先生", contact_phone="13912345678",
                              request_key="earlier-repair")
    notice = await callback_notice_after_hours(app)
    assert "回电将拨打您刚才留下的联系电话 139****5678" in notice
    assert "13912345678" not in notice and "请直接回复" not in notice and "登记的手机号" not in notice
    with app[STORE].session() as session:
        callback = session.execute(select(Ticket).where(Ticket.type == "callback",
                                                        Ticket.conversation_id == WEB_ID)).scalar_one()
        assert (callback.contact_name, callback.contact_phone, callback.account_no) == ("刘先生", "13912345678", None)


def test_identity_is_forgotten_after_rasas_own_session_expiry(tmp_path):
    from datetime import timedelta

    from bot.conversations import IDENTITY_FORGET_AFTER, _rasa_session_expiry

    assert IDENTITY_FORGET_AFTER == timedelta(minutes=60)  # domain.yml session_config
    domain = tmp_path / "domain.yml"
    domain.write_text("session_config:\n  session_expiration_time: 15\n", encoding="utf-8")
    assert _rasa_session_expiry(domain) == timedelta(minutes=15)
    assert _rasa_session_expiry(tmp_path / "missing.yml") == timedelta(minutes=60)
