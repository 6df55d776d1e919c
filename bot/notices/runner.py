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
                                    "(web notices wait in the conversation for the customer's next visit)")


def run(args: argparse.Namespace) -> int:
    if args.notices_command == "run-once":
        return asyncio.run(_run_once_command())
    return 2  # pragma: no cover - argparse refuses other commands


async def _run_once_command() -> int:
    from bot.config import load_settings
    from bot.conversations import ConversationHub
    from bot.notices import engine, senders
    from bot.store import Store, migrate

    logging.getLogger("alembic").setLevel(logging.WARNING)
    settings = load_settings()
    migrate(settings.database_url)
    store = Store(settings.database_url, max_workers=2)
    hub = ConversationHub(store, settings)  # writes web notices; no channel here: they wait for the visit
    built = senders.build(hub=hub, redis_url=getattr(settings, "redis_url", "") or "")
    try:
        result = await engine.run_once(store, senders=built.by_channel)
        print(json.dumps(result.as_dict(), ensure_ascii=False))
        return 0
    finally:
        await built.close()
        await hub.close()
        store.close()
