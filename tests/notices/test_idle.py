"""The engine's idle round (issue 19): the bill and balance scans are skipped while nothing they
depend on changed since the last full scan, and run again at once after a new bill, binding or
customer, an import that changed a bill or balance in place, a settings change or a new day, and
at least every FULL_SCAN_EVERY (writers other than the importer)."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from bot.importer import import_data
from bot.notices import engine, scan, settings as notice_settings
from bot.store.models import Customer
from tests.support.notices import SH, add_bill, add_customer, bind
from tests.support.sla import migrated_store, sqlite_url

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=SH)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request):
    url = sqlite_url() if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    s = migrated_store(url)
    yield s
    s.close()


@pytest.fixture
def scans(monkeypatch):
    """How often the bill scans ran."""
    calls = []
    real = scan.bills_issued

    def counted(session, now):
        calls.append(now)
        return real(session, now)

    monkeypatch.setattr(scan, "bills_issued", counted)
    return calls


def claim(store, now):
    with store.session() as session:
        return engine.claim(session, now)


def unpaid(store, account: str, period: str, due) -> None:
    add_bill(store, account, period, 300, amount=150, due=due, status="unpaid")


def test_an_idle_round_skips_the_bill_scans_until_something_changes(store, scans):
    first = add_customer(store)
    unpaid(store, first, "2026-11", NOW.date() + timedelta(days=5))
    bind(store, first, "web")
    assert claim(store, NOW) == (2, 2)  # bill issued + due in 5 days
    assert len(scans) == 1
    for minutes in (1, 2, 9):
        assert claim(store, NOW + timedelta(minutes=minutes)) == (0, 0)
    assert len(scans) == 1  # nothing changed: no scan of the bills

    second = add_customer(store)  # a new binding (and customer, bill): looked at in the next round
    unpaid(store, second, "2026-11", NOW.date() + timedelta(days=6))
    bind(store, second, "wechat", "o-second")
    assert claim(store, NOW + timedelta(minutes=10)) == (2, 2)
    assert len(scans) == 2


def test_an_import_changing_a_bill_in_place_is_looked_at_in_the_next_round(store, scans):
    account = add_customer(store, account_no="3209000001")
    with store.session() as session:
        session.execute(update(Customer).where(Customer.account_no == account).values(
            name="测试", phone="13800000000", area_type="urban"))
    add_bill(store, account, "2026-11", 300, amount=150, due=NOW.date() + timedelta(days=20), status="unpaid")
    bind(store, account, "web")
    assert claim(store, NOW)[1] == 1  # bill issued; the due date is weeks away
    assert claim(store, NOW + timedelta(minutes=1)) == (0, 0) and len(scans) == 1
    record = {"account_no": account, "period": "2026-11", "kwh": 300.0, "amount": 150.0,
              "due_date": (NOW.date() + timedelta(days=3)).isoformat(), "status": "unpaid"}
    with store.session() as session:
        summary = import_data(session, {"customers": [], "bills": [record], "outages": []})
    assert summary.updated["bills"] == 1
    events, claimed = claim(store, NOW + timedelta(minutes=2))
    assert claimed == 1 and len(scans) == 2  # the due reminder the new date calls for
    with store.session() as session:  # the same file again changes nothing: no new scan
        import_data(session, {"customers": [], "bills": [record], "outages": []})
    assert claim(store, NOW + timedelta(minutes=3)) == (0, 0) and len(scans) == 2


def test_other_writers_settings_and_a_new_day_are_seen_too(store, scans):
    account = add_customer(store, balance=50)
    bind(store, account, "web")
    assert claim(store, NOW) == (0, 0) and len(scans) == 1
    with store.session() as session:  # a balance written by another program, not the importer
        session.execute(update(Customer).where(Customer.account_no == account).values(balance=15))
    assert claim(store, NOW + timedelta(minutes=5)) == (0, 0) and len(scans) == 1
    assert claim(store, NOW + scan.FULL_SCAN_EVERY)[1] == 1 and len(scans) == 2  # low balance, found
    with store.session() as session:
        notice_settings.change(session, "low_balance_thresholds", [30, 20, 10, 0], by="test")
    claim(store, NOW + scan.FULL_SCAN_EVERY + timedelta(minutes=1))
    assert len(scans) == 3  # the settings the scans use changed
    claim(store, datetime(2026, 12, 4, 0, 1, tzinfo=SH))
    assert len(scans) == 4  # a new day: due windows and overdue days moved
    claim(store, datetime(2026, 12, 4, 0, 0, tzinfo=SH))
    assert len(scans) == 5  # a clock going back is no reason to trust the marker


def test_the_scans_themselves_still_scan_every_time(store, scans):
    account = add_customer(store)
    unpaid(store, account, "2026-11", NOW.date() + timedelta(days=5))
    bind(store, account, "web")
    claim(store, NOW)
    with store.session() as session:
        assert scan.scan(session, NOW) == []  # claimed; and the scan ran (no idle check asked)
    assert len(scans) == 2


def test_the_usage_scan_is_skipped_with_the_bills_and_runs_when_its_ratio_changes(store, monkeypatch):
    calls = []
    real = scan.abnormal_usage

    def counted(session, now, ratio, **kwargs):
        calls.append(ratio)
        return real(session, now, ratio, **kwargs)

    monkeypatch.setattr(scan, "abnormal_usage", counted)
    account = add_customer(store)
    for month, kwh in ((5, 100), (6, 110), (7, 150), (8, 160), (9, 110), (10, 95), (11, 300)):
        add_bill(store, account, f"2026-{month:02d}", kwh)
    bind(store, account, "web")
    assert claim(store, NOW)[1] == 1 and calls == [0.5]  # far above its own history
    claim(store, NOW + timedelta(minutes=1))
    assert calls == [0.5]
    with store.session() as session:
        notice_settings.change(session, "abnormal_usage_ratio", 0.6, by="test")
    claim(store, NOW + timedelta(minutes=2))
    assert calls == [0.5, 0.6]


def test_an_outage_phase_is_looked_at_once_and_a_new_phase_or_outage_at_once(store, monkeypatch):
    from bot.store.models import Outage

    looked: list[str] = []
    real = scan._in_scope

    def counted(session, kind, key, area, scope):
        looked.append(key.split(":")[1])
        return real(session, kind, key, area, scope)

    monkeypatch.setattr(scan, "_in_scope", counted)
    account = add_customer(store, address="南京市玄武区中山路18号")
    bind(store, account, "web")
    start = NOW + timedelta(hours=3)
    with store.session() as session:
        session.add(Outage(outage_no="IDLE-1", kind="planned", area="南京市玄武区", scope=["中山路"],
                           start_at=start, end_at=start + timedelta(hours=5), reason="线路检修"))
    assert claim(store, NOW)[1] == 1 and looked == ["before"]
    claim(store, NOW + timedelta(minutes=1))
    assert looked == ["before"]  # the same phase, nothing new: its scope is not scanned again

    claim(store, start - timedelta(minutes=5))  # a full re-check (time): the 'before' phase again
    assert looked == ["before", "before"]
    assert claim(store, start + timedelta(minutes=1))[1] == 1  # the outage began: its start phase at once
    assert looked[-1] == "start"
    claim(store, start + timedelta(minutes=2))
    assert len(looked) == 3  # known now

    with store.session() as session:  # another outage: the outages changed, everything is looked at
        session.add(Outage(outage_no="IDLE-2", kind="planned", area="南京市玄武区", scope=["中山路"],
                           start_at=start + timedelta(hours=6), end_at=start + timedelta(hours=8),
                           reason="设备检修"))
    assert claim(store, start + timedelta(minutes=3))[1] == 1  # IDLE-2's day-before notice
    assert sorted(looked[3:]) == ["before", "start"]
