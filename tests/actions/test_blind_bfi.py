"""Kinds of failure found this stop: chatting through the widget in words not written for the
tests, and the blind batches bf (elderly customers and relatives), bg (small businesses), bh (young
renters, EV owners, app payments) and bi (households across the seasons) at first sight."""
import pytest

from tests.support.dialogue import make_tracker, run_action, texts


def followups(events) -> list:
    return [e.get("name") for e in events if e.get("event") == "followup"]


@pytest.mark.asyncio
async def test_a_person_asked_for_while_stopping_a_repair_is_called(actions_gateway):
    """Tried in the widget: "算了 你帮我转个人工吧" at a repair's address question cancelled the repair
    and asked "还有其他可以帮您的吗？"; the person asked for never came."""
    from actions.common import ActionCancelForm

    tracker = make_tracker("算了 你帮我转个人工吧", intent="request_human", active_loop="fault_form",
                           slots={"requested_slot": "address", "fault_description": "小区门口路灯坏了"})
    events, messages = await run_action(ActionCancelForm(), tracker)
    assert followups(events) == ["action_handoff"]
    assert [m.get("response") for m in messages] == ["utter_form_cancelled_then"]


@pytest.mark.parametrize("text, asks", [
    ("算了 你帮我转个人工吧", True), ("给我接个人工", True), ("转人工", True), ("找个人工客服", True),
    ("你们人工客服态度太差了", False), ("人工费要多少", False),
])
def test_the_words_of_asking_for_a_person(text, asks):
    from actions.common import ASKS_FOR_A_PERSON

    assert bool(ASKS_FOR_A_PERSON.search(text)) is asks, text


@pytest.mark.asyncio
@pytest.mark.parametrize("text", ["对了我们小区门口路灯坏了好几天了", "村口那个路灯晚上一直不亮"])
async def test_a_street_light_out_is_redirected_not_repaired(actions_gateway, text):
    """Tried in the widget: "对了我们小区门口路灯坏了好几天了" started a repair and asked for the
    address; street lights are the city's or the property's (12345, the property, the village)."""
    from actions.faults import ValidateFaultForm

    events, messages = await run_action(ValidateFaultForm(), make_tracker(text, intent="report_fault",
                                                                          form="fault_form"))
    assert followups(events) == ["action_listen"]
    assert "12345" in "".join(texts(messages))


@pytest.mark.asyncio
async def test_a_fallen_street_light_wire_is_still_a_danger_to_repair(actions_gateway):
    from actions.faults import ValidateFaultForm

    events, messages = await run_action(ValidateFaultForm(), make_tracker(
        "路灯杆上的电线掉下来了 还在冒火花", intent="report_fault", form="fault_form"))
    assert "12345" not in "".join(texts(messages))
    assert "action_listen" not in followups(events)
