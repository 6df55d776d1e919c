"""200 simultaneous socket.io conversations on loopback: nothing lost, nothing crosses over."""
from __future__ import annotations

import asyncio
import time

import pytest
import socketio
from sqlalchemy import func, select

from bot.store.models import Message
from tests.support.webchat import FakeRasa, start_mini_gateway

CONVERSATIONS = 200
MESSAGES_EACH = 3
DEADLINE_SECONDS = 120


@pytest.mark.asyncio
async def test_200_simultaneous_conversations_lose_nothing_and_never_cross():
    rasa = await FakeRasa().start()
    gateway = await start_mini_gateway(rasa.url, rasa_timeout=60)
    clients: list[socketio.AsyncClient] = []
    try:
        async def conversation(index: int) -> tuple[str, list[str]]:
            client = socketio.AsyncClient(reconnection=False)
            clients.append(client)
            received: list[str] = []
            done = asyncio.Event()
            confirmed: asyncio.Future = asyncio.get_running_loop().create_future()

            @client.on("session_confirm")
            async def on_confirm(session_id):
                if not confirmed.done():
                    confirmed.set_result(session_id)

            @client.on("bot_uttered")
            async def on_reply(message):
                received.append(message["text"])
                if len(received) >= MESSAGES_EACH:
                    done.set()

            await client.connect(gateway.url, transports=["websocket"], wait_timeout=30)
            await client.emit("session_request", {"session_id": None})
            session_id = await asyncio.wait_for(confirmed, 30)
            for n in range(MESSAGES_EACH):
                ack = await client.call("user_uttered", {"message": f"会话{index}-第{n}条", "session_id": session_id,
                                                         "message_id": f"load-{index}-{n}"}, timeout=60)
                assert ack["ok"], ack
            await asyncio.wait_for(done.wait(), 60)
            await asyncio.sleep(0.2)  # a stray reply for another conversation would arrive here
            return session_id, received

        started = time.monotonic()
        results = await asyncio.wait_for(asyncio.gather(*(conversation(i) for i in range(CONVERSATIONS))),
                                         DEADLINE_SECONDS)
        elapsed = time.monotonic() - started

        for index, (session_id, received) in enumerate(results):
            assert received == [f"收到：会话{index}-第{n}条" for n in range(MESSAGES_EACH)], (index, received)
        assert len({session_id for session_id, _ in results}) == CONVERSATIONS
        assert len(rasa.received) == CONVERSATIONS * MESSAGES_EACH
        for _ in range(60):  # delivered_at is written right after each emit
            with gateway.store.session() as session:
                stored = session.execute(select(func.count(Message.id))).scalar_one()
                undelivered = session.execute(select(func.count(Message.id))
                                              .where(Message.delivered_at.is_(None))).scalar_one()
            if undelivered == 0:
                break
            await asyncio.sleep(0.05)
        assert stored == 2 * CONVERSATIONS * MESSAGES_EACH
        assert undelivered == 0
        print(f"\n{CONVERSATIONS} conversations x {MESSAGES_EACH} messages in {elapsed:.1f} s")
    finally:
        await asyncio.gather(*(c.disconnect() for c in clients if c.connected), return_exceptions=True)
        await gateway.stop()
        await rasa.stop()
