"""Correct data in answers: time-of-use bills, demo payments never in the future, the documents
and schedule of business and high-voltage applications."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from actions.applications import (
    ActionSubmitApplication,
    ValidateApplicationForm,
)
from actions.bills import bill_details, reason_reply
from actions.tariffs import tariffs
from bot.importer import shift_demo
from bot.store.models import Ticket
from tests.support.dialogue import make_tracker, rendered, run_action, slot_values, texts
from bot.store import STORE

ROOT = Path(__file__).resolve().parents[2]
DEMO = json.loads((ROOT / "demo" / "demo_data.json").read_text(encoding="utf-8"))
TOU_BILL = {"period": "2026-10", "kwh": 241.0, "amount": 120.0, "due_date": "2026-11-30", "status": "paid",
            "paid_at": "2026-11-05T10:00:00+08:00", "peak_kwh": 150.0, "valley_kwh": 91.0,
            "tiers": [{"tier": 1, "kwh": 230.0, "price": 0.0, "surcharge": True},
                      {"tier": 2, "kwh": 11.0, "price": 0.05, "surcharge": True}]}


# ------------------------------------------------------------------ time-of-use bills


def test_a_time_of_use_bill_shows_its_prices_and_the_surcharge_as_a_surcharge():
    text = rendered("utter_bill_details", bill_details(TOU_BILL, "3201000004"))
    assert "0.0000" not in text and "× 0.0500" not in text  # surcharges are not prices
    assert "峰段" in text and "0.5583" in text and "谷段" in text and "0.3583" in text
    assert "第二档 11 度每度加价 0.05 元" in text
    reason = rendered(*reason_reply(TOU_BILL, None))
    assert "加价 0.05 元" in reason and "按 0.0500 元/度计费" not in reason


def test_a_tiered_bill_still_shows_its_tier_prices():
    bill = {**TOU_BILL, "peak_kwh": None, "valley_kwh": None,
            "tiers": [{"tier": 1, "kwh": 230.0, "price": 0.5283}, {"tier": 2, "kwh": 11.0, "price": 0.5783}]}
    text = rendered("utter_bill_details", bill_details(bill, "3201000001"))
    assert "第一档 230 度 × 0.5283 元/度；第二档 11 度 × 0.5783 元/度" in text and "峰段" not in text


def test_the_quoted_time_of_use_prices_are_the_ones_the_demo_bills_charge():
    tou = tariffs()["residential"]["time_of_use"]
    checked = 0
    for bill in DEMO["bills"]:
        if bill.get("peak_kwh") is None:
            continue
        surcharge = sum(t["kwh"] * t["price"] for t in bill["tiers"])
        expected = bill["peak_kwh"] * tou["peak"]["price"] + bill["valley_kwh"] * tou["valley"]["price"] + surcharge
        assert abs(expected - bill["amount"]) < 0.011, bill
        checked += 1
    assert checked > 50


# ------------------------------------------------------------------ demo payments


@pytest.mark.parametrize("today", [date(2026, 11, 26), date(2026, 12, 1), date(2026, 12, 2), date(2026, 12, 20),
                                   date(2027, 1, 1), date(2027, 3, 31)])
def test_the_shifted_demo_has_no_payment_in_the_future(today):
    shifted = shift_demo(DEMO, today)
    start_of_today = datetime.combine(today, datetime.min.time()).astimezone()
    for bill in shifted["bills"]:
        if bill["status"] == "paid":
            assert bill["paid_at"], bill
            paid = datetime.fromisoformat(bill["paid_at"])
            assert paid.date() < today, (today, bill)
            year, month = int(bill["period"][:4]), int(bill["period"][5:7])
            assert paid.date() > date(year, month, 1) + timedelta(days=27)  # after the month was billed
        else:
            assert bill["paid_at"] is None
    assert start_of_today  # the comparison above is by date in the bill's own offset


# ------------------------------------------------------------------ applications by applicant


def last_ticket(app) -> Ticket:
    with app[STORE].session() as session:
        row = session.execute(select(Ticket).order_by(Ticket.id.desc())).scalars().first()
        _ = row.milestones
        return row


def user(text: str) -> dict:
    return {"event": "user", "text": text, "parse_data": {"text": text, "intent": {"name": "apply_service"}}}


async def apply(app, opening: str, slots=None, sender_id="conv-apply"):
    """The business-type turn, then the submission; returns the documents, the filed message (with
    the business's label), the whole reply and the ticket."""
    tracker = make_tracker(opening, intent="apply_service", form="application_form", slots=slots or {})
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    documents = texts(messages)[0]
    filled = {**(slots or {}), **slot_values(events), "applicant_name": "刘强", "contact_phone": "13700005678",
              "address": "江苏省南京市江宁区秣陵街道将军大道177号"}
    history = [user(opening)]
    _, done = await run_action(ActionSubmitApplication(), make_tracker("13700005678", slots=filled,
                                                                       sender_id=sender_id, prior_events=history))
    filed = texts(done)[0]
    return documents, filed.split("申请已提交")[0], filed, last_ticket(app)


@pytest.mark.asyncio
async def test_a_factory_capacity_increase_gets_business_documents_and_the_high_voltage_schedule(actions_gateway):
    documents, label, reply, ticket = await apply(
        actions_gateway.app, "我们厂要增容，变压器从315千伏安增加到630千伏安，要准备什么")
    for needed in ("营业执照", "授权委托书", "用电设备清单"):
        assert needed in documents
    assert "户主身份证" not in documents and "房屋产权证明（房产证" not in documents
    assert "高压" in label
    assert ticket.business_type == "capacity_change"  # the contract's key; who applies picks the schedule
    assert {m.rule.split(".")[1] for m in ticket.milestones if m.rule.startswith("application.")} \
        == {"high_voltage_single"}
    connection = next(m for m in ticket.milestones if m.name == "装表接电")
    assert (connection.due_at - ticket.created_at).days >= 28  # 22 working days, not the low-voltage 6
    assert "竣工检验" in reply


@pytest.mark.asyncio
async def test_a_shop_gets_business_documents_and_the_low_voltage_non_residential_schedule(actions_gateway):
    documents, _, _, ticket = await apply(actions_gateway.app, "我开了个小饭店，想新装一个电表", sender_id="conv-shop")
    assert "营业执照" in documents and "户主身份证" not in documents
    assert ticket.business_type == "new_connection"
    assert any(m.rule.startswith("application.low_voltage_non_residential.") for m in ticket.milestones)


@pytest.mark.asyncio
async def test_a_verified_commercial_account_is_a_business_and_a_household_stays_residential(actions_gateway):
    documents, _, _, ticket = await apply(actions_gateway.app, "我要增容", sender_id="conv-commercial",
                                          slots={"identity_verified": True, "customer_type": "commercial"})
    assert "营业执照" in documents and ticket.business_type == "capacity_change"
    assert any(m.rule.startswith("application.low_voltage_non_residential.") for m in ticket.milestones)
    documents, _, _, ticket = await apply(actions_gateway.app, "家里新房要装电表", sender_id="conv-home")
    assert "户主身份证" in documents and "营业执照" not in documents
    assert any(m.rule.startswith("application.residential_new_connection.") for m in ticket.milestones)
