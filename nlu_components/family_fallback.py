"""Rasa component: the FallbackClassifier, with a finer intent and the request it refines counted as one.

``ask_bill_reason`` ("为什么这个月电费这么高") is a kind of ``query_bill``: both start the bill form. When
the classifiers split a bill question between the two ("电费咋又扣了两百 怎么回事": 0.51 and 0.46), Rasa's
FallbackClassifier sees two close intents and asks the customer what they mean, although either answer
leads to the same place. Here the threshold and the ambiguity rule look at families: the confidence of
the top intent's family is the sum of its members', and the gap is measured to the best other family.
The predicted intent stays the top intent (the finer one, when it leads).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY
from rasa.shared.nlu.training_data.message import Message

# intent -> its family (intents answered by the same form or action): a finer intent -> the request
# it refines; thanks and goodbye both close the conversation ("行 先这样吧 谢谢" splits between them).
DEFAULT_FAMILIES: Dict[Text, Text] = {"ask_bill_reason": "query_bill", "thank": "closing", "goodbye": "closing"}


def family_scores(ranking: List[Dict[Text, Any]], families: Dict[Text, Text]) -> Dict[Text, float]:
    """Summed confidence per family (an intent outside ``families`` is its own family)."""
    scores: Dict[Text, float] = {}
    for entry in ranking:
        name = entry.get(INTENT_NAME_KEY)
        if not name:
            continue
        family = families.get(name, name)
        scores[family] = scores.get(family, 0.0) + float(entry.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
    return scores


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class FamilyFallbackClassifier(FallbackClassifier):
    """``FallbackClassifier`` whose threshold and ambiguity rule compare families of intents."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**FallbackClassifier.get_default_config(), "families": dict(DEFAULT_FAMILIES)}

    def _top_family(self, message: Message) -> Tuple[Optional[Text], Dict[Text, float]]:
        families: Dict[Text, Text] = self.component_config.get("families") or {}
        top = (message.data.get(INTENT) or {}).get(INTENT_NAME_KEY)
        scores = family_scores(message.data.get(INTENT_RANKING_KEY) or [], families)
        return (families.get(top, top) if top else None), scores

    def _nlu_confidence_below_threshold(self, message: Message) -> Tuple[bool, float]:
        below, confidence = super()._nlu_confidence_below_threshold(message)
        family, scores = self._top_family(message)
        if family in scores:
            confidence = max(confidence, scores[family])
            below = confidence < self.component_config["threshold"]
        return below, confidence

    def _nlu_prediction_ambiguous(self, message: Message) -> Tuple[bool, Optional[float]]:
        family, scores = self._top_family(message)
        if family not in scores or len(scores) < 2:
            return super()._nlu_prediction_ambiguous(message)
        runner_up = max(score for name, score in scores.items() if name != family)
        difference = scores[family] - runner_up
        return difference < self.component_config["ambiguity_threshold"], difference
