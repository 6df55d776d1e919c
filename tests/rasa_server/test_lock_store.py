"""AtomicRedisLockStore (rasa_server/lock_store.py) against a real Redis server.

Every test uses its own key prefix, so tests sharing the session's Redis never see each
other's locks; "two servers" are two store instances with their own connection pools.
"""
from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import pytest_asyncio
import redis
import redis.asyncio.connection
import redis.connection
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LockError, LockStore

from rasa_server.lock_store import AtomicRedisLockStore

ROOT = Path(__file__).resolve().parent.parent.parent
LOCK_DB = 2  # not the fan-out's database 0
# Commands the lock scripts run inside Redis (counted by INFO commandstats, but no round trips).
SCRIPT_COMMANDS = {"time", "incr", "zadd", "zrange", "zrem", "zscore", "zcard", "pttl", "pexpire", "del"}


@pytest.fixture
def prefix() -> str:
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def sync_redis(redis_server):
    client = redis.Redis(host="127.0.0.1", port=redis_server.port, db=LOCK_DB)
    yield client
    client.close()


@pytest_asyncio.fixture
async def make_store(redis_server, prefix):
    """Stores ("Rasa servers") on one Redis and one key prefix, closed after the test."""
    stores = []

    def make() -> AtomicRedisLockStore:
        store = AtomicRedisLockStore(host="127.0.0.1", port=redis_server.port, db=LOCK_DB, key_prefix=prefix)
        stores.append(store)
        return store

    yield make
    for store in stores:
        await store.close()


def lock_keys(sync_redis, prefix: str) -> list:
    return sorted(key.decode() for key in sync_redis.keys(f"{prefix}:*"))


def ticket_number(lock: TicketLock) -> int:
    return lock.tickets[0].number


async def wait_until(predicate, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


@pytest.mark.asyncio
async def test_uncontended_lock_holds_a_ticket_and_leaves_no_keys(make_store, sync_redis, prefix):
    store = make_store()
    async with store.lock("conv-1") as lock:
        assert isinstance(lock, TicketLock)
        assert lock.conversation_id == "conv-1" and ticket_number(lock) == 1
        assert lock_keys(sync_redis, prefix) == [f"{prefix}:lock:{{conv-1}}:queue", f"{prefix}:lock:{{conv-1}}:seq"]
        # Keys expire on their own too (lifetime 60 s + margin), so a crash leaves nothing.
        assert 60_000 < sync_redis.pttl(f"{prefix}:lock:{{conv-1}}:queue") <= 70_000
        # The synchronous LockStore view reads the same ticket.
        assert [t.number for t in store.get_lock("conv-1").tickets] == [1]
    assert lock_keys(sync_redis, prefix) == []
    assert store.get_lock("conv-1") is None


@pytest.mark.asyncio
async def test_an_uncontended_lock_costs_exactly_two_round_trips(make_store, sync_redis, monkeypatch):
    store = make_store()
    async with store.lock("warm-up"):  # loads the scripts into Redis (first use only)
        pass

    sent = {"async": 0, "sync": 0}
    async_send = redis.asyncio.connection.Connection.send_packed_command
    sync_send = redis.connection.Connection.send_packed_command

    async def count_async(self, *args, **kwargs):
        sent["async"] += 1
        return await async_send(self, *args, **kwargs)

    def count_sync(self, *args, **kwargs):
        sent["sync"] += 1
        return sync_send(self, *args, **kwargs)

    before = sync_redis.info("commandstats")
    monkeypatch.setattr(redis.asyncio.connection.Connection, "send_packed_command", count_async)
    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", count_sync)
    async with store.lock("conv-2"):
        pass
    monkeypatch.undo()
    after = sync_redis.info("commandstats")

    assert sent == {"async": 2, "sync": 0}
    calls = {name.removeprefix("cmdstat_"): stats["calls"] - before.get(name, {}).get("calls", 0)
             for name, stats in after.items()}
    calls = {name: count for name, count in calls.items() if count and name != "info"}
    # Redis saw two EVALSHA requests; everything else ran inside those scripts.
    assert calls.pop("evalsha") == 2
    assert set(calls) <= SCRIPT_COMMANDS, calls


@pytest.mark.asyncio
async def test_twenty_holders_on_two_servers_take_turns_in_ticket_order(make_store, sync_redis, prefix):
    servers = make_store(), make_store()
    inside = 0
    overlaps = 0
    entered: list[int] = []

    async def turn(i: int) -> None:
        nonlocal inside, overlaps
        async with servers[i % 2].lock("busy-conv") as lock:
            inside += 1
            overlaps += inside > 1
            entered.append(ticket_number(lock))
            await asyncio.sleep(0.01)  # an async critical section: others run meanwhile
            inside -= 1

    await asyncio.wait_for(asyncio.gather(*(turn(i) for i in range(20))), timeout=30)
    assert overlaps == 0
    # Every ticket distinct (issuing is atomic), served in the order issued.
    assert entered == list(range(1, 21))
    assert lock_keys(sync_redis, prefix) == []


@pytest.mark.asyncio
async def test_other_conversations_do_not_wait_and_a_cancelled_waiter_leaves(make_store, sync_redis, prefix):
    server_a, server_b = make_store(), make_store()
    async with server_a.lock("conv-a"):
        started = time.monotonic()
        async with server_b.lock("conv-b") as lock_b:
            assert ticket_number(lock_b) == 1
        assert time.monotonic() - started < 0.2  # no polling: first in its own queue

        waiter = asyncio.create_task(server_b.lock("conv-a").__aenter__())
        await wait_until(lambda: sync_redis.zcard(f"{prefix}:lock:{{conv-a}}:queue") == 2)
        await asyncio.sleep(0.2)
        assert not waiter.done()  # conv-a is held
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await wait_until(lambda: sync_redis.zcard(f"{prefix}:lock:{{conv-a}}:queue") == 1)
    assert lock_keys(sync_redis, prefix) == []


@pytest.mark.asyncio
async def test_a_cancelled_holder_gives_its_ticket_back(make_store, sync_redis, prefix):
    server_a, server_b = make_store(), make_store()
    holding = asyncio.Event()

    async def hold_forever() -> None:
        async with server_a.lock("conv-c"):
            holding.set()
            await asyncio.sleep(3600)

    holder = asyncio.create_task(hold_forever())
    await asyncio.wait_for(holding.wait(), 3)
    holder.cancel()
    with pytest.raises(asyncio.CancelledError):
        await holder
    started = time.monotonic()
    async with server_b.lock("conv-c") as lock:
        assert ticket_number(lock) == 1  # the queue was emptied and the keys deleted
    assert time.monotonic() - started < 0.2
    assert lock_keys(sync_redis, prefix) == []


@pytest.mark.asyncio
async def test_a_request_cancelled_while_taking_its_ticket_leaves_none_behind(make_store, sync_redis, prefix):
    store = make_store()
    async with store.lock("warm-up"):
        pass
    cancelled = 0
    for yields in range(8):  # cancel at different points of the first round trip
        context = store.lock("conv-d")
        task = asyncio.create_task(context.__aenter__())
        for _ in range(yields):
            await asyncio.sleep(0)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            cancelled += 1
        else:  # the lock was taken before the cancel landed: leave it as Rasa would
            await context.__aexit__(None, None, None)
        # A ticket whose request was cancelled may still be on its way; it is given back.
        await store.settle()
        assert lock_keys(sync_redis, prefix) == []
    assert cancelled >= 2
    async with store.lock("conv-d") as lock:
        assert lock.tickets[0].number == 1


@pytest.mark.asyncio
async def test_a_crashed_holders_ticket_stops_blocking_after_its_lifetime(make_store, redis_server, sync_redis,
                                                                           prefix):
    crashing = subprocess.Popen(
        [sys.executable, "-c", (
            "import asyncio, sys\n"
            "from rasa_server.lock_store import AtomicRedisLockStore\n"
            "async def main():\n"
            f"    store = AtomicRedisLockStore(host='127.0.0.1', port={redis_server.port}, db={LOCK_DB},"
            f" key_prefix='{prefix}')\n"
            "    async with store.lock('conv-e', lock_lifetime=1):\n"
            "        print('held', flush=True)\n"
            "        await asyncio.sleep(3600)\n"
            "asyncio.run(main())\n")],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert crashing.stdout.readline().strip() == "held"
        held_at = time.monotonic()
        os.killpg(crashing.pid, signal.SIGKILL)  # a server dies holding the lock: no release
        crashing.wait(10)
        assert sync_redis.zcard(f"{prefix}:lock:{{conv-e}}:queue") == 1

        async with make_store().lock("conv-e") as lock:
            waited = time.monotonic() - held_at
            assert ticket_number(lock) == 2
        assert 0.7 < waited < 2.5, waited
        assert lock_keys(sync_redis, prefix) == []
    finally:
        if crashing.poll() is None:
            os.killpg(crashing.pid, signal.SIGKILL)
            crashing.wait(10)
        crashing.stdout.close()


@pytest.mark.asyncio
async def test_a_waiter_whose_ticket_expires_gets_lock_error(make_store, sync_redis, prefix):
    server_a, server_b = make_store(), make_store()
    async with server_a.lock("conv-f") as held:
        started = time.monotonic()
        with pytest.raises(LockError):
            async with server_b.lock("conv-f", lock_lifetime=0.5):
                pytest.fail("entered a lock that is held")
        assert 0.4 < time.monotonic() - started < 2.0
        # Only the holder's ticket is left.
        assert [t.number for t in server_b.get_lock("conv-f").tickets] == [ticket_number(held)]
    assert lock_keys(sync_redis, prefix) == []


def test_rasas_synchronous_ticket_methods_work_on_the_same_keys(redis_server, sync_redis, prefix):
    store = AtomicRedisLockStore(host="127.0.0.1", port=redis_server.port, db=LOCK_DB, key_prefix=prefix)
    first = store.issue_ticket("conv-g")
    second = store.issue_ticket("conv-g")
    assert (first, second) == (0, 1)  # TicketLock's own numbering starts at 0
    lock = store.get_lock("conv-g")
    assert not lock.is_locked(first) and lock.is_locked(second)
    store.cleanup("conv-g", first)
    assert [t.number for t in store.get_lock("conv-g").tickets] == [1]
    store.cleanup("conv-g", second)
    assert store.get_lock("conv-g") is None
    assert lock_keys(sync_redis, prefix) == []
    # A ticket saved through the synchronous path also orders the async path's tickets.
    store.issue_ticket("conv-h")
    store.issue_ticket("conv-h")
    assert int(sync_redis.get(f"{prefix}:lock:{{conv-h}}:seq")) == 1
    store.delete_lock("conv-h")
    assert lock_keys(sync_redis, prefix) == []


@pytest.mark.asyncio
async def test_built_by_rasa_from_the_production_endpoints(redis_server, sync_redis, monkeypatch):
    from rasa.core.utils import number_of_sanic_workers
    from rasa.utils.endpoints import read_endpoint_config

    endpoints = ROOT / "deploy" / "endpoints.prod.yml"
    for name in set(re.findall(r"\$\{(\w+)\}", endpoints.read_text(encoding="utf-8"))):
        monkeypatch.setenv(name, "placeholder")
    monkeypatch.setenv("REDIS_HOST", "127.0.0.1")
    monkeypatch.setenv("REDIS_PORT", str(redis_server.port))
    monkeypatch.setenv("REDIS_PASSWORD", "")
    monkeypatch.setenv("REDIS_LOCK_DB", str(LOCK_DB))
    monkeypatch.setenv("REDIS_LOCK_PREFIX", "electricbot")

    config = read_endpoint_config(str(endpoints), "lock_store")
    assert config.type == "rasa_server.lock_store.AtomicRedisLockStore"
    store = LockStore.create(config)
    assert isinstance(store, AtomicRedisLockStore)
    assert store.key_prefix == "electricbot:lock:"
    assert {k: store.connection_kwargs[k] for k in ("host", "port", "db", "password")} == {
        "host": "127.0.0.1", "port": redis_server.port, "db": LOCK_DB, "password": None}
    monkeypatch.setenv("SANIC_WORKERS", "2")
    assert number_of_sanic_workers(config) == 2  # Rasa accepts it for several workers

    conversation = "prod-" + uuid.uuid4().hex
    try:
        async with store.lock(conversation):
            assert sync_redis.exists(f"electricbot:lock:{{{conversation}}}:queue") == 1
        assert sync_redis.keys(f"electricbot:lock:{{{conversation}}}*") == []
    finally:
        await store.close()


def test_keyword_settings_and_a_bad_prefix():
    store = AtomicRedisLockStore(host="redis.internal", port="6380", db="3", password="secret",
                                 use_ssl="true", key_prefix="not alnum!", socket_timeout="2.5")
    assert store.key_prefix == "lock:"  # Rasa's default, as Rasa does for a bad prefix
    assert store.connection_kwargs["port"] == 6380 and store.connection_kwargs["db"] == 3
    assert store.connection_kwargs["ssl"] is True and store.connection_kwargs["socket_timeout"] == 2.5
    assert store.keys_for("a:b") == ["lock:{a:b}:seq", "lock:{a:b}:queue"]
