"""A private note never reaches the customer: a real socket.io customer of the whole gateway
(web channel, hub, console) receives nothing when staff add a note, and the widget's history
on reconnect does not hold it; the staff reply after it does arrive (the socket works)."""
from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio
import socketio

from tests.support.console import add_staff, log_in
from tests.support.gateway import SERVICE_TOKEN
from tests.support.webchat import FakeRasa

pytestmark = pytest.mark.asyncio


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")


@pytest_asyncio.fixture
async def rasa():
    fake = await FakeRasa().start()
    yield fake
    await fake.stop()


@pytest_asyncio.fixture
async def gateway(aiohttp_client, tmp_path, rasa):
    from bot.app import create_app
    from bot.config import Settings

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'gw.db'}", service_token=SERVICE_TOKEN,
                        rasa_url=rasa.url, redis_url="")
    app = create_app(settings, start_background=False)
    client = await aiohttp_client(app)
    add_staff(app, "li", "李娜", "agent")
    return client


async def test_customer_socket_receives_nothing_of_a_note(gateway):
    uttered: asyncio.Queue = asyncio.Queue()
    confirmed: asyncio.Queue = asyncio.Queue()
    sio = socketio.AsyncClient(reconnection=False)
    sio.on("bot_uttered", uttered.put)
    sio.on("session_confirm", confirmed.put)
    url = str(gateway.server.make_url("/"))
    await sio.connect(url, transports=["websocket"], wait_timeout=5)
    try:
        await sio.emit("session_request", {"session_id": None})
        confirm = await asyncio.wait_for(confirmed.get(), 5)
        session_id = confirm["session_id"] if isinstance(confirm, dict) else confirm
        await sio.call("user_uttered", {"message": "你好", "session_id": session_id}, timeout=5)
        assert "收到：你好" in (await asyncio.wait_for(uttered.get(), 5))["text"]

        gateway.csrf = await log_in(gateway, "li")
        taken = await gateway.post(f"/console/conversations/{session_id}/takeover", data={"csrf_token": gateway.csrf},
                                   allow_redirects=False)
        assert taken.status == 303
        assert "人工客服" in (await asyncio.wait_for(uttered.get(), 5))["text"]

        note = await gateway.post(f"/console/conversations/{session_id}/notes",
                                  data={"csrf_token": gateway.csrf, "text": "内部：此客户上月已投诉两次"},
                                  allow_redirects=False)
        assert note.status == 303
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(uttered.get(), 1.5)

        reply = await gateway.post(f"/console/conversations/{session_id}/reply",
                                   data={"csrf_token": gateway.csrf, "text": "您好，请讲"}, allow_redirects=False)
        assert reply.status == 303
        assert (await asyncio.wait_for(uttered.get(), 5))["text"] == "您好，请讲"
        assert uttered.empty()
    finally:
        await sio.disconnect()

    # Reconnecting with the session: the history the widget asks for holds the messages, no note.
    again = socketio.AsyncClient(reconnection=False)
    confirmed2: asyncio.Queue = asyncio.Queue()
    again.on("session_confirm", confirmed2.put)
    await again.connect(url, transports=["websocket"], wait_timeout=5)
    try:
        await again.emit("session_request", {"session_id": session_id})
        await asyncio.wait_for(confirmed2.get(), 5)
        history = await again.call("history", {"session_id": session_id}, timeout=5)
        texts = [m.get("text") for m in history["messages"]]
        assert "你好" in texts and "您好，请讲" in texts
        assert all("上月已投诉" not in (t or "") for t in texts)
    finally:
        await again.disconnect()
