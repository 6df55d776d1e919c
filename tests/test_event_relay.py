"""Two gateways sharing Redis: a console connected to one sees the other's live events."""
from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio

from bot.config import Settings
from bot.console.views import LISTENERS


async def next_event(queue: asyncio.Queue, timeout: float = 5.0) -> dict:
    return await asyncio.wait_for(queue.get(), timeout)


@pytest_asyncio.fixture
async def two_gateways(aiohttp_client, redis_server, tmp_path):
    """Two gateways on one store and one Redis, both serving."""
    from bot.app import create_app

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'store.db'}", redis_url=redis_server.url,
                        service_token="relay-test-token")
    gateways = create_app(settings, start_background=False), create_app(settings, start_background=False)
    for gateway in gateways:
        await aiohttp_client(gateway)
    return gateways


@pytest.mark.asyncio
async def test_console_on_one_gateway_gets_the_other_gateways_events(two_gateways):
    gateway_a, gateway_b = two_gateways
    console_a, console_b = asyncio.Queue(), asyncio.Queue()
    gateway_a[LISTENERS].add(console_a)
    gateway_b[LISTENERS].add(console_b)
    await asyncio.sleep(0.3)  # both relays subscribed

    await gateway_a["hub"].publish({"type": "message", "conversation_id": "relay-conv-1",
                                    "message": {"id": 1, "text": "不该外传的正文"}})
    assert await next_event(console_b) == {"type": "message", "conversation_id": "relay-conv-1"}
    # The publishing gateway's own console gets it once (locally), not again from Redis.
    assert await next_event(console_a) == {"type": "message", "conversation_id": "relay-conv-1"}

    await gateway_b["hub"].publish({"type": "state", "conversation_id": "relay-conv-1", "state": "waiting",
                                    "agent": None})
    assert await next_event(console_a) == {"type": "state", "conversation_id": "relay-conv-1",
                                           "state": "waiting"}
    assert await next_event(console_b) == {"type": "state", "conversation_id": "relay-conv-1",
                                           "state": "waiting"}
    await asyncio.sleep(0.5)
    assert console_a.empty() and console_b.empty()


@pytest.mark.asyncio
async def test_without_redis_the_relay_is_off(aiohttp_client, tmp_path):
    from bot.app import create_app
    from bot.event_relay import REDIS_CLIENT

    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'store.db'}", redis_url=""),
                     start_background=False)
    await aiohttp_client(app)
    assert REDIS_CLIENT not in app


@pytest.mark.asyncio
async def test_a_gateway_subscribes_only_while_a_console_stream_is_open(two_gateways, redis_server):
    import redis.asyncio as aioredis

    from bot.event_relay import CHANNEL

    gateway_a, gateway_b = two_gateways
    redis = aioredis.from_url(redis_server.url)
    try:
        async def subscribers() -> int:
            return dict(await redis.pubsub_numsub(CHANNEL)).get(CHANNEL.encode(), 0)

        await asyncio.sleep(0.3)
        assert await subscribers() == 0  # no console open anywhere: nobody parses the events
        console_b = asyncio.Queue()
        gateway_b[LISTENERS].add(console_b)
        await asyncio.sleep(0.3)
        assert await subscribers() == 1
        await gateway_a["hub"].publish({"type": "message", "conversation_id": "relay-conv-2"})
        assert await next_event(console_b) == {"type": "message", "conversation_id": "relay-conv-2"}
        gateway_b[LISTENERS].discard(console_b)
        await asyncio.sleep(1.5)  # the listener notices within its 1 s read timeout
        assert await subscribers() == 0
    finally:
        await redis.close()
