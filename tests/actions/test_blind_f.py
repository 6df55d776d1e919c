"""Kinds of failure found chatting as a customer and by the sixth blind batch
(tests/conversations/dev/f_*.yml), each against the real gateway with the demo data."""
from __future__ import annotations

import pytest

from tests.support.dialogue import make_tracker, run_action, slot_values, texts


@pytest.mark.asyncio
@pytest.mark.parametrize("said, followup", [
    ("等哈 先不修了 是不是没交电费啊 户号3201000016", "bill_form"),
    ("算了不报修了 查下电费 户号3201000001", "bill_form"),
    ("不修了 中华路明天停不停电", "outage_form"),
])
async def test_a_stop_and_a_new_request_with_digits_ends_the_form_and_serves_the_request(
        actions_gateway, said, followup):
    """Found chatting: at a repair's address question "等哈 先不修了 是不是没交电费啊 户号三二零…"
    got "这个问题我这里答不上来…还需要您的地址": the 户号's digits kept the stop from being one."""
    from actions.common import ActionCancelForm
    from actions.faults import ValidateFaultForm

    tracker = make_tracker(said, intent="query_bill", form="fault_form",
                           entities=[{"entity": "account_no", "value": "3201000016"}] if "32010" in said else [],
                           slots={"requested_slot": "address", "fault_description": "俺家的电又没了"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["action_cancel_form"]
    assert "utter_question_unanswered_in_form" not in [m.get("response") for m in messages]
    cancel_events, _ = await run_action(ActionCancelForm(), make_tracker(said, intent="query_bill", form="fault_form",
                                                                           slots={"fault_description": "俺家的电又没了"}))
    assert [e.get("name") for e in cancel_events if e.get("event") == "followup"] == [followup]


@pytest.mark.asyncio
async def test_digits_with_a_stop_word_and_no_new_request_are_still_a_value(actions_gateway):
    """"不用了 就是中华路66号" keeps the address: only a stop followed by a request ends the form."""
    from actions.faults import ValidateFaultForm

    tracker = make_tracker("算了 地址就写中华路66号2栋302", intent="inform", form="fault_form",
                           slots={"requested_slot": "address", "fault_description": "家里没电"})
    events, _ = await run_action(ValidateFaultForm(), tracker)
    assert "action_cancel_form" not in [e.get("name") for e in events if e.get("event") == "followup"]


@pytest.mark.asyncio
@pytest.mark.parametrize("said, answered", [
    ("我想把电表挪到院子外头 要多少钱 多久能弄好", True),
    ("能不能快点 要多久能到", False),
])
async def test_how_long_about_another_business_inside_a_repair_is_a_question_on_it(actions_gateway, said, answered):
    """Found chatting: "我想把电表挪到院子外头 要多少钱 多久能弄好" inside a repair got the hurry
    reply ("要多久" is an urge there); it asks the meter move's fee and time. "要多久能到" still urges."""
    from actions.faults import ValidateFaultForm

    tracker = make_tracker(said, intent="apply_service", form="fault_form",
                           slots={"requested_slot": "address", "fault_description": "家里没电"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    responses = [m.get("response") for m in messages]
    assert ("utter_empathy_hurry" not in responses) is answered
    if answered:
        said_back = "".join(texts(messages))
        assert "移表" in said_back and "工作日" in said_back, said_back
        assert slot_values(events).get("address") is None
