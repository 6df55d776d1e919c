"""Kinds of failure found by the fifth blind batch (tests/conversations/dev/e_*.yml), each
against the real gateway with the demo data."""
from __future__ import annotations

import uuid

import pytest

from actions import api_client
from tests.support.dialogue import make_tracker, run_action


async def callback_waiting(conversation_id: str) -> dict:
    """A callback ticket the gateway opened with the desk closed, no phone to call yet."""
    return await api_client.create_ticket({
        "request_key": f"test:{uuid.uuid4().hex}", "type": "callback", "summary": "回电：客户要求转人工，非服务时间",
        "channel": "web", "conversation_id": conversation_id})


@pytest.mark.asyncio
@pytest.mark.parametrize("said, intent, action", [
    ("有人吗 打电话给我 13905172316", "nlu_fallback", "fallback"),
    ("我现在的电话是13905172316 让人打过来", "nlu_fallback", "fallback"),
    ("我不要填什么表 我就要人 电话13905172316 让人马上打给我", "request_human", "handoff"),
])
async def test_a_phone_said_after_the_desk_closed_notice_goes_onto_the_callback(actions_gateway, said, intent, action):
    """e-handoff-04/06/08: the gateway opened a callback and asked for a phone; the phone came in
    words NLU did not know (or as a second wish for a person): the callback gets it, no second
    hand-off, no "没能理解"."""
    from actions.handoff import ActionDefaultAskAffirmation, ActionHandoff

    conversation = f"conv-{uuid.uuid4().hex[:8]}"
    ticket = await callback_waiting(conversation)
    tracker = make_tracker(said, intent=intent, sender_id=conversation)
    runner = ActionDefaultAskAffirmation() if action == "fallback" else ActionHandoff()
    _, messages = await run_action(runner, tracker)
    assert (await api_client.get_ticket(ticket["ticket_no"]))["contact_phone"] == "13905172316"
    assert [m.get("response") for m in messages] == ["utter_callback_phone_noted"]


@pytest.mark.asyncio
async def test_a_phone_with_no_callback_waiting_is_not_taken_for_one(actions_gateway):
    from actions.handoff import ActionDefaultAskAffirmation

    tracker = make_tracker("有人吗 打电话给我 13905172316", intent="nlu_fallback",
                           sender_id=f"conv-{uuid.uuid4().hex[:8]}")
    _, messages = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert "utter_callback_phone_noted" not in [m.get("response") for m in messages]


@pytest.mark.parametrize("said, person", [("能不能让人直接打电话给她", True), ("有人吗 打电话给我", True),
                                          ("我给他打电话没人接", False), ("电费多少", False)])
def test_asking_to_be_called_is_asking_for_a_person(said, person):
    """e-handoff-07: "她眼睛不好看不了手机 能不能让人直接打电话给她" at a bill query's opening."""
    from actions.common import ASKS_FOR_A_PERSON

    assert bool(ASKS_FOR_A_PERSON.search(said)) is person
