"""Test doubles for the messaging-platform channels.

- ``PlatformCrypto``: the platform's published message encryption (AES-256-CBC, key from
  the 43-character EncodingAESKey, IV = first 16 key bytes, random(16) + length(4, network
  order) + message + receiver id, PKCS#7 to 32 bytes, base64; SHA-1 signature over the
  sorted token, timestamp, nonce and ciphertext), written from the documentation with
  ``cryptography`` alone, so the tests do not check wechatpy with wechatpy.
- ``FakeRasa``: answers ``/webhooks/gateway/webhook`` like Rasa's REST channel.
- ``FakePlatformApi``: the platform's token and customer-service message endpoints.
All of them run on 127.0.0.1 (aiohttp test servers on free ports).
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import secrets
import struct
import time
from typing import Awaitable, Callable
from xml.etree import ElementTree

from aiohttp import web
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def new_aes_key() -> str:
    """A 43-character EncodingAESKey, as the admin page generates it."""
    return base64.b64encode(os.urandom(32)).decode().rstrip("=")


def sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


class PlatformCrypto:
    def __init__(self, token: str, aes_key: str, receiver_id: str):
        self.token = token
        self.key = base64.b64decode(aes_key + "=")
        assert len(self.key) == 32
        self.receiver_id = receiver_id

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, text: str, receiver_id: str | None = None) -> str:
        body = text.encode()
        plain = (os.urandom(16) + struct.pack(">I", len(body)) + body
                 + (receiver_id or self.receiver_id).encode())
        pad = 32 - len(plain) % 32
        plain += bytes([pad]) * pad
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    def decrypt(self, ciphertext: str) -> tuple[str, str]:
        """(message, receiver id) of a ciphertext."""
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(base64.b64decode(ciphertext)) + decryptor.finalize()
        plain = plain[:-plain[-1]]
        length = struct.unpack(">I", plain[16:20])[0]
        return plain[20:20 + length].decode(), plain[20 + length:].decode()

    def signed_query(self, ciphertext: str | None = None, *, timestamp: str | None = None,
                     nonce: str | None = None) -> dict:
        """timestamp, nonce, signature (plain) and, with a ciphertext, msg_signature
        (now and a fresh nonce unless given: a stale or reused one for the replay tests)."""
        timestamp = timestamp or str(int(time.time()))
        nonce = nonce or secrets.token_hex(5)
        query = {"timestamp": timestamp, "nonce": nonce,
                 "signature": sha1_signature(self.token, timestamp, nonce)}
        if ciphertext is not None:
            query["msg_signature"] = sha1_signature(self.token, timestamp, nonce, ciphertext)
        return query

    def open_reply(self, reply_xml: str, query: dict) -> ElementTree.Element:
        """Checks an encrypted passive reply's signature and receiver id; returns its message."""
        outer = ElementTree.fromstring(reply_xml)
        encrypted = outer.findtext("Encrypt")
        timestamp, nonce = outer.findtext("TimeStamp"), outer.findtext("Nonce")
        assert outer.findtext("MsgSignature") == sha1_signature(self.token, timestamp, nonce, encrypted)
        message, receiver = self.decrypt(encrypted)
        assert receiver == self.receiver_id
        return ElementTree.fromstring(message)


def message_xml(fields: dict) -> str:
    parts = []
    for name, value in fields.items():
        if isinstance(value, int):
            parts.append(f"<{name}>{value}</{name}>")
        else:
            parts.append(f"<{name}><![CDATA[{value}]]></{name}>")
    return "<xml>" + "".join(parts) + "</xml>"


def encrypted_envelope(to_user: str, ciphertext: str, agent_id: str | None = None) -> str:
    extra = f"<AgentID><![CDATA[{agent_id}]]></AgentID>" if agent_id is not None else ""
    return (f"<xml><ToUserName><![CDATA[{to_user}]]></ToUserName>"
            f"<Encrypt><![CDATA[{ciphertext}]]></Encrypt>{extra}</xml>")


Responder = Callable[[dict], Awaitable[list] | list]


class FakeRasa:
    """Answers like Rasa's REST channel; ``respond(body)`` decides what it says."""

    def __init__(self, respond: Responder | None = None, delay: float = 0.0):
        self.received: list[dict] = []
        self.authorization: list[str] = []  # the Authorization header of each request
        self.respond = respond or (lambda body: [{"text": f"收到：{body['message']}"}])
        self.delay = delay

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/webhooks/gateway/webhook", self._webhook)
        return app

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append(body)
        self.authorization.append(request.headers.get("Authorization", ""))
        if self.delay:
            await asyncio.sleep(self.delay)
        answer = self.respond(body)
        if asyncio.iscoroutine(answer):
            answer = await answer
        return web.json_response(answer, headers={"X-Rasa-Intent": "test_intent", "X-Rasa-Confidence": "0.9"})


class FakePlatformApi:
    """Token and message endpoints of WeChat (``/cgi-bin/token``, ``message/custom/send``,
    ``message/template/send``) and WeCom (``/cgi-bin/gettoken``, ``message/send``)."""

    def __init__(self, appid: str, secret: str):
        self.appid = appid
        self.secret = secret
        self.token_requests: list[dict] = []
        self.sent: list[dict] = []  # {"path", "access_token", "body"}
        self.valid_tokens: set[str] = set()
        self.reject_next_with: int | None = None  # errcode for the next message call
        self.sent_event = asyncio.Event()
        self.media: dict[str, dict] = {}  # media_id -> {"type", "filename", "content_type", "data"}
        self.refuse_uploads = False
        self.refuse_images = False  # image messages answered "invalid media_id" (the upload itself succeeds)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self._wechat_token)
        app.router.add_get("/cgi-bin/gettoken", self._wecom_token)
        app.router.add_post("/cgi-bin/message/custom/send", self._send)
        app.router.add_post("/cgi-bin/message/send", self._send)
        app.router.add_post("/cgi-bin/message/template/send", self._send)  # WeChat template messages (notices)
        app.router.add_post("/cgi-bin/media/upload", self._upload)  # temporary media (the chart image)
        return app

    async def _upload(self, request: web.Request) -> web.Response:
        if request.query.get("access_token", "") not in self.valid_tokens:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        if self.refuse_uploads:
            return web.json_response({"errcode": 40004, "errmsg": "invalid media type"})
        media_type = request.query.get("type", "")
        form = await request.post()
        part = form.get("media")
        if media_type != "image" or part is None or not hasattr(part, "file"):
            return web.json_response({"errcode": 41005, "errmsg": "media data missing"})
        media_id = "MEDIA-" + secrets.token_hex(8)
        self.media[media_id] = {"type": media_type, "filename": part.filename, "content_type": part.content_type,
                                "data": part.file.read()}
        return web.json_response({"type": media_type, "media_id": media_id, "created_at": int(time.time())})

    def _issue(self) -> dict:
        token = "TOKEN-" + secrets.token_hex(8)
        self.valid_tokens.add(token)
        return {"access_token": token, "expires_in": 7200}

    async def _wechat_token(self, request: web.Request) -> web.Response:
        self.token_requests.append(dict(request.query))
        query = request.query
        if query.get("grant_type") != "client_credential" or query.get("appid") != self.appid \
                or query.get("secret") != self.secret:
            return web.json_response({"errcode": 40013, "errmsg": "invalid appid"})
        return web.json_response(self._issue())

    async def _wecom_token(self, request: web.Request) -> web.Response:
        self.token_requests.append(dict(request.query))
        if request.query.get("corpid") != self.appid or request.query.get("corpsecret") != self.secret:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        return web.json_response({"errcode": 0, "errmsg": "ok", **self._issue()})

    async def _send(self, request: web.Request) -> web.Response:
        token = request.query.get("access_token", "")
        raw = await request.read()
        body = json.loads(raw.decode("utf-8"))
        if self.reject_next_with is not None:
            errcode, self.reject_next_with = self.reject_next_with, None
            self.valid_tokens.discard(token)
            return web.json_response({"errcode": errcode, "errmsg": "access_token expired"})
        if token not in self.valid_tokens:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        if body.get("msgtype") == "image":
            media_id = (body.get("image") or {}).get("media_id")
            if self.refuse_images or media_id not in self.media:
                return web.json_response({"errcode": 40007, "errmsg": "invalid media_id"})
        self.sent.append({"path": request.path, "access_token": token, "body": body, "raw": raw})
        self.sent_event.set()
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def wait_sent(self, count: int, timeout: float = 10.0) -> list[dict]:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.sent) < count:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"expected {count} messages at the fake API, got {len(self.sent)}: {self.sent}")
            self.sent_event.clear()
            try:
                await asyncio.wait_for(self.sent_event.wait(), timeout=remaining)
            except asyncio.TimeoutError:
                pass
        return self.sent
