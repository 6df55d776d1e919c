"""The import format's optional prepaid ``balance`` (issue 19) and the demo's notice accounts."""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.importer import DEMO_FILE, ImportFileError, import_data, parse, shift_demo
from bot.store.models import Customer
from tests.support.sla import migrated_store, sqlite_url

CUSTOMER = {"account_no": "3201009901", "name": "周敏", "phone": "13800001111", "address": "南京市玄武区中山路1号",
            "area_type": "urban", "customer_type": "residential"}


@pytest.fixture
def store():
    s = migrated_store(sqlite_url())
    yield s
    s.close()


def balance_of(store, account_no=CUSTOMER["account_no"]):
    with store.session() as session:
        return session.execute(select(Customer.balance).where(Customer.account_no == account_no)).scalar_one()


def run(store, *customers):
    with store.session() as session:
        return import_data(session, {"customers": list(customers)})


def test_a_balance_is_stored_kept_when_absent_and_cleared_with_null(store):
    run(store, {**CUSTOMER, "balance": 25.456})
    assert Decimal(str(balance_of(store))) == Decimal("25.46")
    again = run(store, {**CUSTOMER, "balance": 25.46})
    assert again.unchanged["customers"] == 1 and again.changed == 0  # idempotent
    assert run(store, CUSTOMER).changed == 0 and balance_of(store) is not None  # absent: left as it is
    run(store, {**CUSTOMER, "balance": -12})  # in arrears
    assert Decimal(str(balance_of(store))) == Decimal("-12.00")
    assert run(store, {**CUSTOMER, "balance": None}).updated["customers"] == 1
    assert balance_of(store) is None


@pytest.mark.parametrize("value", ["25", True, [1], 1e12])
def test_a_bad_balance_is_refused_with_its_line_and_field(store, value):
    text = json.dumps({"customers": [CUSTOMER, {**CUSTOMER, "account_no": "3201009902", "balance": value}]},
                      ensure_ascii=False, indent=1)
    data, lines = parse(text)
    with pytest.raises(ImportFileError) as refused:
        with store.session() as session:
            import_data(session, data, lines)
    [problem] = refused.value.problems
    assert (problem.section, problem.index, problem.field) == ("customers", 1, "balance")
    assert problem.line == lines["customers"][1]
    with store.session() as session:
        assert session.execute(select(Customer)).first() is None  # nothing imported


def test_the_demo_has_a_prepaid_account_and_a_bill_falling_due_days_after_the_import():
    data, _ = parse(DEMO_FILE.read_text(encoding="utf-8"))
    shifted = shift_demo(data, date(2027, 2, 14))
    prepaid = [c for c in shifted["customers"] if c.get("balance") is not None]
    assert [c["account_no"] for c in prepaid] == ["3201000038"]
    newest = max((b for b in shifted["bills"] if b["account_no"] == "3201000037"), key=lambda b: b["period"])
    assert newest["period"] == "2027-01" and newest["status"] == "unpaid" and newest["due_date"] == "2027-02-17"
    assert shift_demo(data, date(2026, 11, 26))["bills"] != data["bills"]  # also without moving
