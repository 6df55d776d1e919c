"""Rasa component: the ResponseSelector, run only for messages that may be FAQ questions.

Why: Rasa's ResponseSelector (the FAQ answers, a second TensorFlow model) runs on every
message, although its answer is only used when the message is a FAQ question
(``action_answer_faq``).

What instead: ``FaqGatedResponseSelector`` is Rasa's ResponseSelector (trained, stored and
loaded as it) whose ``process`` selects an answer only for the messages whose top two intents
include its retrieval intent (the second one too, so that a two-stage fallback that turns the
message into a FAQ question still has the answer), and for messages nothing classified; the
others pass unchanged, without a ``response_selector`` entry. ``gate: false`` in its
configuration runs it for every message, as Rasa's.

Rasa's recipe validator recognises a response selector by class equality (``ResponseSelector
in`` the pipeline's classes: else it warns that the response examples go unused); the class
compares equal to ``ResponseSelector`` (``rasa_server.counts_as``), so that check answers as for
Rasa's own. Placed where Rasa's ResponseSelector was: after the classifier and the entity
extractors, before the FallbackClassifier and ``FaqAnswerGuard``.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.selectors.response_selector import ResponseSelector
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

from rasa_server.counts_as import CountsAs


def may_be_retrieval_intent(message: Message, retrieval_intent: Text) -> bool:
    """True when the message's top two intents include ``retrieval_intent`` or nothing
    classified it."""
    intent = message.get(INTENT) or {}
    if not intent.get("name"):
        return True  # nothing classified it: keep Rasa's behaviour
    ranking = message.get(INTENT_RANKING_KEY) or [intent]
    return any((entry or {}).get("name") == retrieval_intent for entry in ranking[:2])


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class FaqGatedResponseSelector(ResponseSelector, metaclass=CountsAs, counts_as=ResponseSelector):
    """Rasa's ResponseSelector, skipping messages that cannot be its retrieval intent."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**ResponseSelector.get_default_config(), "gate": True}

    def process(self, messages: List[Message]) -> List[Message]:
        retrieval_intent = self.retrieval_intent
        if not self.component_config.get("gate", True) or not retrieval_intent:
            return super().process(messages)
        wanted = [message for message in messages if may_be_retrieval_intent(message, retrieval_intent)]
        if len(wanted) == len(messages):
            return super().process(messages)
        if wanted:
            super().process(wanted)  # sets the selector's answer on each message in place
        return messages
