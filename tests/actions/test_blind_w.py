"""Kinds of failure left open by the blind batches (prepaid balance, …), mended in this stop."""
from __future__ import annotations

import pytest

from actions.bills import ActionQueryBill
from tests.actions.test_bills import bills_of, verified_slots
from tests.support.dialogue import make_tracker, run_action, texts

PREPAID = "3201000038"  # 孙丽: a prepaid account with a low balance in the demo data


def bill_question(app, said: str, account_no: str, **slots):
    return make_tracker(said, intent="query_bill", slots={
        **verified_slots(app, account_no), "bill_query": "details", **slots})


@pytest.mark.asyncio
async def test_a_prepaid_accounts_bill_shows_its_balance_and_says_to_top_up_when_low(actions_gateway):
    app = actions_gateway.app
    _, messages = await run_action(ActionQueryBill(), bill_question(app, "查一下电费", PREPAID))
    replies = texts(messages)
    assert "用电量" in replies[0]  # the bill first
    balance = next(r for r in replies if "余额" in r)
    assert "18.60 元" in balance and "充值" in balance


@pytest.mark.asyncio
async def test_the_balance_asked_after_the_bill_is_answered_alone(actions_gateway):
    app = actions_gateway.app
    shown = bills_of(app, PREPAID)[0].period
    _, messages = await run_action(ActionQueryBill(), bill_question(
        app, "那余额还剩多少", PREPAID, bill_shown_period=shown))
    replies = texts(messages)
    assert any("18.60 元" in r for r in replies)
    assert not any("用电量" in r for r in replies)  # not the whole bill again


@pytest.mark.asyncio
async def test_a_post_paid_customer_asking_for_a_balance_is_told_there_is_none(actions_gateway):
    app = actions_gateway.app
    _, messages = await run_action(ActionQueryBill(), bill_question(app, "我家电费余额还有多少", "3201000001"))
    replies = texts(messages)
    assert "用电量" in replies[0]
    assert any("后付费" in r for r in replies)
    assert not any("预存余额 " in r for r in replies)


@pytest.mark.asyncio
async def test_a_post_paid_bill_not_asked_for_a_balance_says_nothing_of_one(actions_gateway):
    app = actions_gateway.app
    _, messages = await run_action(ActionQueryBill(), bill_question(app, "查下上个月电费", "3201000001"))
    assert not any("余额" in r for r in texts(messages))


@pytest.mark.asyncio
async def test_a_balance_question_that_opened_the_form_is_answered_after_the_identity_check(actions_gateway):
    app = actions_gateway.app
    opened = [{"event": "user", "text": "我家预存的钱还剩多少", "parse_data": {"intent": {"name": "query_bill"}}},
              {"event": "active_loop", "name": "bill_form"}]
    tracker = make_tracker("1234", intent="inform", prior_events=opened,
                           slots={**verified_slots(app, "3201000001"), "bill_query": "details"})
    _, messages = await run_action(ActionQueryBill(), tracker)
    assert any("后付费" in r for r in texts(messages))


@pytest.mark.asyncio
@pytest.mark.parametrize("opening, asked", [
    ("查下电费 户号我不记得了", "utter_account_no_help"),
    ("我想查电费，但是不知道户号是啥", "utter_account_no_help"),
    ("查电费", "utter_ask_account_no"),
])
async def test_the_account_question_at_the_opening_helps_who_said_they_do_not_know_it(opening, asked):
    from actions.bills import ActionAskBillFormAccountNo

    tracker = make_tracker(opening, intent="query_bill", active_loop="bill_form")
    _, messages = await run_action(ActionAskBillFormAccountNo(), tracker)
    assert [m.get("response") for m in messages] == [asked]


@pytest.mark.asyncio
async def test_the_account_question_is_not_repeated_after_the_help_of_the_same_turn():
    from actions.bills import ActionAskBillFormAccountNo

    tracker = make_tracker("户号是啥东西", intent="inform", active_loop="bill_form")
    tracker.events.append({"event": "bot", "text": "户号是您家电费账户的10位编号",
                           "metadata": {"utter_action": "utter_account_no_help"}})
    _, messages = await run_action(ActionAskBillFormAccountNo(), tracker)
    assert messages == []
