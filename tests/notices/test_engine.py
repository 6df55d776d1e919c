"""The notice engine (issue 19): exactly once with two engines at the same time (SQLite and
PostgreSQL), quiet hours, the daily cap, opt-out honoured at send time, a failing channel that
recovers (loopback fakes of WeChat templates and Tencent Cloud SMS), back-off and dead letters."""
from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select, update

from bot.channels.wechat import WeChatApi, WeChatSettings
from bot.notices import engine, senders, settings as notice_settings
from bot.store.models import CustomerBinding, NoticeDelivery, Outage
from tests.support.notices import (
    SH,
    FakeTencentSms,
    FakeWeChatTemplates,
    Recorder,
    add_bill,
    add_customer,
    bind,
    opt_out,
)
from tests.support.sla import migrated_store, sqlite_url

pytestmark = pytest.mark.asyncio
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=SH)  # a Thursday morning, outside quiet hours


@pytest.fixture
def store():
    s = migrated_store(sqlite_url())
    yield s
    s.close()


def deliveries(store, **where) -> list[NoticeDelivery]:
    with store.session() as session:
        query = select(NoticeDelivery).order_by(NoticeDelivery.id)
        for name, value in where.items():
            query = query.where(getattr(NoticeDelivery, name) == value)
        return list(session.execute(query).scalars())


def set_value(store, key, value) -> None:
    with store.session() as session:
        notice_settings.change(session, key, value, by="test")


def unpaid_bill(store, account_no: str, due: date) -> None:
    add_bill(store, account_no, "2026-11", 300, amount=158.4, due=due, status="unpaid")


# ---------------------------------------------------------------- exactly once

def _population(store, count: int) -> list[str]:
    accounts = []
    for i in range(count):
        account = add_customer(store, address="南京市玄武区中山路%d号" % (i + 1), balance=10 if i % 3 == 0 else None)
        unpaid_bill(store, account, NOW.date() + timedelta(days=5))
        bind(store, account, "web")
        if i % 4 == 0:
            bind(store, account, "wecom", f"wecom-{i}")
        accounts.append(account)
    with store.session() as session:
        session.add(Outage(outage_no="PLAN-1", kind="planned", area="南京市玄武区", scope=["中山路"],
                           start_at=NOW + timedelta(hours=12), end_at=NOW + timedelta(hours=20), reason="线路检修"))
    return accounts


async def _two_engines_at_once(url: str) -> None:
    first, second = migrated_store(url), migrated_store(url)  # two gateways: own engines and pools
    try:
        _population(first, 30)
        set_value(first, "daily_cap", 0)
        recorder = Recorder()

        async def slow(target) -> None:
            await asyncio.sleep(0.002)  # both engines are in the middle of sending together
            await recorder(target)

        channels = {"web": slow, "wecom": slow}
        results = await asyncio.gather(*(engine.run_once(s, NOW, channels, batch=7) for s in (first, second, first)))

        rows = deliveries(first)
        keys = [(r.kind, r.event_key, r.binding_id) for r in rows]
        assert len(keys) == len(set(keys))
        sent = Counter(t.delivery_id for t in recorder.sent)
        assert sent and max(sent.values()) == 1, "a delivery was sent twice"
        assert sorted(sent) == sorted(r.id for r in rows if r.status == "sent")
        assert all(r.status == "sent" and r.attempts == 1 for r in rows)
        # 30 bills x (issued + 7-day reminder) + 10 low balances + 30 outage notices, each to
        # the 30 web and 8 WeCom bindings of its account.
        per_account = Counter(r.account_no for r in rows)
        assert len(rows) == 38 * 3 + (10 + 3)
        assert sum(r.sent for r in results) == len(rows)
        assert len(per_account) == 30
        with first.session() as session:
            account_of = dict(session.execute(select(CustomerBinding.id, CustomerBinding.account_no)).all())
        assert all(r.account_no == account_of[r.binding_id] for r in rows)  # an outage's key is shared
        # Nothing is claimed or sent again by either gateway.
        again = await asyncio.gather(engine.run_once(first, NOW, channels), engine.run_once(second, NOW, channels))
        assert [r.claimed + r.sent for r in again] == [0, 0]
    finally:
        first.close()
        second.close()


async def test_two_engines_at_the_same_time_send_each_notice_once_on_sqlite():
    await _two_engines_at_once(sqlite_url())


async def test_two_engines_at_the_same_time_send_each_notice_once_on_postgresql(postgres_url):
    await _two_engines_at_once(postgres_url)


# ---------------------------------------------------------------- quiet hours and the daily cap

async def test_quiet_hours_hold_non_urgent_notices_until_morning_but_not_a_restoration(store):
    account = add_customer(store)
    unpaid_bill(store, account, date(2026, 12, 9))
    bind(store, account)
    late = datetime(2026, 12, 3, 22, 30, tzinfo=SH)
    with store.session() as session:
        session.add(Outage(outage_no="FAULT-1", kind="unplanned", area="南京市玄武区", scope=["中山路"],
                           start_at=late - timedelta(hours=3), end_at=late - timedelta(minutes=10), reason="线路故障"))
    recorder = Recorder()

    result = await engine.run_once(store, late, {"web": recorder})

    assert [t.kind for t in recorder.sent] == ["restoration"]  # urgent: at any hour
    assert result.deferred == 2
    waiting = [d for d in deliveries(store) if d.status == "pending"]
    assert {d.kind for d in waiting} == {"bill_issued", "due_reminder"}
    assert all(d.next_attempt_at == datetime(2026, 12, 4, 8, 0, tzinfo=SH) for d in waiting)
    assert all(d.last_error == "quiet_hours" and d.attempts == 0 for d in waiting)

    assert (await engine.run_once(store, datetime(2026, 12, 4, 7, 59, tzinfo=SH), {"web": recorder})).sent == 0
    morning = await engine.run_once(store, datetime(2026, 12, 4, 8, 0, tzinfo=SH), {"web": recorder})
    assert morning.sent == 2 and len(recorder.sent) == 3


async def test_a_supervisor_changes_the_quiet_hours(store):
    account = add_customer(store)
    unpaid_bill(store, account, date(2026, 12, 9))
    bind(store, account)
    set_value(store, "quiet_hours", "")
    recorder = Recorder()
    assert (await engine.run_once(store, datetime(2026, 12, 3, 23, 0, tzinfo=SH), {"web": recorder})).sent == 2


async def test_the_daily_cap_lets_the_most_pressing_through_and_the_rest_waits_for_the_next_day(store):
    account = add_customer(store, balance=5)
    unpaid_bill(store, account, date(2026, 12, 9))
    add_bill(store, account, "2026-10", 280, amount=140, due=date(2026, 11, 20), status="overdue")
    binding = bind(store, account)
    set_value(store, "daily_cap", 2)
    recorder = Recorder()

    first = await engine.run_once(store, NOW, {"web": recorder})

    assert first.claimed == 4 and first.sent == 2 and first.deferred == 2
    assert [t.kind for t in recorder.sent] == ["overdue", "low_balance"]
    held = deliveries(store, status="pending")
    assert {d.last_error for d in held} == {"daily_cap"}
    assert {d.next_attempt_at for d in held} == {datetime(2026, 12, 4, 8, 0, tzinfo=SH)}
    # Later the same day nothing more goes to this binding; the next morning the rest goes.
    assert (await engine.run_once(store, NOW + timedelta(hours=3), {"web": recorder})).sent == 0
    await engine.run_once(store, datetime(2026, 12, 4, 8, 0, tzinfo=SH), {"web": recorder})
    assert [t.kind for t in recorder.sent][2:] == ["due_reminder", "bill_issued"]
    assert all(d.binding_id == binding and d.status == "sent" for d in deliveries(store))


# ---------------------------------------------------------------- opt-out, unbinding, switches

async def test_opting_out_is_honoured_at_send_time_for_a_notice_already_claimed(store):
    account = add_customer(store)
    unpaid_bill(store, account, date(2026, 12, 9))
    stays, leaves, opts_out = bind(store, account), bind(store, account), bind(store, account)
    recorder = Recorder()
    night = datetime(2026, 12, 3, 23, 0, tzinfo=SH)
    assert (await engine.run_once(store, night, {"web": recorder})).claimed == 6  # held for the morning

    opt_out(store, opts_out, "due_reminder")
    with store.session() as session:
        session.execute(update(CustomerBinding).where(CustomerBinding.id == leaves).values(unbound_at=night))
    set_value(store, "kind.bill_issued", False)

    await engine.run_once(store, datetime(2026, 12, 4, 8, 0, tzinfo=SH), {"web": recorder})

    assert len(recorder.sent) == 1
    assert {(d.binding_id, d.kind) for d in deliveries(store, status="sent")} == {(stays, "due_reminder")}
    assert {(d.binding_id, d.kind, d.last_error) for d in deliveries(store, status="skipped")} == {
        (stays, "bill_issued", "kind_off"), (leaves, "bill_issued", "unbound"), (leaves, "due_reminder", "unbound"),
        (opts_out, "bill_issued", "kind_off"), (opts_out, "due_reminder", "opted_out")}


async def test_sms_only_with_consent(store):
    account = add_customer(store, balance=0)
    bind(store, account, "sms", "13900000001", sms_consent=False)
    agreed = bind(store, account, "sms", "13900000002", sms_consent=True)
    recorder = Recorder()
    await engine.run_once(store, NOW, {"sms": recorder})
    assert [(t.channel_user, t.kind) for t in recorder.sent] == [("13900000002", "low_balance")]
    assert "余额已用完" in recorder.sent[0].text
    assert [d.last_error for d in deliveries(store, status="skipped")] == ["no_sms_consent"]
    assert deliveries(store, status="sent")[0].binding_id == agreed


async def test_an_outage_notice_that_could_only_go_after_the_outage_began_is_dropped(store):
    account = add_customer(store)
    bind(store, account)
    evening = datetime(2026, 12, 3, 20, 30, tzinfo=SH)
    with store.session() as session:
        session.add(Outage(outage_no="PLAN-7", kind="planned", area="南京市玄武区", scope=["中山路"],
                           start_at=datetime(2026, 12, 4, 7, 0, tzinfo=SH),
                           end_at=datetime(2026, 12, 4, 12, 0, tzinfo=SH), reason="线路检修"))
    set_value(store, "quiet_hours", "20:00-08:00")
    recorder = Recorder()
    await engine.run_once(store, evening, {"web": recorder})  # the day-before notice waits until 08:00 ...
    await engine.run_once(store, datetime(2026, 12, 4, 8, 0, tzinfo=SH), {"web": recorder})
    # ... when the outage has begun: the "tomorrow" notice is not sent late, the "started" one is.
    by_key = {d.event_key: d for d in deliveries(store)}
    assert by_key["PLAN-7:before:202612040700"].status == "skipped"
    assert by_key["PLAN-7:before:202612040700"].last_error == "expired"
    assert [t.payload["text"][:12] for t in recorder.sent] == ["您所在区域的计划停电已开"]


async def test_an_urgent_adhoc_notice_from_the_console_is_sent_in_quiet_hours_to_its_area_only(store):
    from bot.notices import adhoc

    inside, outside = add_customer(store), add_customer(store, address="南京市江宁区天元路1号")
    bind(store, inside)
    bind(store, outside)
    with store.session() as session:
        draft = adhoc.check_draft("南京市玄武区", "中山路", "中山路突发线路故障，正在抢修。", True)
        adhoc.send(session, draft, sent_by="lead", request_key="k" * 16)
    now = datetime.now(SH)  # the console stamps its notices with the real time
    set_value(store, "quiet_hours", f"{(now - timedelta(hours=1)):%H:%M}-{(now + timedelta(hours=1)):%H:%M}")
    recorder = Recorder()
    await engine.run_once(store, now, {"web": recorder})  # in quiet hours: urgent goes all the same
    assert [(t.account_no, t.kind) for t in recorder.sent] == [(inside, "adhoc")]
    assert "中山路突发线路故障" in recorder.sent[0].text and recorder.sent[0].title == "紧急通知"
    assert deliveries(store)[0].status == "sent"


# ---------------------------------------------------------------- failures, back-off, recovery

async def test_a_failing_channel_is_retried_with_back_off_and_then_given_up(store):
    account = add_customer(store, balance=10)
    bind(store, account)
    recorder = Recorder(fail=99)
    moment = NOW
    for attempt, wait in enumerate([*engine.BACKOFF, None], start=1):
        result = await engine.run_once(store, moment, {"web": recorder})
        row = deliveries(store)[0]
        assert row.attempts == attempt and "channel down" in row.last_error
        if wait is None:
            assert row.status == "dead" and result.dead == 1
            break
        assert row.status == "failed" and row.next_attempt_at == moment + wait
        assert (await engine.run_once(store, moment + wait - timedelta(seconds=1), {"web": recorder})).failed == 0
        moment += wait
    assert (await engine.run_once(store, moment + timedelta(days=1), {"web": recorder})).failed == 0


async def test_wechat_template_messages_recover_after_the_platform_failed():
    store = migrated_store(sqlite_url())
    fake = FakeWeChatTemplates("wx-app", "wx-secret", failures=2)
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    api = WeChatApi(WeChatSettings(token="t", appid="wx-app", appsecret="wx-secret", aes_key="",
                                   api_base=str(server.make_url("")), passive_seconds=1))
    try:
        account = add_customer(store)
        unpaid_bill(store, account, date(2026, 12, 9))
        binding = bind(store, account, "wechat", "openid-1")
        opt_out(store, binding, "bill_issued")
        channel = {"wechat": senders.WeChatTemplateSender(api, "TEMPLATE-1")}

        assert (await engine.run_once(store, NOW, channel)).failed == 1  # HTTP 502
        row = deliveries(store, kind="due_reminder")[0]
        assert row.status == "failed" and "HTTP 502" in row.last_error
        assert (await engine.run_once(store, NOW + timedelta(minutes=1), channel)).failed == 1  # errcode 45009
        assert "45009" in deliveries(store, kind="due_reminder")[0].last_error
        assert (await engine.run_once(store, NOW + timedelta(minutes=6), channel)).sent == 1

        row = deliveries(store, kind="due_reminder")[0]
        assert row.status == "sent" and row.attempts == 3 and "45009" in row.last_error
        assert row.sent_at == NOW + timedelta(minutes=6)
        [body] = fake.sent
        assert body["touser"] == "openid-1" and body["template_id"] == "TEMPLATE-1"
        assert body["data"]["first"]["value"] == "缴费到期提醒"
        assert "158.40元" in body["data"]["keyword1"]["value"]
    finally:
        await api.close()
        await server.close()
        store.close()


async def test_tencent_sms_is_signed_and_recovers_after_a_refusal(store, monkeypatch):
    fake = FakeTencentSms("AKID-test", "secret-key", failures=1)
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    settings, reason = senders.TencentSmsSettings.from_env({
        "TENCENTCLOUD_SECRET_ID": "AKID-test", "TENCENTCLOUD_SECRET_KEY": "secret-key",
        "TENCENT_SMS_SDK_APP_ID": "1400000000", "TENCENT_SMS_SIGN_NAME": "供电服务",
        "TENCENT_SMS_TEMPLATE_ID": "123456", "TENCENT_SMS_ENDPOINT": str(server.make_url("")).rstrip("/")})
    assert settings is not None, reason
    sms = senders.TencentSmsSender(settings)
    wrong = senders.TencentSmsSender(senders.TencentSmsSettings(**{**settings.__dict__, "secret_key": "nope"}))
    try:
        account = add_customer(store, balance=18)
        bind(store, account, "sms", "13900000009", sms_consent=True)
        assert (await engine.run_once(store, NOW, {"sms": wrong})).failed == 1
        assert fake.bad_signatures == 1 and "SignatureFailure" in deliveries(store)[0].last_error
        assert (await engine.run_once(store, NOW + timedelta(minutes=1), {"sms": sms})).failed == 1  # daily limit
        assert "PhoneNumberDailyLimit" in deliveries(store)[0].last_error
        assert (await engine.run_once(store, NOW + timedelta(minutes=6), {"sms": sms})).sent == 1
        [request] = fake.sent
        assert request["PhoneNumberSet"] == ["+8613900000009"] and request["TemplateId"] == "123456"
        assert request["TemplateParamSet"][0] == "余额不足提醒" and "低于20元" in request["TemplateParamSet"][1]
    finally:
        await sms.close()
        await wrong.close()
        await server.close()


async def test_web_notices_are_written_into_the_customers_conversation():
    class Hub:
        def __init__(self):
            self.pushed: list[tuple] = []

        async def push(self, conversation_id, message, sender="bot"):
            if conversation_id == "gone":
                raise LookupError(conversation_id)
            self.pushed.append((conversation_id, message, sender))
            return {}

    hub = Hub()
    web = senders.WebSender(hub)
    target = engine.Target(1, "due_reminder", "3200000001", "web", "sess-1", "sess-1",
                           {"text": "温馨提醒", "buttons": [{"title": "查询电费", "payload": "/query_bill"}]})
    await web(target)
    assert hub.pushed == [("sess-1", {"text": "温馨提醒", "buttons": [{"title": "查询电费",
                                                                    "payload": "/query_bill"}]}, "bot")]
    with pytest.raises(engine.SendError):
        await web(engine.Target(2, "due_reminder", "3200000001", "web", "gone", None, {"text": "x"}))


async def test_a_failing_scan_does_not_hold_up_notices_already_claimed(store, monkeypatch):
    account = add_customer(store, balance=10)
    bind(store, account)
    night = datetime(2026, 12, 3, 23, 0, tzinfo=SH)
    await engine.run_once(store, night, {"web": Recorder()})  # claimed, held until 08:00

    def broken(*args, **kwargs):
        raise RuntimeError("scan bug")

    monkeypatch.setattr(engine.scanning, "scan", broken)
    recorder = Recorder()
    result = await engine.run_once(store, datetime(2026, 12, 4, 8, 0, tzinfo=SH), {"web": recorder})
    assert result.sent == 1 and [t.kind for t in recorder.sent] == ["low_balance"]
