"""Rasa component: one entity per text span, from the extractor that is best at it.

DIET, the regex extractor and the gazetteer can find the same span (an address, an account
number). The rule-based extractors win because they are exact on what they know (number
formats, month expressions, the place and business-type gazetteer); DIET is trusted only
for the types listed in `statistical_entities` (an address without a known place name) and
only above `min_confidence`. A `rating` is an answer to the satisfaction
question, so it is kept only when the intent is one of `intent_scoped` (elsewhere 很差 or
好评 are part of a complaint or a praise, not a survey answer).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import ENTITIES, INTENT
from rasa.shared.nlu.training_data.message import Message

from nlu_components.rule_component import RuleComponent

DEFAULT_PRIORITY = ["RegexEntityExtractor", "GazetteerEntityExtractor", "DIETClassifier"]
DEFAULT_CONFIG: Dict[Text, Any] = {
    "priority": DEFAULT_PRIORITY,
    "statistical_extractor": "DIETClassifier",
    "statistical_entities": ["address"],
    "min_confidence": 0.8,
    "min_length": {"address": 3},
    "intent_scoped": {"rating": ["rate_service"]},
}


def merge_entities(
    entities: List[Dict[Text, Any]],
    priority: List[Text],
    config: Optional[Dict[Text, Any]] = None,
    intent: Optional[Text] = None,
) -> List[Dict[Text, Any]]:
    config = {**DEFAULT_CONFIG, **(config or {}), "priority": priority}

    def trusted(entity: Dict[Text, Any]) -> bool:
        name = entity.get("entity")
        if entity.get("extractor") == config["statistical_extractor"]:
            if name not in config["statistical_entities"]:
                return False
            if (entity.get("confidence_entity") or 0.0) < config["min_confidence"]:
                return False
            if len(str(entity.get("value", ""))) < config["min_length"].get(name, 1):
                return False
        scope = config["intent_scoped"].get(name)
        return scope is None or intent is None or intent in scope

    def rank(entity: Dict[Text, Any]) -> int:
        extractor = entity.get("extractor")
        return priority.index(extractor) if extractor in priority else len(priority)

    kept: List[Dict[Text, Any]] = []
    for entity in sorted(filter(trusted, entities), key=lambda e: (rank(e), e.get("start", 0))):
        start, end = entity.get("start"), entity.get("end")
        overlaps = start is not None and any(
            k.get("start") is not None and start < k["end"] and k["start"] < end for k in kept
        )
        # 光伏发电并网 holds two business words: one entity with one value is enough.
        repeated = any(
            k["entity"] == entity["entity"] and k.get("value") == entity.get("value") for k in kept
        )
        if not overlaps and not repeated:
            kept.append(entity)
    return sorted(kept, key=lambda e: e.get("start", 0))


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False
)
class EntityMerger(RuleComponent):
    """Keeps one entity per text span (priority: regex, gazetteer, DIET)."""

    DEFAULTS = DEFAULT_CONFIG

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            entities = message.get(ENTITIES) or []
            if entities:
                intent = (message.get(INTENT) or {}).get("name")
                merged = merge_entities(entities, self.config["priority"], self.config, intent)
                message.set(ENTITIES, merged, add_to_output=True)
        return messages
