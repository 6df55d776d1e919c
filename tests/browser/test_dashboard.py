"""The supervisors' dashboard in real headless Chromium: every chart drawn under the strict CSP.

A gateway process on a temporary SQLite store with the known data set (tests/support/dashboard.py);
a supervisor logs in through the form, opens the dashboard of 23-29 November 2026; the eight
ECharts canvases are drawn with coloured pixels, no JavaScript error or CSP violation is
reported, and a click on the heat map opens the conversations behind it.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import dashboard as data
from tests.support.console import PASSWORD
from tests.support.services import free_port, stop_process_group, wait_for_port

ROOT = Path(__file__).resolve().parent.parent.parent
CHARTS = ("per_day", "heatmap", "per_channel", "top_intents", "tickets_by_type", "sla", "satisfaction", "topics")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    from bot.console.auth import upsert_staff
    from bot.store import Store, migrate

    os.environ.setdefault("BCRYPT_ROUNDS", "4")
    folder = tmp_path_factory.mktemp("dash-browser")
    url = f"sqlite:///{folder / 'store.db'}"
    migrate(url)
    store = Store(url)
    try:
        with store.session() as session:
            data.load(session)
            upsert_staff(session, "boss", "王主管", "supervisor", PASSWORD)
    finally:
        store.close()
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": str(port),
           "PYTHONPATH": str(ROOT), "RASA_URL": "http://127.0.0.1:9"}
    log = open(folder / "gateway.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(port, timeout=60, proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process_group(proc)
        log.close()


def test_dashboard_draws_every_chart(browser, gateway, tmp_path):
    context = browser.new_context(viewport={"width": 1480, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # CSP violations are console errors; a failed load is reported by its response instead.
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error"
            and not msg.text.startswith("Failed to load resource") else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400
            and not r.url.endswith("/favicon.ico") else None)
    try:
        page.goto(gateway + "/console/dashboard?from=2026-11-23&to=2026-11-29")
        page.wait_for_url("**/console/login**")
        page.fill("input[name=username]", "boss")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/console/dashboard?from=2026-11-23**")
        page.wait_for_function(f"document.querySelectorAll('[data-chart][data-drawn]').length === {len(CHARTS)}",
                               timeout=20_000)
        drawn = page.evaluate("""() => {
            const out = {};
            for (const el of document.querySelectorAll('[data-chart]')) {
              const canvas = el.querySelector('canvas');
              if (!canvas) { out[el.dataset.chart] = 0; continue; }
              const ctx = canvas.getContext('2d');
              const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
              let coloured = 0;
              for (let i = 0; i < px.length; i += 16) {
                const [r, g, b, a] = [px[i], px[i + 1], px[i + 2], px[i + 3]];
                if (a > 0 && (Math.abs(r - g) > 30 || Math.abs(g - b) > 30)) coloured++;
              }
              out[el.dataset.chart] = coloured;
            }
            return out;
        }""")
        assert set(drawn) == set(CHARTS)
        blank = [name for name, coloured in drawn.items() if coloured < 20]
        assert blank == [], f"charts without coloured pixels: {drawn}"
        # The series hold the figures of the page (ECharts' own model, not a screenshot guess).
        per_day = page.evaluate("""() => window.dashboardCharts.find(c => c.name === 'per_day')
                                     .chart.getOption().series[0].data""")
        assert per_day == [2, 1, 1, 1, 1, 0, 1]
        sla_met = page.evaluate("""() => window.dashboardCharts.find(c => c.name === 'sla')
                                    .chart.getOption().series[0].data""")
        assert sorted(sla_met) == [0, 0, 0, 1, 1, 2, 4]
        assert page.inner_text("[data-figure=conversations] .stat-value") == "7"
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        assert errors == [], f"errors in the page: {errors}"

        # A click on the heat map opens the review page on the period's conversations.
        box = page.locator("[data-chart=heatmap] canvas").bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.35)
        page.wait_for_url("**/console/review?**", timeout=10_000)
        assert "started=1" in page.url
        assert page.locator("a[href='/console/conversations/c1']").count() >= 1
    finally:
        context.close()
