"""The web channel against an in-process gateway and a fake Rasa: protocol, dedupe, order, offline."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import pytest_asyncio
import socketio
from sqlalchemy import select

from bot.conversations import APOLOGY_TEXT
from bot.store.models import Conversation, Message
from tests.support.webchat import FakeRasa, start_mini_gateway

pytestmark = pytest.mark.asyncio
STATIC = Path(__file__).resolve().parent.parent.parent / "bot" / "static"


class ChatClient:
    """A socket.io client speaking Rasa's protocol, collecting what the server emits."""

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

    async def say(self, session_id: str, text: str, message_id: str | None = None, **extra) -> dict:
        data = {"message": text, "session_id": session_id, **extra}
        if message_id:
            data["message_id"] = message_id
        return await self.sio.call("user_uttered", data, timeout=5)

    async def next(self, timeout: float = 5) -> dict:
        return await asyncio.wait_for(self.uttered.get(), timeout)

    async def close(self) -> None:
        await self.sio.disconnect()


@pytest_asyncio.fixture
async def rasa():
    fake = await FakeRasa().start()
    yield fake
    await fake.stop()


@pytest_asyncio.fixture
async def gateway(rasa):
    gw = await start_mini_gateway(rasa.url, rasa_timeout=1.5)
    yield gw
    await gw.stop()


@pytest_asyncio.fixture
async def client(gateway):
    chat = ChatClient()
    yield chat
    if chat.sio.connected:
        await chat.close()


async def eventually(check, timeout: float = 3.0) -> None:
    """Waits for a store write that follows an emit (delivered_at is set right after sending)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def stored_messages(gateway, session_id: str) -> list[Message]:
    with gateway.store.session() as session:
        return list(session.execute(select(Message).where(Message.conversation_id == session_id)
                                    .order_by(Message.id)).scalars())


async def test_session_request_confirms_given_or_new_id(gateway, client):
    new_id = await client.open(gateway.url)
    assert len(new_id) == 32 and new_id.isalnum()
    await client.sio.emit("session_request", {"session_id": "keep-this-session-01"})
    assert await asyncio.wait_for(client.confirmed.get(), 5) == "keep-this-session-01"
    # Another channel's conversation id is never handed to a browser.
    await client.sio.emit("session_request", {"session_id": "wechat:o6_bmjrPTlm6_2sgVt7hMZOPfL2M"})
    other = await asyncio.wait_for(client.confirmed.get(), 5)
    assert other != "wechat:o6_bmjrPTlm6_2sgVt7hMZOPfL2M" and len(other) == 32


async def test_message_goes_to_rasa_with_metadata_and_reply_is_stored(gateway, rasa, client):
    session_id = await client.open(gateway.url)
    ack = await client.say(session_id, "你好", message_id="m-1", customData={"language": "zh", "client": "web:forged"})
    assert ack["ok"] is True and ack["duplicate"] is False and ack["state"] == "bot"
    reply = await client.next()
    assert reply["text"] == "收到：你好"
    assert reply["metadata"]["sender"] == "bot" and isinstance(reply["metadata"]["message_id"], int)
    # The gateway names the client (a keyed hash of its address, for per-client rate limits);
    # what the browser claims is replaced.
    client_key = rasa.received[0]["metadata"].pop("client")
    assert client_key.startswith("web:") and client_key != "web:forged" and "127.0.0.1" not in client_key
    assert rasa.received == [{"sender": session_id, "message": "你好",
                              "metadata": {"language": "zh", "channel": "web"}}]
    await eventually(lambda: stored_messages(gateway, session_id)[-1].delivered_at is not None)
    messages = stored_messages(gateway, session_id)
    assert [(m.sender, m.text) for m in messages] == [("customer", "你好"), ("bot", "收到：你好")]
    assert messages[0].intent == "inform" and messages[0].confidence == pytest.approx(0.91)
    assert messages[0].client_msg_id == "m-1"
    assert messages[1].delivered_at is not None and messages[1].id == reply["metadata"]["message_id"]


async def test_buttons_become_quick_replies_and_images_attachments(gateway, client):
    session_id = await client.open(gateway.url)
    await client.say(session_id, "按钮")
    reply = await client.next()
    assert reply["text"] == "请选择："
    assert reply["quick_replies"] == [
        {"content_type": "text", "title": "查电费", "payload": "/query_bill"},
        {"content_type": "text", "title": "报故障", "payload": "/report_fault"},
    ]
    await client.say(session_id, "图片")
    image = await client.next()
    assert image["attachment"] == {"type": "image", "payload": {"src": "https://example.invalid/map.png"}}


async def test_resent_message_is_stored_and_answered_once(gateway, rasa, client):
    session_id = await client.open(gateway.url)
    first = await client.say(session_id, "停电了", message_id="c-42")
    await client.next()
    again = await client.say(session_id, "停电了", message_id="c-42")
    assert first["duplicate"] is False and again["duplicate"] is True and again["id"] == first["id"]
    with pytest.raises(asyncio.TimeoutError):
        await client.next(timeout=0.7)
    assert len(rasa.received) == 1
    assert [m.sender for m in stored_messages(gateway, session_id)] == ["customer", "bot"]


async def test_two_quick_messages_are_answered_in_order(gateway, client):
    session_id = await client.open(gateway.url)
    # The first takes longer at Rasa; its answer must still come first.
    await asyncio.gather(client.sio.emit("user_uttered", {"message": "慢0.6 第一句", "session_id": session_id}),
                         client.sio.emit("user_uttered", {"message": "第二句", "session_id": session_id}))
    assert (await client.next())["text"] == "收到：第一句"
    assert (await client.next())["text"] == "收到：第二句"


async def test_reply_for_offline_customer_waits_and_is_delivered_once(gateway, client):
    session_id = await client.open(gateway.url)
    await client.say(session_id, "你好")
    await client.next()
    await client.close()
    await asyncio.sleep(0.1)
    staff = await gateway.hub.push(session_id, {"text": "您好，我是客服王芳，请问有什么可以帮您？"},
                                   sender="staff", agent="王芳")
    notice = await gateway.hub.push(session_id, {"text": "您的工单已派工。"}, sender="system")
    assert staff["delivered_at"] is None and notice["delivered_at"] is None

    back = ChatClient()
    assert await back.open(gateway.url, session_id) == session_id
    first, second = await back.next(), await back.next()
    assert first["text"].startswith("您好，我是客服王芳") and first["metadata"]["agent"] == "王芳"
    assert second["text"] == "您的工单已派工。" and "agent" not in second["metadata"]
    await eventually(lambda: all(m.delivered_at is not None for m in stored_messages(gateway, session_id)))
    await back.close()

    again = ChatClient()
    await again.open(gateway.url, session_id)
    with pytest.raises(asyncio.TimeoutError):
        await again.next(timeout=0.7)
    await again.close()


async def test_every_tab_of_a_session_gets_the_replies(gateway, client):
    session_id = await client.open(gateway.url)
    other_tab = ChatClient()
    await other_tab.open(gateway.url, session_id)
    await client.say(session_id, "两个标签页")
    assert (await client.next())["text"] == "收到：两个标签页"
    assert (await other_tab.next())["text"] == "收到：两个标签页"
    await other_tab.close()


async def test_rasa_failure_and_timeout_answer_with_an_apology(gateway, rasa, client):
    session_id = await client.open(gateway.url)
    await client.say(session_id, "坏了")
    assert (await client.next())["text"] == APOLOGY_TEXT
    rasa.hang_seconds = 3
    await client.say(session_id, "挂起")
    assert (await client.next(timeout=4))["text"] == APOLOGY_TEXT
    senders = [(m.sender, m.text) for m in stored_messages(gateway, session_id)]
    assert senders == [("customer", "坏了"), ("system", APOLOGY_TEXT), ("customer", "挂起"), ("system", APOLOGY_TEXT)]


async def test_conversation_served_by_staff_never_reaches_rasa(gateway, rasa, client):
    events = []

    async def on_event(event):
        events.append(event)

    unsubscribe = gateway.hub.bus.subscribe(on_event)
    session_id = await client.open(gateway.url)
    await client.say(session_id, "转人工")
    await client.next()
    await gateway.hub.set_state(session_id, "human", agent="王芳")
    ack = await client.say(session_id, "我家停电两个小时了")
    assert ack["state"] == "human"
    with pytest.raises(asyncio.TimeoutError):
        await client.next(timeout=0.7)
    assert [b["message"] for b in rasa.received] == ["转人工"]
    customer_events = [e["message"]["text"] for e in events
                       if e["type"] == "message" and e["message"]["sender"] == "customer"]
    assert customer_events == ["转人工", "我家停电两个小时了"]
    assert {"type": "state", "conversation_id": session_id, "state": "human", "agent": "王芳"} in events
    unsubscribe()
    with gateway.store.session() as session:
        conversation = session.get(Conversation, session_id)
        assert conversation.state == "human" and conversation.assigned_agent == "王芳"


async def test_history_returns_own_session_only_and_markup_verbatim(gateway, client):
    session_id = await client.open(gateway.url)
    markup = '<img src=x onerror="alert(1)">停电'
    await client.say(session_id, markup, message_id="x-1")
    await client.next()
    history = await client.sio.call("history", {"session_id": session_id}, timeout=5)
    assert [(m["sender"], m["text"]) for m in history["messages"]] == [("customer", markup), ("bot", f"收到：{markup}")]
    assert history["messages"][0]["client_msg_id"] == "x-1"
    after_first = await client.sio.call("history", {"session_id": session_id,
                                                    "after": history["messages"][0]["id"]}, timeout=5)
    assert [m["sender"] for m in after_first["messages"]] == ["bot"]
    stranger = ChatClient()
    await stranger.open(gateway.url)
    refused = await stranger.sio.call("history", {"session_id": session_id}, timeout=5)
    assert refused["ok"] is False and refused["messages"] == []
    await stranger.close()


async def test_bad_messages_get_clear_answers(gateway, rasa, client):
    session_id = await client.open(gateway.url)
    assert (await client.say(session_id, "   "))["error"] == "empty_message"
    too_long = await client.say(session_id, "电" * 2001)
    assert too_long["ok"] is False and too_long["error"] == "too_long"
    assert "最多2000个字" in (await client.next())["text"]
    assert rasa.received == []


async def test_widget_never_inserts_markup():
    source = (STATIC / "widget.js").read_text(encoding="utf-8")
    assert "innerHTML" not in source and "insertAdjacentHTML" not in source and "document.write" not in source


async def test_demo_page_and_widget_are_served(gateway):
    import aiohttp

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        async with http.get(gateway.url + "/") as resp:
            assert resp.status == 200 and "XX供电公司" in await resp.text()
        async with http.get(gateway.url + "/widget.js") as resp:
            assert resp.status == 200 and "javascript" in resp.headers["Content-Type"]
        async with http.get(gateway.url + "/static/socket.io.min.js") as resp:
            assert resp.status == 200 and "Socket.IO v4" in await resp.text()
