"""WeChat Official Account (公众号) server messages at ``/channels/wechat``.

Modes, as set in the account's admin page (开发 → 基本配置 → 消息加解密方式):
- plaintext (明文模式): only ``signature`` (token, timestamp, nonce) protects a request;
- compatible (兼容模式) and safe (安全模式): ``encrypt_type=aes`` and ``msg_signature`` come
  with the request, the body carries ``Encrypt``; the gateway decrypts it with
  ``WECHAT_AES_KEY`` and answers encrypted. With ``WECHAT_AES_KEY`` set only such requests
  are taken: the plain ``signature`` does not cover the body, so a plaintext body under a
  captured signature would be anybody's message (set the key after switching the admin page).

The signature is checked on every request, GET and POST; a forged or missing one gets 403
before anything is read or stored; so does a timestamp outside the window or a nonce another
request already used (bot/channels/replay.py). Crypto, signatures and XML are wechatpy's.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from aiohttp import web
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.parser import parse_message
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from bot.channels.common import (
    PASSIVE_SECONDS_RANGE,
    PlatformApi,
    PlatformApiError,
    PlatformChannel,
    SharedTokens,
    env_float,
    mount_channel,
)
from bot.channels.replay import ReplayGuard, window_from_env
from bot.config import SETTINGS
from bot.conversations import HUB

log = logging.getLogger(__name__)

PATH = "/channels/wechat"
DEFAULT_API_BASE = "https://api.weixin.qq.com"


@dataclass(frozen=True)
class WeChatSettings:
    token: str
    appid: str
    appsecret: str
    aes_key: str  # empty: plaintext mode only
    api_base: str
    passive_seconds: float
    timestamp_window: float = 300.0

    @classmethod
    def from_env(cls, environ=os.environ) -> tuple["WeChatSettings | None", str]:
        """The settings, or None and the reason the channel is off."""
        missing = [name for name in ("WECHAT_TOKEN", "WECHAT_APPID", "WECHAT_APPSECRET")
                   if not environ.get(name)]
        if missing:
            return None, f"{', '.join(missing)} not set"
        aes_key = environ.get("WECHAT_AES_KEY", "")
        if aes_key and len(aes_key) != 43:
            return None, "WECHAT_AES_KEY must be the 43-character EncodingAESKey"
        return cls(
            token=environ["WECHAT_TOKEN"],
            appid=environ["WECHAT_APPID"],
            appsecret=environ["WECHAT_APPSECRET"],
            aes_key=aes_key,
            api_base=environ.get("WECHAT_API_BASE") or DEFAULT_API_BASE,
            passive_seconds=env_float(environ, "WECHAT_PASSIVE_REPLY_SECONDS", 4.0, *PASSIVE_SECONDS_RANGE),
            timestamp_window=window_from_env(environ),
        ), ""


class WeChatApi(PlatformApi):
    """Access token (``/cgi-bin/token``) and customer-service messages (客服消息)."""

    def __init__(self, settings: WeChatSettings, redis_url: str = ""):
        super().__init__(settings.api_base, shared=SharedTokens(redis_url) if redis_url else None,
                         shared_key=f"channels:access_token:wechat:{settings.appid}")
        self.settings = settings

    async def fetch_token(self) -> tuple[str, float]:
        answer = await self.call("GET", "/cgi-bin/token", params={
            "grant_type": "client_credential",
            "appid": self.settings.appid,
            "secret": self.settings.appsecret,
        })
        token = answer.get("access_token")
        if not token:
            raise PlatformApiError(f"access token refused: errcode {answer.get('errcode')} {answer.get('errmsg', '')}")
        return token, float(answer.get("expires_in") or 7200)

    async def send_text(self, openid: str, text: str) -> None:
        await self.call_with_token("/cgi-bin/message/custom/send", {
            "touser": openid, "msgtype": "text", "text": {"content": text},
        })

    async def send_image(self, openid: str, png: bytes) -> None:
        """Uploads the picture as temporary media (kept 3 days by the platform), then sends it."""
        answer = await self.upload_with_token("/cgi-bin/media/upload", {"type": "image"}, "media", "chart.png",
                                              png, "image/png")
        media_id = answer.get("media_id")
        if not media_id:
            raise PlatformApiError("POST /cgi-bin/media/upload: no media_id")
        await self.call_with_token("/cgi-bin/message/custom/send", {
            "touser": openid, "msgtype": "image", "image": {"media_id": media_id},
        })


class WeChatChannel(PlatformChannel):
    name = "wechat"
    prefix = "wechat:"

    def __init__(self, app: web.Application, settings: WeChatSettings):
        redis_url = getattr(app.get(SETTINGS), "redis_url", "")
        super().__init__(app, WeChatApi(settings, redis_url), settings.passive_seconds)
        self.settings = settings
        self.crypto = WeChatCrypto(settings.token, settings.aes_key, settings.appid) if settings.aes_key else None
        self.replay = ReplayGuard(app, self.name, settings.timestamp_window)

    async def send_text(self, user_id: str, text: str) -> None:
        await self.api.send_text(user_id, text)

    async def send_image(self, user_id: str, png: bytes) -> None:
        await self.api.send_image(user_id, png)

    def _signed(self, request: web.Request) -> bool:
        query = request.query
        signature, timestamp, nonce = query.get("signature"), query.get("timestamp"), query.get("nonce")
        if not (signature and timestamp and nonce):
            return False
        try:
            check_signature(self.settings.token, signature, timestamp, nonce)
        except InvalidSignatureException:
            return False
        return True

    async def verify(self, request: web.Request) -> web.Response:
        """URL verification (服务器地址验证): echo ``echostr`` when the signature is right."""
        if not self._signed(request):
            log.warning("wechat: verification with a bad signature from %s", request.remote)
            raise web.HTTPForbidden(text="invalid signature")
        self.replay.check_timestamp(request.query.get("timestamp"))
        return web.Response(text=request.query.get("echostr", ""))

    async def receive(self, request: web.Request) -> web.Response:
        if not self._signed(request):
            log.warning("wechat: message with a bad or missing signature from %s", request.remote)
            raise web.HTTPForbidden(text="invalid signature")
        query = request.query
        self.replay.check_timestamp(query.get("timestamp"))
        body = await request.read()
        encrypted = query.get("encrypt_type", "raw").lower() == "aes"
        if self.crypto is not None and not encrypted:
            log.warning("wechat: plaintext message refused in safe mode (WECHAT_AES_KEY is set) from %s",
                        request.remote)
            raise web.HTTPForbidden(text="encrypted message expected")
        if encrypted:
            if self.crypto is None:
                log.error("wechat: an encrypted message came but WECHAT_AES_KEY is not set")
                raise web.HTTPForbidden(text="encryption not configured")
            msg_signature = query.get("msg_signature")
            if not msg_signature:
                raise web.HTTPForbidden(text="missing msg_signature")
            try:
                xml = self.crypto.decrypt_message(body, msg_signature, query["timestamp"], query["nonce"])
            except (InvalidSignatureException, InvalidAppIdException):
                log.warning("wechat: encrypted message with a bad msg_signature or appid from %s", request.remote)
                raise web.HTTPForbidden(text="invalid signature")
            except Exception:  # malformed XML, base64 or padding: the body is not the platform's
                raise web.HTTPBadRequest(text="malformed message")
        else:
            xml = body
        # Signed (and decrypted): now a stale or replayed request is refused before it is read.
        await self.replay.check(query["timestamp"], query["nonce"], body)
        try:
            message = parse_message(xml)
            raw = message._data if message is not None else None
        except Exception:
            raw = None
        if not isinstance(raw, dict) or not raw.get("FromUserName"):
            raise web.HTTPBadRequest(text="malformed message")

        texts = await self.handle(raw)
        if not texts:
            return web.Response(text="success")
        conversation_id = self.conversation_id(raw["FromUserName"])
        content = self.passive_text(conversation_id, texts)
        if not content:
            return web.Response(text="success")
        reply = TextReply(message=message, content=content).render()
        if encrypted:
            assert self.crypto is not None  # an encrypted message without a key was refused above
            reply = self.crypto.encrypt_message(reply, query["nonce"], query["timestamp"])
        return web.Response(text=reply, content_type="application/xml")


WECHAT_CHANNEL = web.AppKey("wechat_channel", WeChatChannel)  # on the gateway's app while the channel is on


def setup(app: web.Application, environ=os.environ) -> bool:
    settings, reason = WeChatSettings.from_env(environ)
    if settings is None:
        log.info("WeChat Official Account channel is off: %s", reason)
        return False
    if HUB not in app:
        log.error("WeChat Official Account channel is off: no conversation hub on the app")
        return False
    channel = WeChatChannel(app, settings)
    mount_channel(app, channel, PATH, WECHAT_CHANNEL)
    mode = "safe/compatible (AES)" if settings.aes_key else "plaintext"
    log.info("WeChat Official Account channel is on at %s, %s mode, API %s", PATH, mode, settings.api_base)
    return True
