"""What the messaging-platform channels (WeChat Official Account, WeCom) share.

- ``NumberedOptions``: platforms without buttons get "回复数字选择：1. … 2. …" and a numeric
  answer is mapped back to the button's payload.
- ``PassiveReplies``: the platform waits at most 5 seconds for the HTTP answer; replies the
  bot produces inside the window go into that answer, later ones through the API.
- ``RecentIds``: the platform retries a message it got no answer for; a retry is ignored.
- ``AccessToken`` / ``PlatformApi``: the customer-service message API with a cached,
  refreshed access token, timeouts and status/errcode checks.
- ``PlatformChannel``: the flow common to both channels (dedupe, options, hub hand-over,
  passive reply window), implementing the hub's ``ChannelAdapter`` interface.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import aiohttp
from aiohttp import web

# One limit and one answer for every channel: the web widget refuses the same way.
from bot.conversations import HUB
from bot.web_channel import MAX_MESSAGE_CHARS, TOO_LONG_TEXT

log = logging.getLogger(__name__)

# Customer-facing texts (simplified Chinese).
# The numbered options and their "回复数字选择：" line are added by ``NumberedOptions.render``.
GREETING = (
    "您好，欢迎关注供电服务！我是24小时智能客服，可以帮您查电费、报故障、查停电、办业务。"
    "请直接描述您的问题，或选择下面的服务。"
)
GREETING_OPTIONS = [
    {"title": "查电费", "payload": "/query_bill"},
    {"title": "故障报修", "payload": "/report_fault"},
    {"title": "停电查询", "payload": "/query_outage"},
    {"title": "业务办理", "payload": "/apply_service"},
    {"title": "转人工客服", "payload": "/request_human"},
]
UNSUPPORTED_MESSAGE = (
    "抱歉，我暂时还看不懂图片、视频和文件，请用文字描述您的问题；"
    "如需人工帮助，请回复“转人工”。"
)
UNSUPPORTED_LABELS = {"image": "[图片]", "video": "[视频]", "shortvideo": "[小视频]", "location": "[位置]",
                      "link": "[链接]", "file": "[文件]", "voice": "[语音]"}
UNRECOGNISED_VOICE = "抱歉，没有听清您的语音，请再说一遍，或直接输入文字。"
OPTIONS_PROMPT = "回复数字选择："

# The platform gives up on a request after 5 s (and retries): answer well before that.
PASSIVE_SECONDS_RANGE = (0.1, 4.5)
# Byte limit of one text message on both platforms is 2048; stay below it.
MAX_TEXT_BYTES = 2000
# errcodes meaning "the access token is invalid or expired": fetch a new one and retry once.
TOKEN_ERRCODES = {40001, 40014, 42001}


def env_float(environ, name: str, default: float, low: float | None = None, high: float | None = None) -> float:
    value = environ.get(name)
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except ValueError:
        log.warning("%s=%r is not a number; using %s", name, value, default)
        return default
    if (low is not None and number < low) or (high is not None and number > high):
        log.warning("%s=%s is outside %s..%s; using %s", name, value, low, high, default)
        return default
    return number


# --- numbered options -----------------------------------------------------------------------

def _as_number(text: str) -> int | None:
    # NFKC turns full-width digits (１２) into ASCII ones; a trailing 。/. is tolerated.
    cleaned = unicodedata.normalize("NFKC", text or "").strip().rstrip("。.、")
    if cleaned.isdigit() and len(cleaned) <= 2:
        return int(cleaned)
    return None


class NumberedOptions:
    """The options last offered to each conversation (memory, bounded, expiring).

    Options are kept until the customer's next message: a number within range picks one,
    anything else just passes through (and the options are forgotten).
    """

    def __init__(self, ttl_seconds: float = 3600.0, max_conversations: int = 10000):
        self.ttl = ttl_seconds
        self.max_conversations = max_conversations
        self._offered: OrderedDict[str, tuple[float, list[dict]]] = OrderedDict()

    def offer(self, conversation_id: str, buttons: list[dict]) -> None:
        self._offered[conversation_id] = (time.monotonic(), list(buttons))
        self._offered.move_to_end(conversation_id)
        while len(self._offered) > self.max_conversations:
            self._offered.popitem(last=False)

    def offered(self, conversation_id: str) -> list[dict]:
        entry = self._offered.get(conversation_id)
        if not entry or time.monotonic() - entry[0] > self.ttl:
            return []
        return entry[1]

    def take(self, conversation_id: str) -> list[dict]:
        """The options on offer, forgotten: they answer one customer message only."""
        options = self.offered(conversation_id)
        self._offered.pop(conversation_id, None)
        return options

    def resolve(self, conversation_id: str, text: str, options: list[dict] | None = None) -> str:
        """The payload of the chosen option, or the text itself."""
        if options is None:
            options = self.take(conversation_id)
        number = _as_number(text)
        if options and number is not None and 1 <= number <= len(options):
            option = options[number - 1]
            return option.get("payload") or option.get("title") or text
        return text

    @staticmethod
    def is_number(text: str) -> bool:
        return _as_number(text) is not None

    def render(self, conversation_id: str, message: dict) -> str:
        """Text of a hub message with its buttons as numbered options (and remembers them)."""
        text = (message.get("text") or "").strip()
        buttons = [b for b in (message.get("buttons") or message.get("quick_replies") or [])
                   if isinstance(b, dict) and (b.get("title") or b.get("payload"))]
        attachment = message.get("attachment")
        if attachment and not text:
            text = _attachment_text(attachment)
        if buttons:
            self.offer(conversation_id, buttons)
            lines = [f"{i}. {b.get('title') or b.get('payload')}" for i, b in enumerate(buttons, 1)]
            text = (text + "\n\n" if text else "") + OPTIONS_PROMPT + "\n" + "\n".join(lines)
        agent = (message.get("metadata") or {}).get("agent")
        if agent and text:
            text = f"【人工客服 {agent}】{text}"
        return text


def _attachment_text(attachment: Any) -> str:
    if isinstance(attachment, dict):
        raw = attachment.get("payload")
        payload: dict = raw if isinstance(raw, dict) else {}
        url = payload.get("src") or attachment.get("url")
        title = payload.get("title")
        if url and isinstance(title, str) and title.strip():
            # An image (the usage chart) as a link message: its title, then the link to open.
            return f"{title.strip()}，点击查看：{url}"
        if url:
            return f"请查看：{url}"
    if isinstance(attachment, str) and attachment.startswith("http"):
        return f"请查看：{attachment}"
    return ""


def split_text(text: str, limit: int = MAX_TEXT_BYTES) -> list[str]:
    """Cuts a text into pieces of at most ``limit`` UTF-8 bytes, preferring line breaks."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = line if not current else current + "\n" + line
        if len(candidate.encode("utf-8")) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        current = ""
        for char in line:  # a single over-long line: cut between characters
            if len((current + char).encode("utf-8")) > limit:
                pieces.append(current)
                current = ""
            current += char
    if current:
        pieces.append(current)
    return pieces


# --- retries and passive reply window -------------------------------------------------------

class RecentIds:
    """Ids of messages taken in the last ``ttl`` seconds (the platform retries within ~15 s)."""

    def __init__(self, ttl_seconds: float = 600.0, max_ids: int = 50000):
        self.ttl = ttl_seconds
        self.max_ids = max_ids
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_time(self, key: str) -> bool:
        """True the first time ``key`` is seen (check and record in one step: no await between)."""
        now = time.monotonic()
        while self._seen:
            oldest_key, seen_at = next(iter(self._seen.items()))
            if now - seen_at <= self.ttl and len(self._seen) < self.max_ids:
                break
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True


@dataclass
class _Window:
    conversation_id: str
    texts: list[str] = field(default_factory=list)
    open: bool = True


class PassiveReplies:
    """Collects what the bot says to a conversation while its HTTP request is still open."""

    def __init__(self) -> None:
        self._windows: dict[str, list[_Window]] = {}

    def open(self, conversation_id: str) -> _Window:
        window = _Window(conversation_id)
        self._windows.setdefault(conversation_id, []).append(window)
        return window

    def offer(self, conversation_id: str, text: str) -> bool:
        """Takes ``text`` into the conversation's open window, if there is one."""
        for window in self._windows.get(conversation_id, []):
            if window.open:
                window.texts.append(text)
                return True
        return False

    def close(self, window: _Window) -> list[str]:
        window.open = False
        windows = self._windows.get(window.conversation_id, [])
        if window in windows:
            windows.remove(window)
        if not windows:
            self._windows.pop(window.conversation_id, None)
        return window.texts


# --- platform API ---------------------------------------------------------------------------

class PlatformApiError(RuntimeError):
    pass


class SharedTokens:
    """Access tokens kept in Redis, so several gateways use one token.

    On WeChat each fetch retires the previous token a few minutes later: gateways that
    fetched their own would keep invalidating each other. Redis trouble is logged and the
    gateway falls back to its own token.
    """

    def __init__(self, url: str):
        import redis.asyncio as aioredis

        self.redis = aioredis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    async def get(self, key: str) -> tuple[str, float] | None:
        try:
            token, ttl_ms = await asyncio.gather(self.redis.get(key), self.redis.pttl(key))
        except Exception as exc:  # noqa: BLE001 - any Redis failure: use a local token
            log.warning("shared access token unavailable (%s): using this gateway's own", exc)
            return None
        if not token or ttl_ms is None or ttl_ms <= 0:
            return None
        return token.decode(), ttl_ms / 1000.0

    async def set(self, key: str, token: str, ttl_seconds: float) -> None:
        try:
            await self.redis.set(key, token, px=max(1000, int(ttl_seconds * 1000)))
        except Exception as exc:  # noqa: BLE001
            log.warning("could not share the access token (%s)", exc)

    async def close(self) -> None:
        await self.redis.close()


class AccessToken:
    """An access token fetched on first use, kept until shortly before it expires.

    One fetch at a time (a lock), so a burst of messages does not fetch many tokens; with
    ``shared`` (Redis) one token serves every gateway.
    """

    def __init__(self, fetch: Callable[[], Awaitable[tuple[str, float]]], margin_seconds: float = 300.0,
                 shared: SharedTokens | None = None, shared_key: str = ""):
        self._fetch = fetch
        self._margin = margin_seconds
        self._shared = shared
        self._shared_key = shared_key
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.fetch_count = 0

    def _keep(self, token: str, lifetime: float) -> str:
        self._token = token
        self._expires_at = time.monotonic() + lifetime
        return token

    async def get(self, *, refresh: bool = False, stale: str | None = None) -> str:
        """The token; ``refresh=True`` with the ``stale`` token the platform refused."""
        async with self._lock:
            valid = self._token is not None and time.monotonic() < self._expires_at
            # Another caller may have refreshed it while we waited for the lock.
            if valid and (not refresh or self._token != stale):
                assert self._token is not None  # valid says so
                return self._token
            if self._shared is not None:
                shared = await self._shared.get(self._shared_key)
                if shared is not None and shared[0] != stale:
                    return self._keep(*shared)
            token, expires_in = await self._fetch()
            self.fetch_count += 1
            lifetime = max(60.0, expires_in - self._margin)
            if self._shared is not None:
                await self._shared.set(self._shared_key, token, lifetime)
            return self._keep(token, lifetime)


class PlatformApi:
    """A JSON API of the platform (``errcode`` 0 means success), with a token cache."""

    def __init__(self, base_url: str, timeout_seconds: float = 10.0, shared: SharedTokens | None = None,
                 shared_key: str = ""):
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None
        self._shared = shared
        self.token = AccessToken(self.fetch_token, shared=shared, shared_key=shared_key)

    async def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._shared is not None:
            await self._shared.close()

    async def fetch_token(self) -> tuple[str, float]:  # pragma: no cover - per platform
        raise NotImplementedError

    async def call(self, method: str, path: str, *, params: dict | None = None,
                   body: dict | None = None, form: aiohttp.FormData | None = None) -> dict:
        """One API request: a JSON ``body`` or a multipart ``form``; the JSON answer, or PlatformApiError."""
        session = await self.session()
        data: Any = form
        headers = {}
        if body is not None:
            # The platform shows \\u escapes literally: send UTF-8 text, not ASCII escapes.
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"
        url = self.base_url + path
        try:
            async with session.request(method, url, params=params, data=data, headers=headers) as resp:
                if resp.status != 200:
                    raise PlatformApiError(f"{method} {path}: HTTP {resp.status}")
                try:
                    answer = json.loads(await resp.text())
                except ValueError as exc:
                    raise PlatformApiError(f"{method} {path}: answer is not JSON") from exc
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise PlatformApiError(f"{method} {path}: {type(exc).__name__} {exc}") from exc
        if not isinstance(answer, dict):
            raise PlatformApiError(f"{method} {path}: unexpected answer")
        return answer

    async def _post_with_token(self, path: str, params: dict, body: dict | None = None,
                               file: tuple | None = None) -> dict:
        """POSTs with the cached token; on an invalid-token errcode refreshes it once. ``file`` is
        (field, filename, data, content_type), sent as a multipart form (built anew per attempt)."""
        token = await self.token.get()
        for attempt in range(2):
            form = None
            if file is not None:
                field, filename, data, content_type = file
                form = aiohttp.FormData()
                form.add_field(field, data, filename=filename, content_type=content_type)
            answer = await self.call("POST", path, params={**params, "access_token": token}, body=body, form=form)
            if attempt or answer.get("errcode") not in TOKEN_ERRCODES:
                break
            log.info("%s: access token rejected (errcode %s), fetching a new one", path, answer.get("errcode"))
            token = await self.token.get(refresh=True, stale=token)
        errcode = answer.get("errcode", 0)
        if errcode != 0:
            raise PlatformApiError(f"POST {path}: errcode {errcode} {answer.get('errmsg', '')}")
        return answer

    async def call_with_token(self, path: str, body: dict) -> dict:
        """POSTs ``body`` with the cached token, as ``_post_with_token``."""
        return await self._post_with_token(path, {}, body=body)

    async def upload_with_token(self, path: str, params: dict, field: str, filename: str, data: bytes,
                                content_type: str) -> dict:
        """POSTs a file (multipart ``field``) with the cached token, as ``_post_with_token``."""
        return await self._post_with_token(path, params, file=(field, filename, data, content_type))

    async def send_text(self, user_id: str, text: str) -> None:  # pragma: no cover - per platform
        raise NotImplementedError

    async def send_image(self, user_id: str, png: bytes) -> None:
        """An image message, on platforms whose API the channel uses for pictures."""
        raise NotImplementedError


# --- the shared channel flow ----------------------------------------------------------------

class PlatformChannel:
    """A messaging platform as a ``ChannelAdapter`` of the conversation hub.

    Subclasses set ``name`` and ``prefix`` and implement ``send_text(user_id, text)``.
    """

    name = "platform"
    prefix = "platform:"

    def __init__(self, app: web.Application, api: PlatformApi, passive_seconds: float = 4.0):
        self.app = app
        self.api = api
        self.passive_seconds = passive_seconds
        self.options = NumberedOptions()
        self.recent = RecentIds()
        self.passive = PassiveReplies()
        self._tasks: set[asyncio.Task] = set()

    # ChannelAdapter ---------------------------------------------------------------------
    async def deliver(self, conversation_id: str, message: dict) -> bool:
        if message.get("attachment") and conversation_id.startswith(self.prefix):
            png = await self._own_image(message["attachment"])
            if png is not None:
                try:
                    await self.send_image(conversation_id[len(self.prefix):], png)
                except (PlatformApiError, NotImplementedError) as exc:
                    log.warning("%s: image to %s not sent as an image (%s), sent as a link", self.name,
                                conversation_id, exc or type(exc).__name__)
                else:
                    message = {k: v for k, v in message.items() if k != "attachment"}
        text = self.options.render(conversation_id, message)
        if not text:
            return True  # nothing a text-only platform can show
        if self.passive.offer(conversation_id, text):
            return True
        if not conversation_id.startswith(self.prefix):
            log.warning("%s: cannot deliver to %s (not a %s conversation)", self.name, conversation_id, self.name)
            return False
        user_id = conversation_id[len(self.prefix):]
        try:
            for piece in split_text(text):
                await self.send_text(user_id, piece)
        except PlatformApiError as exc:
            log.warning("%s: delivery to %s failed, left pending: %s", self.name, conversation_id, exc)
            return False
        return True

    async def send_text(self, user_id: str, text: str) -> None:  # pragma: no cover - per platform
        raise NotImplementedError

    async def send_image(self, user_id: str, png: bytes) -> None:
        """An image message (platforms that can: upload, then send); else the image goes as a link."""
        raise NotImplementedError

    async def _own_image(self, attachment: Any) -> bytes | None:
        """The PNG of an image attachment this gateway serves itself (the usage chart, while its
        link is valid), drawn here instead of fetched; None for anything else."""
        if not isinstance(attachment, dict) or attachment.get("type") != "image":
            return None
        payload = attachment.get("payload")
        src = payload.get("src") if isinstance(payload, dict) else None
        if not isinstance(src, str):
            return None
        from bot.api.notices import chart_png  # the gateway's own charts (bot.api imports no channel)

        try:
            return await chart_png(self.app, src)
        except Exception:  # a picture that cannot be drawn goes as its link
            log.exception("%s: drawing the image %s failed", self.name, src[:60])
            return None

    async def verify(self, request: web.Request) -> web.Response:  # pragma: no cover - per platform
        """The webhook's GET: the platform's URL verification."""
        raise NotImplementedError

    async def receive(self, request: web.Request) -> web.Response:  # pragma: no cover - per platform
        """The webhook's POST: a message from the platform."""
        raise NotImplementedError

    # inbound ----------------------------------------------------------------------------
    def conversation_id(self, user_id: str) -> str:
        return self.prefix + user_id

    async def take_customer_text(self, conversation_id: str, text: str, client_msg_id: str) -> list[str]:
        """Hands a customer's text to the hub; returns what to answer passively (maybe nothing).

        Waits up to ``passive_seconds`` for the bot; whatever it says later goes through
        the customer-service API (``deliver`` finds the window closed).
        """
        if not self.recent.first_time(f"{conversation_id}|{client_msg_id}"):
            log.info("%s: retry of %s ignored", self.name, client_msg_id)
            return []
        if len(text) > MAX_MESSAGE_CHARS:
            # Not cut silently (the end of a complaint may be what matters): the customer is told.
            log.info("%s: message %s of %s refused: %d characters", self.name, client_msg_id, conversation_id, len(text))
            return [TOO_LONG_TEXT]
        text = await self._resolve_option(conversation_id, text)
        window = self.passive.open(conversation_id)
        task = self._spawn(self._hand_to_hub(conversation_id, text, client_msg_id))
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=self.passive_seconds)
        except asyncio.TimeoutError:
            log.info("%s: bot slower than %.1fs for %s, replying through the API",
                     self.name, self.passive_seconds, conversation_id)
        return self.passive.close(window)

    async def handle(self, raw: dict) -> list[str]:
        """What to answer passively to one platform message (same XML fields on both platforms)."""
        user_id = raw["FromUserName"]
        conversation_id = self.conversation_id(user_id)
        msg_type = str(raw.get("MsgType", "")).lower()
        event_id = f"{user_id}:{raw.get('CreateTime', '')}"
        msg_id = str(raw.get("MsgId") or event_id)
        if msg_type == "text":
            return await self.take_customer_text(conversation_id, str(raw.get("Content") or ""), msg_id)
        if msg_type == "voice":
            recognition = str(raw.get("Recognition") or "").strip()
            if recognition:
                return await self.take_customer_text(conversation_id, recognition, msg_id)
            return await self.take_unsupported(conversation_id, msg_type, raw, msg_id, answer=UNRECOGNISED_VOICE)
        if msg_type == "event":
            event = str(raw.get("Event", "")).lower()
            if event == "subscribe":
                if not self.recent.first_time(f"{conversation_id}|{event_id}"):
                    return []
                return [self.answer_now(conversation_id, {"text": GREETING, "buttons": GREETING_OPTIONS})]
            if event == "click" and raw.get("EventKey"):
                # A menu button: its key is a Rasa payload ("/query_bill") or plain text.
                return await self.take_customer_text(conversation_id, str(raw["EventKey"]), event_id)
            return []  # unsubscribe, enter_agent, VIEW, LOCATION...: nothing to say
        return await self.take_unsupported(conversation_id, msg_type, raw, msg_id)

    async def take_unsupported(self, conversation_id: str, msg_type: str, raw: dict, msg_id: str,
                               answer: str = UNSUPPORTED_MESSAGE) -> list[str]:
        """Images, video, files, locations: the bot cannot read them, a person can.

        While staff serve the conversation the message goes to them as a short text
        (with the picture's URL or the place); otherwise the customer gets a polite answer.
        """
        try:
            info = await self.app[HUB].conversation(conversation_id)
        except Exception:
            log.exception("%s: could not read conversation %s", self.name, conversation_id)
            info = None
        if info and info.get("state") in ("waiting", "human"):
            label = UNSUPPORTED_LABELS.get(msg_type, "[其他消息]")
            detail = raw.get("PicUrl") or raw.get("Label") or raw.get("Url") or raw.get("Title") or ""
            return await self.take_customer_text(conversation_id, f"{label} {detail}".strip(), msg_id)
        if not self.recent.first_time(f"{conversation_id}|{msg_id}"):
            return []
        return [answer]

    async def _resolve_option(self, conversation_id: str, text: str) -> str:
        options = self.options.take(conversation_id)
        if not options and self.options.is_number(text):
            # Another gateway (or this one before a restart) may have offered them: the
            # store has the bot's messages since the customer's last one.
            options = await self._options_from_store(conversation_id)
        return self.options.resolve(conversation_id, text, options)

    async def _options_from_store(self, conversation_id: str) -> list[dict]:
        try:
            history = await self.app[HUB].history(conversation_id, limit=20)
        except Exception:  # the options are a convenience: without them the digit goes as text
            log.exception("%s: could not read the history of %s", self.name, conversation_id)
            return []
        for message in reversed(history):
            if message.get("sender") == "customer":
                break
            buttons = message.get("buttons") or message.get("quick_replies")
            if buttons:
                return list(buttons)
        return []

    async def _hand_to_hub(self, conversation_id: str, text: str, client_msg_id: str) -> None:
        try:
            await self.app[HUB].handle_customer_message(
                self.name, conversation_id, text, client_msg_id=client_msg_id)
        except Exception:
            # Logged, not raised: the platform gets its answer regardless.
            log.exception("%s: handling message %s of %s failed", self.name, client_msg_id, conversation_id)

    def answer_now(self, conversation_id: str, message: dict) -> str:
        """Text of a fixed answer (greeting, unsupported type) for the passive reply."""
        return self.options.render(conversation_id, message)

    def passive_text(self, conversation_id: str, texts: list[str]) -> str:
        """One passive reply from several texts; what does not fit goes through the API."""
        pieces = split_text(joined(texts))
        if len(pieces) > 1:
            self._spawn(self._send_rest(conversation_id, pieces[1:]))
        return pieces[0] if pieces else ""

    async def _send_rest(self, conversation_id: str, pieces: list[str]) -> None:
        user_id = conversation_id[len(self.prefix):]
        try:
            for piece in pieces:
                await self.send_text(user_id, piece)
        except PlatformApiError as exc:
            log.warning("%s: rest of a long reply to %s not sent: %s", self.name, conversation_id, exc)

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.api.close()


def joined(texts: list[str]) -> str:
    """Several bot messages in one passive reply (the platform takes one reply per request)."""
    return "\n\n".join(t for t in texts if t)


def mount_channel(app: web.Application, channel: "PlatformChannel", path: str, app_key: web.AppKey) -> None:
    """Registers a platform channel with the hub, routes its webhook and closes it on clean-up."""
    app[HUB].register_channel(channel)
    app[app_key] = channel
    app.router.add_get(path, channel.verify)
    app.router.add_post(path, channel.receive)

    async def close(_app: web.Application) -> None:
        await channel.close()

    app.on_cleanup.append(close)  # type: ignore[arg-type]  # aiohttp 3.9's signal types predate aiosignal 1.4
