"""What the notice scans find (issue 19): late fees by the 供电营业规则, the abnormal-usage rule on
hand-made histories, outage scope and phases, reminder windows, balance thresholds, and that a
scan's queries do not grow with the number of customers."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from bot.notices import engine, scan
from bot.store.models import NoticeDelivery, Outage
from tests.support.notices import SH, add_bill, add_customer, bind
from tests.support.sla import migrated_store, sqlite_url

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=SH)


@pytest.fixture
def store():
    s = migrated_store(sqlite_url())
    yield s
    s.close()


def found(store, now=NOW, **values) -> list[scan.Event]:
    from bot.notices import settings

    with store.session() as session:
        merged = {**settings.load(session), **values}
        return scan.scan(session, now, merged)


def claim(store, now=NOW) -> None:
    with store.session() as session:
        engine.claim(session, now)


# ---------------------------------------------------------------- late fee (电费违约金)

@pytest.mark.parametrize("amount, due, today, customer_type, fee", [
    (1000, date(2026, 11, 15), date(2026, 11, 25), "residential", "10.00"),  # 1‰ x 10 days
    (258.6, date(2026, 11, 15), date(2026, 11, 22), "residential", "1.81"),  # 258.6 x 0.001 x 7
    (50, date(2026, 11, 15), date(2026, 11, 18), "residential", "1.00"),  # 0.15 is charged as 1 yuan
    (1000, date(2026, 11, 15), date(2026, 11, 15), "residential", "0.00"),  # due today: nothing yet
    (1000, date(2026, 11, 15), date(2026, 11, 25), "commercial", "20.00"),  # 2‰ in the current year
    # Across the year end: 11 days of 2026 (Dec 21-31) at 2‰, 9 days of 2027 at 3‰.
    (1000, date(2026, 12, 20), date(2027, 1, 9), "industrial", "49.00"),
])
def test_late_fee_follows_the_supply_rules(amount, due, today, customer_type, fee):
    assert scan.late_fee(amount, due, today, customer_type) == Decimal(fee)


def test_the_overdue_notice_says_how_late_and_the_fee_so_far(store):
    account = add_customer(store)
    add_bill(store, account, "2026-10", 420, amount=226.8, due=date(2026, 11, 23), status="overdue")
    add_bill(store, account, "2026-08", 420, amount=226.8, due=date(2026, 9, 20), status="overdue")  # too old
    bind(store, account)
    [notice] = [e for e in found(store) if e.kind == "overdue"]
    assert notice.event_key == f"{account}:2026-10:overdue"
    assert "已逾期10天" in notice.text and "违约金2.27元" in notice.text and "千分之一" in notice.text


# ---------------------------------------------------------------- abnormal usage

H = {"2026-05": 150, "2026-06": 180, "2026-07": 320, "2026-08": 340, "2026-09": 200, "2026-10": 160}


def test_a_normal_winter_rise_is_no_alert_without_last_years_month():
    # November rises from October's 160 kWh; with the seasonal factors that is ordinary.
    assert scan.usage_verdict("2026-11", 190, H, 0.5) is None
    assert scan.usage_verdict("2027-01", 290, {**H, "2026-11": 190, "2026-12": 240}, 0.5) is None


def test_a_normal_winter_rise_is_no_alert_against_last_winter():
    assert scan.usage_verdict("2026-12", 420, {**H, "2025-12": 380}, 0.5) is None


def test_far_above_the_same_month_last_year_is_an_alert_with_how_far():
    verdict = scan.usage_verdict("2026-11", 520, {**H, "2025-11": 200}, 0.5)
    assert verdict == scan.UsageVerdict("high", 160, 200, "last_year")
    text = scan.usage_text("3200000001", "2026-11", 520, verdict)
    assert "高出约160%" in text and "去年同期（2025年11月" in text and "校验电表" in text


def test_far_above_recent_months_is_an_alert_when_last_year_is_unknown():
    verdict = scan.usage_verdict("2026-11", 480, H, 0.5)
    assert verdict is not None and verdict.direction == "high" and verdict.reference == "recent"


def test_far_below_is_an_alert_with_other_explanations():
    verdict = scan.usage_verdict("2026-11", 40, {**H, "2025-11": 210}, 0.5)
    assert verdict is not None and verdict.direction == "low" and verdict.percent == 81
    assert "长期无人居住" in scan.usage_text("3200000001", "2026-11", 40, verdict)


def test_too_little_history_or_too_small_a_difference_is_no_alert():
    assert scan.usage_verdict("2026-11", 900, {"2026-10": 100, "2026-09": 100}, 0.5) is None  # 2 months only
    assert scan.usage_verdict("2026-11", 50, {**H, "2025-11": 25}, 0.5) is None  # +100 % but only 25 kWh


def test_the_usage_scan_alerts_once_and_is_not_repeated_while_nothing_changed(store, monkeypatch):
    high, normal = add_customer(store), add_customer(store)
    for account, november in ((high, 600), (normal, 210)):
        for period, kwh in {**H, "2025-11": 200}.items():
            add_bill(store, account, period, kwh)
        add_bill(store, account, "2026-11", november, status="unpaid", due=date(2026, 12, 20))
        bind(store, account)
    claim(store)
    with store.session() as session:
        rows = session.execute(select(NoticeDelivery).where(NoticeDelivery.kind == "abnormal_usage")).scalars().all()
        assert [(r.account_no, r.event_key) for r in rows] == [(high, f"{high}:2026-11:usage")]
        assert rows[0].payload["buttons"] == [scan.METER_TEST_BUTTON] and "高出约200%" in rows[0].payload["text"]
    # The scan remembered what it judged: the same data is not judged again ...
    calls = []
    monkeypatch.setattr(scan, "usage_verdict", lambda *a: calls.append(a))
    claim(store, NOW + timedelta(minutes=1))
    assert calls == []
    # ... until a customer binds their account (the one already told is not judged again).
    bind(store, normal)
    claim(store, NOW + timedelta(minutes=2))
    assert [a[1] for a in calls] == [210]


# ---------------------------------------------------------------- outages

def _outage(store, number, kind="planned", scope=("中山路",), area="南京市玄武区", start=NOW + timedelta(hours=20),
            hours=8) -> None:
    with store.session() as session:
        session.add(Outage(outage_no=number, kind=kind, area=area, scope=list(scope), start_at=start,
                           end_at=start + timedelta(hours=hours), reason="线路检修"))


def test_outage_notices_go_to_the_bound_customers_whose_address_is_in_scope(store):
    in_scope = add_customer(store, address="南京市玄武区中山路18号")
    no_district = add_customer(store, address="中山路200号3单元")
    other_district = add_customer(store, address="南京市江宁区中山路5号")  # same street name, elsewhere
    other_street = add_customer(store, address="南京市玄武区北京东路3号")
    unbound = add_customer(store, address="南京市玄武区中山路20号")
    for account in (in_scope, no_district, other_district, other_street):
        bind(store, account)
    _outage(store, "P-1")
    _outage(store, "P-2", scope=(), area="南京市江宁区")  # the whole district
    events = [e for e in found(store) if e.kind == "planned_outage"]
    by_key: dict[str, set] = {}
    for e in events:
        by_key.setdefault(e.event_key, set()).add(e.account_no)
    assert by_key == {"P-1:before:202612040600": {in_scope, no_district}, "P-2:before:202612040600": {other_district}}
    assert unbound not in {e.account_no for e in events}
    notice = next(e for e in events if e.event_key == "P-1:before:202612040600")
    assert "明天06:00至14:00计划停电" in notice.text and "线路检修" in notice.text


def test_outage_phases_before_at_the_start_and_at_the_end(store):
    account = add_customer(store)
    bind(store, account)
    start = datetime(2026, 12, 4, 8, 0, tzinfo=SH)
    _outage(store, "P-9", start=start, hours=9)

    def keys(now):
        return [e.event_key for e in found(store, now) if e.kind == "planned_outage"]

    assert keys(start - timedelta(hours=25)) == []
    assert keys(start - timedelta(hours=24)) == ["P-9:before:202612040800"]
    claim(store, start - timedelta(hours=24))
    assert keys(start - timedelta(hours=1)) == []  # claimed
    assert keys(start) == ["P-9:start:202612040800"]
    assert keys(start + timedelta(hours=9)) == ["P-9:end:202612041700"]
    assert keys(start + timedelta(hours=9) + scan.OUTAGE_END_GRACE) == []
    # Put off by two days (bad weather): the customers are told the new time.
    with store.session() as session:
        outage = session.execute(select(Outage).where(Outage.outage_no == "P-9")).scalar_one()
        outage.start_at, outage.end_at = start + timedelta(days=2), start + timedelta(days=2, hours=9)
    events = [e for e in found(store, start + timedelta(days=1)) if e.kind == "planned_outage"]
    assert [e.event_key for e in events] == ["P-9:before:202612060800"] and "明天08:00" in events[0].text


def test_a_fault_outage_ending_brings_an_urgent_restoration_notice(store):
    account = add_customer(store)
    bind(store, account)
    _outage(store, "F-1", kind="unplanned", start=NOW - timedelta(hours=3), hours=2)
    [notice] = [e for e in found(store) if e.kind in ("restoration", "planned_outage")]
    assert notice.kind == "restoration" and notice.urgent and notice.event_key == "F-1:restored:202612030900"
    assert "已恢复供电" in notice.text


# ---------------------------------------------------------------- bills and balances

def test_only_the_reminder_whose_window_the_bill_is_in(store):
    soon, tomorrow, later = add_customer(store), add_customer(store), add_customer(store)
    for account, days in ((soon, 5), (tomorrow, 1), (later, 12)):
        add_bill(store, account, "2026-11", 300, amount=150, due=NOW.date() + timedelta(days=days), status="unpaid")
        bind(store, account)
    reminders = {e.account_no: e for e in found(store) if e.kind == "due_reminder"}
    assert {a: e.event_key.rsplit(":", 1)[1] for a, e in reminders.items()} == {soon: "due-7", tomorrow: "due-1"}
    assert "将于明天到期" in reminders[tomorrow].text and "5天后（12月8日）" in reminders[soon].text
    # A supervisor's reminder days are used.
    custom = {e.account_no: e.event_key for e in found(store, due_reminder_days=[15, 3]) if e.kind == "due_reminder"}
    assert custom == {soon: f"{soon}:2026-11:due-15", tomorrow: f"{tomorrow}:2026-11:due-3",
                      later: f"{later}:2026-11:due-15"}


def test_low_balance_names_the_lowest_threshold_crossed(store):
    accounts = {balance: add_customer(store, balance=balance) for balance in (45, 30, 25, 12.5, 0, -3)}
    for account in accounts.values():
        bind(store, account)
    keys = {e.account_no: e.event_key.split(":")[1] for e in found(store) if e.kind == "low_balance"}
    assert keys == {accounts[30]: "low-30", accounts[25]: "low-30", accounts[12.5]: "low-20",
                    accounts[0]: "low-0", accounts[-3]: "low-0"}


def test_kinds_switched_off_are_not_scanned(store):
    account = add_customer(store, balance=5)
    bind(store, account)
    assert [e.kind for e in found(store)] == ["low_balance"]
    assert found(store, **{"kind.low_balance": False}) == []


def test_a_scans_queries_do_not_grow_with_the_customers(store):
    def count_queries(now) -> int:
        statements = []

        def record(*args):
            statements.append(args[2])

        event.listen(store.engine, "before_cursor_execute", record)
        try:
            claim(store, now)
        finally:
            event.remove(store.engine, "before_cursor_execute", record)
        return len(statements)

    def population(count):
        for _ in range(count):
            account = add_customer(store, balance=10)
            for period, kwh in H.items():
                add_bill(store, account, period, kwh)
            add_bill(store, account, "2026-11", 900, amount=400, due=date(2026, 12, 8), status="unpaid")
            bind(store, account)

    _outage(store, "P-1")
    population(5)
    few = count_queries(NOW)
    population(60)
    many = count_queries(NOW + timedelta(minutes=1))
    assert few == many


def test_an_outage_span_names_the_end_day_only_when_it_differs_from_the_start_day():
    now = datetime(2026, 12, 2, 10, 0, tzinfo=SH)
    same_day = scan.span_words(datetime(2026, 12, 3, 8, 0, tzinfo=SH), datetime(2026, 12, 3, 17, 0, tzinfo=SH), now)
    overnight = scan.span_words(datetime(2026, 12, 3, 22, 0, tzinfo=SH), datetime(2026, 12, 4, 6, 0, tzinfo=SH), now)
    assert same_day == "明天08:00至17:00"
    assert overnight == "明天22:00至12月4日06:00"
