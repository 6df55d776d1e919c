"""Privacy duties (PIPL): retention, a customer's access and deletion, the audit log.

- ``policy``: retention periods per kind of data (``privacy.yml``);
- ``retention``: the daily job (claimed per day, so one gateway runs it) and its record;
- ``subject``: everything held about an account or a channel identity, export and erasure;
- ``audit``: who of the staff viewed, exported or deleted whose personal data;
- ``views``: supervisor pages ``/console/privacy`` and ``/console/audit``; ``cli``: the twin.
"""
from __future__ import annotations

import asyncio

from aiohttp import web

from bot.app import START_BACKGROUND
from bot.privacy.policy import RetentionPolicy, load_policy
from bot.store import STORE

POLICY = web.AppKey("privacy_policy", RetentionPolicy)


def setup(app: web.Application) -> None:
    app[POLICY] = load_policy()
    if not app.get(START_BACKGROUND, True):
        return

    async def retention_job(app: web.Application):
        from bot.privacy import retention

        stop = asyncio.Event()
        task = asyncio.create_task(retention.schedule(app[STORE], app[POLICY], stop))
        yield
        stop.set()
        await task

    app.cleanup_ctx.append(retention_job)
