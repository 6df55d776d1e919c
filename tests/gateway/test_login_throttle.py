"""Issue 16 item 6: staff log-in and the customers' identity check under guessing.

- an unknown username costs the same bcrypt work as a wrong password (asserted by the cost of
  every hash bcrypt is asked to check, not by timing);
- failed log-ins are throttled per username and per client address;
- lock-outs live in the store (or Redis): a new gateway on the same store still refuses;
- the identity check (户号 + last four digits) locks the guessing conversation, not the
  customer's own, with a higher cap per account against guessing spread over conversations.
"""
from __future__ import annotations

import asyncio
import uuid

import bcrypt
import pytest

from bot import throttle
from bot.api.routes import IDENTITY_PER_ACCOUNT, IDENTITY_PER_CONVERSATION
from bot.console import auth
from tests.support.console import PASSWORD, add_staff, csrf_from
from tests.support.gateway import auth_headers

pytestmark = pytest.mark.asyncio


@pytest.fixture(autouse=True)
def cheap_but_not_minimal_bcrypt(monkeypatch):
    # Cost 5, not the minimum 4 the old dummy hash used: a dummy of another cost must show.
    monkeypatch.setenv("BCRYPT_ROUNDS", "5")


async def attempt(client, username: str, password: str):
    token = csrf_from(await (await client.get("/console/login")).text())
    return await client.post("/console/login", data={"username": username, "password": password,
                                                     "csrf_token": token}, allow_redirects=False)


def _new_app(settings):
    from bot.app import create_app

    return create_app(settings, start_background=False)


async def test_unknown_user_costs_the_same_bcrypt_work_as_a_wrong_password(aiohttp_client, gateway_app,
                                                                         monkeypatch):
    add_staff(gateway_app, "li", "李娜", "agent")
    costs: list[int] = []
    real_checkpw = bcrypt.checkpw

    def counting_checkpw(password: bytes, hashed: bytes) -> bool:
        costs.append(int(hashed.split(b"$")[2]))  # $2b$NN$...
        return real_checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting_checkpw)
    client = await aiohttp_client(gateway_app)
    for username, password in (("li", "wrong-password"), ("nobody", "wrong-password"),
                               ("li", "x" * 100), ("nobody", "x" * 100)):
        costs.clear()
        response = await attempt(client, username, password)
        assert response.status == 401
        assert costs == [5], (username, costs)  # one check, at the configured cost, every time


async def test_failed_log_ins_are_throttled_per_user_and_survive_a_restart(aiohttp_client, gateway_settings):
    first = _new_app(gateway_settings)
    add_staff(first, "li", "李娜", "agent")
    client = await aiohttp_client(first)
    for _ in range(auth.LOGIN_PER_USER.limit):
        assert "用户名或密码错误" in await (await attempt(client, "li", "wrong-password")).text()
    refused = await attempt(client, "LI", PASSWORD)  # the right password, any letter case
    assert refused.status == 401 and "登录失败次数过多" in await refused.text()

    # Another gateway process on the same store (a restart, a second replica) knows it.
    second = await aiohttp_client(_new_app(gateway_settings))
    refused = await attempt(second, "li", PASSWORD)
    assert refused.status == 401 and "登录失败次数过多" in await refused.text()
    # Other users are not affected.
    add_staff(second.app, "wang", "王主管", "supervisor")
    assert (await attempt(second, "wang", PASSWORD)).status == 303


async def test_failed_log_ins_are_throttled_per_client_address(aiohttp_client, gateway_app):
    add_staff(gateway_app, "li", "李娜", "agent")
    client = await aiohttp_client(gateway_app)
    # Spraying: one guess for each of many usernames, all from one address.
    for index in range(auth.LOGIN_PER_CLIENT.limit):
        assert (await attempt(client, f"user{index}", "Winter2026!")).status == 401
    refused = await attempt(client, "li", PASSWORD)
    assert refused.status == 401 and "登录失败次数过多" in await refused.text()


async def test_a_good_log_in_clears_the_users_failures(aiohttp_client, gateway_app):
    add_staff(gateway_app, "li", "李娜", "agent")
    client = await aiohttp_client(gateway_app)
    for _ in range(auth.LOGIN_PER_USER.limit - 1):
        await attempt(client, "li", "wrong-password")
    assert (await attempt(client, "li", PASSWORD)).status == 303
    await client.post("/console/logout", data={"csrf_token": csrf_from(await (await client.get("/console/queue")).text())})
    for _ in range(auth.LOGIN_PER_USER.limit - 1):
        await attempt(client, "li", "wrong-password")
    assert (await attempt(client, "li", PASSWORD)).status == 303


# ---------------------------------------------------------------- the customers' identity check

async def verify(client, account_no: str, last4: str, conversation_id: str | None = None) -> dict:
    body = {"account_no": account_no, "phone_last4": last4}
    if conversation_id:
        body["conversation_id"] = conversation_id
    response = await client.post("/api/v1/identity/verify", json=body, headers=auth_headers())
    assert response.status == 200
    return await response.json()


async def test_a_strangers_guesses_do_not_lock_the_customer_out(aiohttp_client, demo_gateway_app,
                                                               gateway_settings):
    client = await aiohttp_client(demo_gateway_app)
    for guess in ("1111", "2222", "3333", "4444", "5555"):
        assert (await verify(client, "3201000003", guess, "web-stranger"))["reason"] == "mismatch"
    assert (await verify(client, "3201000003", "3377", "web-stranger"))["reason"] == "locked"
    # The customer, in their own conversation, is not locked out.
    assert (await verify(client, "3201000003", "3377", "wechat:o-customer"))["verified"] is True
    # A restarted gateway on the same store keeps the stranger locked.
    again = await aiohttp_client(_new_app(gateway_settings))
    assert (await verify(again, "3201000003", "3377", "web-stranger"))["reason"] == "locked"


async def test_guessing_spread_over_conversations_meets_a_higher_cap_per_account(aiohttp_client,
                                                                                 demo_gateway_client):
    client = demo_gateway_client
    assert IDENTITY_PER_ACCOUNT.limit > IDENTITY_PER_CONVERSATION.limit
    for index in range(IDENTITY_PER_ACCOUNT.limit):
        guess = f"{index:04d}" if f"{index:04d}" != "3377" else "9999"
        answer = await verify(client, "3201000003", guess, f"web-attacker-{index // 4}")
        assert answer["reason"] == "mismatch", index
    # Now the account is locked everywhere until the window passes, whoever asks.
    assert (await verify(client, "3201000003", "3377", "wechat:o-customer"))["reason"] == "locked"
    assert (await verify(client, "3201000001", "0518", "wechat:o-other"))["verified"] is True


# ---------------------------------------------------------------- both backends

async def _exercise(limiter) -> None:
    scope = f"test-{uuid.uuid4().hex[:8]}"
    limit = throttle.Limit(scope, 3, 2.5)  # long enough for a loaded machine, short enough to wait for
    assert not await limiter.over(limit, "k")
    for _ in range(3):
        await limiter.record(limit, "k")
    assert await limiter.over(limit, "k") and not await limiter.over(limit, "other")
    await limiter.reset(limit, "k")
    assert await limiter.count(limit, "k") == 0
    # Named members count once: the same account looked up again is not another lookup.
    for member in ("a", "a", "b", "a"):
        await limiter.record(limit, "m", member)
    assert await limiter.count(limit, "m") == 2
    assert await limiter.seen(limit, "m", "a") and not await limiter.seen(limit, "m", "z")
    await asyncio.sleep(2.6)  # the window passes
    assert await limiter.count(limit, "m") == 0 and not await limiter.seen(limit, "m", "a")


async def test_the_store_backend_on_sqlite_and_postgresql(backend_store):
    await _exercise(throttle.SqlThrottle(backend_store))


async def test_the_redis_backend(redis_server):
    limiter = throttle.RedisThrottle(redis_server.url)
    try:
        await _exercise(limiter)
    finally:
        await limiter.close()


async def test_redis_is_used_when_configured(redis_server, tmp_path):
    from bot.config import Settings

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'g.db'}", redis_url=redis_server.url)
    assert isinstance(throttle.create(settings, store=None), throttle.RedisThrottle)
    assert isinstance(throttle.create(Settings(database_url="sqlite://", redis_url=""), store=None),
                      throttle.SqlThrottle)


async def test_without_redis_the_store_counts(backend_store):
    from tests.support.services import free_port

    limiter = throttle.RedisThrottle(f"redis://127.0.0.1:{free_port()}/0", fallback=throttle.SqlThrottle(backend_store))
    try:
        await _exercise(limiter)  # nothing listens there: every call falls back to the store
        limit = throttle.Limit("test-fallback", 1, 60.0)
        await limiter.record(limit, "k")
        assert await throttle.SqlThrottle(backend_store).count(limit, "k") == 1
    finally:
        await limiter.close()


async def test_a_guesser_hopping_conversations_from_one_client_is_stopped(demo_gateway_client):
    from bot.api.routes import IDENTITY_PER_CLIENT

    client = demo_gateway_client

    async def guess(last4: str, conversation_id: str, who: str) -> dict:
        response = await client.post("/api/v1/identity/verify", headers=auth_headers(), json={
            "account_no": "3201000003", "phone_last4": last4, "conversation_id": conversation_id, "client": who})
        return await response.json()

    for index in range(IDENTITY_PER_CLIENT.limit):
        answer = await guess(f"{index:04d}", f"web-hop-{index // 2}", "web:guesser")
        assert answer["reason"] == "mismatch"
    assert (await guess("3377", "web-hop-fresh", "web:guesser"))["reason"] == "locked"
    # The customer, from their own address, is not locked out (the account's cap is higher).
    assert (await guess("3377", "web-own", "web:customer"))["verified"] is True
