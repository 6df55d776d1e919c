"""The web widget in headless Chromium shows the usage chart as an image message (the contract's
attachment form), and loads only its own gateway's images by itself: another site's image stays
a link the customer chooses to open (no tracking pixels in a chat about personal data).

Gateway (store + hub + web channel) and a fake Rasa run in-process on loopback, in a thread.
"""
from __future__ import annotations

import asyncio
import threading

import pytest
from aiohttp import web

from tests.support.webchat import FakeRasa, start_mini_gateway


class ChartRasa(FakeRasa):
    """Answers 图表 with the chart message the actions send (text, image attachment, words)."""

    chart_src = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body["message"] != "图表":
            return await super().handle(_Replay(request, body))
        recipient = body["sender"]
        return web.json_response([
            {"recipient_id": recipient, "text": "为您画好了户号尾号0001近12个月的用电情况（图片链接1小时内有效）："},
            {"recipient_id": recipient, "attachment": {"type": "image", "payload": {
                "src": self.chart_src, "title": "近12个月用电情况（户号尾号0001）"}}},
            {"recipient_id": recipient, "text": "近12个月共用电2530度，电费1280.00元。\n11月用电330度，比去年同月多230%。"},
        ])


class _Replay:
    """The request again for the parent handler (its body was read already)."""

    def __init__(self, request: web.Request, body: dict):
        self._body = body

    async def json(self) -> dict:
        return self._body


@pytest.fixture(scope="module")
def chat_servers():
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict = {}

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def start() -> None:
            state["rasa"] = await ChartRasa().start()
            state["gateway"] = await start_mini_gateway(state["rasa"].url)
            # Any file the gateway serves itself stands in for the chart (same origin).
            state["rasa"].chart_src = state["gateway"].url + "/static/index.html?chart=1"

        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(30)
    yield state["gateway"].url
    stop = asyncio.run_coroutine_threadsafe(_stop(state), loop)
    stop.result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


async def _stop(state: dict) -> None:
    await state["gateway"].stop()
    await state["rasa"].stop()
    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in pending:  # socket.io's ping tasks of the closed connection
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


def test_the_chart_is_an_image_and_foreign_images_stay_links(browser, chat_servers):
    context = browser.new_context(viewport={"width": 420, "height": 800}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(chat_servers + "/")
    page.wait_for_function("window.PowerChat && PowerChat.socket() && PowerChat.socket().connected", timeout=20_000)

    page.fill("#pcw-input", "图表")
    page.keyboard.press("Enter")
    page.wait_for_selector(".pcw-log img.pcw-img", timeout=20_000)
    image = page.locator(".pcw-log img.pcw-img").first
    assert image.get_attribute("src") == chat_servers + "/static/index.html?chart=1"
    assert image.get_attribute("alt") == "近12个月用电情况（户号尾号0001）"
    assert page.locator(".pcw-log .pcw-img-title").first.inner_text() == "近12个月用电情况（户号尾号0001）"
    page.wait_for_function("document.querySelector('.pcw-log').innerText.includes('比去年同月多230%')",
                           timeout=20_000)

    page.fill("#pcw-input", "图片")  # the fake answers an image on https://example.invalid
    page.keyboard.press("Enter")
    page.wait_for_selector(".pcw-log a[href='https://example.invalid/map.png']", timeout=20_000)
    assert page.locator(".pcw-log img.pcw-img").count() == 1  # not loaded as an image
    context.close()
    assert errors == []
