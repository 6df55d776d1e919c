"""Stale and replayed platform callbacks are refused (WeChat and WeCom).

A callback's signature covers its ``timestamp`` and ``nonce`` (and, encrypted, the
ciphertext), so a captured request stays valid forever unless the receiver refuses:

- a ``timestamp`` further than ``CHANNEL_TIMESTAMP_WINDOW_SECONDS`` (default 300) from now;
- a ``nonce`` already used in that window by a *different* request. The very same request
  again (same timestamp and body) is the platform's own retry: it goes on to the message-id
  dedupe, which answers it without processing it twice.

Nonces are kept in the store (table ``channel_nonces``), so every gateway sees the others'
and a restart forgets nothing; rows older than twice the window are deleted as new ones come.
"""
from __future__ import annotations

import hashlib
import logging
import os
import time
from datetime import timedelta

from aiohttp import web
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from bot.channels.common import env_float
from bot.store import STORE
from bot.store.models import ChannelNonce
from bot.store.types import now_utc

log = logging.getLogger(__name__)

DEFAULT_WINDOW_SECONDS = 300.0
MAX_NONCE_LENGTH = 64
PRUNE_EVERY_SECONDS = 60.0


def window_from_env(environ=os.environ) -> float:
    return env_float(environ, "CHANNEL_TIMESTAMP_WINDOW_SECONDS", DEFAULT_WINDOW_SECONDS, 10.0, 86400.0)


class ReplayGuard:
    def __init__(self, app: web.Application, channel: str, window_seconds: float = DEFAULT_WINDOW_SECONDS):
        self.app = app
        self.channel = channel
        self.window = window_seconds
        self._pruned_at = 0.0

    def check_timestamp(self, timestamp: str | None, now: float | None = None) -> None:
        """403 unless ``timestamp`` (Unix seconds) is within the window of now."""
        try:
            value = int(timestamp or "")
        except ValueError:
            raise web.HTTPForbidden(text="invalid timestamp")
        now = time.time() if now is None else now
        if abs(now - value) > self.window:
            log.warning("%s: request with a timestamp %+d s from now refused", self.channel, value - int(now))
            raise web.HTTPForbidden(text="stale timestamp")

    async def check(self, timestamp: str | None, nonce: str | None, body: bytes) -> None:
        """403 for a stale timestamp or a nonce another request used; records the nonce."""
        self.check_timestamp(timestamp)
        if not nonce or len(nonce) > MAX_NONCE_LENGTH:
            raise web.HTTPForbidden(text="invalid nonce")
        digest = hashlib.sha256(f"{timestamp}\n".encode() + body).hexdigest()
        store = self.app[STORE]
        fresh = await store.run(self._claim, store, nonce, digest)
        if fresh is False:
            log.warning("%s: replayed nonce %r with another request refused", self.channel, nonce)
            raise web.HTTPForbidden(text="replayed nonce")

    def _claim(self, store, nonce: str, digest: str) -> bool | None:
        """True: first use; None: the same request again (a retry); False: a replay."""
        now = now_utc()
        if time.monotonic() - self._pruned_at > PRUNE_EVERY_SECONDS:
            self._pruned_at = time.monotonic()
            with store.session() as session:
                session.execute(delete(ChannelNonce).where(
                    ChannelNonce.seen_at < now - timedelta(seconds=2 * self.window)))
        try:
            with store.session() as session:
                session.add(ChannelNonce(channel=self.channel, nonce=nonce, request_sha256=digest, seen_at=now))
            return True
        except IntegrityError:
            pass
        with store.session() as session:
            seen = session.execute(select(ChannelNonce.request_sha256).where(
                ChannelNonce.channel == self.channel, ChannelNonce.nonce == nonce)).scalar_one_or_none()
        return None if seen == digest else False
