"""The dashboard in the console: supervisors only, links to the figures behind, CSV/Excel/CLI = page."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.dashboard import queries, report
from tests.support import dashboard as data
from tests.support.console import add_staff, log_in
from tests.support.dashboard import EXPECTED
from bot.store import STORE

ROOT = Path(__file__).resolve().parent.parent.parent
PERIOD = "from=2026-11-23&to=2026-11-29"
CONTRACT_KEYS = {"conversations", "containment", "handoffs", "tickets", "sla", "satisfaction", "complaint_topics"}


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")


@pytest.fixture
def app(gateway_app):
    add_staff(gateway_app, "li", "李娜", "agent")
    add_staff(gateway_app, "boss", "王主管", "supervisor")
    with gateway_app[STORE].session() as session:
        data.load(session)
    return gateway_app






def norm(value) -> str:
    """A cell as text, numbers compared as numbers (Excel keeps 300.0 as 300)."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return str(value)
    try:
        return repr(round(float(value), 6))
    except (TypeError, ValueError):
        return str(value)


def normed(rows) -> list[list[str]]:
    return [[norm(v) for v in row] for row in rows]


def _conversations(html: str) -> set[str]:
    return {cid for cid in ("c1", "c2", "c3", "c4", "c5", "c6", "c7", "p1", "p2", "n1")
            if f'href="/console/conversations/{cid}"' in html}


def _tickets(html: str) -> set[str]:
    return {no for no in ("T1", "T2", "T3", "T4", "T5", "T6", "P1", "P2") if f'href="/console/tickets/{no}"' in html}


@pytest.mark.asyncio
async def test_agents_and_strangers_are_refused(agent, aiohttp_client, app):
    for path in ("/console/dashboard", "/console/dashboard/data.json", "/console/dashboard/report.csv",
                 "/console/dashboard/report.xlsx"):
        response = await agent.get(path, headers={"Accept": "text/html"})
        assert response.status == 403, path
    queue = await agent.get("/console/queue")
    assert 'href="/console/dashboard"' not in await queue.text()  # no nav link for agents
    stranger = await aiohttp_client(app)
    response = await stranger.get("/console/dashboard", headers={"Accept": "text/html"}, allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/console/login")
    assert (await stranger.get("/console/dashboard/data.json")).status == 401


@pytest.mark.asyncio
async def test_unsafe_requests_need_the_csrf_token(boss):
    refused = await boss.post("/console/dashboard", data={"from": "2026-11-23"})
    assert refused.status == 403
    assert "CSRF" in (await refused.json())["message"]


@pytest.mark.asyncio
async def test_page_shows_the_figures_with_a_strict_csp(boss):
    response = await boss.get(f"/console/dashboard?{PERIOD}")
    assert response.status == 200
    html = await response.text()
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script>" not in html and 'src="/console/static/vendor/echarts.min.js"' in html
    assert 'href="/console/dashboard" class="active"' in html
    headline = lambda key: html.split(f'data-figure="{key}"', 1)[1].split("</a>", 1)[0]  # noqa: E731
    assert '<div class="stat-value">7</div>' in headline("conversations")
    assert "28.6%" in headline("containment_rate")
    assert "5分00秒" in headline("wait_p50_seconds") and "9分00秒" in headline("wait_p90_seconds")
    assert "60.0%" in headline("satisfaction_share") and "上期 —" in headline("satisfaction_share")
    assert "72.7%" in headline("sla_share_on_time")
    assert "▲ 5" in headline("conversations")  # 7 against 2
    assert "抄表员 · 态度" in html
    # The figures the charts draw are on the page (data attribute, escaped).
    figures_attr = html.split('data-figures="', 1)[1].split('"', 1)[0]
    assert "&#34;" in figures_attr or "&quot;" in figures_attr


@pytest.mark.asyncio
async def test_every_figure_links_to_what_is_behind_it(boss):
    figures = await (await boss.get(f"/console/dashboard/data.json?{PERIOD}")).json()

    async def conversations(url: str) -> set[str]:
        response = await boss.get(url)
        assert response.status == 200, url
        return _conversations(await response.text())

    async def tickets(url: str) -> set[str]:
        response = await boss.get(url)
        assert response.status == 200, url
        return _tickets(await response.text())

    assert await conversations(figures["conversations"]["link"]) == {f"c{i}" for i in range(1, 8)}
    assert await conversations(figures["containment"]["contained_link"]) == {"c1", "c6"}
    assert await conversations(figures["containment"]["fallback_link"]) == {"c3", "c4"}
    assert await conversations(figures["containment"]["misunderstood"][0]["link"]) == {"c3"}
    assert await conversations(figures["handoffs"]["link"]) == {"c2", "c3", "c4", "c5", "c7"}
    assert await conversations(figures["handoffs"]["missed_link"]) == {"c4"}
    agents = {a["agent"]: a for a in figures["handoffs"]["agents"]}
    assert await conversations(agents["li"]["link"]) == {"c2", "c3"}
    channel = {c["channel"]: c for c in figures["conversations"]["per_channel"]}
    assert await conversations(channel["wechat"]["link"]) == {"c3", "c4"}
    monday = figures["conversations"]["per_day"][0]
    assert await conversations(monday["link"]) == {"c1", "c2"}
    assert await conversations(figures["satisfaction"]["dissatisfied_link"]) == {"c2"}

    assert await tickets(figures["tickets"]["link"]) == {"T1", "T2", "T3", "T4", "T5", "T6"}
    assert await tickets(figures["tickets"]["closed_link"]) == {"T1", "T6"}
    rules = {r["rule"]: r for r in figures["sla"]["rules"]}
    assert await tickets(rules["first_response"]["links"]["breached"]) == {"T2"}
    assert await tickets(rules["first_response"]["links"]["met"]) == {"T1", "T3", "T4", "T5"}
    assert await tickets(rules["suggestion.reply"]["links"]["at_risk"]) == {"T3"}
    assert await tickets(rules["complaint.opinion"]["links"]["open"]) == {"T2"}
    assert await tickets(figures["sla"]["breached_link"]) == {"T2", "T4"}
    words = {k["keyword"]: k for k in figures["complaint_topics"]["keywords"]}
    assert await tickets(words["抄表员"]["link"]) == {"T1", "T2", "T6"}
    assert await tickets(figures["complaint_topics"]["pairs"][0]["link"]) == {"T1", "T2", "T6"}


@pytest.mark.asyncio
async def test_filters_and_downloads_hold_the_numbers_of_the_page(boss, app):
    figures = await (await boss.get(f"/console/dashboard/data.json?{PERIOD}")).json()
    assert CONTRACT_KEYS <= set(figures)
    assert figures["containment"]["rate"] == EXPECTED["containment_rate"]
    assert figures["sla"]["share_on_time"] == EXPECTED["sla_share"]
    expected_rows = [[("" if v is None else str(v)) for v in row] for row in report.rows(figures)]

    response = await boss.get(f"/console/dashboard/report.csv?{PERIOD}")
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    text = (await response.read()).decode("utf-8-sig")
    got = list(csv.reader(io.StringIO(text)))
    assert got[0] == list(report.HEADER)
    without_time = lambda rows: [r for r in rows if r[3] != "generated_at"]  # noqa: E731
    assert without_time(got[1:]) == without_time(expected_rows)
    assert ["containment", "", "", "rate", "0.2857"] in got
    assert ["handoffs", "", "", "wait_p90_seconds", "540.0"] in got
    assert ["sla", "rules", "first_response", "breached", "1"] in got
    assert ["complaint_topics", "keywords", "抄表员", "previous", "1"] in got

    response = await boss.get(f"/console/dashboard/report.xlsx?{PERIOD}")
    assert response.status == 200
    book = load_workbook(io.BytesIO(await response.read()))
    detail = normed(book["明细"].iter_rows(min_row=2, values_only=True))
    assert detail == normed(report.rows(figures))
    overview = {row[4]: row[1] for row in book["概览"].iter_rows(min_row=3, values_only=True)}
    assert overview["containment_rate"] == EXPECTED["containment_rate"] and overview["conversations"] == 7

    wechat = await (await boss.get(f"/console/dashboard/data.json?{PERIOD}&channel=wechat")).json()
    assert wechat["conversations"]["total"] == 2 and wechat["period"]["channel"] == "wechat"
    page = await (await boss.get(f"/console/dashboard?{PERIOD}&area=rural")).text()
    assert '<option value="rural" selected>' in page
    ignored = await (await boss.get(f"/console/dashboard/data.json?{PERIOD}&area=mars")).json()
    assert ignored["period"]["area"] is None and ignored["conversations"]["total"] == 7

    # The download is recorded in the audit log (it quotes customers' words).
    from sqlalchemy import select

    from bot.store.models import AuditEntry

    with app[STORE].session() as session:
        actions = list(session.execute(select(AuditEntry.action, AuditEntry.actor)).all())
    assert actions.count(("export_report", "boss")) == 2


def test_report_command_prints_the_same_figures(tmp_path, store_url):
    from bot.store import Store
    from bot.store.types import SHANGHAI
    from datetime import datetime

    store = Store(store_url)
    try:
        with store.session() as session:
            data.load(session)
        with store.session() as session:
            scope = queries.Scope(datetime(2026, 11, 23, tzinfo=SHANGHAI), datetime(2026, 11, 30, tzinfo=SHANGHAI))
            expected = queries.compute(session, scope)
    finally:
        store.close()
    env = {**os.environ, "DATABASE_URL": store_url, "PYTHONPATH": str(ROOT)}

    def run(*args: str) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "bot", "report", "--since", "2026-11-23",
                                 "--until", "2026-11-30", *args], cwd=ROOT, env=env, capture_output=True)
        assert result.returncode == 0, result.stderr.decode()
        return result

    printed = json.loads(run().stdout)
    assert CONTRACT_KEYS <= set(printed)
    for key in CONTRACT_KEYS | {"trends"}:
        assert printed[key] == json.loads(json.dumps(expected[key], ensure_ascii=False)), key
    assert printed["containment"]["rate"] == EXPECTED["containment_rate"]
    assert printed["handoffs"]["wait_p50_seconds"] == EXPECTED["wait_p50"]
    assert printed["satisfaction"]["share"] == EXPECTED["satisfaction_share"]

    rows = list(csv.reader(io.StringIO(run("--format", "csv").stdout.decode("utf-8"))))
    expected_rows = [[("" if v is None else str(v)) for v in row] for row in report.rows(expected)]
    assert [r for r in rows[1:] if r[3] != "generated_at"] == [r for r in expected_rows if r[3] != "generated_at"]

    target = tmp_path / "report.xlsx"
    run("--format", "xlsx", "--output", str(target))
    book = load_workbook(target)
    detail = normed(book["明细"].iter_rows(min_row=2, values_only=True))
    assert detail == normed(report.rows(expected))

    refused = subprocess.run([sys.executable, "-m", "bot", "report", "--since", "2026-11-30", "--until", "2026-11-23"],
                             cwd=ROOT, env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and "--since" in refused.stderr


@pytest.mark.asyncio
async def test_an_empty_store_shows_dashes_not_errors(aiohttp_client, gateway_app):
    """`make run` on a fresh store: the dashboard opens with zeros and dashes."""
    add_staff(gateway_app, "boss", "王主管", "supervisor")
    client = await aiohttp_client(gateway_app)
    await log_in(client, "boss")
    response = await client.get("/console/dashboard")
    assert response.status == 200
    html = await response.text()
    assert '<div class="stat-value">0</div>' in html and "没有未被理解的消息" in html
    figures = await (await client.get("/console/dashboard/data.json")).json()
    assert figures["containment"]["rate"] is None and figures["satisfaction"]["share"] is None
    assert len(figures["conversations"]["per_day"]) == 7
    for fmt in ("csv", "xlsx"):
        assert (await client.get(f"/console/dashboard/report.{fmt}")).status == 200
