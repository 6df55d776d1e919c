"""Console test helpers: staff users and logged-in aiohttp test clients of the in-process gateway."""
from __future__ import annotations

import re

from bot.store import STORE

PASSWORD = "correct-horse-42"


def add_staff(app, username: str, display_name: str, role: str, password: str = PASSWORD) -> None:
    from bot.console.auth import upsert_staff

    with app[STORE].session() as session:
        upsert_staff(session, username, display_name, role, password)


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field in the page"
    return match.group(1)


async def log_in(client, username: str, password: str = PASSWORD) -> str:
    """Logs the client in through the real form; returns the session's CSRF token."""
    page = await client.get("/console/login")
    token = csrf_from(await page.text())
    response = await client.post("/console/login", data={"username": username, "password": password,
                                                         "csrf_token": token, "next": "/console/queue"},
                                 allow_redirects=False)
    assert response.status == 303, await response.text()
    queue = await client.get("/console/queue")
    assert queue.status == 200
    return csrf_from(await queue.text())


# Logged-in console clients of the test module's ``app`` fixture (which adds the staff users
# "li", an agent, and "boss", a supervisor); ``client.csrf`` is the session's CSRF token.
import pytest_asyncio  # noqa: E402


@pytest_asyncio.fixture
async def boss(aiohttp_client, app):
    client = await aiohttp_client(app)
    client.csrf = await log_in(client, "boss")
    return client


@pytest_asyncio.fixture
async def agent(aiohttp_client, app):
    client = await aiohttp_client(app)
    client.csrf = await log_in(client, "li")
    return client
