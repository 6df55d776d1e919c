"""Replaces ``rasa.nlu.selectors.response_selector.ResponseSelector.process`` (wraps it).

Why: the ResponseSelector (the FAQ answers, a second TensorFlow model) ran on every message,
although its answer is only used when the message is a FAQ question (``action_answer_faq``).

What instead: it runs for the messages whose top two intents include its retrieval intent
(the second one too, so that a two-stage fallback that turns the message into a FAQ question
still has the answer), and for messages nothing classified; the others pass unchanged.
"""
from __future__ import annotations

from typing import Any, Text

from rasa_server.patches import _common

REPLACES = ("rasa.nlu.selectors.response_selector.ResponseSelector.process",)


def _may_be_retrieval_intent(message: Any, retrieval_intent: Text) -> bool:
    intent = message.get("intent") or {}
    if not intent.get("name"):
        return True  # nothing classified it: keep Rasa's behaviour
    ranking = message.get("intent_ranking") or [intent]
    return any((entry or {}).get("name") == retrieval_intent for entry in ranking[:2])


def install() -> bool:
    """Wraps ``ResponseSelector.process`` to skip messages that cannot be its retrieval
    intent; idempotent. False when refused or not applicable."""
    if _common.version_refusal(__name__):
        return False
    unchanged = "ResponseSelector not gated"
    try:
        from rasa.nlu.selectors.response_selector import ResponseSelector
    except ImportError:
        return _common.internals_changed(unchanged)

    def gated(original: Any) -> Any:
        def process(self: Any, messages: list) -> list:
            retrieval_intent = getattr(self, "retrieval_intent", None)
            if not _common.enabled or not retrieval_intent:
                return original(self, messages)
            wanted = [m for m in messages if _may_be_retrieval_intent(m, retrieval_intent)]
            if len(wanted) == len(messages):
                return original(self, messages)
            if wanted:
                original(self, wanted)  # sets the selector's answer on each message in place
            return messages
        return process

    return _common.replace(ResponseSelector, "process", gated, unchanged)
