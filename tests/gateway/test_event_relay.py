"""Two gateways sharing Redis: a console connected to one sees the other's live events."""
from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import timedelta

import aiohttp
import pytest
import pytest_asyncio

from bot.config import Settings
from bot.events import EVENT_BUS
from bot.store.types import now_utc
from tests.support.console import add_staff, log_in
from tests.support.sla import add_conversation, add_ticket
from bot.conversations import HUB
from bot.store import STORE


async def next_event(queue: asyncio.Queue, timeout: float = 5.0) -> dict:
    return await asyncio.wait_for(queue.get(), timeout)


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")


@pytest_asyncio.fixture
async def two_gateway_clients(aiohttp_client, redis_server, tmp_path):
    """Two gateways on one store and one Redis, both serving (their test clients)."""
    from bot.app import create_app

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'store.db'}", redis_url=redis_server.url,
                        service_token="relay-test-token")
    gateways = create_app(settings, start_background=False), create_app(settings, start_background=False)
    return [await aiohttp_client(gateway) for gateway in gateways]


@pytest_asyncio.fixture
async def two_gateways(two_gateway_clients):
    return tuple(client.app for client in two_gateway_clients)


@pytest.mark.asyncio
async def test_console_on_one_gateway_gets_the_other_gateways_events(two_gateways):
    gateway_a, gateway_b = two_gateways
    # Agents' streams (supervisors get the same conversation events).
    console_a = gateway_a[EVENT_BUS].open_stream(supervisor=False)
    console_b = gateway_b[EVENT_BUS].open_stream(supervisor=False)
    await asyncio.sleep(0.3)  # both relays subscribed

    await gateway_a[EVENT_BUS].publish({"type": "message", "conversation_id": "relay-conv-1",
                                    "message": {"id": 1, "text": "不该外传的正文"}})
    assert await next_event(console_b) == {"type": "message", "conversation_id": "relay-conv-1"}
    # The publishing gateway's own console gets it once (locally), not again from Redis.
    assert await next_event(console_a) == {"type": "message", "conversation_id": "relay-conv-1"}

    await gateway_b[EVENT_BUS].publish({"type": "state", "conversation_id": "relay-conv-1", "state": "waiting",
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
        console_b = gateway_b[EVENT_BUS].open_stream(supervisor=False)
        await asyncio.sleep(0.3)
        assert await subscribers() == 1
        await gateway_a[EVENT_BUS].publish({"type": "message", "conversation_id": "relay-conv-2"})
        assert await next_event(console_b) == {"type": "message", "conversation_id": "relay-conv-2"}
        gateway_b[EVENT_BUS].close_stream(console_b)
        await asyncio.sleep(1.5)  # the listener notices within its 1 s read timeout
        assert await subscribers() == 0
    finally:
        await redis.close()


class LiveConsole:
    """A staff member logged in to one gateway's console with the live stream open (its own cookies)."""

    def __init__(self, gateway_client, username: str):
        self.base = str(gateway_client.make_url("/"))
        self.username = username
        self.http: aiohttp.ClientSession | None = None
        self.stream: aiohttp.ClientResponse | None = None

    async def open(self) -> "LiveConsole":
        self.http = aiohttp.ClientSession(base_url=self.base, cookie_jar=aiohttp.CookieJar(unsafe=True))
        await log_in(self.http, self.username)
        self.stream = await self.http.get("/console/api/events")
        assert self.stream.status == 200
        return self

    async def next(self, timeout: float = 5.0) -> dict:
        async def read() -> dict:
            while True:
                line = (await self.stream.content.readline()).decode("utf-8").strip()
                if line.startswith("data: "):
                    return json.loads(line[len("data: "):])

        return await asyncio.wait_for(read(), timeout)

    async def until(self, marker: dict) -> list[dict]:
        """Every event before ``marker`` (which must come)."""
        seen = []
        while (event := await self.next()) != marker:
            seen.append(event)
        return seen

    async def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
        if self.http is not None:
            await self.http.close()


@pytest.mark.asyncio
async def test_sla_warning_of_one_gateway_reaches_the_others_supervisors_whole_and_no_agent(two_gateway_clients):
    """An SLA warning raised on gateway A: B's supervisor sees exactly what A's supervisor sees
    (ticket number, type, milestone, deadline...), and no agent sees it on either gateway."""
    from bot.sla.watcher import SlaWatcher

    client_a, client_b = two_gateway_clients
    gateway_a = client_a.app
    add_staff(gateway_a, "boss", "王主管", "supervisor")
    add_staff(gateway_a, "li", "李娜", "agent")
    add_conversation(gateway_a[STORE], "relay-sla-conv")
    # An urban repair reported 100 minutes ago: the crew (45 min) is late, other milestones at risk.
    number = add_ticket(gateway_a[STORE], "repair", now_utc() - timedelta(minutes=100))

    consoles = {}
    try:
        for name, client, username in (("boss_a", client_a, "boss"), ("boss_b", client_b, "boss"),
                                       ("agent_a", client_a, "li"), ("agent_b", client_b, "li")):
            consoles[name] = await LiveConsole(client, username).open()
        await asyncio.sleep(0.5)  # every stream registered, both relays subscribed

        transitions = await SlaWatcher.for_app(gateway_a).scan_once()
        assert transitions and all(t.ticket_no == number for t in transitions)
        # Then a plain conversation event from A: every stream gets it after whatever came before.
        await gateway_a[HUB].set_state("relay-sla-conv", "human", agent="li")
        marker = {"type": "state", "conversation_id": "relay-sla-conv", "state": "human"}

        local = await consoles["boss_a"].until(marker)
        relayed = await consoles["boss_b"].until(marker)
        assert len(local) == len(transitions) and all(e["type"] == "sla" for e in local)
        assert relayed == local  # whole: the same notice as on the gateway that raised it
        breach = next(e for e in relayed if e["kind"] == "breached")
        assert breach["ticket_no"] == number and breach["ticket_type"] == "repair"
        assert breach["milestone"] == "抢修人员到达现场" and breach["area_type"] == "urban"
        assert breach["due_at"].endswith("+08:00") and breach["priority"] == "urgent"
        # Agents see no SLA warning, neither locally nor relayed: their first event is the marker.
        assert await consoles["agent_a"].next() == marker
        assert await consoles["agent_b"].next() == marker
        await asyncio.sleep(0.5)
        for console in consoles.values():  # nothing else arrives (no second copy from Redis)
            with pytest.raises(asyncio.TimeoutError):
                await console.next(timeout=0.2)
    finally:
        for console in consoles.values():
            with contextlib.suppress(Exception):
                await console.close()
