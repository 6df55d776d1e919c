"""Kinds of failure found by the blind conversations of batches u and v (and make run) in this stop."""
from __future__ import annotations

import pytest

from actions.bills import ActionQueryBill
from actions.common import period_label
from tests.actions.test_bills import bills_of, verified_slots
from tests.support.dialogue import make_tracker, run_action, slot_values, texts


def shown_bill_tracker(app, said: str, account_no: str, shown: str, **slots):
    return make_tracker(said, intent="query_bill", slots={
        **verified_slots(app, account_no), "bill_query": "details", "bill_shown_period": shown, **slots})


@pytest.mark.asyncio
async def test_is_it_still_unpaid_after_the_bill_answers_that_alone(actions_gateway):
    app = actions_gateway.app
    latest = bills_of(app)[0]
    assert latest.status == "unpaid"
    events, messages = await run_action(ActionQueryBill(), shown_bill_tracker(
        app, "那我是不是还没交", "3201000001", latest.period))
    replies = texts(messages)
    assert f"{float(latest.amount):.2f} 元还没有缴" in replies[0]
    assert not any("用电量" in r for r in replies)  # not the whole bill again
    values = slot_values(events)
    assert "bill_shown_period" not in values  # the same bill stays the one spoken of


@pytest.mark.asyncio
async def test_peak_and_valley_asked_after_the_bill_gives_the_split(actions_gateway):
    app = actions_gateway.app
    latest = bills_of(app, "3201000004")[0]
    assert latest.peak_kwh is not None
    _, messages = await run_action(ActionQueryBill(), shown_bill_tracker(
        app, "峰段谷段各用了多少", "3201000004", latest.period))
    reply = texts(messages)[0]
    assert f"{latest.peak_kwh:.0f} 度" in reply and f"{latest.valley_kwh:.0f} 度" in reply
    assert "电费金额" not in reply


@pytest.mark.asyncio
async def test_peak_and_valley_asked_of_a_tiered_bill_says_there_is_none(actions_gateway):
    app = actions_gateway.app
    latest = bills_of(app)[0]
    _, messages = await run_action(ActionQueryBill(), shown_bill_tracker(
        app, "峰谷各用了多少", "3201000001", latest.period))
    assert "没有按峰谷分时计费" in texts(messages)[0]


@pytest.mark.asyncio
async def test_another_month_after_a_bill_is_shown_whole(actions_gateway):
    app = actions_gateway.app
    latest, earlier = bills_of(app)[0], bills_of(app)[1]
    label = period_label(earlier.period)
    events, messages = await run_action(ActionQueryBill(), shown_bill_tracker(
        app, f"{label}用了多少度", "3201000001", latest.period, period=label))
    assert f"{float(earlier.amount):.2f} 元" in texts(messages)[0] and "用电量" in texts(messages)[0]
    assert slot_values(events)["bill_shown_period"] == earlier.period
