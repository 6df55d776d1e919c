"""The supervisor's dashboard (``/console/dashboard``) and the service report (``python -m bot report``).

``queries`` computes every figure (one dict: the page, the CSV/Excel downloads and the
command line show the same numbers), ``topics`` finds what complaints are about,
``views`` serves the page and its data, ``report`` writes JSON, CSV and Excel.
"""
from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.app import START_BACKGROUND
from bot.store import STORE

HERE = Path(__file__).resolve().parent
# Route names; bot.console.SUPERVISOR_ROUTES lists them (supervisors only).
ROUTES = ("console-dashboard", "console-dashboard-data", "console-dashboard-download")


def setup(app: web.Application) -> None:
    """Registers the dashboard on the console (call after ``bot.console.setup``)."""
    from bot.console.views import JINJA
    from bot.dashboard import views

    env = aiohttp_jinja2.get_env(app, app_key=JINJA)
    assert env.loader is not None  # the console's templates
    env.loader = jinja2.ChoiceLoader([env.loader, jinja2.FileSystemLoader(str(HERE / "templates"))])
    r = app.router
    r.add_get("/console/dashboard", views.dashboard_page, name="console-dashboard")
    r.add_get("/console/dashboard/data.json", views.dashboard_data, name="console-dashboard-data")
    r.add_get(r"/console/dashboard/report.{fmt:csv|xlsx}", views.dashboard_download,
              name="console-dashboard-download")

    async def warm_topics(app: web.Application) -> None:
        # jieba's dictionaries take seconds to load: not on a supervisor's first request.
        import asyncio

        from bot.dashboard.topics import _pos_tokenizer

        asyncio.get_running_loop().run_in_executor(None, _pos_tokenizer)

    if app.get(START_BACKGROUND, True):
        app.on_startup.append(warm_topics)  # type: ignore[arg-type]  # aiohttp 3.9's signal types predate aiosignal 1.4
        app.cleanup_ctx.append(refresher)


async def refresher(app: web.Application):
    """Stores the figures of past days now and every ``DASHBOARD_REFRESH_SECONDS`` (default 300).

    Every gateway runs it; each day is taken by one of them (bot.dashboard.daily.aggregate_day)."""
    import asyncio
    import logging
    import os

    from bot.dashboard import daily

    every = float(os.environ.get("DASHBOARD_REFRESH_SECONDS", "300"))
    stop = asyncio.Event()
    store = app[STORE]

    async def loop() -> None:
        delay = 5.0  # let start-up finish first
        while True:
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
                return
            except asyncio.TimeoutError:
                pass
            try:
                await store.run(daily.refresh, store)
            except Exception:  # the page reads the rows meanwhile; try again next time
                logging.getLogger(__name__).exception("dashboard: refresh failed")
            delay = every

    task = asyncio.create_task(loop())
    yield
    stop.set()
    await task
