"""Live hand-off in real headless Chromium against the whole stack (real model, real actions).

1. A customer asks for a person on the widget, an agent logs in to the console, accepts,
   replies; the customer sees the reply under the agent's name; the agent hands back and
   the bot answers the customer's next message.
2. Nobody accepts within the stack's accept time (HANDOFF_ACCEPT_SECONDS=20): the customer
   is told, a callback ticket with a deadline exists, and `bot handoffs --json` shows it.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot import vocabulary

ROOT = Path(__file__).resolve().parent.parent.parent
AGENT, AGENT_NAME, AGENT_PASSWORD = "li.na", "李娜", "agent-pass-2026"
CALLBACK_NO = re.compile(r"\b(HD\d{11})\b")
REPLIES = ".pcw-log .pcw-msg.pcw-bot:not(.pcw-greeting), .pcw-log .pcw-msg.pcw-system, .pcw-log .pcw-msg.pcw-staff"


def bot_cli(stack, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": stack.database_url, "PYTHONPATH": str(ROOT), "BCRYPT_ROUNDS": "4"}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def agent_account(stack):
    done = bot_cli(stack, "create-staff", AGENT, "--name", AGENT_NAME, "--role", "agent", "--password-stdin",
                   stdin=AGENT_PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    return AGENT


@pytest.fixture
def customer(browser, stack):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(stack.gateway_url + "/")
    page.wait_for_function("window.PowerChat && PowerChat.socket() && PowerChat.socket().connected "
                           "&& PowerChat.sessionId()", timeout=20_000)
    yield page
    context.close()
    assert errors == [], f"JavaScript errors in the widget: {errors}"


@pytest.fixture
def agent(browser, stack, agent_account):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(stack.gateway_url + "/console/")
    page.wait_for_url("**/console/login**")
    page.fill("input[name=username]", AGENT)
    page.fill("input[name=password]", AGENT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/queue")
    yield page
    context.close()
    assert errors == [], f"JavaScript errors in the console: {errors}"


def replies(page) -> list[str]:
    return page.eval_on_selector_all(REPLIES, "nodes => nodes.map(n => n.innerText)")


def say(page, text: str) -> None:
    page.fill("#pcw-input", text)
    page.keyboard.press("Enter")


def wait_for_reply(page, known: int, contains: str | None = None, timeout: float = 60.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        texts = replies(page)
        new = texts[known:]
        if new and (contains is None or any(contains in t for t in new)):
            return new
        assert time.monotonic() < deadline, f"no reply{' with ' + contains if contains else ''}: {texts}"
        page.wait_for_timeout(200)


def handoffs(stack) -> list[dict]:
    done = bot_cli(stack, "handoffs", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def ask_for_a_person(customer) -> str:
    known = len(replies(customer))
    say(customer, "转人工")
    wait_for_reply(customer, known, contains="人工客服")
    return customer.evaluate("PowerChat.sessionId()")


def test_agent_accepts_replies_and_hands_back(customer, agent, stack):
    conversation_id = ask_for_a_person(customer)

    # The waiting conversation appears in the agent's queue live (no reload).
    row = agent.locator(f'.waiting-row[data-conversation-id="{conversation_id}"]')
    row.wait_for(timeout=15_000)
    assert "转人工" in row.inner_text()
    row.locator("button:has-text('接入')").click()
    agent.wait_for_selector("#reply-text", timeout=15_000)
    assert "转人工" in agent.inner_text("#transcript")  # the whole transcript is there

    known = len(replies(customer))
    answer = "您好，我是人工客服李娜，请问有什么可以帮您？"
    agent.fill("#reply-text", answer)
    agent.keyboard.press("Enter")
    wait_for_reply(customer, known, contains=answer)
    staff_message = customer.locator(".pcw-log .pcw-msg.pcw-staff", has_text=answer).last
    assert AGENT_NAME in staff_message.inner_text()  # marked with the agent's name

    # The customer's answer reaches the agent live, and the bot stays silent meanwhile.
    known = len(replies(customer))
    say(customer, "我想问一下这个月的电费")
    agent.locator("#transcript .msg-customer", has_text="这个月的电费").wait_for(timeout=15_000)
    customer.wait_for_timeout(2000)
    assert replies(customer)[known:] == []

    agent.click("#btn-handback")
    wait_for_reply(customer, known, contains="智能客服")
    agent.wait_for_selector("#btn-takeover", timeout=15_000)  # back to the bot: the agent could take over again

    known = len(replies(customer))
    say(customer, "你好")
    new = wait_for_reply(customer, known)
    assert customer.locator(".pcw-log .pcw-msg.pcw-bot:not(.pcw-greeting)").count() >= 1
    assert all("李娜" not in text for text in new)

    record = next(h for h in handoffs(stack) if h["conversation_id"] == conversation_id)
    assert (record["status"], record["agent"], record["channel"]) == ("returned", AGENT, "web")
    assert record["accepted_at"] is not None and record["callback_ticket_no"] is None


def test_nobody_accepts_and_a_callback_ticket_appears(customer, agent, stack):
    conversation_id = ask_for_a_person(customer)
    known = len(replies(customer))
    # HANDOFF_ACCEPT_SECONDS=20 in the stack; the watcher checks every second.
    new = wait_for_reply(customer, known, contains="回电工单", timeout=60)
    notice = next(t for t in new if "回电工单" in t)
    ticket_no = CALLBACK_NO.search(notice).group(1)
    assert "前与您联系" in notice  # the deadline is told

    request = urllib.request.Request(f"{stack.gateway_url}/api/v1/tickets/{ticket_no}",
                                     headers={"Authorization": f"Bearer {stack.service_token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        ticket = json.loads(response.read())
    assert ticket["type"] == "callback" and ticket["conversation_id"] == conversation_id
    assert ticket["milestones"] and ticket["milestones"][0]["due_at"]

    record = next(h for h in handoffs(stack) if h["conversation_id"] == conversation_id)
    assert (record["status"], record["callback_ticket_no"], record["accepted_at"]) == ("missed", ticket_no, None)

    # The agent finds it among the callback tickets, with its countdown.
    agent.goto(stack.gateway_url + "/console/tickets?type=callback")
    row = agent.locator("tr", has_text=ticket_no)
    assert "剩余" in row.inner_text()
    # One vocabulary (bot/vocabulary.py): the customer's notice, the page and the console's script
    # all call the ticket type by the same name.
    callback_name = vocabulary.TICKET_TYPES["callback"]
    assert f"{callback_name}工单" in notice and callback_name in row.inner_text()
    assert agent.evaluate("window.consoleVocabulary") == vocabulary.as_json()

    # The conversation is the bot's again.
    known = len(replies(customer))
    say(customer, "你好")
    wait_for_reply(customer, known)
