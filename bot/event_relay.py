"""Live events across several gateways, through Redis pub/sub.

Every event published on a gateway's event bus (``bot.events``) reaches the console streams of
that gateway. With several gateways behind a load balancer, a supervisor's browser is connected
to one gateway while the conversation (or the SLA watcher that claimed a warning) may be on
another: this relay subscribes to the bus and sends each event's *console view* with its
*audience* to the other gateways, which give it to their own console streams only
(``EventBus.deliver_relayed``), never to their subscribers, so nothing acts on an event twice.
A supervisors' SLA warning thus arrives whole (ticket, type, milestone, deadline) and at
supervisors only, as on the gateway that raised it. Off without ``REDIS_URL`` (one gateway).

What crosses (one JSON message per event on ``CHANNEL``)::

    {"origin": <this gateway's id>, "audience": "staff" | "supervisor", "event": <console view>}

Web messages waiting for their customer: a bot, staff or system message of a web conversation
stored on a gateway that does not hold the customer's socket (a notice of the engine, a staff
reply, a ticket's status) stays pending there; the relay sends its conversation id on
``DELIVER_CHANNEL`` (``{"origin", "conversation_id"}``), and a gateway that holds one of that
session's sockets delivers what waits (``hub.deliver_pending``: it claims each message in the
store before sending, so two such gateways never both send it). Every gateway listens on this
channel while it runs, console or not.

Publishing does not wait for Redis: events go to an outbox that one task sends in order, a
burst (a turn's customer message and replies) in one pipelined round trip.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any, Optional

from aiohttp import web

from bot.config import SETTINGS
from bot.conversations import HUB
from bot.events import Event, EventBus, audience_of, bus_of, console_view
from bot.web_channel import WEB_CHANNEL

log = logging.getLogger(__name__)

CHANNEL = "electricbot:console-events"
DELIVER_CHANNEL = "electricbot:deliver-pending"
REDIS_CLIENT = web.AppKey("event_relay_redis", Any)  # redis.asyncio.Redis while the relay runs
OUTBOX_SIZE = 10000  # events waiting for Redis; beyond it (Redis gone) consoles catch up by polling
MAX_BATCH = 200
# Subscribed only while a console stream is open on this gateway (receiving and parsing every
# other gateway's events costs CPU on each turn); a stream that opens is subscribed within this.
IDLE_CHECK_SECONDS = 0.1


def wire(origin: str, event: Event) -> str:
    """The relayed form of an event: its console view and who may see it."""
    return json.dumps({"origin": origin, "audience": audience_of(event), "event": console_view(event)},
                      ensure_ascii=False)


def receive(bus: EventBus, origin: str, raw: Any) -> bool:
    """Gives another gateway's event to this gateway's console streams; False if it is ours or not one."""
    try:
        data = json.loads(raw)
    except (TypeError, ValueError):
        return False
    if not isinstance(data, dict) or data.get("origin") == origin:
        return False
    return bus.deliver_relayed(data.get("event"), data.get("audience"))


def waiting_web_message(event: Any) -> str | None:
    """The conversation of a web message this gateway stored and could not deliver (the
    customer's socket is not here), or None."""
    if event.get("type") != "message":
        return None
    message = event.get("message") or {}
    if message.get("channel") != "web" or message.get("sender") == "customer" or message.get("delivered_at"):
        return None
    return event.get("conversation_id")


def deliver_request(origin: str, conversation_id: str) -> str:
    return json.dumps({"origin": origin, "conversation_id": conversation_id})


async def on_deliver_request(app: web.Application, origin: str, raw: Any) -> bool:
    """Another gateway stored a web message for a customer it does not hold: delivers what
    waits if the customer's socket is here. False if not for this gateway."""
    try:
        data = json.loads(raw)
    except (TypeError, ValueError):
        return False
    if not isinstance(data, dict) or data.get("origin") == origin:
        return False
    conversation_id = data.get("conversation_id")
    channel = app.get(WEB_CHANNEL)
    if not isinstance(conversation_id, str) or channel is None or not channel.is_present(conversation_id):
        return False
    await app[HUB].deliver_pending(conversation_id)
    return True


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]
    if not settings.redis_url:
        return
    bus = bus_of(app)
    origin = uuid.uuid4().hex
    running: dict = {"outbox": None}  # set while the relay runs

    async def forward(event: Event) -> None:
        outbox = running["outbox"]
        if outbox is None:
            return
        try:
            outbox.put_nowait((CHANNEL, wire(origin, event)))
            waiting = waiting_web_message(event)
            if waiting:
                outbox.put_nowait((DELIVER_CHANNEL, deliver_request(origin, waiting)))
        except asyncio.QueueFull:  # consoles on other gateways catch up by polling
            log.warning("console event relay: outbox full, an event is not relayed")

    async def send(client, batch: list[tuple[str, str]]) -> None:
        try:
            async with client.pipeline(transaction=False) as pipe:
                for channel, data in batch:
                    pipe.publish(channel, data)
                await pipe.execute()
        except Exception as exc:  # consoles on other gateways catch up by polling
            log.warning("could not relay %d console event(s) through Redis: %r", len(batch), exc)

    def take_batch(outbox: asyncio.Queue, first: tuple[str, str]) -> list[tuple[str, str]]:
        batch = [first]
        while len(batch) < MAX_BATCH and not outbox.empty():
            batch.append(outbox.get_nowait())
        return batch

    async def sender(client, outbox: asyncio.Queue) -> None:
        while True:
            batch = take_batch(outbox, await outbox.get())
            await send(client, batch)

    bus.subscribe(forward)

    async def next_message(pubsub, channel: str, what: str) -> Optional[dict]:
        """The next message on ``channel`` (subscribing first), None after a second without one;
        while Redis is away, a warning and a second's wait, then None."""
        try:
            if not pubsub.subscribed:
                await pubsub.subscribe(channel)
            return await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s: Redis unavailable (%r); retrying", what, exc)
            await asyncio.sleep(1.0)
            return None

    async def relay(app: web.Application):
        import redis.asyncio as aioredis

        client = aioredis.from_url(settings.redis_url, socket_connect_timeout=2)
        app[REDIS_CLIENT] = client
        outbox: asyncio.Queue = asyncio.Queue(OUTBOX_SIZE)
        running["outbox"] = outbox
        pubsub = client.pubsub()

        async def listen() -> None:
            while True:
                if not bus.has_streams:  # nobody here to relay to
                    if pubsub.subscribed or pubsub.connection is not None:
                        with contextlib.suppress(Exception):
                            await pubsub.reset()  # unsubscribes, returns the connection
                    await asyncio.sleep(IDLE_CHECK_SECONDS)
                    continue
                message = await next_message(pubsub, CHANNEL, "console event relay")
                if message:
                    receive(bus, origin, message["data"])

        deliveries: set[asyncio.Task] = set()

        async def listen_for_waiting_messages() -> None:
            requests = client.pubsub()
            try:
                while True:
                    message = await next_message(requests, DELIVER_CHANNEL, "web delivery relay")
                    if message:
                        delivery = asyncio.create_task(on_deliver_request(app, origin, message["data"]))
                        deliveries.add(delivery)
                        delivery.add_done_callback(_finished(deliveries))
            finally:
                with contextlib.suppress(Exception):
                    await requests.close()

        task = asyncio.create_task(listen())
        waiting = asyncio.create_task(listen_for_waiting_messages())
        sending = asyncio.create_task(sender(client, outbox))
        yield
        running["outbox"] = None
        for background in (sending, task, waiting, *deliveries):
            background.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await background
        if not outbox.empty():  # what was published last (e.g. on shutdown) still goes out
            with contextlib.suppress(Exception):
                await asyncio.wait_for(send(client, take_batch(outbox, outbox.get_nowait())), 2)
        with contextlib.suppress(Exception):
            await pubsub.close()
        with contextlib.suppress(Exception):
            await client.close()

    app.cleanup_ctx.append(relay)


def _finished(tasks: set[asyncio.Task]):
    def done(task: asyncio.Task) -> None:
        tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("web delivery relay: delivering a waiting message failed", exc_info=task.exception())
    return done
