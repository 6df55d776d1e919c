"""Staff consoles' live events across several gateways, through Redis pub/sub.

The hub publishes events (new message, state change, hand-off) to subscribers in its own
process, the console's live streams among them. With several gateways behind a load
balancer, a supervisor's browser is connected to one gateway while the conversation may be
served by another: this relays every gateway's events to the live streams of the others.
Relayed events go only to the console streams, never through ``hub.publish``, so no other
subscriber acts on an event twice. Off without ``REDIS_URL`` (one gateway).

Publishing does not wait for Redis: events go to an outbox that one task sends in order, a
burst (a turn's customer message and replies) in one pipelined round trip.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid

from aiohttp import web

log = logging.getLogger(__name__)

CHANNEL = "electricbot:console-events"
# What a console stream carries (pages fetch the content themselves, with the viewer's masking).
RELAYED_KEYS = ("type", "conversation_id", "state")
REDIS_CLIENT = "event_relay_redis"
OUTBOX_SIZE = 10000  # events waiting for Redis; beyond it (Redis gone) consoles catch up by polling
MAX_BATCH = 200
# Subscribed only while a console stream is open on this gateway (receiving and parsing every
# other gateway's events costs CPU on each turn); a stream that opens is subscribed within this.
IDLE_CHECK_SECONDS = 0.1


def _slim(event: dict) -> dict:
    return {key: event[key] for key in RELAYED_KEYS if event.get(key) is not None}


def _deliver_locally(app: web.Application, event: dict) -> None:
    from bot.console.views import LISTENERS

    for queue in list(app.get(LISTENERS) or ()):
        with contextlib.suppress(asyncio.QueueFull):  # a stalled browser misses events; it also polls
            queue.put_nowait(event)


def setup(app: web.Application) -> None:
    settings = app["settings"]
    hub = app.get("hub")
    if not settings.redis_url or hub is None or not hasattr(hub, "subscribe"):
        return
    origin = uuid.uuid4().hex
    running: dict = {"outbox": None}  # set while the relay runs

    async def forward(event: dict) -> None:
        outbox = running["outbox"]
        if outbox is None:
            return
        try:
            outbox.put_nowait(json.dumps({"origin": origin, "event": _slim(event)}, ensure_ascii=False))
        except asyncio.QueueFull:  # consoles on other gateways catch up by polling
            log.warning("console event relay: outbox full, an event is not relayed")

    async def send(client, batch: list[str]) -> None:
        try:
            async with client.pipeline(transaction=False) as pipe:
                for data in batch:
                    pipe.publish(CHANNEL, data)
                await pipe.execute()
        except Exception as exc:  # consoles on other gateways catch up by polling
            log.warning("could not relay %d console event(s) through Redis: %r", len(batch), exc)

    def take_batch(outbox: asyncio.Queue, first: str) -> list[str]:
        batch = [first]
        while len(batch) < MAX_BATCH and not outbox.empty():
            batch.append(outbox.get_nowait())
        return batch

    async def sender(client, outbox: asyncio.Queue) -> None:
        while True:
            batch = take_batch(outbox, await outbox.get())
            await send(client, batch)

    hub.subscribe(forward)

    async def relay(app: web.Application):
        import redis.asyncio as aioredis

        client = aioredis.from_url(settings.redis_url, socket_connect_timeout=2)
        app[REDIS_CLIENT] = client
        outbox: asyncio.Queue = asyncio.Queue(OUTBOX_SIZE)
        running["outbox"] = outbox
        pubsub = client.pubsub()

        async def listen() -> None:
            from bot.console.views import LISTENERS

            while True:
                if not app.get(LISTENERS):  # nobody here to relay to
                    if pubsub.subscribed or pubsub.connection is not None:
                        with contextlib.suppress(Exception):
                            await pubsub.reset()  # unsubscribes, returns the connection
                    await asyncio.sleep(IDLE_CHECK_SECONDS)
                    continue
                try:
                    if not pubsub.subscribed:
                        await pubsub.subscribe(CHANNEL)
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("console event relay: Redis unavailable (%r); retrying", exc)
                    await asyncio.sleep(1.0)
                    continue
                if not message:
                    continue
                try:
                    data = json.loads(message["data"])
                except (TypeError, ValueError):
                    continue
                if data.get("origin") != origin and isinstance(data.get("event"), dict):
                    _deliver_locally(app, data["event"])

        task = asyncio.create_task(listen())
        sending = asyncio.create_task(sender(client, outbox))
        yield
        running["outbox"] = None
        for background in (sending, task):
            background.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await background
        if not outbox.empty():  # what the hub published last (e.g. on shutdown) still goes out
            with contextlib.suppress(Exception):
                await asyncio.wait_for(send(client, take_batch(outbox, outbox.get_nowait())), 2)
        with contextlib.suppress(Exception):
            await pubsub.close()
        with contextlib.suppress(Exception):
            await client.close()

    app.cleanup_ctx.append(relay)
