"""WeCom (企业微信) self-built application callbacks at ``/channels/wecom``.

WeCom always encrypts: the URL verification's ``echostr`` and every message body are AES
ciphertexts signed with ``msg_signature`` (token, timestamp, nonce, ciphertext); the
plaintext ends with the receiver id, which must be our corp id. wechatpy checks both.
A forged or missing signature gets 403 before anything is read or stored; so does a
timestamp outside the window or a nonce another request already used (bot/channels/replay.py).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from aiohttp import web
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.enterprise.parser import parse_message
from wechatpy.enterprise.replies import TextReply
from wechatpy.exceptions import InvalidSignatureException

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

PATH = "/channels/wecom"
DEFAULT_API_BASE = "https://qyapi.weixin.qq.com"
REQUIRED = ("WECOM_TOKEN", "WECOM_AES_KEY", "WECOM_CORP_ID", "WECOM_AGENT_ID", "WECOM_SECRET")


@dataclass(frozen=True)
class WeComSettings:
    token: str
    aes_key: str
    corp_id: str
    agent_id: int
    secret: str
    api_base: str
    passive_seconds: float
    timestamp_window: float = 300.0

    @classmethod
    def from_env(cls, environ=os.environ) -> tuple["WeComSettings | None", str]:
        """The settings, or None and the reason the channel is off."""
        missing = [name for name in REQUIRED if not environ.get(name)]
        if missing:
            return None, f"{', '.join(missing)} not set"
        if len(environ["WECOM_AES_KEY"]) != 43:
            return None, "WECOM_AES_KEY must be the 43-character EncodingAESKey"
        try:
            agent_id = int(environ["WECOM_AGENT_ID"])
        except ValueError:
            return None, "WECOM_AGENT_ID must be a number"
        return cls(
            token=environ["WECOM_TOKEN"],
            aes_key=environ["WECOM_AES_KEY"],
            corp_id=environ["WECOM_CORP_ID"],
            agent_id=agent_id,
            secret=environ["WECOM_SECRET"],
            api_base=environ.get("WECOM_API_BASE") or DEFAULT_API_BASE,
            passive_seconds=env_float(environ, "WECOM_PASSIVE_REPLY_SECONDS", 4.0, *PASSIVE_SECONDS_RANGE),
            timestamp_window=window_from_env(environ),
        ), ""


class WeComApi(PlatformApi):
    """Access token (``/cgi-bin/gettoken``), application messages (``/cgi-bin/message/send``) and
    temporary media (``/cgi-bin/media/upload``, the usage chart sent as an image message)."""

    def __init__(self, settings: WeComSettings, redis_url: str = ""):
        super().__init__(settings.api_base, shared=SharedTokens(redis_url) if redis_url else None,
                         shared_key=f"channels:access_token:wecom:{settings.corp_id}:{settings.agent_id}")
        self.settings = settings

    async def fetch_token(self) -> tuple[str, float]:
        answer = await self.call("GET", "/cgi-bin/gettoken", params={
            "corpid": self.settings.corp_id, "corpsecret": self.settings.secret,
        })
        token = answer.get("access_token")
        if answer.get("errcode", 0) != 0 or not token:
            raise PlatformApiError(f"access token refused: errcode {answer.get('errcode')} {answer.get('errmsg', '')}")
        return token, float(answer.get("expires_in") or 7200)

    async def send_text(self, user_id: str, text: str) -> None:
        await self._send(user_id, "text", {"content": text})

    async def send_image(self, user_id: str, png: bytes) -> None:
        """Uploads the picture as temporary media (kept 3 days by WeCom), then sends it by media_id."""
        answer = await self.upload_with_token("/cgi-bin/media/upload", {"type": "image"}, "media", "chart.png",
                                              png, "image/png")
        media_id = answer.get("media_id")
        if not media_id:
            raise PlatformApiError("POST /cgi-bin/media/upload: no media_id")
        await self._send(user_id, "image", {"media_id": media_id})

    async def _send(self, user_id: str, msgtype: str, content: dict) -> None:
        """An application message (``/cgi-bin/message/send``) of ``msgtype`` to one member."""
        answer = await self.call_with_token("/cgi-bin/message/send", {
            "touser": user_id, "msgtype": msgtype, "agentid": self.settings.agent_id, msgtype: content,
        })
        # errcode 0 with the user listed as invalid still means "not delivered".
        if answer.get("invaliduser"):
            raise PlatformApiError(f"message/send: invalid user {answer['invaliduser']}")


class WeComChannel(PlatformChannel):
    name = "wecom"
    prefix = "wecom:"

    def __init__(self, app: web.Application, settings: WeComSettings):
        redis_url = getattr(app.get(SETTINGS), "redis_url", "")
        super().__init__(app, WeComApi(settings, redis_url), settings.passive_seconds)
        self.settings = settings
        self.crypto = WeChatCrypto(settings.token, settings.aes_key, settings.corp_id)
        self.replay = ReplayGuard(app, self.name, settings.timestamp_window)

    async def send_text(self, user_id: str, text: str) -> None:
        await self.api.send_text(user_id, text)

    async def send_image(self, user_id: str, png: bytes) -> None:
        await self.api.send_image(user_id, png)

    def _signature_params(self, request: web.Request) -> tuple[str, str, str]:
        query = request.query
        signature, timestamp, nonce = query.get("msg_signature"), query.get("timestamp"), query.get("nonce")
        if not (signature and timestamp and nonce):
            raise web.HTTPForbidden(text="missing signature")
        self.replay.check_timestamp(timestamp)
        return signature, timestamp, nonce

    async def verify(self, request: web.Request) -> web.Response:
        """URL verification: decrypt ``echostr`` and answer its plaintext."""
        signature, timestamp, nonce = self._signature_params(request)
        echostr = request.query.get("echostr", "")
        try:
            plain = self.crypto.check_signature(signature, timestamp, nonce, echostr)
        except (InvalidSignatureException, InvalidCorpIdException):
            log.warning("wecom: verification with a bad signature or corp id from %s", request.remote)
            raise web.HTTPForbidden(text="invalid signature")
        except Exception:
            raise web.HTTPBadRequest(text="malformed echostr")
        return web.Response(text=plain)

    async def receive(self, request: web.Request) -> web.Response:
        signature, timestamp, nonce = self._signature_params(request)
        body = await request.read()
        try:
            xml = self.crypto.decrypt_message(body, signature, timestamp, nonce)
        except (InvalidSignatureException, InvalidCorpIdException):
            log.warning("wecom: message with a bad signature or corp id from %s", request.remote)
            raise web.HTTPForbidden(text="invalid signature")
        except Exception:  # malformed XML, base64 or padding
            raise web.HTTPBadRequest(text="malformed message")
        # Signed and decrypted: now a replayed request is refused before it is read.
        await self.replay.check(timestamp, nonce, body)
        try:
            message = parse_message(xml)
            raw = message._data if message is not None else None
        except Exception:
            raw = None
        if not isinstance(raw, dict) or not raw.get("FromUserName"):
            raise web.HTTPBadRequest(text="malformed message")
        agent = str(raw.get("AgentID") or "")
        if agent and agent != str(self.settings.agent_id):
            log.warning("wecom: message for agent %s ignored (ours is %s)", agent, self.settings.agent_id)
            return web.Response(text="")

        texts = await self.handle(raw)
        if not texts:
            return web.Response(text="")  # WeCom: an empty answer means "nothing to reply"
        conversation_id = self.conversation_id(raw["FromUserName"])
        content = self.passive_text(conversation_id, texts)
        if not content:
            return web.Response(text="")
        reply = TextReply(message=message, content=content).render()
        return web.Response(text=self.crypto.encrypt_message(reply, nonce, timestamp),
                            content_type="application/xml")


WECOM_CHANNEL = web.AppKey("wecom_channel", WeComChannel)  # on the gateway's app while the channel is on


def setup(app: web.Application, environ=os.environ) -> bool:
    settings, reason = WeComSettings.from_env(environ)
    if settings is None:
        log.info("WeCom channel is off: %s", reason)
        return False
    if HUB not in app:
        log.error("WeCom channel is off: no conversation hub on the app")
        return False
    channel = WeComChannel(app, settings)
    mount_channel(app, channel, PATH, WECOM_CHANNEL)
    log.info("WeCom channel is on at %s, agent %s, API %s", PATH, settings.agent_id, settings.api_base)
    return True
