"""Failure counters and rate limits that survive a restart and are shared by every gateway.

A ``Limit`` is a scope, a number and a window: "at most 5 failed log-ins per username in 10
minutes". ``record(limit, key, member)`` notes one event for a key; ``over(limit, key)`` is true
once the key has ``limit.limit`` distinct members within the last ``limit.window`` seconds
(``member`` defaults to a fresh id, so every event counts; giving e.g. the account number makes
the same account looked up twice count once); ``reset`` forgets the key.

Two backends with the same behaviour:
- ``SqlThrottle``: the table ``throttle_hits`` in the store (SQLite or PostgreSQL), the default;
- ``RedisThrottle``: a sorted set per key in Redis, used when ``REDIS_URL`` is set (the
  gateways already share Redis then).
Old rows and members are dropped as new ones come, so nothing outlives its longest window by much.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web
from sqlalchemy import delete, func, select

from bot.config import SETTINGS
from bot.store import STORE
from bot.store.models import ThrottleHit
from bot.store.types import now_utc

log = logging.getLogger(__name__)

MAX_KEY_LENGTH = 160
KEEP_SECONDS = 86400.0  # nothing is kept longer than a day, whatever the window
PRUNE_EVERY_SECONDS = 60.0


@dataclass(frozen=True)
class Limit:
    scope: str
    limit: int
    window: float  # seconds

    @property
    def minutes(self) -> int:
        return max(1, round(self.window / 60))


def _key(key: str) -> str:
    return str(key)[:MAX_KEY_LENGTH]


def _member(member: str | None) -> str:
    return str(member)[:64] if member is not None else uuid.uuid4().hex


class SqlThrottle:
    def __init__(self, store) -> None:
        self.store = store
        self._pruned_at = 0.0

    # blocking parts, run in the store's threads
    def _count(self, limit: Limit, key: str) -> int:
        since = now_utc() - timedelta(seconds=limit.window)
        with self.store.session() as session:
            return int(session.execute(
                select(func.count(func.distinct(ThrottleHit.member))).where(
                    ThrottleHit.scope == limit.scope, ThrottleHit.key == _key(key), ThrottleHit.at > since)
            ).scalar_one())

    def _record(self, limit: Limit, key: str, member: str) -> None:
        now = now_utc()
        with self.store.session() as session:
            session.add(ThrottleHit(scope=limit.scope, key=_key(key), member=member, at=now))
            session.execute(delete(ThrottleHit).where(
                ThrottleHit.scope == limit.scope, ThrottleHit.key == _key(key),
                ThrottleHit.at < now - timedelta(seconds=limit.window)))
            if time.monotonic() - self._pruned_at > PRUNE_EVERY_SECONDS:
                self._pruned_at = time.monotonic()
                session.execute(delete(ThrottleHit).where(ThrottleHit.at < now - timedelta(seconds=KEEP_SECONDS)))

    def _seen(self, limit: Limit, key: str, member: str) -> bool:
        since = now_utc() - timedelta(seconds=limit.window)
        with self.store.session() as session:
            return session.execute(select(ThrottleHit.id).where(
                ThrottleHit.scope == limit.scope, ThrottleHit.key == _key(key),
                ThrottleHit.member == _member(member), ThrottleHit.at > since).limit(1)).first() is not None

    def _reset(self, limit: Limit, key: str) -> None:
        with self.store.session() as session:
            session.execute(delete(ThrottleHit).where(ThrottleHit.scope == limit.scope,
                                                      ThrottleHit.key == _key(key)))

    async def count(self, limit: Limit, key: str) -> int:
        return await self.store.run(self._count, limit, key)

    async def record(self, limit: Limit, key: str, member: str | None = None) -> None:
        await self.store.run(self._record, limit, key, _member(member))

    async def seen(self, limit: Limit, key: str, member: str) -> bool:
        """Whether ``member`` is already counted for ``key`` within the window."""
        return await self.store.run(self._seen, limit, key, member)

    async def reset(self, limit: Limit, key: str) -> None:
        await self.store.run(self._reset, limit, key)

    async def over(self, limit: Limit, key: str) -> bool:
        return await self.count(limit, key) >= limit.limit

    async def close(self) -> None:
        pass


class RedisThrottle:
    """Sorted sets in Redis; while Redis cannot be reached, the store counts instead (``fallback``),
    so a Redis outage neither opens the door to guessing nor locks everybody out."""

    def __init__(self, redis_url: str, fallback: SqlThrottle | None = None) -> None:
        import redis.asyncio as redis

        self.redis = redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
        self.fallback = fallback

    @staticmethod
    def _name(limit: Limit, key: str) -> str:
        return f"throttle:{limit.scope}:{_key(key)}"

    async def _or_fallback(self, operation: str, redis_call, *args):
        from redis.exceptions import RedisError

        try:
            return await redis_call()
        except (RedisError, OSError) as exc:
            if self.fallback is None:
                raise
            log.warning("throttle: Redis unavailable (%s); counting in the store", exc.__class__.__name__)
            return await getattr(self.fallback, operation)(*args)

    async def count(self, limit: Limit, key: str) -> int:
        async def call() -> int:
            return int(await self.redis.zcount(self._name(limit, key), time.time() - limit.window, "+inf"))
        return await self._or_fallback("count", call, limit, key)

    async def record(self, limit: Limit, key: str, member: str | None = None) -> None:
        member = _member(member)

        async def call() -> None:
            name, now = self._name(limit, key), time.time()
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zadd(name, {member: now})
                pipe.zremrangebyscore(name, "-inf", now - limit.window)
                pipe.expire(name, int(limit.window) + 60)
                await pipe.execute()
        await self._or_fallback("record", call, limit, key, member)

    async def seen(self, limit: Limit, key: str, member: str) -> bool:
        async def call() -> bool:
            score = await self.redis.zscore(self._name(limit, key), _member(member))
            return score is not None and score > time.time() - limit.window
        return await self._or_fallback("seen", call, limit, key, member)

    async def reset(self, limit: Limit, key: str) -> None:
        async def call() -> None:
            await self.redis.delete(self._name(limit, key))
        await self._or_fallback("reset", call, limit, key)

    async def over(self, limit: Limit, key: str) -> bool:
        return await self.count(limit, key) >= limit.limit

    async def close(self) -> None:
        await self.redis.close()


THROTTLE: web.AppKey[SqlThrottle | RedisThrottle] = web.AppKey("throttle")  # the gateway's limits on its app


def create(settings, store):
    if getattr(settings, "redis_url", ""):
        return RedisThrottle(settings.redis_url, fallback=SqlThrottle(store) if store is not None else None)
    return SqlThrottle(store)


def setup(app: web.Application) -> None:
    app[THROTTLE] = create(app[SETTINGS], app[STORE])

    async def close(app: web.Application) -> None:
        try:
            await app[THROTTLE].close()
        except Exception:  # closing at shutdown: nothing to save
            log.debug("throttle: close failed", exc_info=True)

    app.on_cleanup.append(close)  # type: ignore[arg-type]  # aiohttp 3.9's signal types predate aiosignal 1.4


def of(app) -> SqlThrottle | RedisThrottle:
    return app[THROTTLE]


async def any_over(throttle, checks) -> bool:
    """True when any ``(limit, key)`` of ``checks`` is over its limit (checked together)."""
    results = await asyncio.gather(*(throttle.over(limit, key) for limit, key in checks))
    return any(results)
