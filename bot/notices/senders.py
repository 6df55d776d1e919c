"""Where a notice goes: one sender per channel, each ``async (Target) -> None`` raising on failure.

- **web** — the notice is written into the binding's conversation as a bot message through the
  conversation hub (``hub.push``, as ticket-status notices are): the widget shows it at once
  if the customer is connected (to this gateway, or to another one, told through the event
  relay: ``bot.event_relay``), else on their next visit (the hub keeps it pending); the
  console sees it live on the event bus like any bot message.
- **wechat** — a template message (``/cgi-bin/message/template/send``): customer-service
  messages only reach users who wrote in the last 48 hours. ``WECHAT_TEMPLATE_NOTICE`` is the
  template id; its fields by default the classic ``first``/``keyword1``/``keyword2``/``remark``,
  or ``WECHAT_TEMPLATE_FIELDS`` (JSON, e.g. ``{"thing1": "title", "time2": "time",
  "thing3": "text"}``; values: title, text, time, account). The token is the WeChat channel's
  (one token per app id: a second fetcher would invalidate the first).
- **wecom** — an application message (``/cgi-bin/message/send``) through the WeCom channel's API.
- **sms** — Tencent Cloud SMS ``SendSms`` (API 3.0, TC3-HMAC-SHA256 signing), for bindings whose
  customer agreed to SMS (the engine checks ``sms_consent``). Settings from the environment:
  ``TENCENTCLOUD_SECRET_ID``, ``TENCENTCLOUD_SECRET_KEY``, ``TENCENT_SMS_SDK_APP_ID``,
  ``TENCENT_SMS_SIGN_NAME``, ``TENCENT_SMS_TEMPLATE_ID`` (a template with two parameters:
  the notice's name and its text), optional ``TENCENT_SMS_REGION`` (ap-guangzhou) and
  ``TENCENT_SMS_ENDPOINT`` (https://sms.tencentcloudapi.com; tests use a loopback fake).
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit

import aiohttp

from bot.channels.common import PlatformApi, PlatformApiError, split_text
from bot.channels.wechat import WECHAT_CHANNEL
from bot.channels.wecom import WECOM_CHANNEL
from bot.conversations import HUB
from bot.notices.engine import CONVERSATION, SendError, Sender, Target
from bot.store.types import SHANGHAI

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- web widget

class WebSender:
    def __init__(self, hub: Any):
        self.hub = hub

    async def __call__(self, target: Target) -> None:
        conversation_id = target.conversation_id or target.channel_user
        message: dict[str, Any] = {"text": target.text}
        if target.payload.get("buttons"):
            message["buttons"] = target.payload["buttons"]
        try:
            await self.hub.push(conversation_id, message, sender="bot")
        except LookupError as exc:
            raise SendError(f"conversation {conversation_id} is unknown") from exc


# ---------------------------------------------------------------- a ticket's own conversation

# Platforms that push a message through their API: it reached the customer only if the API took
# it (else it waits in the conversation). On the web, a stored message is delivered (at once if
# the customer is connected, else at the next visit), as on channels without an adapter.
PUSH_CHANNELS = ("wechat", "wecom")


class ConversationSender:
    """A notice without a binding (a ticket's status) into the conversation it belongs to, on
    that conversation's channel, through the hub. The first try stores the messages (payload
    ``messages``) and delivers them; a WeChat/WeCom API failure leaves them waiting in the
    conversation and raises, and a retry delivers what waits there (never storing them twice)."""

    def __init__(self, hub: Any):
        self.hub = hub

    async def __call__(self, target: Target) -> None:
        conversation_id = target.conversation_id or target.channel_user
        if not conversation_id:
            raise SendError("no conversation to write to")
        if target.attempts == 0:
            messages = target.payload.get("messages") or [{"text": target.text}]
            delivered = True
            for message in messages:
                try:
                    stored = await self.hub.push(conversation_id, message, sender="system")
                except LookupError as exc:
                    raise SendError(f"conversation {conversation_id} is unknown") from exc
                delivered = delivered and bool(stored.get("delivered_at"))
            if delivered or target.channel not in PUSH_CHANNELS:
                return
        else:
            await self.hub.deliver_pending(conversation_id)
        waiting = await self.hub.waiting(conversation_id)
        if waiting is None:
            raise SendError(f"conversation {conversation_id} is unknown")
        if waiting and target.channel in PUSH_CHANNELS:
            raise SendError(f"{target.channel} did not take the message; it waits in the conversation")


# ---------------------------------------------------------------- WeChat template messages

CLASSIC_FIELDS = {"first": "title", "keyword1": "text", "keyword2": "time", "remark": "account"}


def template_fields(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    raw = environ.get("WECHAT_TEMPLATE_FIELDS", "")
    if not raw:
        return dict(CLASSIC_FIELDS)
    try:
        fields = json.loads(raw)
    except ValueError:
        log.warning("WECHAT_TEMPLATE_FIELDS is not JSON; using the classic fields")
        return dict(CLASSIC_FIELDS)
    if not isinstance(fields, dict) or not all(v in ("title", "text", "time", "account") for v in fields.values()):
        log.warning("WECHAT_TEMPLATE_FIELDS must map field names to title/text/time/account; using the classic fields")
        return dict(CLASSIC_FIELDS)
    return {str(k): str(v) for k, v in fields.items()}


def _field_value(name: str, value: str) -> str:
    # New-style template fields ("thing3") take at most 20 characters.
    if name.startswith("thing") and len(value) > 20:
        return value[:19] + "…"
    return value


class WeChatTemplateSender:
    def __init__(self, api: PlatformApi, template_id: str, fields: Optional[dict[str, str]] = None,
                 url: str = ""):
        self.api = api
        self.template_id = template_id
        self.fields = fields or dict(CLASSIC_FIELDS)
        self.url = url

    def body(self, target: Target, now: Optional[datetime] = None) -> dict[str, Any]:
        moment = (now or datetime.now(timezone.utc)).astimezone(SHANGHAI)
        values = {"title": target.title, "text": target.text, "time": moment.strftime("%Y-%m-%d %H:%M"),
                  "account": f"户号尾号{target.account_no[-4:]}"}
        body: dict[str, Any] = {
            "touser": target.channel_user, "template_id": self.template_id,
            "data": {name: {"value": _field_value(name, values[source])} for name, source in self.fields.items()},
        }
        if self.url:
            body["url"] = self.url
        return body

    async def __call__(self, target: Target) -> None:
        try:
            await self.api.call_with_token("/cgi-bin/message/template/send", self.body(target))
        except PlatformApiError as exc:
            raise SendError(str(exc)) from exc


# ---------------------------------------------------------------- WeCom application messages

class WeComSender:
    def __init__(self, api: Any):
        self.api = api  # bot.channels.wecom.WeComApi

    async def __call__(self, target: Target) -> None:
        text = f"【{target.title}】{target.text}"
        try:
            for piece in split_text(text):
                await self.api.send_text(target.channel_user, piece)
        except PlatformApiError as exc:
            raise SendError(str(exc)) from exc


# ---------------------------------------------------------------- Tencent Cloud SMS

@dataclass(frozen=True)
class TencentSmsSettings:
    secret_id: str
    secret_key: str
    sdk_app_id: str
    sign_name: str
    template_id: str
    region: str = "ap-guangzhou"
    endpoint: str = "https://sms.tencentcloudapi.com"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> tuple[Optional["TencentSmsSettings"], str]:
        names = ("TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY", "TENCENT_SMS_SDK_APP_ID",
                 "TENCENT_SMS_SIGN_NAME", "TENCENT_SMS_TEMPLATE_ID")
        missing = [n for n in names if not environ.get(n)]
        if missing:
            return None, f"{', '.join(missing)} not set"
        return cls(secret_id=environ[names[0]], secret_key=environ[names[1]], sdk_app_id=environ[names[2]],
                   sign_name=environ[names[3]], template_id=environ[names[4]],
                   region=environ.get("TENCENT_SMS_REGION") or "ap-guangzhou",
                   endpoint=(environ.get("TENCENT_SMS_ENDPOINT") or "https://sms.tencentcloudapi.com").rstrip("/")), ""


def tc3_authorization(secret_id: str, secret_key: str, service: str, host: str, payload: bytes,
                      timestamp: int, content_type: str = "application/json; charset=utf-8") -> str:
    """The ``Authorization`` header of a Tencent Cloud API 3.0 POST (TC3-HMAC-SHA256)."""
    day = datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d")
    canonical = "\n".join(["POST", "/", "", f"content-type:{content_type}\nhost:{host}\n", "content-type;host",
                           hashlib.sha256(payload).hexdigest()])
    scope = f"{day}/{service}/tc3_request"
    to_sign = "\n".join(["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest()])

    def sign(key: bytes, message: str) -> bytes:
        return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()

    signing = sign(sign(sign(("TC3" + secret_key).encode("utf-8"), day), service), "tc3_request")
    signature = hmac.new(signing, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return (f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders=content-type;host, "
            f"Signature={signature}")


class TencentSmsSender:
    SERVICE = "sms"
    VERSION = "2021-01-11"
    TEXT_LIMIT = 60  # a template parameter is short; the rest of the notice is in the app

    def __init__(self, settings: TencentSmsSettings, timeout_seconds: float = 10.0):
        self.settings = settings
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: Optional[aiohttp.ClientSession] = None

    def request(self, phone: str, target: Target, timestamp: Optional[int] = None) -> tuple[bytes, dict[str, str]]:
        text = target.text if len(target.text) <= self.TEXT_LIMIT else target.text[:self.TEXT_LIMIT - 1] + "…"
        number = phone if phone.startswith("+") else "+86" + phone
        body = json.dumps({"PhoneNumberSet": [number], "SmsSdkAppId": self.settings.sdk_app_id,
                           "SignName": self.settings.sign_name, "TemplateId": self.settings.template_id,
                           "TemplateParamSet": [target.title, text], "SessionContext": str(target.delivery_id)},
                          ensure_ascii=False).encode("utf-8")
        timestamp = int(time.time()) if timestamp is None else timestamp
        host = urlsplit(self.settings.endpoint).netloc
        headers = {
            "Content-Type": "application/json; charset=utf-8", "Host": host,
            "X-TC-Action": "SendSms", "X-TC-Version": self.VERSION, "X-TC-Region": self.settings.region,
            "X-TC-Timestamp": str(timestamp),
            "Authorization": tc3_authorization(self.settings.secret_id, self.settings.secret_key, self.SERVICE,
                                               host, body, timestamp),
        }
        return body, headers

    async def __call__(self, target: Target) -> None:
        body, headers = self.request(target.channel_user, target)
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        try:
            async with self._session.post(self.settings.endpoint + "/", data=body, headers=headers) as resp:
                if resp.status != 200:
                    raise SendError(f"SendSms: HTTP {resp.status}")
                answer = json.loads(await resp.text())
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise SendError(f"SendSms: {type(exc).__name__} {exc}") from exc
        response = answer.get("Response") if isinstance(answer, dict) else None
        if not isinstance(response, dict):
            raise SendError("SendSms: unexpected answer")
        if response.get("Error"):
            error = response["Error"]
            raise SendError(f"SendSms: {error.get('Code')} {error.get('Message', '')}")
        statuses = response.get("SendStatusSet") or []
        if not statuses or any(s.get("Code") != "Ok" for s in statuses):
            codes = ", ".join(f"{s.get('Code')} {s.get('Message', '')}" for s in statuses) or "no status"
            raise SendError(f"SendSms: {codes}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


# ---------------------------------------------------------------- the senders of a gateway or a cron run

@dataclass
class Senders:
    by_channel: dict[str, Sender]
    owned: list[Any]  # what was made here and must be closed

    async def close(self) -> None:
        for thing in self.owned:
            try:
                await thing.close()
            except Exception:  # closing is best effort
                log.exception("notices: closing %r failed", thing)


def build(app: Any = None, *, hub: Any = None, environ: Mapping[str, str] = os.environ,
          redis_url: str = "") -> Senders:
    """The senders of every configured channel: the gateway's hub and channel APIs when ``app``
    is given (their token caches are shared), otherwise their own (``python -m bot notices``)."""
    senders: dict[str, Sender] = {}
    owned: list[Any] = []
    hub = hub if hub is not None else (app.get(HUB) if app is not None else None)
    if hub is not None:
        senders["web"] = WebSender(hub)
        if app is not None:  # a gateway: its hub has the channels a ticket's conversation may be on
            senders[CONVERSATION] = ConversationSender(hub)

    template = environ.get("WECHAT_TEMPLATE_NOTICE", "")
    wechat_channel = app.get(WECHAT_CHANNEL) if app is not None else None
    if template:
        api = getattr(wechat_channel, "api", None)
        if api is None:
            from bot.channels.wechat import WeChatApi, WeChatSettings

            wechat, reason = WeChatSettings.from_env(environ)
            if wechat is not None:
                api = WeChatApi(wechat, redis_url)
                owned.append(api)
            else:
                log.info("notices on WeChat are off: %s", reason)
        if api is not None:
            senders["wechat"] = WeChatTemplateSender(api, template, template_fields(environ),
                                                     environ.get("WECHAT_TEMPLATE_URL", ""))
    else:
        log.info("notices on WeChat are off: WECHAT_TEMPLATE_NOTICE not set")

    wecom_channel = app.get(WECOM_CHANNEL) if app is not None else None
    wecom_api = getattr(wecom_channel, "api", None)
    if wecom_api is None:
        from bot.channels.wecom import WeComApi, WeComSettings

        wecom, _ = WeComSettings.from_env(environ)
        if wecom is not None:
            wecom_api = WeComApi(wecom, redis_url)
            owned.append(wecom_api)
    if wecom_api is not None:
        senders["wecom"] = WeComSender(wecom_api)

    sms, reason = TencentSmsSettings.from_env(environ)
    if sms is not None:
        sender = TencentSmsSender(sms)
        senders["sms"] = sender
        owned.append(sender)
    else:
        log.info("notices by SMS are off: %s", reason)
    return Senders(senders, owned)
