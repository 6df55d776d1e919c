"""``/console/notices`` in real headless Chromium under the console's strict CSP (issue 19).

A gateway process on a temporary SQLite store with hand-made customers, bindings and
deliveries (tests/support/notices_console.py); a supervisor logs in through the form, reads
the figures, previews an ad-hoc notice (the text as customers read it, 4 recipients) and sends
it with a double click: one notice, one delivery per recipient. No JavaScript error or CSP
violation. Screenshots go to a temporary folder, or to docs/screenshots/ with UPDATE_SCREENSHOTS=1.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.support import notices_console as data
from tests.support.console import PASSWORD
from tests.support.services import free_port, stop_process_group, wait_for_port

ROOT = Path(__file__).resolve().parent.parent.parent
SHOTS = ROOT / "docs" / "screenshots"
if os.environ.get("UPDATE_SCREENSHOTS") != "1":
    import tempfile

    SHOTS = Path(tempfile.mkdtemp(prefix="notices-console-shots-"))


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    from bot.console.auth import upsert_staff
    from bot.store import Store, migrate

    os.environ.setdefault("BCRYPT_ROUNDS", "4")
    folder = tmp_path_factory.mktemp("notices-browser")
    url = f"sqlite:///{folder / 'store.db'}"
    migrate(url)
    store = Store(url)
    try:
        with store.session() as session:
            upsert_staff(session, "boss", "王主管", "supervisor", PASSWORD)
            data.add_customers(session)
            ids = data.add_bindings(session)["ids"]
            d = data.delivery
            for n in range(12):
                d(session, ids["zhang_wechat"], "3201000101", kind="due_reminder", channel="wechat", status="sent",
                  created_at=data.at(n / 2), key=f"due-{n}")
            for n in range(5):
                d(session, ids["li_wecom"], "3201000102", kind="planned_outage", channel="wecom", status="sent",
                  created_at=data.at(n / 3), key=f"out-{n}")
            d(session, ids["zhao"], "3201000107", kind="low_balance", channel="sms", status="failed",
              created_at=data.at(0.2), key="low-1", attempts=2, next_attempt_at=data.at(-0.02),
              last_error="短信网关超时（13812340107）")
            d(session, ids["li_wecom"], "3201000102", kind="planned_outage", channel="wecom", status="dead",
              created_at=data.at(1.5), key="out-dead", attempts=6, last_error="errcode 40003 invalid userid")
            d(session, ids["liu"], "3201000104", kind="bill_issued", channel="wechat", status="skipped",
              created_at=data.at(1), key="bill-1", last_error="opted_out")
    finally:
        store.close()
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": str(port),
           "PYTHONPATH": str(ROOT), "RASA_URL": "http://127.0.0.1:9",
           "NOTICES_ENABLED": "false"}  # the page's figures, not the engine's rounds, are under test
    log = open(folder / "gateway.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(port, timeout=60, proc=proc)
        yield {"url": f"http://127.0.0.1:{port}", "db": url}
    finally:
        stop_process_group(proc)
        log.close()


def test_a_supervisor_previews_and_sends_an_adhoc_notice(browser, gateway):
    from bot.store import Store
    from bot.store.models import AdhocNotice, NoticeDelivery

    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error"
            and not msg.text.startswith("Failed to load resource") else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400
            and not r.url.endswith("/favicon.ico") else None)
    try:
        page.goto(gateway["url"] + "/console/notices")
        page.wait_for_url("**/console/login**")
        page.fill("input[name=username]", "boss")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/console/notices")
        assert page.inner_text("[data-figure=bound] .stat-value") == "7"
        assert page.inner_text("[data-figure=sent] .stat-value") == "17"
        assert page.locator("tr.failure-row").count() == 2
        assert "138****0107" in page.inner_text("#failures") and "13812340107" not in page.content()
        assert page.is_checked("#kind-planned_outage")
        # The top bar with one more supervisor link still fits: no link under the search box,
        # nothing past the window's edge.
        for width in (1601, 1920, 1366):
            page.set_viewport_size({"width": width, "height": 900})
            overflow = page.evaluate("""() => {
                const bar = document.querySelector('.topbar'), nav = document.querySelector('.nav');
                const last = [...nav.querySelectorAll('a')].pop().getBoundingClientRect();
                const search = document.querySelector('.top-search').getBoundingClientRect();
                const me = document.querySelector('.me').getBoundingClientRect();
                return {bar: bar.scrollWidth - bar.clientWidth, nav: nav.scrollWidth - nav.clientWidth,
                        last_link: last.right - search.left, me: me.right - window.innerWidth};
            }""")
            assert all(v <= 0 for v in overflow.values()), (width, overflow)
        assert page.is_visible("nav a[href='/console/audit']")

        page.fill("#adhoc-form input[name=area]", "南京市玄武区")
        page.fill("#adhoc-form input[name=scope]", "中山路、北京东路")
        page.fill("#adhoc-form textarea[name=text]",
                  "因 10kV 线路故障紧急抢修，今天 14:00 至 18:00 中山路、北京东路一带停电，请提前做好准备。")
        page.click("#adhoc-form button[type=submit]")
        page.wait_for_selector("#adhoc-preview")
        assert page.inner_text("[data-recipients]") == "4"
        preview = page.inner_text(".notice-preview")
        assert preview.startswith("【紧急通知】因 10kV 线路故障紧急抢修") and "涉及范围：南京市玄武区（中山路、北京东路）" in preview
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "console-notices-preview.png"), full_page=False)

        page.dblclick("#adhoc-send-form button[type=submit]")  # an impatient double click
        page.wait_for_url("**/console/notices?notice=adhoc_**")
        row = page.locator("tr.adhoc-row").first
        assert "王主管" in row.inner_text() and row.locator("td[data-status=pending]").inner_text() == "4"
        assert page.locator("tr.adhoc-row").count() == 1
        page.screenshot(path=str(SHOTS / "console-notices.png"), full_page=True)
        assert errors == [], f"errors in the page: {errors}"
    finally:
        context.close()
    store = Store(gateway["db"])
    try:
        with store.session() as session:
            assert session.execute(select(func.count()).select_from(AdhocNotice)).scalar_one() == 1
            assert session.execute(select(func.count()).select_from(NoticeDelivery)
                                   .where(NoticeDelivery.kind == "adhoc")).scalar_one() == 4
    finally:
        store.close()
