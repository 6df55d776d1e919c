"""The agent's tools in real headless Chromium under the console's strict CSP (issue 18).

A gateway process on a temporary SQLite store with the demo data; a supervisor keeps the
quick replies and labels through their pages; an agent takes a conversation over, finds a
quick reply by typing "/" (keyboard only), sends it, adds a private note and labels the
conversation; transfer and availability follow. No JavaScript error or CSP violation.
Screenshots go to a temporary folder, or to docs/screenshots/ with UPDATE_SCREENSHOTS=1.
"""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.console import PASSWORD
from tests.support.services import free_port, stop_process_group, wait_for_port

ROOT = Path(__file__).resolve().parent.parent.parent
SHOTS = ROOT / "docs" / "screenshots"
if os.environ.get("UPDATE_SCREENSHOTS") != "1":
    import tempfile

    SHOTS = Path(tempfile.mkdtemp(prefix="agent-tools-shots-"))
ACCOUNT = "3201000002"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    from bot.console.auth import upsert_staff
    from bot.importer import load_demo
    from bot.store import Store, migrate
    from bot.store.models import Conversation, Customer, Message
    from bot.store.types import now_utc
    from sqlalchemy import select

    os.environ.setdefault("BCRYPT_ROUNDS", "4")
    folder = tmp_path_factory.mktemp("agent-tools-browser")
    url = f"sqlite:///{folder / 'store.db'}"
    migrate(url)
    store = Store(url)
    try:
        load_demo(store)
        now = now_utc()
        with store.session() as session:
            for username, name, role in (("boss", "王主管", "supervisor"), ("li", "李娜", "agent"),
                                         ("zhao", "赵强", "agent")):
                upsert_staff(session, username, name, role, PASSWORD)
            for cid in ("web-b1", "web-b2"):
                session.add(Conversation(id=cid, channel="web", state="bot", account_no=ACCOUNT,
                                         created_at=now - timedelta(minutes=5), last_message_at=now))
            session.flush()
            for cid in ("web-b1", "web-b2"):
                session.add(Message(conversation_id=cid, sender="customer", channel="web",
                                    text="我家停电了，什么时候来电？", created_at=now - timedelta(minutes=4)))
            name = session.execute(select(Customer.name).where(Customer.account_no == ACCOUNT)).scalar_one()
    finally:
        store.close()
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": str(port),
           "PYTHONPATH": str(ROOT), "RASA_URL": "http://127.0.0.1:9", "STAFF_HOURS": "00:00-24:00"}
    log = open(folder / "gateway.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(port, timeout=60, proc=proc)
        yield {"url": f"http://127.0.0.1:{port}", "name": name, "db": url}
    finally:
        stop_process_group(proc)
        log.close()


class Console:
    """One staff member's browser context, collecting page errors and CSP violations."""

    def __init__(self, browser, gateway, username: str):
        self.context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error"
                     and not msg.text.startswith("Failed to load resource") else None)
        self.base = gateway["url"]
        self.page.goto(self.base + "/console/login")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_url("**/console/queue")

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)

    def close(self) -> None:
        self.context.close()
        assert self.errors == [], f"errors in the console: {self.errors}"


@pytest.fixture
def boss(browser, gateway):
    c = Console(browser, gateway, "boss")
    yield c
    c.close()


@pytest.fixture
def agent(browser, gateway):
    c = Console(browser, gateway, "li")
    yield c
    c.close()


def test_canned_reply_by_slash_note_and_labels(boss, agent, gateway):
    SHOTS.mkdir(parents=True, exist_ok=True)
    # The supervisor keeps the quick replies and the labels.
    boss.go("/console/canned")
    boss.page.fill("#canned-form input[name=shortcut]", "问候")
    boss.page.fill("#canned-form input[name=title]", "开场问候")
    boss.page.fill("#canned-form textarea[name=body]", "{{姓名}}您好，我是{{坐席}}，请问有什么可以帮您？")
    boss.page.click("#canned-form button[type=submit]")
    boss.page.wait_for_selector("tr[data-shortcut='问候']")
    boss.page.fill("#canned-form input[name=shortcut]", "停电")
    boss.page.fill("#canned-form input[name=title]", "停电安抚")
    boss.page.fill("#canned-form textarea[name=body]", "非常抱歉给您带来不便，抢修人员正在赶往现场。")
    boss.page.click("#canned-form button[type=submit]")
    boss.page.wait_for_selector("tr[data-shortcut='停电']")
    boss.page.screenshot(path=str(SHOTS / "console-canned-replies.png"), full_page=True)
    for label in ("停电报修", "已安抚"):
        boss.go("/console/labels")
        boss.page.fill("#label-form input[name=name]", label)
        boss.page.click("#label-form button[type=submit]")
        boss.page.wait_for_selector(f"tr[data-label='{label}']")

    # The agent takes the conversation over; the header names the customer, masked.
    page = agent.page
    agent.go("/console/conversations/web-b1")
    name, masked = gateway["name"], gateway["name"][0] + "*" * (len(gateway["name"]) - 1)
    head = page.inner_text("#conv-customer")
    assert masked in head and ACCOUNT in head and name not in head
    page.click("#btn-takeover")
    page.wait_for_selector("#reply-text")

    # "/" opens the list; typing filters; arrows move; Enter inserts (does not send).
    page.click("#reply-text")
    page.keyboard.type("/")
    page.wait_for_selector("#canned-popup:not([hidden]) .canned-item")
    assert page.locator(".canned-item").count() == 2
    page.keyboard.type("停")
    page.wait_for_function("document.querySelectorAll('.canned-item').length === 1")
    page.keyboard.press("Backspace")
    page.wait_for_function("document.querySelectorAll('.canned-item').length === 2")
    first = page.get_attribute(".canned-item.active", "data-shortcut")
    page.keyboard.press("ArrowDown")
    second = page.get_attribute(".canned-item.active", "data-shortcut")
    assert {first, second} == {"问候", "停电"}
    if second != "问候":
        page.keyboard.press("ArrowUp")
    preview = page.inner_text(".canned-item.active")
    assert masked + "您好，我是李娜" in preview and name not in preview
    page.screenshot(path=str(SHOTS / "console-canned-popup.png"))
    page.keyboard.press("Enter")
    assert page.is_hidden("#canned-popup")
    assert page.input_value("#reply-text") == "{{姓名}}您好，我是{{坐席}}，请问有什么可以帮您？"
    page.keyboard.press("Enter")  # now it sends
    page.locator("#transcript .msg-staff", has_text="请问有什么可以帮您").wait_for(timeout=10_000)
    staff_text = page.inner_text("#transcript .msg-staff >> nth=-1")
    assert masked + "您好，我是李娜" in staff_text and "{{" not in staff_text and name not in staff_text

    # Escape closes the list without inserting.
    page.keyboard.type("/")
    page.wait_for_selector("#canned-popup:not([hidden])")
    page.keyboard.press("Escape")
    assert page.is_hidden("#canned-popup") and page.input_value("#reply-text") == "/"
    page.fill("#reply-text", "")

    # A private note: in the transcript, marked staff-only.
    page.fill("#note-text", "客户家中有老人，优先安排抢修")
    page.click("#btn-note")
    note = page.locator("#transcript .msg-note", has_text="优先安排抢修")
    note.wait_for(timeout=10_000)
    assert "仅坐席可见" in note.inner_text()

    # Labels from the list.
    page.check("#labels-form input[value='停电报修']")
    page.click("#btn-labels")
    page.wait_for_selector("#labels-form input[value='停电报修']:checked")
    page.locator("#transcript .msg-note", has_text="添加标签：停电报修").wait_for(timeout=10_000)
    page.screenshot(path=str(SHOTS / "console-notes-labels.png"), full_page=True)


def test_availability_and_transfer_live(browser, boss, agent, gateway):
    SHOTS.mkdir(parents=True, exist_ok=True)
    zhao = Console(browser, gateway, "zhao")
    try:
        boss.go("/console/queue")
        boss.page.wait_for_selector("[data-username='zhao'][data-availability='online']")
        # zhao goes busy from the top bar: the supervisor's queue shows it without a reload.
        zhao.page.select_option("#availability", "busy")
        boss.page.wait_for_selector("[data-username='zhao'][data-availability='busy']", timeout=10_000)
        zhao.page.reload()
        assert zhao.page.input_value("#availability") == "busy"
        # A busy agent is not offered transfers.
        page = agent.page
        agent.go("/console/conversations/web-b2")
        page.click("#btn-takeover")
        page.wait_for_selector("#transfer-card")
        assert page.locator("#transfer-to option[value='zhao']").count() == 0
        zhao.page.select_option("#availability", "online")
        boss.page.wait_for_selector("[data-username='zhao'][data-availability='online']", timeout=10_000)
        page.reload()
        zhao.go("/console/queue")
        assert zhao.page.locator(".serving-row[data-conversation-id='web-b2']").count() == 0

        page.select_option("#transfer-to", "zhao")
        page.fill("#transfer-form input[name=reason]", "客户咨询电价政策")
        page.click("#btn-transfer")
        # The target sees it in their queue live; the former agent loses the reply box.
        zhao.page.wait_for_selector(".serving-row[data-conversation-id='web-b2']", timeout=10_000)
        page.wait_for_selector("#reply-text", state="detached", timeout=10_000)
        zhao.page.screenshot(path=str(SHOTS / "console-transfer-queue.png"), full_page=True)
        zhao.page.click(".serving-row[data-conversation-id='web-b2'] a.button")
        zhao.page.wait_for_selector("#reply-text")
        record = zhao.page.locator("#transcript .msg-note", has_text="转接给 赵强")
        record.wait_for(timeout=10_000)
        assert "客户咨询电价政策" in record.inner_text() and "仅坐席可见" in record.inner_text()
        assert "已转给客服赵强" in zhao.page.inner_text("#transcript")
        boss.page.screenshot(path=str(SHOTS / "console-availability.png"), full_page=True)
    finally:
        zhao.close()


def test_search_and_customer_page(agent, gateway):
    page = agent.page
    agent.go("/console/queue")
    page.fill("#top-search", "停电 来电")
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/search?q=**")
    hits = page.locator("#search-messages .result")
    assert hits.count() >= 2 and "我家停电了" in hits.first.inner_text()
    masked = gateway["name"][0] + "*" * (len(gateway["name"]) - 1)
    assert masked in page.inner_text("#search-conversations") and gateway["name"] not in page.content()
    page.fill("#top-search", ACCOUNT)
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#search-customers a[href='/console/customers/{ACCOUNT}']")
    page.click(f"#search-customers a[href='/console/customers/{ACCOUNT}']")
    page.wait_for_url(f"**/console/customers/{ACCOUNT}")
    assert page.locator("#customer-conversations a[href='/console/conversations/web-b1']").count() == 1
    assert page.locator("#customer-conversations a[href='/console/conversations/web-b2']").count() == 1
    page.screenshot(path=str(SHOTS / "console-customer-page.png"), full_page=True)
