"""The web widget's channel: Rasa's socket.io protocol served by the gateway, and the widget files.

Protocol (the one of Rasa's ``socketio`` channel, so ``rasa-webchat`` works unchanged):
- ``session_request`` ``{"session_id": ID}`` → ``session_confirm`` ID (a new id when none or a
  malformed one is given); the socket joins the room ID, so every tab and every reconnect of
  the session gets the replies, and pending replies are delivered right after the confirmation;
- ``user_uttered`` ``{"message", "session_id", "customData" | "metadata", "message_id"?}``; the
  acknowledgement (for clients that ask for one) is ``{"ok", "message_id", "duplicate", "state"}``
  once the message is stored — ``message_id`` is the client's id that makes a resend harmless;
  a refusal is ``{"ok": false, "error", "retry": false}`` (never send it again: too long, empty,
  nothing readable) — ``not_stored`` (a store failure) may be retried;
- ``bot_uttered`` ``{"text", "quick_replies"?: [{"content_type", "title", "payload"}],
  "attachment"?, "metadata": {"message_id", "sender", "created_at", "agent"?}}``.
Our extension: ``history`` ``{"session_id", "after"?: message id}`` acknowledged with
``{"session_id", "messages": [...]}`` (only for the socket's own confirmed session).
"""
from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import uuid
from pathlib import Path
from typing import Any, Optional

import socketio
from aiohttp import web

from bot.config import SETTINGS
from bot.conversations import HUB
from bot.text_safety import clean_text

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
CLIENT_MSG_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
MAX_MESSAGE_CHARS = 2000
MAX_METADATA_CHARS = 2000
CHANNEL = "web"
TOO_LONG_TEXT = f"抱歉，一条消息最多{MAX_MESSAGE_CHARS}个字，请分几次发送。"
UNREADABLE_TEXT = "抱歉，这条消息只含无法识别的字符，没有收到文字内容，请重新输入您的问题。"
HISTORY_FIELDS = ("id", "sender", "agent", "text", "buttons", "attachment", "client_msg_id", "created_at")


def to_socketio(message: dict) -> dict:
    """The hub's outgoing message as Rasa's socketio channel emits it."""
    out: dict[str, Any] = {}
    if message.get("text"):
        out["text"] = message["text"]
    buttons = message.get("buttons") or message.get("quick_replies")
    if buttons:
        out["quick_replies"] = [
            {"content_type": "text", "title": b["title"], "payload": b.get("payload", b["title"])} for b in buttons
        ]
    if message.get("attachment"):
        out["attachment"] = message["attachment"]
    if message.get("custom") is not None:
        out["custom"] = message["custom"]
    if message.get("metadata"):
        out["metadata"] = message["metadata"]
    return out


class WebChannel:
    """ChannelAdapter of the widget: a message goes to the socket.io room of the session.

    With several gateways (Redis), a message is sent by the gateway that holds one of the
    session's sockets, after claiming it in the store (``claims_delivery``, the hub's
    ``_flush_claimed``); a gateway without one leaves it pending and the event relay
    (``bot.event_relay``) tells the others, so the one with the socket delivers it at once and
    exactly once. Its emit to the room reaches the session's sockets on every gateway (socket.io's
    Redis manager)."""

    name = CHANNEL
    claims_delivery = True

    def __init__(self, sio: socketio.AsyncServer, hub, client_secret: str = "") -> None:
        self.sio = sio
        self.hub = hub
        self.client_secret = client_secret.encode("utf-8")

    def client_key(self, sid: str) -> Optional[str]:
        """``web:<hmac of the client's address>``: who is behind a session, for per-client rate
        limits (a new session is free to open; the address is not), without putting the address
        itself into Rasa's tracker. The address is the real client's behind trusted proxies."""
        try:
            environ = self.sio.get_environ(sid) or {}
        except KeyError:
            return None
        request = environ.get("aiohttp.request")
        address = getattr(request, "remote", None) or environ.get("REMOTE_ADDR")
        if not address:
            return None
        return "web:" + hmac.new(self.client_secret, str(address).encode("utf-8"), "sha256").hexdigest()[:24]

    def has_listeners(self, session_id: str) -> bool:
        # Local sockets only: a customer on another gateway gets the message from that gateway,
        # told by the event relay (bot.event_relay).
        room = self.sio.manager.rooms.get("/", {}).get(session_id)
        return bool(room)

    def is_present(self, conversation_id: str) -> bool:
        """Whether a socket of this gateway is in the session's room (the hub does not run the
        queued turns of a customer who has left)."""
        return self.has_listeners(conversation_id)

    async def deliver(self, conversation_id: str, message: dict) -> bool:
        listening = self.has_listeners(conversation_id)
        if listening:
            await self.sio.emit("bot_uttered", to_socketio(message), room=conversation_id)
        return listening


def _new_session_id() -> str:
    return uuid.uuid4().hex


def create_socketio_server(redis_url: str = "") -> socketio.AsyncServer:
    kwargs: dict[str, Any] = {}
    if redis_url:
        kwargs["client_manager"] = socketio.AsyncRedisManager(redis_url)
    return socketio.AsyncServer(
        async_mode="aiohttp",
        cors_allowed_origins="*",  # the widget is embedded in other sites by design
        ping_interval=15,
        ping_timeout=10,
        max_http_buffer_size=64 * 1024,
        **kwargs,
    )


def register_handlers(sio: socketio.AsyncServer, hub, channel: WebChannel) -> None:
    async def confirmed_session(sid: str) -> Optional[str]:
        session = await sio.get_session(sid)
        return session.get("session_id")

    @sio.on("connect")
    async def connect(sid: str, environ: dict, auth: Any = None) -> bool:
        return True

    @sio.on("session_request")
    async def session_request(sid: str, data: Any = None) -> None:
        requested = data.get("session_id") if isinstance(data, dict) else None
        session_id = requested if isinstance(requested, str) and SESSION_ID.match(requested) else None
        if session_id is not None:
            info = await hub.conversation(session_id)
            if info is not None and info["channel"] != CHANNEL:
                session_id = None  # never let a browser read or write another channel's conversation
        session_id = session_id or _new_session_id()
        await sio.save_session(sid, {"session_id": session_id})
        await sio.enter_room(sid, session_id)
        await sio.emit("session_confirm", session_id, room=sid)
        await hub.deliver_pending(session_id)

    @sio.on("user_uttered")
    async def user_uttered(sid: str, data: Any = None) -> dict:
        if not isinstance(data, dict):
            return {"ok": False, "error": "bad_request"}
        session_id = await confirmed_session(sid)
        requested = data.get("session_id")
        if isinstance(requested, str) and SESSION_ID.match(requested) and requested != session_id:
            info = await hub.conversation(requested)
            if info is not None and info["channel"] != CHANNEL:
                return {"ok": False, "error": "bad_session"}
            session_id = requested  # a client that skipped session_request, as Rasa allows
            await sio.save_session(sid, {"session_id": session_id})
            await sio.enter_room(sid, session_id)
        if session_id is None:
            return {"ok": False, "error": "no_session"}
        text = data.get("message")
        if not isinstance(text, str) or not text.strip():
            return {"ok": False, "error": "empty_message", "retry": False}
        # NUL, lone surrogates and control characters cannot be stored: cleaned here; a message
        # of nothing else is refused with an answer (and "retry": False, so the widget stops).
        text = clean_text(text)
        if not text.strip():
            await sio.emit("bot_uttered", {"text": UNREADABLE_TEXT}, room=sid)
            return {"ok": False, "error": "bad_text", "retry": False,
                    "message_id": data.get("message_id") if isinstance(data.get("message_id"), str) else None}
        client_msg_id = data.get("message_id")
        if not (isinstance(client_msg_id, str) and CLIENT_MSG_ID.match(client_msg_id)):
            client_msg_id = None
        if len(text) > MAX_MESSAGE_CHARS:
            await sio.emit("bot_uttered", {"text": TOO_LONG_TEXT}, room=sid)
            return {"ok": False, "error": "too_long", "retry": False, "message_id": client_msg_id}
        metadata = data.get("customData", data.get("metadata"))
        if isinstance(metadata, str):
            try:
                metadata = json.loads(metadata)
            except ValueError:
                metadata = None
        if not isinstance(metadata, dict) or len(json.dumps(metadata, ensure_ascii=False)) > MAX_METADATA_CHARS:
            metadata = None
        # Set by the gateway, never by the browser (a client value is overwritten).
        metadata = {**(metadata or {}), "client": channel.client_key(sid)}

        stored: asyncio.Future = asyncio.get_running_loop().create_future()

        def on_stored(result) -> None:
            if not stored.done():
                stored.set_result(result)

        task = asyncio.ensure_future(
            hub.handle_customer_message(CHANNEL, session_id, text, client_msg_id=client_msg_id,
                                        metadata=metadata, on_stored=on_stored)
        )
        task.add_done_callback(_log_failure)
        # Acknowledge as soon as the message is stored; the answer follows as bot_uttered.
        await asyncio.wait([stored, task], return_when=asyncio.FIRST_COMPLETED)
        if not stored.done():
            return {"ok": False, "error": "not_stored", "message_id": client_msg_id}
        result = stored.result()
        ack = {"ok": True, "message_id": client_msg_id, "id": result.message["id"],
               "duplicate": result.duplicate, "state": result.state}
        if result.refused:
            ack["refused"] = result.refused  # stored and answered, not sent to the bot (flow control)
        return ack

    @sio.on("history")
    async def history(sid: str, data: Any = None) -> dict:
        session_id = await confirmed_session(sid)
        requested = data.get("session_id") if isinstance(data, dict) else None
        if session_id is None or (requested and requested != session_id):
            return {"ok": False, "error": "no_session", "messages": []}
        after = data.get("after") if isinstance(data, dict) else 0
        after = after if isinstance(after, int) and after >= 0 else 0
        messages = await hub.history(session_id, after_id=after, limit=200)
        return {"ok": True, "session_id": session_id,
                "messages": [{k: m.get(k) for k in HISTORY_FIELDS if m.get(k) is not None} for m in messages]}


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("customer message failed", exc_info=task.exception())


async def demo_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def widget_js(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "widget.js", headers={
        "Cache-Control": "no-cache", "Content-Type": "application/javascript; charset=utf-8",
        "Access-Control-Allow-Origin": "*"})


SIO = web.AppKey("sio", socketio.AsyncServer)  # the widget's socket.io server on the gateway's app
WEB_CHANNEL = web.AppKey("web_channel", WebChannel)


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]
    hub = app[HUB]
    sio = create_socketio_server(settings.redis_url)
    channel = WebChannel(sio, hub, settings.session_secret)
    hub.register_channel(channel)
    register_handlers(sio, hub, channel)
    sio.attach(app, socketio_path="socket.io")
    app[SIO] = sio

    async def stop_sockets(app: web.Application) -> None:
        await sio.shutdown()  # disconnects clients and stops engine.io's background tasks
        listener = getattr(sio.manager, "thread", None)  # the Redis manager's pub/sub listener
        if isinstance(listener, asyncio.Task) and not listener.done():
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener

    app.on_shutdown.append(stop_sockets)  # type: ignore[arg-type]  # aiohttp 3.9's signal types predate aiosignal 1.4
    app[WEB_CHANNEL] = channel
    app.router.add_get("/", demo_page)
    app.router.add_get("/widget.js", widget_js)
    app.router.add_static("/static/", STATIC_DIR, name="static")
