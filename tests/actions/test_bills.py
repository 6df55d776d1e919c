"""Bill flow actions against a real gateway with the demo data: identity, bills, reasons, arrears."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from actions.bills import ActionQueryBill, ValidateBillForm
from actions.common import SHANGHAI, normalize_period, period_label
from bot.store.models import Bill, Customer
from tests.support.dialogue import make_tracker, run_action, slot_values, texts
from bot.store import STORE


def customer(app, account_no="3201000001") -> Customer:
    with app[STORE].session() as session:
        return session.execute(select(Customer).where(Customer.account_no == account_no)).scalar_one()


def bills_of(app, account_no="3201000001") -> list[Bill]:
    with app[STORE].session() as session:
        return list(session.execute(select(Bill).where(Bill.account_no == account_no)
                                    .order_by(Bill.period.desc())).scalars())


def verified_slots(app, account_no="3201000001") -> dict:
    row = customer(app, account_no)
    return {"account_no": account_no, "verified_account_no": account_no, "identity_verified": True,
            "customer_name": row.name, "customer_address": row.address, "area_type": row.area_type}


@pytest.mark.parametrize("said, expected", [
    ("上个月", "2026-10"), ("上上个月", "2026-09"), ("这个月", "2026-11"), ("本月", "2026-11"),
    ("9月", "2026-09"), ("九月份", "2026-09"), ("12月", "2025-12"), ("十二月", "2025-12"),
    ("2026年9月", "2026-09"), ("2026-09", "2026-09"), ("2025.3", "2025-03"), ("去年12月", "2025-12"),
    ("１０月", "2026-10"), ("13月", None), ("", None), ("哪个月", None),
])
def test_months_as_customers_say_them(said, expected):
    now = datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)
    assert normalize_period(said, now) == expected


def test_january_rolls_back_a_year():
    now = datetime(2027, 1, 5, 9, 0, tzinfo=SHANGHAI)
    assert normalize_period("上个月", now) == "2026-12"
    assert normalize_period("11月", now) == "2026-11"


@pytest.mark.asyncio
async def test_right_last_four_digits_verify_the_account(actions_gateway):
    row = customer(actions_gateway.app)
    tracker = make_tracker("3201000001", intent="inform", form="bill_form",
                           candidates={"account_no": "3201000001"}, slots={"requested_slot": "account_no"})
    events, messages = await run_action(ValidateBillForm(), tracker)
    assert slot_values(events)["account_no"] == "3201000001"
    # Rasa asks the next slot itself while the form's slots are the domain's
    assert slot_values(events).get("requested_slot", "phone_last4") == "phone_last4"

    tracker = make_tracker(f"尾号{row.phone[-4:]}", intent="inform", form="bill_form",
                           slots={"account_no": "3201000001", "requested_slot": "phone_last4"})
    events, messages = await run_action(ValidateBillForm(), tracker)
    slots = slot_values(events)
    assert slots["identity_verified"] is True
    assert slots["verified_account_no"] == "3201000001"
    assert slots.get("requested_slot") is None  # nothing left to ask: the form submits
    assert any("验证通过" in t and row.name[0] in t for t in texts(messages))
    assert row.name not in "".join(texts(messages))  # the full name is never echoed


@pytest.mark.asyncio
async def test_a_verified_customer_is_not_asked_or_checked_again(dead_gateway):
    # The gateway is unreachable: any call would fail, so none may be made.
    slots = {"account_no": "3201000001", "verified_account_no": "3201000001", "identity_verified": True,
             "phone_last4": "0518"}
    tracker = make_tracker("查下上个月电费", intent="query_bill", form="bill_form",
                           candidates={"account_no": "3201000001", "phone_last4": "0518"}, slots=slots)
    events, messages = await run_action(ValidateBillForm(), tracker)
    assert messages == []
    assert not slot_values(events).get("api_failed")
    assert slot_values(events)["phone_last4"] == "0518"


@pytest.mark.asyncio
async def test_three_wrong_numbers_lock_and_offer_a_person(actions_gateway):
    row = customer(actions_gateway.app)
    wrong = "0000" if row.phone[-4:] != "0000" else "1111"
    slots = {"account_no": "3201000001", "requested_slot": "phone_last4", "identity_attempts": 0.0}
    replies = []
    for attempt in range(1, 4):
        tracker = make_tracker(wrong, intent="inform", form="bill_form", slots=slots)
        events, messages = await run_action(ValidateBillForm(), tracker)
        values = slot_values(events)
        assert values["identity_attempts"] == float(attempt)
        assert not values.get("identity_verified")
        slots.update(values)
        replies += texts(messages)
    assert slots["identity_locked"] is True
    assert slots["requested_slot"] is None  # the form stops asking
    assert "还可以再试2次" in replies[0] and "还可以再试1次" in replies[1]

    tracker = make_tracker(wrong, intent="inform", slots=slots)
    events, messages = await run_action(ActionQueryBill(), tracker)
    assert slot_values(events)["handoff_reason"] == "identity_failed"
    assert [m.get("response") for m in messages] == ["utter_identity_locked"]


@pytest.mark.asyncio
async def test_a_digit_free_answer_is_not_counted_as_a_failure(actions_gateway):
    tracker = make_tracker("我不记得了", intent="deny", form="bill_form",
                           slots={"account_no": "3201000001", "requested_slot": "phone_last4"})
    events, messages = await run_action(ValidateBillForm(), tracker)
    values = slot_values(events)
    assert values["phone_last4"] is None
    assert "identity_attempts" not in values
    assert "后四位" in texts(messages)[0]


@pytest.mark.asyncio
async def test_correcting_the_account_number_restarts_the_check(actions_gateway):
    # "不对，户号是3201000002" while the form asks for the phone digits of 3201000001
    tracker = make_tracker("不对，户号是3201000002", intent="inform", form="bill_form",
                           entities=[{"entity": "account_no", "value": "3201000002"}],
                           candidates={"account_no": "3201000002"},
                           slots={"requested_slot": "phone_last4", "identity_attempts": 2.0})
    events, messages = await run_action(ValidateBillForm(), tracker)
    values = slot_values(events)
    assert values["account_no"] == "3201000002"
    assert values["identity_attempts"] == 0.0
    assert values["phone_last4"] is None
    assert values.get("requested_slot", "phone_last4") == "phone_last4"


@pytest.mark.asyncio
async def test_unknown_account_number_is_asked_again(actions_gateway):
    tracker = make_tracker("9999999999", intent="inform", form="bill_form",
                           candidates={"account_no": "9999999999"}, slots={"requested_slot": "account_no"})
    events, messages = await run_action(ValidateBillForm(), tracker)
    assert slot_values(events)["account_no"] is None
    assert "没有查到户号 9999999999" in texts(messages)[0]


@pytest.mark.asyncio
async def test_bill_of_the_month_asked_matches_the_store(actions_gateway):
    app = actions_gateway.app
    bills = bills_of(app)
    target = bills[1]  # not the newest: the month must really be the one asked
    year, month = target.period.split("-")
    tracker = make_tracker(f"{int(year)}年{int(month)}月电费多少", intent="query_bill",
                           slots={**verified_slots(app), "period": f"{int(year)}年{int(month)}月",
                                  "bill_query": "details"})
    events, messages = await run_action(ActionQueryBill(), tracker)
    reply = texts(messages)[0]
    assert period_label(target.period) in reply
    assert f"{float(target.amount):.2f} 元" in reply
    assert f"{target.kwh:.0f} 度" in reply
    assert "第一档" in reply if target.tiers else True
    assert messages[-1].get("response") == "utter_ask_rating"
    values = slot_values(events)
    assert values["period"] is None and values["bill_query"] is None


@pytest.mark.asyncio
async def test_why_so_expensive_compares_with_the_previous_month(actions_gateway):
    app = actions_gateway.app
    bills = bills_of(app)
    current, previous = bills[0], bills[1]
    tracker = make_tracker("电费怎么这么贵", intent="ask_bill_reason",
                           slots={**verified_slots(app), "bill_query": "reason"})
    events, messages = await run_action(ActionQueryBill(), tracker)
    reply = texts(messages)[0]
    assert period_label(current.period) in reply and period_label(previous.period) in reply
    assert f"{previous.kwh:.0f} 度" in reply
    diff = float(current.amount) - float(previous.amount)
    assert f"{abs(diff):.2f} 元" in reply
    assert "阶梯" in reply or "第一档" in reply


@pytest.mark.asyncio
async def test_arrears_explain_how_to_pay_and_reconnection(actions_gateway):
    app = actions_gateway.app
    with app[STORE].session() as session:
        overdue_accounts = session.execute(select(Bill.account_no).where(Bill.status == "overdue")).scalars().all()
    assert overdue_accounts, "the demo data has an account in arrears"
    account_no = overdue_accounts[0]
    overdue = [b for b in bills_of(app, account_no) if b.status == "overdue"]
    tracker = make_tracker("我是不是欠费了", intent="query_bill", slots=verified_slots(app, account_no))
    events, messages = await run_action(ActionQueryBill(), tracker)
    arrears = next(t for t in texts(messages) if "逾期" in t)
    assert f"{sum(float(b.amount) for b in overdue):.2f} 元" in arrears
    assert "24小时内恢复供电" in arrears


@pytest.mark.asyncio
async def test_gateway_down_means_an_apology_not_a_verification(dead_gateway):
    tracker = make_tracker("0518", intent="inform", form="bill_form",
                           slots={"account_no": "3201000001", "requested_slot": "phone_last4"})
    events, messages = await run_action(ValidateBillForm(), tracker)
    values = slot_values(events)
    assert values["api_failed"] is True
    assert not values.get("identity_verified")
    assert values["requested_slot"] is None
    assert "95598" in texts(messages)[0]

    tracker = make_tracker("0518", intent="inform", slots={"account_no": "3201000001", **values})
    events, messages = await run_action(ActionQueryBill(), tracker)
    assert [m.get("response") for m in messages] == ["utter_offer_human"]


@pytest.mark.asyncio
async def test_a_name_where_the_last_four_digits_were_asked_is_told_it_proves_nothing(actions_gateway):
    for said in ("我叫宋思远", "户主是张伟"):
        tracker = make_tracker(said, intent="inform", form="bill_form",
                               slots={"account_no": "3201000007", "requested_slot": "phone_last4"})
        events, messages = await run_action(ValidateBillForm(), tracker)
        values = slot_values(events)
        assert [m.get("response") for m in messages] == ["utter_name_is_no_proof"]
        assert not values.get("identity_verified") and values["requested_slot"] == "phone_last4"


@pytest.mark.asyncio
async def test_when_power_returns_after_paying_is_told_while_the_identity_is_asked(actions_gateway):
    from tests.support.dialogue import DOMAIN

    tracker = make_tracker("欠多少 我现在就交 交完多久能来电", intent="query_bill", form="bill_form",
                           slots={"account_no": "3201000037", "requested_slot": "phone_last4"})
    events, messages = await run_action(ValidateBillForm(), tracker)
    told = texts(messages)[0]
    assert told in [v["text"] for v in DOMAIN["responses"]["utter_faq/reconnection"]] and "24" in told
    assert slot_values(events)["requested_slot"] == "phone_last4"
    assert not slot_values(events).get("identity_verified")


@pytest.mark.asyncio
async def test_another_utilitys_matter_opening_any_form_is_told_who_helps(actions_gateway):
    tracker = make_tracker("燃气灶打不着火了 你们能派个人来看看吗", intent="query_bill", form="bill_form",
                           slots={"requested_slot": None})
    events, messages = await run_action(ValidateBillForm(), tracker)
    assert messages and "燃气" in texts(messages)[0]
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)


@pytest.mark.asyncio
async def test_a_crew_asked_for_at_the_identity_question_ends_the_bill_query_for_a_repair(actions_gateway):
    tracker = make_tracker("我马上交 但是整栋楼都黑了 肯定不是欠费的事 你们派人来看看", intent="report_fault",
                           form="bill_form", slots={"account_no": "3201000004", "requested_slot": "phone_last4"})
    events, messages = await run_action(ValidateBillForm(), tracker)
    assert [m.get("response") for m in messages] == ["utter_switch_to_repair"]
    assert [e["name"] for e in events if e["event"] == "followup"] == ["fault_form"]
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)


@pytest.mark.asyncio
async def test_where_to_pay_opening_a_bill_query_is_answered_for_everyone(actions_gateway):
    from tests.support.dialogue import DOMAIN

    tracker = make_tracker("我不会用手机 电费到哪里交啊", intent="query_bill", form="bill_form",
                           slots={"requested_slot": None})
    events, messages = await run_action(ValidateBillForm(), tracker)
    assert texts(messages)[0] in [v["text"] for v in DOMAIN["responses"]["utter_faq/payment_channels"]]
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)
    # One's own bill is still a bill query.
    tracker = make_tracker("上个月电费多少钱 在哪交", intent="query_bill", form="bill_form",
                           slots={"requested_slot": None})
    events, messages = await run_action(ValidateBillForm(), tracker)
    assert not any(e["event"] == "active_loop" and e["name"] is None for e in events)
