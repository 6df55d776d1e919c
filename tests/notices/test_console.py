"""``/console/notices`` (issue 19): supervisors only, CSRF, settings, figures, failures, ad-hoc notices."""
from __future__ import annotations

import re
from html import unescape

import pytest
from aiohttp import web
from sqlalchemy import func, select

from bot import vocabulary
from bot.notices import console as notices_console, settings as notice_settings
from bot.store.models import AdhocNotice, AuditEntry, NoticeDelivery
from tests.support import notices_console as data
from tests.support.console import add_staff
from bot.store import STORE

MADE = web.AppKey("test_made", dict)  # the bindings the fixture made

FORM = {"area": "南京市玄武区", "scope": "中山路、北京东路", "text": "因线路紧急抢修，今天 14:00-18:00 停电。", "urgent": "on"}


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")


@pytest.fixture
def app(gateway_app):
    add_staff(gateway_app, "li", "李娜", "agent")
    add_staff(gateway_app, "boss", "王主管", "supervisor")
    with gateway_app[STORE].session() as session:
        data.add_customers(session)
        gateway_app[MADE] = data.add_bindings(session)
    return gateway_app


def settings_form(**changes) -> dict[str, str]:
    form = {f"kind.{kind}": "on" for kind in vocabulary.NOTICE_KINDS}
    form.update({"due_reminder_days": "7,1", "low_balance_thresholds": "30,20,0", "quiet_hours": "21:00-08:00",
                 "daily_cap": "3", "abnormal_usage_ratio": "0.5", "outage_notice_hours_before": "24"})
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def stored_settings(app) -> dict:
    with app[STORE].session() as session:
        return notice_settings.load(session)


def count(app, model) -> int:
    with app[STORE].session() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


@pytest.mark.asyncio
async def test_agents_and_strangers_are_refused(agent, boss, aiohttp_client, app):
    for path in ("/console/notices",):
        assert (await agent.get(path, headers={"Accept": "text/html"})).status == 403
    for path, form in (("/console/notices/settings", settings_form(daily_cap="9")),
                       ("/console/notices/adhoc/preview", FORM),
                       ("/console/notices/adhoc", {**FORM, "request_key": "a" * 32})):
        response = await agent.post(path, data={**form, "csrf_token": agent.csrf}, allow_redirects=False)
        assert response.status == 403, path
    assert stored_settings(app)["daily_cap"] == 3 and count(app, AdhocNotice) == 0
    assert 'href="/console/notices"' not in await (await agent.get("/console/queue")).text()
    assert 'href="/console/notices"' in await (await boss.get("/console/queue")).text()
    stranger = await aiohttp_client(app)
    response = await stranger.get("/console/notices", headers={"Accept": "text/html"}, allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/console/login")


@pytest.mark.asyncio
async def test_forms_need_the_sessions_csrf_token(boss, app):
    for path, form in (("/console/notices/settings", settings_form(daily_cap="9")),
                       ("/console/notices/adhoc/preview", FORM),
                       ("/console/notices/adhoc", {**FORM, "request_key": "a" * 32})):
        for token in (None, "x" * 43):
            body = dict(form) if token is None else {**form, "csrf_token": token}
            response = await boss.post(path, data=body, allow_redirects=False)
            assert response.status == 403, (path, token)
    assert stored_settings(app)["daily_cap"] == 3 and count(app, AdhocNotice) == 0


@pytest.mark.asyncio
async def test_page_shows_every_kind_with_its_switch_schedule_and_the_settings(boss):
    response = await boss.get("/console/notices")
    assert response.status == 200
    html = await response.text()
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "<script>" not in html and " style=" not in html  # the CSP allows neither
    for kind, name in vocabulary.NOTICE_KINDS.items():
        assert f'name="kind.{kind}" id="kind-{kind}" checked' in html
        assert name in html
    assert "缴费截止日前 7、1 天" in html and "预付费余额降到 30、20、0 元时" in html
    assert 'name="quiet_hours" value="21:00-08:00"' in html


@pytest.mark.asyncio
async def test_settings_are_saved_audited_and_a_bad_value_is_refused_in_chinese(boss, app):
    response = await boss.post("/console/notices/settings", allow_redirects=False, data={
        **settings_form(**{"kind.abnormal_usage": None, "due_reminder_days": "15，7、1", "daily_cap": "5",
                           "quiet_hours": "22:00-07:30", "abnormal_usage_ratio": "60%"}), "csrf_token": boss.csrf})
    assert response.status == 303 and "notice=notice_settings_saved" in response.headers["Location"]
    values = stored_settings(app)
    assert values["kind.abnormal_usage"] is False and values["kind.bill_issued"] is True
    assert (values["due_reminder_days"], values["daily_cap"], values["quiet_hours"], values["abnormal_usage_ratio"]) == (
        [15, 7, 1], 5, "22:00-07:30", 0.6)
    with app[STORE].session() as session:
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "change_notice_settings")).scalar_one()
    assert entry.actor == "boss"
    assert set(entry.detail["changes"]) == {"kind.abnormal_usage", "due_reminder_days", "daily_cap", "quiet_hours",
                                            "abnormal_usage_ratio"}
    assert entry.detail["changes"]["daily_cap"] == [3, 5]
    page = await (await boss.get(response.headers["Location"])).text()
    assert "通知设置已保存" in page and 'name="kind.abnormal_usage" id="kind-abnormal_usage" >' in page

    for field, value, message in (("quiet_hours", "25:00-08:00", "免打扰时段：免打扰时段格式应为 HH:MM-HH:MM"),
                                  ("daily_cap", "很多", "每户每日上限（条）：每日上限应为 0 到 50 之间的整数"),
                                  ("due_reminder_days", "七天", "缴费提醒：到期前天数：请填写一组 0 到 365 之间的数字"),
                                  ("outage_notice_hours_before", "500", "停电提前通知时间应为 1 到 168 小时")):
        refused = await boss.post("/console/notices/settings", allow_redirects=False,
                                  data={**settings_form(**{field: value, "daily_cap": "4" if field != "daily_cap"
                                                           else value}), "csrf_token": boss.csrf})
        assert refused.status == 303
        shown = await (await boss.get(refused.headers["Location"])).text()
        assert message in unescape(shown), field
        assert stored_settings(app)["daily_cap"] == 5, field  # nothing of a refused form is stored
    unchanged = await boss.post("/console/notices/settings", allow_redirects=False,
                                data={**settings_form(**{"kind.abnormal_usage": None, "due_reminder_days": "15,7,1",
                                                         "daily_cap": "5", "quiet_hours": "22:00-07:30",
                                                         "abnormal_usage_ratio": "0.6"}), "csrf_token": boss.csrf})
    assert "notice=notice_settings_unchanged" in unchanged.headers["Location"]
    assert count(app, AuditEntry) == 1


def _send_form(html: str) -> dict[str, str]:
    form = re.search(r'<form method="post" action="/console/notices/adhoc" .*?</form>', html, re.S)
    assert form, "no send form in the preview"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(0)))
    return {k: unescape(v) for k, v in fields.items()}


@pytest.mark.asyncio
async def test_preview_counts_the_recipients_and_send_creates_one_delivery_each_once(boss, app):
    preview = await boss.post("/console/notices/adhoc/preview", data={**FORM, "csrf_token": boss.csrf})
    assert preview.status == 200
    html = await preview.text()
    assert 'data-recipients="4">4</strong> 个绑定（3 户）' in html
    assert "【紧急通知】因线路紧急抢修，今天 14:00-18:00 停电。\n涉及范围：南京市玄武区（中山路、北京东路）" in html
    assert "中山路：2 户" in html and "北京东路：1 户" in html
    assert count(app, AdhocNotice) == 0 and count(app, NoticeDelivery) == 0  # a preview sends nothing
    form = _send_form(html)
    assert form["text"] == FORM["text"] and form["urgent"] == "on" and len(form["request_key"]) >= 16

    sent = await boss.post("/console/notices/adhoc", data=form, allow_redirects=False)
    assert sent.status == 303 and "notice=adhoc_sent" in sent.headers["Location"]
    again = await boss.post("/console/notices/adhoc", data=form, allow_redirects=False)  # double submit
    assert again.status == 303 and "notice=adhoc_already_sent" in again.headers["Location"]
    with app[STORE].session() as session:
        notice = session.execute(select(AdhocNotice)).scalar_one()
        rows = list(session.execute(select(NoticeDelivery)).scalars())
        audit = session.execute(select(AuditEntry).where(AuditEntry.action == "send_adhoc_notice")).scalar_one()
    assert notice.sent_by == "boss" and notice.recipients == 4 and notice.urgent is True
    assert sorted(r.binding_id for r in rows) == sorted(app[MADE]["expected"])
    assert {(r.kind, r.event_key, r.status) for r in rows} == {("adhoc", f"adhoc:{notice.id}", "pending")}
    assert audit.actor == "boss" and audit.subject_id == str(notice.id) and audit.detail["recipients"] == 4

    page = await (await boss.get(again.headers["Location"])).text()
    assert "重复提交" in page
    row = re.search(rf'<tr class="adhoc-row" data-adhoc-id="{notice.id}">.*?</tr>', page, re.S)
    assert row and "王主管" in row.group(0) and '<td class="num">4</td>' in row.group(0)
    assert '<td class="num" data-status="pending">4</td>' in row.group(0)


@pytest.mark.asyncio
async def test_preview_escapes_the_text_and_refusals_keep_the_form(boss, app):
    evil = {**FORM, "text": '<img src=x onerror="alert(1)">停电'}
    html = await (await boss.post("/console/notices/adhoc/preview", data={**evil, "csrf_token": boss.csrf})).text()
    assert "<img src=x" not in html and "&lt;img src=x" in html
    refused = await boss.post("/console/notices/adhoc/preview", data={**FORM, "text": "", "csrf_token": boss.csrf})
    assert refused.status == 400
    html = await refused.text()
    assert "请填写通知内容" in html and 'value="中山路、北京东路"' in html
    nobody = await boss.post("/console/notices/adhoc/preview",
                             data={**FORM, "scope": "不存在路", "csrf_token": boss.csrf})
    html = await nobody.text()
    assert 'data-recipients="0"' in html and 'action="/console/notices/adhoc"' not in html


@pytest.mark.asyncio
async def test_no_send_while_the_adhoc_kind_is_switched_off(boss, app):
    form = _send_form(await (await boss.post("/console/notices/adhoc/preview",
                                             data={**FORM, "csrf_token": boss.csrf})).text())
    await boss.post("/console/notices/settings", data={**settings_form(**{"kind.adhoc": None}), "csrf_token": boss.csrf})
    refused = await boss.post("/console/notices/adhoc", data=form, allow_redirects=False)
    assert refused.status == 400 and "已在通知设置中关闭" in await refused.text()
    assert count(app, AdhocNotice) == 0 and count(app, NoticeDelivery) == 0


def _deliveries(app) -> None:
    ids = app[MADE]["ids"]
    with app[STORE].session() as session:
        d = data.delivery
        zhang, li = ids["zhang_wechat"], ids["li_wecom"]
        d(session, zhang, "3201000101", kind="due_reminder", channel="wechat", status="sent", created_at=data.at(1), key="a")
        d(session, zhang, "3201000101", kind="due_reminder", channel="wechat", status="sent", created_at=data.at(2), key="b")
        d(session, zhang, "3201000101", kind="due_reminder", channel="wechat", status="skipped", created_at=data.at(2), key="c",
          last_error="opted_out")
        d(session, zhang, "3201000101", kind="due_reminder", channel="wechat", status="failed", created_at=data.at(0.1),
          key="d", attempts=2, last_error="HTTP 500 from api.weixin.qq.com for 13812340101",
          next_attempt_at=data.at(-0.01))
        d(session, li, "3201000102", kind="planned_outage", channel="wecom", status="dead", created_at=data.at(3),
          key="e", attempts=6, last_error="errcode 40003 invalid userid")
        d(session, li, "3201000102", kind="planned_outage", channel="wecom", status="pending", created_at=data.at(0.2), key="f")
        d(session, li, "3201000102", kind="planned_outage", channel="wecom", status="failed", created_at=data.at(9),
          key="old", attempts=1, last_error="too old to count")  # before the period


@pytest.mark.asyncio
async def test_figures_count_the_periods_deliveries_by_kind_channel_and_status(boss, app):
    _deliveries(app)
    period = notices_console.period_from({})
    with app[STORE].session() as session:
        figures = notices_console.delivery_figures(session, period)
    by = {(r["kind"], r["channel"]): r["counts"] for r in figures["rows"]}
    assert by == {("due_reminder", "wechat"): {"sent": 2, "pending": 0, "failed": 1, "dead": 0, "skipped": 1},
                  ("planned_outage", "wecom"): {"sent": 0, "pending": 1, "failed": 0, "dead": 1, "skipped": 0}}
    assert figures["totals"] == {"sent": 2, "pending": 1, "failed": 1, "dead": 1, "skipped": 1, "total": 6}
    # bound now: 8 bindings of 8 accounts minus the unbound one
    assert figures["bound"]["accounts"] == 7 and figures["bound"]["bindings"] == 8
    assert figures["bound"]["per_channel"]["wechat"] == {"bindings": 4, "accounts": 4}

    html = await (await boss.get("/console/notices")).text()
    row = re.search(r'<tr data-kind="due_reminder" data-channel="wechat">.*?</tr>', html, re.S)
    assert row and '<td class="num " data-status="sent">2</td>' in row.group(0)
    assert '<td class="num bad" data-status="failed">1</td>' in row.group(0)
    assert figures["skipped_reasons"] == [{"reason": "opted_out", "name": "已退订", "count": 1}]
    assert "已跳过的原因：已退订 1" in html
    wide = await (await boss.get("/console/notices?from=2020-01-01")).text()
    assert "too old to count" in wide and "too old to count" not in html


@pytest.mark.asyncio
async def test_failures_list_masks_the_customer_and_numbers_in_errors(boss, app):
    _deliveries(app)
    html = await (await boss.get("/console/notices")).text()
    failures = re.search(r'<section class="card" id="failures">.*?</section>', html, re.S)
    assert failures
    text = failures.group(0)
    assert text.count('class="failure-row"') == 2  # the failed and the dead one of the period
    assert "138****0101" in text and "13812340101" not in text  # phone field and the error text
    assert "张*" in text and "张伟" not in text
    assert "errcode 40003 invalid userid" in text and "3201000102" in text
    assert "13812340102" not in html


def test_the_pages_queries_on_postgresql(postgres_url):
    """The figures, failures and history read the same on PostgreSQL (distinct counts, joins)."""
    from bot.notices import adhoc
    from bot.store import Store, migrate

    migrate(postgres_url)
    st = Store(postgres_url)
    try:
        with st.session() as session:
            data.add_customers(session)
            ids = data.add_bindings(session)["ids"]
            data.delivery(session, ids["zhang_wechat"], "3201000101", kind="due_reminder", channel="wechat",
                          status="sent", created_at=data.at(1), key="a")
            data.delivery(session, ids["li_wecom"], "3201000102", kind="planned_outage", channel="wecom",
                          status="failed", created_at=data.at(0.5), key="b", attempts=1,
                          last_error="timeout calling 13812340102", next_attempt_at=data.at(-0.1))
        draft = adhoc.check_draft("南京市玄武区", "中山路、北京东路", "停电通知", False)
        sent = adhoc.send_once(st, draft, sent_by="boss", request_key="p" * 32)
        with st.session() as session:
            page = notices_console.page_data(session, notices_console.period_from({}))
    finally:
        st.close()
    figures = page["figures"]
    assert figures["totals"] == {"sent": 1, "pending": 4, "failed": 1, "dead": 0, "skipped": 0, "total": 6}
    assert figures["bound"]["accounts"] == 7
    assert {(r["kind"], r["channel"]) for r in figures["rows"]} == {
        ("due_reminder", "wechat"), ("planned_outage", "wecom"), ("adhoc", "wechat"), ("adhoc", "web"),
        ("adhoc", "wecom"), ("adhoc", "sms")}
    [failure] = page["failures"]
    assert failure["customer_phone"] == "138****0102" and "138****0102" in failure["last_error"]
    [notice] = page["history"]
    assert (notice["id"], notice["recipients"], notice["counts"]["pending"], notice["urgent"]) == (
        sent.notice_id, 4, 4, False)


@pytest.mark.asyncio
async def test_the_engine_as_this_gateway_runs_it(boss):
    html = await (await boss.get("/console/notices")).text()
    assert "本网关没有运行后台通知轮次" in html  # the test app starts no background tasks


@pytest.mark.asyncio
async def test_the_engines_last_round_and_unconfigured_channels_are_shown(aiohttp_client, app, monkeypatch):
    from bot.notices import runner
    from tests.support.console import log_in

    monkeypatch.delenv("NOTICE_INTERVAL_SECONDS", raising=False)

    app[runner.RUNNER] = {"rounds": 3, "channels": ["web", "wechat"], "last": {
        "events": 5, "claimed": 5, "sent": 3, "failed": 1, "dead": 0, "skipped": 1, "deferred": 0,
        "skipped_reasons": {"opted_out": 1}}}
    client = await aiohttp_client(app)
    await log_in(client, "boss")
    html = await (await client.get("/console/notices")).text()
    engine = re.search(r'<section class="card engine-card" id="engine">.*?</section>', html, re.S).group(0)
    assert "每 60 秒运行一轮，已运行 3 轮" in engine
    assert "新增 5 条，发送 3，失败 1，放弃 0，跳过 1" in engine
    assert "未配置：企业微信、短信" in engine


@pytest.mark.asyncio
async def test_a_failed_ticket_status_notice_is_counted_and_listed_with_its_ticket(boss, app):
    with app[STORE].session() as session:
        session.add(NoticeDelivery(kind="ticket_status", event_key="TRE000777:dispatched", binding_id=None,
                                   conversation_id="wechat:o-x", account_no=None, channel="wechat", urgent=True,
                                   payload={"text": "抢修人员已出发"}, status="failed", attempts=1,
                                   last_error="SendError: wechat did not take the message",
                                   next_attempt_at=data.at(-0.01), created_at=data.at(0.1)))
    html = await (await boss.get("/console/notices")).text()
    row = re.search(r'<tr data-kind="ticket_status" data-channel="wechat">.*?</tr>', html, re.S)
    assert row and '<td class="num bad" data-status="failed">1</td>' in row.group(0)
    failures = re.search(r'<section class="card" id="failures">.*?</section>', html, re.S).group(0)
    assert "工单 TRE000777" in failures and "wechat did not take the message" in failures
