"""actions/api_client.py: keep-alive connections to the gateway, timeouts and errors."""
import asyncio

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from actions import api_client


@pytest.fixture
def fake_gateway():
    """A gateway stand-in on loopback that records which client connection each call used."""
    peers: list = []

    async def account(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername"))
        if request.headers.get("Authorization") != "Bearer test-token":
            return web.json_response({"error": "unauthorized"}, status=401)
        if request.match_info["no"] == "slow":
            await asyncio.sleep(1.0)
        if request.match_info["no"] == "missing":
            return web.json_response({"error": "not_found"}, status=404)
        return web.json_response({"account_no": request.match_info["no"]})

    def make_app() -> web.Application:  # an application belongs to one event loop
        app = web.Application()
        app.router.add_get("/api/v1/accounts/{no}", account)
        return app

    return make_app, peers


async def _with_server(make_app, calls):
    server = TestServer(make_app(), host="127.0.0.1")
    await server.start_server()
    api_client.configure(base_url=str(server.make_url("")).rstrip("/"), token="test-token", timeout=0.5)
    try:
        return await calls()
    finally:
        await api_client.close()
        await server.close()
        api_client.configure()


def test_calls_reuse_one_connection(fake_gateway):
    app, peers = fake_gateway

    async def calls():
        return [(await api_client.get_account(str(n)))["account_no"] for n in range(5)]

    assert asyncio.run(_with_server(app, calls)) == ["0", "1", "2", "3", "4"]
    assert len(peers) == 5 and len(set(peers)) == 1, peers  # one TCP connection for all five


def test_each_event_loop_gets_its_own_working_session(fake_gateway):
    app, peers = fake_gateway

    async def calls():
        return (await api_client.get_account("3201000001"))["account_no"]

    assert asyncio.run(_with_server(app, calls)) == "3201000001"
    assert asyncio.run(_with_server(app, calls)) == "3201000001"  # a new loop, not the closed one


def test_timeouts_errors_and_not_found_are_api_errors(fake_gateway):
    app, _ = fake_gateway

    async def calls():
        outcomes = []
        for number in ("slow", "missing", "ok"):
            try:
                outcomes.append((await api_client.get_account(number))["account_no"])
            except api_client.NotFound:
                outcomes.append("not found")
            except api_client.ApiError as exc:
                outcomes.append("timeout" if "Timeout" in str(exc) else str(exc))
        return outcomes

    assert asyncio.run(_with_server(app, calls)) == ["timeout", "not found", "ok"]
