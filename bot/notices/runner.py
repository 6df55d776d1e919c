"""The notice engine in the background of every gateway, and ``python -m bot notices run-once``.

Every gateway runs a round (``bot.notices.engine.run_once``) every ``NOTICE_INTERVAL_SECONDS``
(default 60); the claims and leases in the store make several gateways safe together.
``NOTICES_ENABLED=false`` turns the background rounds off (e.g. when a cron job runs
``python -m bot notices run-once`` instead).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
from typing import Any, Mapping

from aiohttp import web

from bot.app import START_BACKGROUND
from bot.config import SETTINGS
from bot.store import STORE

log = logging.getLogger(__name__)

# The rounds' state ({"rounds", "last", "channels"}) on the gateway's app, for tests and the console.
RUNNER: web.AppKey[dict[str, Any]] = web.AppKey("notice_runner")
DEFAULT_INTERVAL = 60.0


def enabled(environ: Mapping[str, str] = os.environ) -> bool:
    return (environ.get("NOTICES_ENABLED", "true") or "true").strip().lower() not in ("0", "false", "no", "off")


def interval(environ: Mapping[str, str] = os.environ) -> float:
    raw = environ.get("NOTICE_INTERVAL_SECONDS", "")
    try:
        value = float(raw) if raw else DEFAULT_INTERVAL
    except ValueError:
        log.warning("NOTICE_INTERVAL_SECONDS=%r is not a number; using %s", raw, DEFAULT_INTERVAL)
        return DEFAULT_INTERVAL
    return value if value >= 0.05 else DEFAULT_INTERVAL


def setup(app: web.Application, environ: Mapping[str, str] = os.environ) -> None:
    """Starts the rounds with the app's background tasks (after the channels are set up)."""
    if not app.get(START_BACKGROUND) or not enabled(environ):
        if not enabled(environ):
            log.info("notice engine: background rounds are off (NOTICES_ENABLED=false)")
        return
    every = interval(environ)

    async def rounds(app: web.Application):
        from bot.notices import engine, senders

        stop = asyncio.Event()
        redis_url = getattr(app.get(SETTINGS), "redis_url", "") or ""
        built = senders.build(app, environ=environ, redis_url=redis_url)
        channels = sorted(c for c in built.by_channel if c != engine.CONVERSATION)  # not a channel: tickets'
        state: dict[str, Any] = {"rounds": 0, "last": None, "channels": channels}
        app[RUNNER] = state

        async def loop() -> None:
            delay = min(5.0, every)  # let start-up finish first
            while True:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                    return
                except asyncio.TimeoutError:
                    pass
                try:
                    result = await engine.run_once(app[STORE], senders=built.by_channel)
                    state["rounds"] += 1
                    state["last"] = result.as_dict()
                except Exception:  # the next round tries again; claims keep it exactly-once
                    log.exception("notice engine: round failed")
                delay = every

        log.info("notice engine: a round every %.0f s, channels %s", every, ", ".join(state["channels"]) or "none")
        task = asyncio.create_task(loop())
        yield
        stop.set()
        await task
        await built.close()

    app.cleanup_ctx.append(rounds)


# ---------------------------------------------------------------- command line

def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="notices_command", required=True)
    sub.add_parser("run-once", help="one round of the notice engine: claim what is due and send it "
                                    "(web notices: with REDIS_URL the gateway holding the customer's socket "
                                    "shows them at once, else they wait for the customer's next visit)")


def run(args: argparse.Namespace) -> int:
    if args.notices_command == "run-once":
        return asyncio.run(_run_once_command())
    return 2  # pragma: no cover - argparse refuses other commands


async def _run_once_command() -> int:
    from bot.config import load_settings
    from bot.conversations import ConversationHub
    from bot.notices import engine, senders
    from bot import event_relay
    from bot.store import Store, migrate

    logging.getLogger("alembic").setLevel(logging.WARNING)
    settings = load_settings()
    migrate(settings.database_url)
    store = Store(settings.database_url, max_workers=2)
    hub = ConversationHub(store, settings)  # writes web notices; no channel here: a gateway delivers them
    redis_url = getattr(settings, "redis_url", "") or ""
    waiting: set[str] = set()

    async def note_waiting(event) -> None:
        conversation_id = event_relay.waiting_web_message(event)
        if conversation_id:
            waiting.add(conversation_id)

    hub.bus.subscribe(note_waiting)
    built = senders.build(hub=hub, redis_url=redis_url)
    try:
        result = await engine.run_once(store, senders=built.by_channel)
        if redis_url and waiting:
            await _ask_gateways_to_deliver(redis_url, sorted(waiting))
        print(json.dumps(result.as_dict(), ensure_ascii=False))
        return 0
    finally:
        await built.close()
        await hub.close()
        store.close()


async def _ask_gateways_to_deliver(redis_url: str, conversation_ids: list[str]) -> None:
    """The web notices written here: the gateway holding a customer's socket shows them now
    (``bot.event_relay``); without an answer from Redis they wait for the next visit."""
    import redis.asyncio as aioredis

    from bot.event_relay import DELIVER_CHANNEL, deliver_request

    client = aioredis.from_url(redis_url, socket_connect_timeout=2)
    try:
        async with client.pipeline(transaction=False) as pipe:
            for conversation_id in conversation_ids:
                pipe.publish(DELIVER_CHANNEL, deliver_request("notices-run-once", conversation_id))
            await pipe.execute()
    except Exception as exc:  # the notices are stored: they are shown at the next visit
        log.warning("could not ask the gateways to deliver %d web notice(s) now: %r", len(conversation_ids), exc)
    finally:
        await client.close()
