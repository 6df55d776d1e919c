"""Console security: log-in everywhere, CSRF, roles, escaping, hashed passwords, masking."""
from __future__ import annotations

import hashlib
import re

import bcrypt
import pytest
import pytest_asyncio
from sqlalchemy import select

from bot.store.models import Conversation, Handoff, Message, StaffSession, StaffUser
from bot.store.types import now_utc
from tests.support.console import PASSWORD, add_staff, csrf_from, log_in
from bot.store import STORE

pytestmark = pytest.mark.asyncio


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")


@pytest.fixture
def console_app(demo_gateway_app):
    app = demo_gateway_app
    add_staff(app, "li", "李娜", "agent")
    add_staff(app, "boss", "王主管", "supervisor")
    now = now_utc()
    with app[STORE].session() as session:
        session.add(Conversation(id="web-xss", channel="web", state="waiting", account_no="3201000001",
                                 created_at=now, last_message_at=now))
        session.flush()
        session.add(Message(conversation_id="web-xss", sender="customer", channel="web",
                            text="<script>alert(1)</script> 我的电话13812340001", intent="request_human",
                            confidence=0.9, created_at=now))
        session.add(Handoff(conversation_id="web-xss", channel="web", reason="customer_request", status="waiting",
                            summary="<img src=x onerror=alert(2)>", created_at=now, accept_due_at=now))
    return app


@pytest_asyncio.fixture
async def client(aiohttp_client, console_app):
    return await aiohttp_client(console_app)


def _console_routes(app):
    """Every console route with its path parameters filled in."""
    routes = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix")
        if not path or not path.startswith("/console") or route.method == "HEAD":
            continue
        name = route.name or (route.resource.name if route.resource else None)
        if name in ("console-login", "console-login-submit", "console-static"):
            continue
        path = (path.replace("{cid}", "web-xss").replace("{mid}", "1").replace("{no}", "BX20260101001")
                .replace("{uid}", "1"))
        routes.append((route.method, path))
    return routes


async def test_every_console_page_and_api_refuses_without_log_in(client, console_app):
    routes = _console_routes(console_app)
    # The pages, the actions and the JSON/live API all take part.
    paths = {p for _, p in routes}
    assert {"/console/queue", "/console/review", "/console/tickets", "/console/sla", "/console/staff",
            "/console/api/events", "/console/api/queue", "/console/conversations/web-xss/reply"} <= paths
    for method, path in routes:
        html = await client.request(method, path, headers={"Accept": "text/html"}, allow_redirects=False)
        api = await client.request(method, path, headers={"Accept": "application/json"}, allow_redirects=False)
        if method == "GET" and not path.startswith("/console/api/"):
            assert html.status == 302 and html.headers["Location"].startswith("/console/login"), (method, path)
        else:
            assert html.status == 401, (method, path, html.status)
        assert api.status == 401, (method, path, api.status)
        assert "alert" not in await api.text()
    # A made-up or expired cookie is no better than none.
    client.session.cookie_jar.update_cookies({"console_session": "forged-token"})
    response = await client.get("/console/api/queue")
    assert response.status == 401
    # Nothing was changed by all those refused requests.
    with console_app[STORE].session() as session:
        assert session.execute(select(Handoff.status).where(Handoff.conversation_id == "web-xss")).scalar_one() == "waiting"


async def test_csrf_is_enforced_on_state_changing_requests(client, console_app):
    csrf = await log_in(client, "li")
    url = "/console/conversations/web-xss/accept"
    missing = await client.post(url, data={}, allow_redirects=False)
    wrong = await client.post(url, data={"csrf_token": "x" * 43}, allow_redirects=False)
    wrong_header = await client.post(url, headers={"X-CSRF-Token": "nope", "X-Requested-With": "fetch"})
    assert (missing.status, wrong.status, wrong_header.status) == (403, 403, 403)
    with console_app[STORE].session() as session:
        assert session.execute(select(Handoff.status).where(Handoff.conversation_id == "web-xss")).scalar_one() == "waiting"
    ok = await client.post(url, headers={"X-CSRF-Token": csrf, "X-Requested-With": "fetch"})
    assert ok.status == 200, await ok.text()
    with console_app[STORE].session() as session:
        h = session.execute(select(Handoff).where(Handoff.conversation_id == "web-xss")).scalar_one()
        assert (h.status, h.agent) == ("accepted", "li")


async def test_log_in_form_has_its_own_csrf_and_rejects_bad_passwords(client):
    # No token (a cross-site form post): refused before the password is even looked at.
    forged = await client.post("/console/login", data={"username": "li", "password": PASSWORD},
                               allow_redirects=False)
    assert forged.status == 403
    token = csrf_from(await (await client.get("/console/login")).text())
    bad = await client.post("/console/login", data={"username": "li", "password": "wrong-password",
                                                    "csrf_token": token}, allow_redirects=False)
    assert bad.status == 401 and "用户名或密码错误" in await bad.text()
    assert "console_session" not in {c.key for c in client.session.cookie_jar}


async def test_session_cookie_flags_and_logout(client, console_app):
    token = csrf_from(await (await client.get("/console/login")).text())
    response = await client.post("/console/login", data={"username": "li", "password": PASSWORD,
                                                         "csrf_token": token}, allow_redirects=False)
    cookie_header = next(v for v in response.headers.getall("Set-Cookie") if v.startswith("console_session="))
    assert "HttpOnly" in cookie_header and "SameSite=Lax" in cookie_header
    cookie_value = cookie_header.split(";", 1)[0].split("=", 1)[1]
    with console_app[STORE].session() as session:
        stored = session.execute(select(StaffSession.token_hash)).scalars().all()
    # Only the sha256 of the cookie is stored, never the cookie itself.
    assert stored == [hashlib.sha256(cookie_value.encode()).hexdigest()]
    csrf = csrf_from(await (await client.get("/console/queue")).text())
    out = await client.post("/console/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert out.status == 303
    client.session.cookie_jar.update_cookies({"console_session": cookie_value})  # replaying the old cookie
    assert (await client.get("/console/api/queue")).status == 401


async def test_agent_cannot_reach_supervisor_pages(client, aiohttp_client, console_app):
    csrf = await log_in(client, "li")
    for path in ("/console/sla", "/console/staff"):
        response = await client.get(path, headers={"Accept": "text/html"})
        assert response.status == 403, path
        assert "仅限班长" in await response.text()
    created = await client.post("/console/staff", data={"csrf_token": csrf, "username": "mallory",
                                                        "display_name": "M", "role": "supervisor",
                                                        "password": "p" * 12}, allow_redirects=False)
    assert created.status == 403
    with console_app[STORE].session() as session:
        assert session.execute(select(StaffUser).where(StaffUser.username == "mallory")).first() is None
    boss = await aiohttp_client(console_app)
    await log_in(boss, "boss")
    for path in ("/console/sla", "/console/staff"):
        assert (await boss.get(path)).status == 200, path


async def test_customer_text_is_escaped_and_phones_masked_for_agents(client, aiohttp_client, console_app):
    await log_in(client, "li")
    for path in ("/console/conversations/web-xss", "/console/conversations/web-xss/transcript", "/console/queue"):
        html = await (await client.get(path)).text()
        assert "<script>alert(1)</script>" not in html, path
        assert "<img src=x" not in html, path
        assert "13812340001" not in html, path  # agents see phone numbers masked
    html = await (await client.get("/console/conversations/web-xss")).text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "138****0001" in html
    boss = await aiohttp_client(console_app)
    await log_in(boss, "boss")
    assert "13812340001" in await (await boss.get("/console/conversations/web-xss")).text()


async def test_passwords_are_stored_as_bcrypt_hashes(console_app):
    with console_app[STORE].session() as session:
        user = session.execute(select(StaffUser).where(StaffUser.username == "li")).scalar_one()
        assert user.password_hash != PASSWORD and PASSWORD not in user.password_hash
        assert re.match(r"^\$2[aby]\$\d\d\$", user.password_hash)
        assert bcrypt.checkpw(PASSWORD.encode(), user.password_hash.encode())


async def test_pages_send_protective_headers(client):
    await log_in(client, "li")
    response = await client.get("/console/queue")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
