"""Dialogue fixes inside the Rasa server (rasa_server/dialogue.py), against Rasa's own fallback loop."""
from __future__ import annotations

import pytest
from rasa.core.actions import two_stage_fallback
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered, UserUtteranceReverted
from rasa.shared.core.trackers import DialogueStateTracker

from rasa_server import dialogue

OFFER = BotUttered("不好意思，我没太明白。您是想查询办理进度吗？",
                   {"buttons": [{"title": "是的", "payload": "/query_progress"},
                                {"title": "不是", "payload": "/out_of_scope"}]})


def _tracker(*events) -> DialogueStateTracker:
    base = [ActionExecuted("action_listen"),
            UserUttered("审批要多久", {"name": "nlu_fallback", "confidence": 0.25}),
            ActionExecuted("action_two_stage_fallback"), OFFER, ActionExecuted("action_listen")]
    return DialogueStateTracker.from_events("c1", base + list(events))


def _user(text, intent) -> UserUttered:
    return UserUttered(text, {"name": intent, "confidence": 0.97}, [],
                       {"intent_ranking": [{"name": intent, "confidence": 0.97}]}, message_id="m2")


@pytest.fixture(autouse=True)
def installed():
    assert dialogue.install_all() == {"install_typed_yes_takes_the_offer": True,
                                      "install_fallback_loop_ends_once": True}


def test_the_rasa_servers_start_installs_it():
    import rasa_server

    installed = rasa_server.install()  # `python -m rasa_server run`
    assert installed["dialogue.typed_yes_takes_the_offer"] and installed["dialogue.fallback_loop_ends_once"]
    assert two_stage_fallback._message_clarification.__module__ == "rasa_server.dialogue"


@pytest.mark.parametrize("said", ["是的", "对", "好的"])
def test_a_typed_yes_carries_the_offered_intent(said):
    tracker = _tracker(_user(said, "affirm"))
    events = two_stage_fallback._message_clarification(tracker)
    assert isinstance(events[0], ActionExecuted) and events[0].action_name == "action_listen"
    clarified = events[-1]
    assert clarified.intent == {"name": "query_progress", "confidence": 1.0}
    assert clarified.parse_data["intent_ranking"] == [{"name": "query_progress", "confidence": 1.0}]
    assert clarified.text == said and clarified.message_id == "m2"


@pytest.mark.parametrize("said, intent", [("/query_progress", "query_progress"), ("不是", "deny"),
                                          ("我要查电费", "query_bill")])
def test_anything_else_is_clarified_as_rasa_does(said, intent):
    tracker = _tracker(_user(said, intent))
    clarified = two_stage_fallback._message_clarification(tracker)[-1]
    assert clarified.intent["name"] == intent and clarified.intent["confidence"] == 1.0


def test_a_yes_without_an_offer_stays_a_yes():
    plain = DialogueStateTracker.from_events("c2", [
        ActionExecuted("action_listen"), UserUttered("你好", {"name": "greet", "confidence": 0.99}),
        BotUttered("您好！请问有什么可以帮您？", {"buttons": []}), ActionExecuted("action_listen"),
        _user("是的", "affirm")])
    assert dialogue.offered_intent(plain) is None
    assert two_stage_fallback._message_clarification(plain)[-1].intent["name"] == "affirm"
    # An offer two messages back does not count: the customer said something else since.
    later = _tracker(_user("嗯", "nlu_fallback"), SlotSet("x", 1), ActionExecuted("action_listen"),
                     _user("是的", "affirm"))
    assert dialogue.offered_intent(later) is None


def test_the_loop_ends_into_the_offered_request():
    """Rasa's own deactivation: the fallback turn is reverted and the typed yes becomes the request."""
    import asyncio

    action = two_stage_fallback.TwoStageFallbackAction()
    tracker = _tracker(_user("是的", "affirm"))
    events = asyncio.run(action.deactivate(None, None, tracker, None, []))
    assert isinstance(events[0], UserUtteranceReverted)
    assert events[-1].intent["name"] == "query_progress"


def test_the_fallback_loop_ends_once_even_when_its_start_is_gone():
    """A loop still active after its clarification (its starting turn was compacted away) ended,
    reverted, was predicted again, for ever: the conversation hung. Now the second end stops."""
    import asyncio

    from rasa.shared.core.events import ActiveLoop

    tsf = "action_two_stage_fallback"
    asked = "阶梯电价怎么收费"
    tracker = DialogueStateTracker.from_events("c3", [
        ActiveLoop(tsf), ActionExecuted("action_listen"), _user(asked, "faq"), ActionExecuted(tsf)])
    action = two_stage_fallback.TwoStageFallbackAction()
    first = asyncio.run(action.run(None, None, tracker, None))
    assert [type(e).__name__ for e in first] == ["ActiveLoop", "UserUtteranceReverted", "ActionExecuted", "UserUttered"]
    for event in first:
        tracker.update(event)
    assert tracker.active_loop_name == tsf  # the revert could not reach the activation
    tracker.update(ActionExecuted(tsf))
    second = asyncio.run(action.run(None, None, tracker, None))
    assert [type(e).__name__ for e in second] == ["ActiveLoop"]
    for event in second:
        tracker.update(event)
    assert tracker.active_loop_name is None and tracker.latest_message.text == asked
