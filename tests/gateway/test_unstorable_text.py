"""Issue 16, item 8: text the store cannot keep (NUL, lone surrogates) and stack-deep JSON.

Customers' text is cleaned and answered; the REST API refuses with a JSON 400 naming the
field; nothing is a 500 and nothing is ``not_stored``; the widget stops resending a message
the server refused. On SQLite and on a real PostgreSQL (``store_url``).
"""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import select

from bot.config import Settings
from bot.store.models import Message, Ticket
from bot.text_safety import clean_text, unstorable_field
from bot.web_channel import UNREADABLE_TEXT
from tests.support.gateway import SERVICE_TOKEN, auth_headers, load_demo_data
from tests.support.services import unavailable
from tests.support.webchat import FakeRasa, start_mini_gateway
from tests.gateway.test_web_channel import ChatClient
from bot.store import STORE

CHROMIUM = "/usr/bin/chromium"


def test_cleaning_keeps_what_can_be_read():
    assert clean_text("停\x00电了\ud800") == "停电了\ufffd"
    assert clean_text("\ud83d\ude00 好") == "\U0001f600 好"  # a valid pair sent as two escapes
    assert clean_text("第一行\n第二行\t完\r") == "第一行\n第二行\t完\r"
    assert clean_text("\x01\x1f\x7f") == ""
    assert unstorable_field({"a": [1, {"b": "x\x00"}]}) == "a[1].b"
    assert unstorable_field({"ok": "好", "list": ["\udc00"]}) == "list[0]"
    assert unstorable_field({"fine": "正常文本\n"}) is None


@pytest_asyncio.fixture
async def rasa():
    fake = await FakeRasa().start()
    yield fake
    await fake.stop()


@pytest_asyncio.fixture
async def gateway(rasa, store_url):
    gw = await start_mini_gateway(rasa.url, rasa_timeout=3, database_url=store_url)
    yield gw
    await gw.stop()


@pytest.mark.asyncio
async def test_customer_text_with_nul_or_lone_surrogate_is_cleaned_stored_and_answered(gateway, rasa):
    client = ChatClient()
    try:
        session_id = await client.open(gateway.url)
        ack = await client.say(session_id, "电费\ud800多少", message_id="m-surrogate")
        assert ack["ok"] is True, ack
        assert (await client.next())["text"] == "收到：电费\ufffd多少"
        ack = await client.say(session_id, "家里\x00停电了", message_id="m-nul")
        assert ack["ok"] is True, ack
        assert (await client.next())["text"] == "收到：家里停电了"
        # Nothing readable: refused with a Chinese answer and told not to retry.
        ack = await client.say(session_id, "\x00\x01", message_id="m-empty")
        assert ack["ok"] is False and ack["error"] == "bad_text" and ack["retry"] is False, ack
        assert (await client.next())["text"] == UNREADABLE_TEXT
    finally:
        await client.close()
    # Staff replies (console) go through hub.push: cleaned as well.
    await gateway.hub.push(session_id, {"text": "您好\x00，请稍候\udfff"}, sender="staff", agent="王芳")
    with gateway.store.session() as session:
        rows = session.execute(select(Message.sender, Message.text).where(Message.conversation_id == session_id)
                               .order_by(Message.id)).all()
    assert [tuple(r) for r in rows] == [
        ("customer", "电费\ufffd多少"), ("bot", "收到：电费\ufffd多少"),
        ("customer", "家里停电了"), ("bot", "收到：家里停电了"),
        ("staff", "您好，请稍候\ufffd"),
    ]
    assert [m["message"] for m in rasa.received] == ["电费\ufffd多少", "家里停电了"]


@pytest.fixture
def api_app(store_url):
    from bot.app import create_app

    app = create_app(Settings(database_url=store_url, service_token=SERVICE_TOKEN), start_background=False)
    load_demo_data(app)
    return app


@pytest_asyncio.fixture
async def api(aiohttp_client, api_app):
    return await aiohttp_client(api_app)


def _raw(body: dict) -> str:
    return json.dumps(body)  # ensure_ascii: "\u0000" and "\ud800" travel as escapes, as a client sends them


@pytest.mark.asyncio
async def test_api_refuses_unstorable_text_and_deep_json_with_json_400(api, api_app):
    headers = {**auth_headers(), "Content-Type": "application/json"}
    ticket = {"type": "repair", "summary": "家里停电\u0000了", "channel": "rest", "request_key": "nul-1"}
    resp = await api.post("/api/v1/tickets", data=_raw(ticket), headers=headers)
    assert resp.status == 400, await resp.text()
    assert await resp.json() == {"error": "validation_error", "field": "summary",
                                 "message": "summary: contains a character that cannot be stored "
                                            "(NUL or a lone surrogate)"}
    ticket = {**ticket, "summary": "停电", "contact_name": "张\ud800伟", "request_key": "surrogate-1"}
    resp = await api.post("/api/v1/tickets", data=_raw(ticket), headers=headers)
    assert resp.status == 400 and (await resp.json())["field"] == "contact_name"
    nested = {**ticket, "summary": "停电", "contact_name": "张伟", "details": {"notes": ["好", "x\x00"]}}
    resp = await api.post("/api/v1/tickets", data=_raw(nested), headers=headers)
    assert resp.status == 400 and (await resp.json())["field"] == "details.notes[1]"
    # 100,000 levels of nesting: the parser's recursion guard, answered as bad JSON.
    deep = "[" * 100_000 + "]" * 100_000
    resp = await api.post("/api/v1/tickets", data=deep, headers=headers)
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["error"] == "invalid_json"
    resp = await api.post("/api/v1/identity/verify", data='{"account_no": ' + "{" * 100_000, headers=headers)
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_json"
    # The hand-off API as well, with the same error as the rest of /api/v1.
    handoff = {"conversation_id": "rest-nul-1", "channel": "rest", "reason": "customer_request",
               "summary": "转人工\u0000"}
    resp = await api.post("/api/v1/handoffs", data=_raw(handoff), headers=headers)
    assert resp.status == 400 and (await resp.json())["error"] == "validation_error"
    assert (await resp.json())["field"] == "summary"
    with api_app[STORE].session() as session:
        assert session.execute(select(Ticket)).first() is None  # nothing half-written
    # Clean text still works on this backend.
    good = {"type": "repair", "summary": "家里停电了", "channel": "rest", "request_key": "good-1"}
    resp = await api.post("/api/v1/tickets", data=_raw(good), headers=headers)
    assert resp.status == 201, await resp.text()


@pytest.mark.asyncio
async def test_widget_stops_resending_a_message_the_server_refused(rasa, tmp_path):
    """Headless Chromium, the real widget against a gateway: a refused message leaves the
    outbox (no resend on reconnect) and is marked not sent; a good one still goes."""
    if not Path(CHROMIUM).exists():
        unavailable("Debian's chromium at /usr/bin/chromium")
    playwright_api = pytest.importorskip("playwright.async_api")
    gateway = await start_mini_gateway(rasa.url, database_url=f"sqlite:///{tmp_path / 'store.db'}")
    try:
        async with playwright_api.async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
            try:
                page = await browser.new_page()
                await page.goto(gateway.url + "/")
                await page.wait_for_function("window.PowerChat && PowerChat.socket() && "
                                             "PowerChat.socket().connected && PowerChat.sessionId()", timeout=20_000)
                await page.evaluate("PowerChat.open()")
                await page.evaluate("PowerChat.send('\\u0000\\u0001')")
                await page.wait_for_function("PowerChat.failedCount() === 1", timeout=10_000)
                assert await page.evaluate("PowerChat.pendingCount()") == 0
                saved = await page.evaluate("Object.keys(localStorage).map(k => localStorage.getItem(k)).join('')")
                assert "\\u0000" not in saved and '"outbox":[]' in saved
                # A reconnect does not send it again; a readable message still goes through.
                await page.evaluate("PowerChat.socket().disconnect(); PowerChat.socket().connect()")
                await page.wait_for_function("PowerChat.socket().connected", timeout=10_000)
                await page.evaluate("PowerChat.send('你好')")
                await page.wait_for_function("PowerChat.pendingCount() === 0", timeout=10_000)
                await asyncio.sleep(0.5)
            finally:
                await browser.close()
    finally:
        await gateway.stop()
    assert [m["message"] for m in rasa.received] == ["你好"]
