"""Staff consoles' live events across several gateways, through Redis pub/sub.

The hub publishes events (new message, state change, hand-off) to subscribers in its own
process, the console's live streams among them. With several gateways behind a load
balancer, a supervisor's browser is connected to one gateway while the conversation may be
served by another: this relays every gateway's events to the live streams of the others.
Relayed events go only to the console streams, never through ``hub.publish``, so no other
subscriber acts on an event twice. Off without ``REDIS_URL`` (one gateway).
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

    async def forward(event: dict) -> None:
        client = app.get(REDIS_CLIENT)
        if client is None:
            return
        try:
            await client.publish(CHANNEL, json.dumps({"origin": origin, "event": _slim(event)}, ensure_ascii=False))
        except Exception as exc:  # consoles on other gateways catch up by polling
            log.warning("could not relay a console event through Redis: %r", exc)

    hub.subscribe(forward)

    async def relay(app: web.Application):
        import redis.asyncio as aioredis

        client = aioredis.from_url(settings.redis_url, socket_connect_timeout=2)
        app[REDIS_CLIENT] = client
        pubsub = client.pubsub()

        async def listen() -> None:
            while True:
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
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        with contextlib.suppress(Exception):
            await pubsub.close()
        with contextlib.suppress(Exception):
            await client.close()

    app.cleanup_ctx.append(relay)
