"""Dialogue behaviour customers need that Rasa 3.6 lacks; installed in every Rasa server by
its start (``python -m rasa_server run``). Unlike ``rasa_server.patches`` these change
what the bot does, each for a reason found by chatting with it (docs/qa_transcripts.md).

- **A typed yes takes the offer.** After "不好意思，我没太明白。您是想查询办理进度吗？[是的][不是]"
  (the first stage of the two-stage fallback, ``actions/handoff.py``) customers type "是的"
  as often as they press the button. Rasa's fallback loop only knows the button's intent: a
  typed yes ended the loop as a plain ``affirm`` ("好的。还有其他可以帮您的吗？") and the offer
  was lost. When the message that ends the loop is an ``affirm`` and the bot's question offered
  an intent on its yes button, the clarification Rasa puts on the tracker now carries that
  intent, exactly as if the button had been pressed (the customer's words are kept).
- **The fallback loop ends once.** Ending the loop reverts the customer's message and puts it
  back as understood. If the loop is still active after that (the state it was started in is
  gone), Rasa predicts it again, it reverts again, and the ``action_listen`` of each revert
  resets Rasa's limit on actions per message: the conversation hung with the server at full
  CPU. A loop that ends on a message it already put back now ends without another revert.
"""
from __future__ import annotations

import logging
import re
from typing import Any, List, Optional, Text

log = logging.getLogger(__name__)

AFFIRM_INTENT = "affirm"
DECLINE_PAYLOAD = "/out_of_scope"  # the [不是] button of the affirmation question
_PAYLOAD_INTENT = re.compile(r"^/([A-Za-z_][A-Za-z0-9_]*)$")
_installed = False
_ends_once_installed = False


def offered_intent(tracker: Any) -> Optional[Text]:
    """The intent on the yes button of the bot's last message before the customer's latest one."""
    from rasa.shared.core.events import BotUttered, UserUttered

    seen_latest_user = False
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            if seen_latest_user:
                return None  # the customer spoke again before any offer
            seen_latest_user = True
        elif isinstance(event, BotUttered) and seen_latest_user:
            for button in (event.data or {}).get("buttons") or []:
                payload = str(button.get("payload") or "")
                match = _PAYLOAD_INTENT.match(payload)
                if match and payload != DECLINE_PAYLOAD:
                    return match.group(1)
            return None
    return None


def install_typed_yes_takes_the_offer() -> bool:
    global _installed
    if _installed:
        return True
    try:
        from rasa.core.actions import two_stage_fallback
        from rasa.shared.core.events import UserUttered
    except ImportError:
        log.warning("rasa_server.dialogue: Rasa internals changed, a typed yes stays a plain affirm")
        return False
    original = getattr(two_stage_fallback, "_message_clarification", None)
    if original is None:
        log.warning("rasa_server.dialogue: Rasa internals changed, a typed yes stays a plain affirm")
        return False

    def _message_clarification(tracker: Any) -> List[Any]:
        events = original(tracker)
        latest = tracker.latest_message
        offered = offered_intent(tracker) if latest is not None and latest.intent_name == AFFIRM_INTENT else None
        if not offered or not events or not isinstance(events[-1], UserUttered):
            return events
        said = events[-1]
        intent = {"name": offered, "confidence": 1.0}
        parse_data = dict(said.parse_data, intent=intent, intent_ranking=[dict(intent)])
        return events[:-1] + [UserUttered(said.text, intent, said.entities, parse_data, said.timestamp,
                                          said.input_channel, said.message_id, said.metadata)]

    two_stage_fallback._message_clarification = _message_clarification
    _installed = True
    return True


def is_clarification(tracker: Any) -> bool:
    """Whether the customer's latest message is one the fallback loop already put back: the
    events before it are Rasa's revert and the ``action_listen`` of its clarification."""
    from rasa.shared.core.constants import ACTION_LISTEN_NAME
    from rasa.shared.core.events import ActionExecuted, UserUttered, UserUtteranceReverted

    events = list(tracker.events)
    latest = max((i for i, e in enumerate(events) if isinstance(e, UserUttered)), default=None)
    if latest is None or latest < 2:
        return False
    listen, revert = events[latest - 1], events[latest - 2]
    return (isinstance(listen, ActionExecuted) and listen.action_name == ACTION_LISTEN_NAME
            and isinstance(revert, UserUtteranceReverted))


def install_fallback_loop_ends_once() -> bool:
    global _ends_once_installed
    if _ends_once_installed:
        return True
    try:
        from rasa.core.actions.two_stage_fallback import TwoStageFallbackAction
    except ImportError:
        log.warning("rasa_server.dialogue: Rasa internals changed, the fallback loop is not guarded")
        return False
    original = TwoStageFallbackAction.deactivate

    async def deactivate(self: Any, output_channel: Any, nlg: Any, tracker: Any, domain: Any,
                         events_so_far: List[Any]) -> List[Any]:
        if is_clarification(tracker):
            log.warning("fallback loop of %s ended on its own clarification: no second revert", tracker.sender_id)
            return []
        return await original(self, output_channel, nlg, tracker, domain, events_so_far)

    TwoStageFallbackAction.deactivate = deactivate
    _ends_once_installed = True
    return True


def installed() -> bool:
    """Whether the changes of this module are installed in this process."""
    return _installed and _ends_once_installed


def install_all() -> dict:
    return {"install_typed_yes_takes_the_offer": install_typed_yes_takes_the_offer(),
            "install_fallback_loop_ends_once": install_fallback_loop_ends_once()}
