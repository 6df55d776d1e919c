"""A Redis lock store for Rasa 3.6 with two async round trips per uncontended turn.

``AtomicRedisLockStore`` is a drop-in for ``type: redis`` in ``endpoints.yml``: select it
with ``type: rasa_server.lock_store.AtomicRedisLockStore`` and the same keys (``url``, ``port``,
``db``, ``username``, ``password``, ``use_ssl``, ``key_prefix``, ``socket_timeout``).

Rasa's ``RedisLockStore`` keeps one JSON ``TicketLock`` per conversation and works on it
with synchronous GET/SET/DEL calls: about seven blocking round trips per message, each one
stalling the Sanic event loop, and issuing a ticket is a read-modify-write, so two servers
taking a ticket for the same conversation at once can both read the old lock, both save,
and both believe they hold it. Here the same ticket lock (FIFO, tickets expire after
``lock_lifetime`` so a crashed server blocks a conversation no longer than that) lives in
two keys per conversation, changed only by Lua scripts that Redis runs atomically:

- ``<prefix>{<conversation>}:seq`` — a counter; INCR gives the next ticket number;
- ``<prefix>{<conversation>}:queue`` — a sorted set of the live tickets, score = ticket
  number, member = ``"<number>:<expiry in ms of Redis server time>"``.

``lock()`` costs one EVALSHA to take a ticket and learn whether it is first in the queue,
and one EVALSHA to give it back (which deletes both keys once the queue is empty). Only a
message that has to wait for another one of the same conversation polls, with a short
interval. Expiry uses Redis's clock (``TIME``), never a server's own, and both keys carry
a TTL of the longest ticket lifetime plus a margin, so nothing is left behind even if every
holder crashes. The braces make both keys of a conversation hash to one Redis Cluster slot.

The synchronous ``LockStore`` methods (``get_lock``, ``save_lock``, ``delete_lock`` and the
base class's helpers built on them) read and write the same keys through a separate
synchronous client, for tools and tests; Rasa itself only calls ``lock()``.

Servers using this store and servers using Rasa's ``RedisLockStore`` do not exclude each
other (different keys), so switch all Rasa servers of a deployment at once.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, List, Optional, Set, Text, Tuple

from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import (
    DEFAULT_REDIS_LOCK_STORE_KEY_PREFIX,
    DEFAULT_SOCKET_TIMEOUT_IN_SECONDS,
    LOCK_LIFETIME,
    LockError,
    LockStore,
)
from rasa.utils.endpoints import EndpointConfig

log = logging.getLogger(__name__)

# Keys outlive the longest ticket by this much; a margin against clock granularity and a
# slow script, not a lifetime of its own.
KEY_TTL_MARGIN_MS = 10_000
FIRST_POLL_SECONDS = 0.05  # a second message of a burst waits about one Rasa turn, not 1 s
MAX_POLL_SECONDS = 0.25
POLL_GROWTH = 1.5

# Shared by the scripts: Redis's clock in ms, and dropping expired tickets at the head
# (a crashed holder's ticket stops blocking once its lifetime is over, as in TicketLock).
_LUA_PRELUDE = """
-- Redis < 5 must be told to replicate effects before a script writes after TIME.
if redis.replicate_commands then redis.replicate_commands() end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function expiry_of(member)
  return tonumber(string.match(member, ':(%d+)$'))
end
local function drop_expired_head(queue, now)
  while true do
    local head = redis.call('ZRANGE', queue, 0, 0)
    if #head == 0 then return nil end
    if expiry_of(head[1]) > now then return head[1] end
    redis.call('ZREM', queue, head[1])
  end
end
"""

# KEYS: counter, queue. ARGV: lifetime ms, key TTL ms.
# Returns {ticket member, 1 if it is first in the queue else 0}.
_ISSUE = _LUA_PRELUDE + """
local now = now_ms()
local number = redis.call('INCR', KEYS[1])
local member = number .. ':' .. (now + tonumber(ARGV[1]))
redis.call('ZADD', KEYS[2], number, member)
local head = drop_expired_head(KEYS[2], now)
local ttl = tonumber(ARGV[2])
for _, key in ipairs(KEYS) do
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
if head == member then return {member, 1} end
return {member, 0}
"""

# KEYS: counter, queue. ARGV: ticket member.
# Returns 1 if the ticket is first now, 0 if it still waits, -1 if it expired (or is gone).
_POLL = _LUA_PRELUDE + """
local now = now_ms()
local head = drop_expired_head(KEYS[2], now)
if redis.call('ZSCORE', KEYS[2], ARGV[1]) == false then return -1 end
if expiry_of(ARGV[1]) <= now then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return -1
end
if head == ARGV[1] then return 1 end
return 0
"""

# KEYS: counter, queue. ARGV: ticket member.
# Returns the number of tickets left; with none left both keys are deleted.
_RELEASE = _LUA_PRELUDE + """
redis.call('ZREM', KEYS[2], ARGV[1])
drop_expired_head(KEYS[2], now_ms())
local left = redis.call('ZCARD', KEYS[2])
if left == 0 then redis.call('DEL', KEYS[1], KEYS[2]) end
return left
"""


def _blank_to_none(value: Any) -> Any:
    # An unset-but-declared ${REDIS_PASSWORD} arrives as "": no AUTH, as with Rasa's store.
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def _parse_member(member: Any) -> Tuple[int, float]:
    """(ticket number, expiry in epoch seconds) of a queue member."""
    text = member.decode() if isinstance(member, bytes) else str(member)
    number, expires_ms = text.split(":", 1)
    return int(number), int(expires_ms) / 1000.0


class AtomicRedisLockStore(LockStore):
    """Rasa lock store on Redis: atomic, non-blocking, FIFO ticket locks (see module doc)."""

    def __init__(
        self,
        endpoint_config: Optional[EndpointConfig] = None,
        host: Text = "localhost",
        port: int = 6379,
        db: int = 1,
        username: Optional[Text] = None,
        password: Optional[Text] = None,
        use_ssl: bool = False,
        ssl_certfile: Optional[Text] = None,
        ssl_keyfile: Optional[Text] = None,
        ssl_ca_certs: Optional[Text] = None,
        key_prefix: Optional[Text] = None,
        socket_timeout: float = DEFAULT_SOCKET_TIMEOUT_IN_SECONDS,
        **unused: Any,
    ) -> None:
        settings: dict[str, Any] = dict(host=host, port=port, db=db, username=username, password=password,
                        use_ssl=use_ssl, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
                        ssl_ca_certs=ssl_ca_certs, key_prefix=key_prefix, socket_timeout=socket_timeout)
        if endpoint_config is not None:
            # Rasa builds custom lock stores as cls(endpoint_config=...): the host is the
            # endpoint's `url`, the rest are the other keys of the `lock_store` section.
            if endpoint_config.url:
                settings["host"] = endpoint_config.url
            for name, value in endpoint_config.kwargs.items():
                if name in settings:
                    settings[name] = value
                else:
                    unused[name] = value
        if unused:
            log.debug("AtomicRedisLockStore ignores unknown settings %s", sorted(unused))

        self.connection_kwargs = dict(
            host=settings["host"],
            port=int(settings["port"]),
            db=int(settings["db"]),
            username=_blank_to_none(settings["username"]),
            password=_blank_to_none(settings["password"]),
            socket_timeout=float(settings["socket_timeout"]),
            socket_connect_timeout=float(settings["socket_timeout"]),
        )
        if _as_bool(settings["use_ssl"]):
            self.connection_kwargs.update(ssl=True, ssl_certfile=settings["ssl_certfile"],
                                          ssl_keyfile=settings["ssl_keyfile"],
                                          ssl_ca_certs=settings["ssl_ca_certs"])

        self.key_prefix = DEFAULT_REDIS_LOCK_STORE_KEY_PREFIX
        prefix = settings["key_prefix"]
        if prefix:
            if isinstance(prefix, str) and prefix.isalnum():
                self.key_prefix = prefix + ":" + DEFAULT_REDIS_LOCK_STORE_KEY_PREFIX
            else:
                log.warning("Omitting non-alphanumeric Redis lock key prefix %r; using %r.",
                            prefix, self.key_prefix)

        self._async_client: Any = None
        self._async_loop: Optional[asyncio.AbstractEventLoop] = None
        self._scripts: Any = None
        self._sync_client: Any = None
        self._background: Set[asyncio.Task] = set()
        super().__init__()

    # ---- keys ------------------------------------------------------------------------
    def keys_for(self, conversation_id: Text) -> List[Text]:
        """[counter key, queue key] of a conversation."""
        base = f"{self.key_prefix}{{{conversation_id}}}"
        return [base + ":seq", base + ":queue"]

    # ---- the async path Rasa uses -----------------------------------------------------
    def _loop_scripts(self) -> Tuple[Any, Any, Any]:
        """The issue, poll and release scripts on the running loop's client (created on first use)."""
        loop = asyncio.get_running_loop()
        if self._async_client is None or self._async_loop is not loop:
            import redis.asyncio

            # One connection pool per store and loop: Rasa builds one store per process
            # and serves it from one loop; a test's new loop gets a fresh pool.
            self._async_client = redis.asyncio.Redis(**self.connection_kwargs)
            self._async_loop = loop
            self._scripts = (self._async_client.register_script(_ISSUE),
                             self._async_client.register_script(_POLL),
                             self._async_client.register_script(_RELEASE))
        return self._scripts

    async def settle(self) -> None:
        """Waits for tickets still being issued or given back after a cancellation."""
        while self._background:
            await asyncio.wait(list(self._background))

    async def close(self) -> None:
        """Closes the asyncio connection pool of the running loop (tests, shutdown)."""
        if self._async_client is not None and self._async_loop is asyncio.get_running_loop():
            await self.settle()
            await self._async_client.close(close_connection_pool=True)
        self._async_client = self._async_loop = self._scripts = None

    async def _issue(self, keys: List[Text], lock_lifetime: float) -> Tuple[Text, bool]:
        issue, _, _ = self._loop_scripts()
        lifetime_ms = max(1, int(lock_lifetime * 1000))
        member, first = await issue(keys=keys, args=[lifetime_ms, lifetime_ms + KEY_TTL_MARGIN_MS])
        return (member.decode() if isinstance(member, bytes) else member), bool(first)

    async def _poll(self, keys: List[Text], member: Text) -> int:
        _, poll, _ = self._loop_scripts()
        return int(await poll(keys=keys, args=[member]))

    async def _release(self, keys: List[Text], member: Text) -> None:
        _, _, release = self._loop_scripts()
        await release(keys=keys, args=[member])

    def _in_background(self, coroutine: Any) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._background.discard)
        return task

    def _release_in_background(self, keys: List[Text], member: Text) -> asyncio.Task:
        task = self._in_background(self._release(keys, member))
        task.add_done_callback(_log_release_failure)
        return task

    async def _take_ticket(self, keys: List[Text], lock_lifetime: float) -> Tuple[Text, bool]:
        """Issues a ticket; if the caller is cancelled meanwhile, the ticket is given back."""
        issuing = self._in_background(self._issue(keys, lock_lifetime))
        try:
            return await asyncio.shield(issuing)
        except asyncio.CancelledError:
            def give_back(done: asyncio.Future) -> None:
                if not done.cancelled() and done.exception() is None:
                    self._release_in_background(keys, done.result()[0])

            issuing.add_done_callback(give_back)
            raise
        except Exception as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: Text,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = 1,
    ) -> AsyncGenerator[TicketLock, None]:
        """Holds the conversation's lock (FIFO among all servers) for the ``async with`` body.

        Raises ``LockError`` when the ticket expires before its turn comes (as Rasa's
        ``LockStore.lock`` does) or when Redis cannot be reached.
        """
        keys = self.keys_for(conversation_id)
        member, first = await self._take_ticket(keys, lock_lifetime)
        try:
            if not first:
                await self._wait_until_first(conversation_id, keys, member, wait_time_in_seconds)
            number, expires = _parse_member(member)
            yield TicketLock(conversation_id, deque([Ticket(number, expires)]))
        finally:
            # Shielded: a cancelled request still gives its ticket back (the release runs
            # to completion even though the cancellation propagates at once). A failed
            # release is logged, not raised over the turn's own outcome: the ticket then
            # expires after its lifetime.
            releasing = self._release_in_background(keys, member)
            try:
                await asyncio.shield(releasing)
            except asyncio.CancelledError:
                raise
            except Exception:
                pass  # logged by _log_release_failure

    async def _wait_until_first(self, conversation_id: Text, keys: List[Text], member: Text,
                                wait_time_in_seconds: float) -> None:
        interval = min(wait_time_in_seconds, FIRST_POLL_SECONDS)
        ceiling = max(interval, min(wait_time_in_seconds, MAX_POLL_SECONDS))
        while True:
            log.debug("Waiting for the lock of conversation '%s' (ticket %s).", conversation_id, member)
            await asyncio.sleep(interval)
            try:
                state = await self._poll(keys, member)
            except Exception as error:
                raise LockError(f"Error while acquiring lock. Error:\n{error}") from error
            if state == 1:
                return
            if state < 0:
                raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
            interval = min(interval * POLL_GROWTH, ceiling)

    # ---- the synchronous LockStore interface ------------------------------------------
    def _sync(self) -> Any:
        if self._sync_client is None:
            import redis

            self._sync_client = redis.Redis(**self.connection_kwargs)
        return self._sync_client

    def get_lock(self, conversation_id: Text) -> Optional[TicketLock]:
        """The conversation's live tickets as a ``TicketLock`` (None without tickets)."""
        members = self._sync().zrange(self.keys_for(conversation_id)[1], 0, -1)
        if not members:
            return None
        tickets = deque(Ticket(*_parse_member(member)) for member in members)
        return TicketLock(conversation_id, tickets)

    def delete_lock(self, conversation_id: Text) -> None:
        deleted = self._sync().delete(*self.keys_for(conversation_id))
        self._log_deletion(conversation_id, bool(deleted))

    def save_lock(self, lock: TicketLock) -> None:
        """Replaces the conversation's queue with ``lock``'s tickets (one transaction)."""
        lock.remove_expired_tickets()
        if not lock.tickets:
            self.delete_lock(lock.conversation_id)
            return
        counter, queue = self.keys_for(lock.conversation_id)
        mapping = {f"{t.number}:{int(t.expires * 1000)}": t.number for t in lock.tickets}
        ttl_ms = int(max(t.expires for t in lock.tickets) * 1000 - self._server_time_ms()) + KEY_TTL_MARGIN_MS
        with self._sync().pipeline(transaction=True) as pipe:
            pipe.delete(queue)
            pipe.zadd(queue, mapping)
            # The counter must stay ahead of every saved ticket, or INCR would reissue one.
            pipe.set(counter, max(int(self._sync().get(counter) or 0), lock.last_issued))
            pipe.pexpire(counter, max(ttl_ms, 1))
            pipe.pexpire(queue, max(ttl_ms, 1))
            pipe.execute()

    def _server_time_ms(self) -> int:
        seconds, microseconds = self._sync().time()
        return int(seconds) * 1000 + int(microseconds) // 1000


def _log_release_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("Could not give back a lock ticket: %s", task.exception())
