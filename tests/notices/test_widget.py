"""Web notices reach the widget: live when the customer is connected, on the next visit when
not (a real hub and web channel on loopback, socket.io client, the engine's web sender)."""
from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
import pytest_asyncio

from bot.notices import engine, senders
from bot.store.models import Outage
from tests.support.notices import SH, add_customer, bind
from tests.support.webchat import FakeRasa, start_mini_gateway
from tests.gateway.test_web_channel import ChatClient

pytestmark = pytest.mark.asyncio
MORNING = datetime(2026, 12, 3, 10, 0, tzinfo=SH)


@pytest_asyncio.fixture
async def gateway():
    rasa = await FakeRasa().start()
    gw = await start_mini_gateway(rasa.url, rasa_timeout=1.5)
    yield gw
    await gw.stop()
    await rasa.stop()


async def test_a_notice_is_shown_live_and_one_sent_while_away_on_the_next_visit(gateway):
    chat = ChatClient()
    session_id = await chat.open(gateway.url)
    await chat.say(session_id, "你好")
    assert (await chat.next())["text"] == "收到：你好"
    account = add_customer(gateway.store, balance=8)
    bind(gateway.store, account, "web", session_id)
    web = {"web": senders.WebSender(gateway.hub)}

    await engine.run_once(gateway.store, MORNING, web)
    live = await chat.next()
    assert "预付费电费余额为8.00元" in live["text"] and live["metadata"]["sender"] == "bot"
    await chat.close()

    with gateway.store.session() as session:
        session.add(Outage(outage_no="P-W", kind="planned", area="南京市玄武区", scope=["中山路"],
                           start_at=datetime(2026, 12, 4, 8, 0, tzinfo=SH),
                           end_at=datetime(2026, 12, 4, 16, 0, tzinfo=SH), reason="线路检修"))
    assert (await engine.run_once(gateway.store, MORNING, web)).sent == 1  # nobody connected: it waits

    back = ChatClient()
    try:
        assert await back.open(gateway.url, session_id) == session_id
        waiting = await back.next()
        assert waiting["text"].startswith("【停电通知】") and "明天08:00至16:00" in waiting["text"]
        with pytest.raises(asyncio.TimeoutError):
            await back.next(timeout=0.5)  # the earlier notice is not shown twice
    finally:
        await back.close()
