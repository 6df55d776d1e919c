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


def installed() -> bool:
    """Whether the changes of this module are installed in this process."""
    return _installed


def install_all() -> dict:
    return {"install_typed_yes_takes_the_offer": install_typed_yes_takes_the_offer()}
