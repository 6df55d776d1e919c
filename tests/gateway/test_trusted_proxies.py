"""Issue 16 item 7: behind the HTTPS proxies of deploy/ the staff cookies carry ``Secure``;
X-Forwarded-Proto/-For are believed only from the proxies in TRUSTED_PROXIES."""
from __future__ import annotations

import dataclasses

import pytest
from aiohttp import web

from bot.app import create_app
from bot.console.auth import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from bot.proxies import TrustedProxies, parse_networks
from tests.support.console import PASSWORD, add_staff, csrf_from

pytestmark = pytest.mark.asyncio

HTTPS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")


async def _login_cookies(aiohttp_client, settings, headers) -> dict:
    app = create_app(settings, start_background=False)
    add_staff(app, "li", "李娜", "agent")
    client = await aiohttp_client(app)
    page = await client.get("/console/login", headers=headers)
    login_cookie = page.cookies[LOGIN_CSRF_COOKIE]
    # A Secure cookie is not sent back over the test's plain HTTP: send it as the browser would over HTTPS.
    client.session.cookie_jar.clear()
    response = await client.post("/console/login", allow_redirects=False,
                                 headers={**headers, "Cookie": f"{LOGIN_CSRF_COOKIE}={login_cookie.value}"},
                                 data={"username": "li", "password": PASSWORD,
                                       "csrf_token": csrf_from(await page.text()), "next": "/console/queue"})
    assert response.status == 303, await response.text()
    session_cookie = response.cookies[SESSION_COOKIE]
    return {"login": login_cookie, "session": session_cookie}


async def test_cookies_are_secure_behind_a_trusted_https_proxy(aiohttp_client, gateway_settings):
    settings = dataclasses.replace(gateway_settings, trusted_proxies="127.0.0.1/32, ::1")
    cookies = await _login_cookies(aiohttp_client, settings, HTTPS)
    assert cookies["session"]["secure"], cookies["session"].OutputString()
    assert cookies["login"]["secure"], cookies["login"].OutputString()
    assert cookies["session"]["httponly"]


async def test_forwarded_headers_from_anyone_else_are_ignored(aiohttp_client, gateway_settings):
    # The test client connects from 127.0.0.1, which is not trusted here.
    settings = dataclasses.replace(gateway_settings, trusted_proxies="10.0.0.0/8")
    cookies = await _login_cookies(aiohttp_client, settings, HTTPS)
    assert not cookies["session"]["secure"]
    # ...and without TRUSTED_PROXIES at all.
    cookies = await _login_cookies(aiohttp_client, gateway_settings, HTTPS)
    assert not cookies["session"]["secure"]


async def test_client_address_is_the_first_untrusted_hop(aiohttp_client):
    proxies = TrustedProxies(parse_networks("127.0.0.1, 10.0.0.0/8"))
    app = web.Application(middlewares=[proxies.middleware()])

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"remote": request.remote, "secure": request.secure})

    app.router.add_get("/", echo)
    client = await aiohttp_client(app)

    async def seen(headers):
        return await (await client.get("/", headers=headers)).json()

    # Client → ingress (10.1.2.3) → nginx (127.0.0.1) → gateway; a forged left-most hop is skipped.
    assert await seen({"X-Forwarded-For": "6.6.6.6, 198.51.100.9, 10.1.2.3", "X-Forwarded-Proto": "https"}) == \
        {"remote": "198.51.100.9", "secure": True}
    assert await seen({}) == {"remote": "127.0.0.1", "secure": False}
    assert await seen({"X-Forwarded-Proto": "gopher"}) == {"remote": "127.0.0.1", "secure": False}
    assert await seen({"X-Forwarded-For": "not-an-address"}) == {"remote": "127.0.0.1", "secure": False}


async def test_a_typo_in_trusted_proxies_stops_the_start():
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        parse_networks("127.0.0.1, 10.0.0.0/33")
    assert not TrustedProxies(parse_networks("")).trusts("127.0.0.1")
    assert TrustedProxies(parse_networks("::1")).trusts("::1")
