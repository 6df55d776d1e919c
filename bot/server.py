"""``python -m bot serve``: the gateway (web widget, staff console, REST API, channel webhooks)."""
from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal

from aiohttp import web

from bot.config import load_settings

log = logging.getLogger(__name__)


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to listen on (default: GATEWAY_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default: GATEWAY_PORT or 8080)")


def run(args: argparse.Namespace) -> int:
    from bot.app import create_app
    from bot.config import InsecureSettings

    settings = load_settings()
    host = args.host or settings.host
    port = args.port or settings.port
    try:
        app = create_app(settings)
    except InsecureSettings as exc:
        log.error("gateway not started: %s", exc)
        return 2
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"

    async def announce(app: web.Application) -> None:
        log.info("gateway listening: web widget demo %s/ · widget script %s/widget.js · "
                 "staff console %s/console/ · REST API %s/api/v1/ · socket.io %s/socket.io/",
                 base, base, base, base, base)

    app.on_startup.append(announce)  # type: ignore[arg-type]  # aiohttp 3.9's signal types predate aiosignal 1.4
    asyncio.run(serve(app, host, port))
    return 0


async def serve(app: web.Application, host: str, port: int) -> None:
    """Runs until SIGINT/SIGTERM, then shuts down and cleans up at once.

    Not ``web.run_app``: in aiohttp 3.9 it waits up to 60 s, before the cleanup handlers
    run, for every task still alive — including the background watchers that those very
    cleanup handlers stop — so a Ctrl-C took a minute.
    """
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        # Everything loaded at start lives as long as the process: keep it out of the cyclic
        # collector's full passes, which otherwise stall the event loop now and then.
        gc.collect()
        gc.freeze()
        await stop.wait()
        log.info("gateway stopping")
    finally:
        await runner.cleanup()


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m bot.server", description=__doc__)
    add_arguments("serve", parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
