"""Rasa component: removes overlapping entities found by several extractors.

DIET, the regex extractor and the gazetteer can find the same span (an address, an account
number). Forms then see one value per span: the rule-based extractors win over DIET because
they are exact on what they know; DIET keeps what nobody else found (e.g. an address
without a known place name, a period, a rating).
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

DEFAULT_PRIORITY = ["RegexEntityExtractor", "GazetteerEntityExtractor", "DIETClassifier"]


def merge_entities(entities: List[Dict[Text, Any]], priority: List[Text]) -> List[Dict[Text, Any]]:
    def rank(entity: Dict[Text, Any]) -> int:
        extractor = entity.get("extractor")
        return priority.index(extractor) if extractor in priority else len(priority)

    kept: List[Dict[Text, Any]] = []
    for entity in sorted(entities, key=lambda e: (rank(e), e.get("start", 0))):
        start, end = entity.get("start"), entity.get("end")
        overlaps = start is not None and any(
            k.get("start") is not None and start < k["end"] and k["start"] < end for k in kept
        )
        if not overlaps:
            kept.append(entity)
    return sorted(kept, key=lambda e: e.get("start", 0))


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False
)
class EntityMerger(GraphComponent):
    """Keeps one entity per text span (priority: regex, gazetteer, DIET)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"priority": DEFAULT_PRIORITY}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.priority = list(config["priority"])

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "EntityMerger":
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            entities = message.get(ENTITIES) or []
            if len(entities) > 1:
                message.set(ENTITIES, merge_entities(entities, self.priority), add_to_output=True)
        return messages
