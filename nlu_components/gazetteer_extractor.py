"""Rasa component: the spaCy gazetteer (nlu_components.gazetteer) as an entity extractor."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.gazetteer import Gazetteer, default_gazetteer


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False
)
class GazetteerEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Fills `address` and `business_type` from place names and business words."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"entities": ["address", "business_type"]}

    def __init__(self, config: Dict[Text, Any], gazetteer: Gazetteer) -> None:
        self.entities = set(config["entities"])
        self.gazetteer = gazetteer

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "GazetteerEntityExtractor":
        return cls(config, default_gazetteer())

    @staticmethod
    def supported_languages() -> List[Text]:
        return ["zh"]

    @staticmethod
    def required_packages() -> List[Text]:
        return ["spacy", "cpca"]

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            found = [
                {
                    "entity": m.entity,
                    "value": m.value,
                    "start": m.start,
                    "end": m.end,
                    "confidence_entity": 1.0,
                }
                for m in self.gazetteer.find(text)
                if m.entity in self.entities
            ]
            if found:
                found = self.add_extractor_name(found)
                message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
        return messages
