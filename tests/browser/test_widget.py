"""The widget in real headless Chromium against the whole stack (gateway, Rasa, actions).

A customer reports a fault and the ticket number shown in the chat exists in the store; a
reload keeps the history; a message typed while the network is down arrives once after the
widget reconnects; markup typed by a customer stays text.
"""
from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request

import pytest

TICKET_NO = re.compile(r"\b([A-Z]{2}\d{11})\b")
BOT_MESSAGES = ".pcw-log .pcw-msg.pcw-bot:not(.pcw-greeting), .pcw-log .pcw-msg.pcw-system, .pcw-log .pcw-msg.pcw-staff"
# Demo customer (demo/demo_data.json): 李秀英, 3201000002, 江宁区横溪街道石塘村45号.
FAULT_ANSWERS = [  # (words in the bot's last message, what the customer answers)
    (("后四位",), "2316"),
    (("地址",), "江苏省南京市江宁区横溪街道石塘村45号"),
    (("户号",), "3201000002"),
    (("只有您家没电", "情况不一样", "周边都有电"), "周边邻居都有电，只有我家没电，请帮我报修"),
    (("情况", "描述", "具体说说"), "只有我家没电，邻居家都有电，总闸也没有跳"),
    (("电话", "手机"), "13905172316"),
    (("姓名", "称呼", "怎么称呼"), "李秀英"),
]


@pytest.fixture
def page(browser, stack):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(stack.gateway_url + "/")
    page.wait_for_function("window.PowerChat && PowerChat.socket() && PowerChat.socket().connected "
                           "&& PowerChat.sessionId()", timeout=20_000)
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def bot_texts(page) -> list[str]:
    return page.eval_on_selector_all(BOT_MESSAGES, "nodes => nodes.map(n => n.innerText)")


def say(page, text: str) -> None:
    page.fill("#pcw-input", text)
    page.keyboard.press("Enter")


def wait_for_answer(page, known: int, timeout: float = 60.0, quiet: float = 1.5) -> list[str]:
    """Waits for at least one new bot message, then until no more arrive for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    while len(bot_texts(page)) <= known:
        assert time.monotonic() < deadline, f"no answer after {timeout} s; chat so far: {bot_texts(page)}"
        page.wait_for_timeout(200)
    count = len(bot_texts(page))
    settled = time.monotonic()
    while time.monotonic() - settled < quiet:
        page.wait_for_timeout(200)
        if len(bot_texts(page)) != count:
            count, settled = len(bot_texts(page)), time.monotonic()
    return bot_texts(page)


def api_get(stack, path: str) -> tuple[int, dict]:
    request = urllib.request.Request(stack.gateway_url + path,
                                     headers={"Authorization": f"Bearer {stack.service_token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def report_fault(page) -> str:
    """Reports a fault, following whatever the bot asks, until a ticket number is shown."""
    transcript: list[str] = []
    known = len(bot_texts(page))
    say(page, "停电了")
    transcript.append("客户: 停电了")
    for _turn in range(12):
        texts = wait_for_answer(page, known)
        new = texts[known:]
        known = len(texts)
        transcript.extend(f"客服: {t}" for t in new)
        for text in new:
            found = TICKET_NO.search(text)
            if found:
                return found.group(1)
        last = new[-1]
        answer = next((reply for words, reply in FAULT_ANSWERS if any(w in last for w in words)), None)
        if answer is None:
            choices = page.locator(".pcw-log .pcw-msg:last-of-type .pcw-choice:not([disabled])")
            titles = choices.all_inner_texts()
            preferred = next((t for t in titles if t in ("是", "是的", "确认", "对", "确认报修", "报修")), None)
            if preferred:
                choices.filter(has_text=preferred).first.click()
                transcript.append(f"客户(按钮): {preferred}")
                continue
            answer = "是的，请帮我报修"
        say(page, answer)
        transcript.append(f"客户: {answer}")
    pytest.fail("no ticket number after 12 turns:\n" + "\n".join(transcript))


def test_customer_reports_a_fault_and_the_ticket_exists(page, stack):
    ticket_no = report_fault(page)
    assert ticket_no.startswith("BX"), ticket_no
    status, ticket = api_get(stack, f"/api/v1/tickets/{ticket_no}")
    assert status == 200, f"ticket {ticket_no} shown in the chat is not in the store\n{stack.logs()}"
    assert ticket["type"] == "repair"
    assert ticket["conversation_id"] == page.evaluate("PowerChat.sessionId()")
    assert ticket["channel"] == "web"

    # A reload restores the whole conversation from the server, in order.
    before = page.eval_on_selector_all(".pcw-log .pcw-msg:not(.pcw-greeting) .pcw-bubble",
                                       "nodes => nodes.map(n => n.textContent)")
    page.reload()
    page.wait_for_function(f"document.querySelectorAll('.pcw-log .pcw-msg:not(.pcw-greeting)').length >= {len(before)}",
                           timeout=20_000)
    after = page.eval_on_selector_all(".pcw-log .pcw-msg:not(.pcw-greeting) .pcw-bubble",
                                      "nodes => nodes.map(n => n.textContent)")
    assert after == before
    assert any(ticket_no in text for text in after)


def test_message_typed_while_offline_arrives_once_after_reconnect(page, stack):
    session_id = page.evaluate("PowerChat.sessionId()")
    known = len(bot_texts(page))
    page.context.set_offline(True)
    page.wait_for_function("!PowerChat.socket().connected", timeout=10_000)
    say(page, "你好，我想查一下电费")
    page.wait_for_timeout(1500)
    assert page.evaluate("PowerChat.pendingCount()") == 1
    assert "网络连接已断开" in page.inner_text(".pcw-status")

    page.context.set_offline(False)
    page.wait_for_function("PowerChat.pendingCount() === 0", timeout=30_000)
    wait_for_answer(page, known)
    shown = page.eval_on_selector_all(".pcw-log .pcw-msg.pcw-customer .pcw-bubble",
                                      "nodes => nodes.map(n => n.textContent)")
    assert shown.count("你好，我想查一下电费") == 1

    page.reload()  # and the server stored it exactly once
    page.wait_for_function("document.querySelectorAll('.pcw-log .pcw-msg.pcw-customer').length >= 1", timeout=20_000)
    restored = page.eval_on_selector_all(".pcw-log .pcw-msg.pcw-customer .pcw-bubble",
                                         "nodes => nodes.map(n => n.textContent)")
    assert restored.count("你好，我想查一下电费") == 1
    assert page.evaluate("PowerChat.sessionId()") == session_id


def test_markup_typed_by_a_customer_stays_text(page, stack):
    known = len(bot_texts(page))
    markup = '<img src=x onerror="window.__injected=1"><b>加粗</b>'
    say(page, markup)
    wait_for_answer(page, known)
    assert page.locator(".pcw-log img").count() == 0
    assert page.locator(".pcw-log b").count() == 0
    assert page.evaluate("window.__injected === undefined")
    assert markup in page.eval_on_selector_all(".pcw-log .pcw-msg.pcw-customer .pcw-bubble",
                                               "nodes => nodes.map(n => n.textContent)")


def test_widget_works_by_keyboard_on_a_phone(browser, stack):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(stack.gateway_url + "/")
        page.wait_for_function("window.PowerChat && PowerChat.sessionId()", timeout=20_000)
        panel = page.locator(".pcw-panel").bounding_box()
        assert panel["width"] == 390 and panel["height"] >= 800  # full screen on a phone
        page.keyboard.press("Escape")  # closes the panel, focus goes to the launcher
        assert page.evaluate("document.activeElement.className") == "pcw-launcher"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "pcw-input"
        known = len(bot_texts(page))
        page.keyboard.type("你好")
        page.keyboard.press("Enter")
        wait_for_answer(page, known)
    finally:
        context.close()
