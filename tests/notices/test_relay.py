"""Web notices with several gateways (Redis): a notice stored on a gateway that does not hold the
customer's socket is delivered live by the gateway that does, told by the event relay, and
exactly once — also when two gateways hold sockets of the session, and not again at the next
visit (real Redis, real socket.io clients, three gateways on one store)."""
from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
import pytest_asyncio
from sqlalchemy import select

from bot.config import Settings
from bot.conversations import HUB
from bot.notices import engine, senders
from bot.store import STORE
from bot.store.models import Conversation, Message
from tests.support import webchat  # noqa: F401  (aiohttp 3.9 shim for the engineio websocket client)
from tests.support.notices import SH, add_customer, bind
from tests.gateway.test_web_channel import ChatClient

pytestmark = pytest.mark.asyncio
MORNING = datetime(2026, 12, 3, 10, 0, tzinfo=SH)
SESSION = "relay-notice-session-01"


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")


@pytest_asyncio.fixture
async def gateways(aiohttp_client, redis_server, tmp_path):
    """Three gateways on one store and one Redis (their test servers)."""
    from bot.app import create_app

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'store.db'}", redis_url=redis_server.url,
                        service_token="relay-notice-token")
    clients = [await aiohttp_client(create_app(settings, start_background=False)) for _ in range(3)]
    with clients[0].app[STORE].session() as session:
        session.add(Conversation(id=SESSION, channel="web", state="bot", tags=[]))
    await asyncio.sleep(0.5)  # every relay subscribed
    return clients


async def tab(client) -> ChatClient:
    chat = ChatClient()
    assert await chat.open(str(client.make_url("")), SESSION) == SESSION
    return chat


async def received(chat: ChatClient, quiet: float = 0.8) -> list[str]:
    """Every message a tab gets until nothing more comes for ``quiet`` seconds."""
    texts = []
    while True:
        try:
            texts.append((await chat.next(timeout=quiet))["text"])
        except asyncio.TimeoutError:
            return texts


def stored(store) -> list[Message]:
    with store.session() as session:
        return list(session.execute(select(Message).where(Message.conversation_id == SESSION)
                                    .order_by(Message.id)).scalars())


async def test_the_engine_on_one_gateway_reaches_a_customer_on_another_live_once(gateways):
    a, b, _ = gateways
    account = add_customer(a.app[STORE], balance=8)
    bind(a.app[STORE], account, "web", SESSION)
    chat = await tab(b)
    try:
        result = await engine.run_once(a.app[STORE], MORNING, {"web": senders.WebSender(a.app[HUB])})
        assert result.sent == 1
        texts = await received(chat)
        assert len(texts) == 1 and "预付费电费余额为8.00元" in texts[0]
        [notice] = stored(a.app[STORE])
        assert notice.delivered_at is not None  # delivered (by B), not waiting for a visit
    finally:
        await chat.close()
    back = await tab(a)  # the next visit, on the other gateway: nothing shown twice
    try:
        assert await received(back, quiet=0.5) == []
    finally:
        await back.close()


async def test_two_gateways_holding_the_customer_deliver_a_staff_message_once(gateways):
    a, b, c = gateways
    tabs = [await tab(b), await tab(c), await tab(c)]  # three tabs, two gateways, none on A
    try:
        for n in range(3):
            await a.app[HUB].push(SESSION, {"text": f"第{n + 1}条通知"}, sender="bot")
        for chat in tabs:  # every tab gets every message once, in order
            assert await received(chat) == ["第1条通知", "第2条通知", "第3条通知"]
        assert all(m.delivered_at is not None for m in stored(a.app[STORE]))
    finally:
        for chat in tabs:
            await chat.close()


async def test_a_gateway_holding_the_customer_sends_itself_and_the_other_tabs_get_it_once(gateways):
    a, b, _ = gateways
    tabs = [await tab(a), await tab(b)]
    try:
        await a.app[HUB].push(SESSION, {"text": "本网关的通知"}, sender="bot")
        for chat in tabs:
            assert await received(chat) == ["本网关的通知"]
    finally:
        for chat in tabs:
            await chat.close()


async def test_a_notice_for_a_customer_connected_nowhere_waits_for_the_next_visit(gateways):
    a, b, _ = gateways
    await a.app[HUB].push(SESSION, {"text": "等您回来再看"}, sender="bot")
    await asyncio.sleep(0.5)
    assert stored(a.app[STORE])[0].delivered_at is None
    chat = await tab(b)
    try:
        assert await received(chat) == ["等您回来再看"]
    finally:
        await chat.close()


async def test_the_command_line_round_asks_the_gateway_holding_the_customer_to_show_it_now(gateways, redis_server):
    import json
    import os
    import sys
    from pathlib import Path

    from bot.notices import settings as notice_settings

    a, _, _ = gateways
    store = a.app[STORE]
    with store.session() as session:
        notice_settings.change(session, "quiet_hours", "", by="test")
    account = add_customer(store, balance=12)
    bind(store, account, "web", SESSION)
    chat = await tab(a)
    try:
        root = Path(__file__).resolve().parent.parent.parent
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "WECOM_", "TENCENT"))}
        env.update(DATABASE_URL=str(store.engine.url), REDIS_URL=redis_server.url, PYTHONPATH=str(root))
        process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "notices", "run-once", cwd=root,
                                                       env=env, stdout=asyncio.subprocess.PIPE,
                                                       stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode == 0, err.decode()
        assert json.loads(out.decode().strip().splitlines()[-1])["sent"] == 1
        texts = await received(chat)
        assert len(texts) == 1 and "低于20元" in texts[0]
        assert stored(store)[-1].delivered_at is not None
    finally:
        await chat.close()
