"""In-process gateway (store + hub + web channel only) and a fake Rasa server, both on loopback.

The fake Rasa speaks the ``gateway`` channel's format: POST /webhooks/gateway/webhook with
``{"sender", "message", "metadata"}`` answers a list of bot messages. What it answers is
chosen by the message text, so tests read as conversations:
- ``慢N 文本``: waits N seconds first; ``挂起``: waits longer than the gateway's timeout;
- ``坏了``: HTTP 500; ``沉默``: an empty answer; ``动作失败``: one reply and the header of a
  failed custom action; ``按钮``: a text with two buttons; ``图片``: an image;
- anything else: ``收到：<text>`` (echo), with the intent header ``inform``.
"""
from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import aiohttp
from aiohttp import web

from bot import conversations, web_channel
from bot.config import Settings
from bot.store import Store, migrate
from bot.config import SETTINGS
from bot.conversations import HUB
from bot.store import STORE

# python-engineio 4.15's *client* builds aiohttp.ClientWSTimeout (aiohttp >= 3.10), but Rasa
# pins aiohttp 3.9, whose ws_connect takes the close timeout as a plain float. Test clients
# only: the gateway's server side does not use it.
if not hasattr(aiohttp, "ClientWSTimeout"):
    def _ws_close_timeout(ws_close: float = 10.0, ws_receive: object = None) -> float:
        return ws_close

    aiohttp.ClientWSTimeout = _ws_close_timeout  # type: ignore[attr-defined]


@dataclass
class FakeRasa:
    received: list[dict] = field(default_factory=list)
    runner: Optional[web.AppRunner] = None
    url: str = ""
    hang_seconds: float = 30.0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append(body)
        text: str = body["message"]
        if text.startswith("慢"):
            seconds, _, text = text[1:].partition(" ")
            await asyncio.sleep(float(seconds))
        if text == "挂起":
            await asyncio.sleep(self.hang_seconds)
        if text == "坏了":
            return web.json_response({"error": "failure"}, status=500)
        if text == "沉默":  # Rasa answered nothing (e.g. an action failed before item 1's header)
            return web.json_response([])
        if text == "动作失败":  # what the gateway channel answers when a custom action failed
            return web.json_response([{"recipient_id": body["sender"], "text": "好的，正在查询"}],
                                     headers={"X-Rasa-Action-Failed": "action_query_bill"})
        recipient = body["sender"]
        if text == "按钮":
            answer = [{"recipient_id": recipient, "text": "请选择：",
                       "buttons": [{"title": "查电费", "payload": "/query_bill"},
                                   {"title": "报故障", "payload": "/report_fault"}]}]
        elif text == "图片":
            answer = [{"recipient_id": recipient, "image": "https://example.invalid/map.png"}]
        else:
            answer = [{"recipient_id": recipient, "text": f"收到：{text}"}]
        return web.json_response(answer, headers={"X-Rasa-Intent": "inform", "X-Rasa-Confidence": "0.9100"})

    async def start(self) -> "FakeRasa":
        app = web.Application()
        app.router.add_post("/webhooks/gateway/webhook", self.handle)
        self.runner = web.AppRunner(app, handle_signals=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@dataclass
class MiniGateway:
    """The parts of the gateway the web channel needs, on a temp SQLite store."""

    app: web.Application
    runner: web.AppRunner
    url: str

    @property
    def hub(self) -> conversations.ConversationHub:
        return self.app[HUB]

    @property
    def store(self) -> Store:
        return self.app[STORE]

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_mini_gateway(rasa_url: str, rasa_timeout: float = 3.0,
                             database_url: Optional[str] = None) -> MiniGateway:
    if database_url is None:
        database_url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='webchat-')) / 'store.db'}"
    settings = Settings(database_url=database_url, rasa_url=rasa_url, rasa_timeout=rasa_timeout, redis_url="")
    await asyncio.get_running_loop().run_in_executor(None, migrate, database_url)
    app = web.Application()
    app[SETTINGS] = settings
    app[STORE] = Store(database_url)
    conversations.setup(app)
    web_channel.setup(app)

    async def close_store(app: web.Application) -> None:
        app[STORE].close()

    app.on_cleanup.append(close_store)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return MiniGateway(app=app, runner=runner, url=f"http://127.0.0.1:{port}")
