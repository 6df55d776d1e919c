"""The gateway's aiohttp application factory.

Each concern registers itself through a ``setup(app)`` function; shared services live on
the app under the keys below so handlers stay thin.
"""
from __future__ import annotations

import logging

from aiohttp import web

from bot import events
from bot.config import SETTINGS, Settings, load_settings
from bot.store import STORE, Store, migrate

log = logging.getLogger(__name__)

# Shared services on the application object, each under a typed ``web.AppKey`` defined beside
# what it holds: ``bot.config.SETTINGS``, ``bot.store.STORE``, ``bot.events.EVENT_BUS`` (every
# live event and its subscribers), ``bot.conversations.HUB``, ``bot.sla.SLA_RULES`` and
# ``bot.sla.AREAS``, ``bot.throttle.THROTTLE``, ``bot.handoff.HANDOFF_SERVICE``...
# False in tests that drive the timers themselves: no concern starts a background task.
START_BACKGROUND = web.AppKey("start_background", bool)


def create_app(settings: Settings | None = None, *, run_migrations: bool = True,
               start_background: bool = True) -> web.Application:
    """Builds the gateway. ``start_background=False`` leaves out timers (tests drive them)."""
    settings = settings or load_settings()
    settings.check_secrets()  # outside development: no public default secrets
    if run_migrations:
        migrate(settings.database_url)
    app = web.Application(client_max_size=2 * 1024 * 1024)
    app[SETTINGS] = settings
    app[STORE] = Store(settings.database_url)
    app[START_BACKGROUND] = start_background

    from bot import api, conversations, web_channel, handoff, console, sla, channels, event_relay, privacy, proxies
    from bot import dashboard, throttle
    from bot.notices import console as notices_console
    from bot.notices import runner as notices_runner

    events.setup(app)  # the event bus: every later concern publishes or subscribes on it
    proxies.setup(app, settings.trusted_proxies)  # first middleware: every later one sees the real client

    throttle.setup(app)  # lock-outs and rate limits (store or Redis), used by the API and the console
    sla.setup(app)
    conversations.setup(app)
    api.setup(app)
    handoff.setup(app)
    web_channel.setup(app)
    console.setup(app)
    dashboard.setup(app)  # supervisors' dashboard on the console
    notices_console.setup(app)  # supervisors' page of proactive notices (settings, figures, ad-hoc)
    privacy.setup(app)
    channels.setup(app)
    notices_runner.setup(app)  # proactive notices (after the channels: it sends through them)
    event_relay.setup(app)  # several gateways: consoles get every gateway's live events (bus <-> Redis)

    async def close_store(app: web.Application) -> None:
        app[STORE].close()

    app.on_cleanup.append(close_store)  # type: ignore[arg-type]  # aiohttp 3.9's signal types predate aiosignal 1.4
    return app
