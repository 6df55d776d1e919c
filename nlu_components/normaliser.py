"""Rasa component: rewrites dialect words / typos (colloquial.py) and Chinese numerals /
spoken digits in the message text.

Runs before the tokenizer, so tokens, regexes and DIET all see 3201000001 where the customer
typed 三二零一零零零零零一. Training examples are rewritten the same way and their entity
annotations are moved to the new offsets.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components import colloquial, numerals

ORIGINAL_TEXT = "original_text"


def normalise(text: str):
    """Dialect words and typos first (咋/户好 → 怎么/户号), then numerals."""
    first, map1 = colloquial.normalise(text)
    second, map2 = numerals.normalise(first)
    return second, map1.then(map2)


def normalise_message(message: Message) -> None:
    """Rewrites TEXT in place and realigns any annotated entities."""
    text = message.get(TEXT)
    if not text:
        return
    new_text, offsets = normalise(text)
    if new_text == text:
        return
    entities = message.get(ENTITIES) or []
    realigned = []
    for entity in entities:
        entity = dict(entity)
        start, end = entity.get("start"), entity.get("end")
        if start is not None and end is not None:
            span_was_value = entity.get("value") == text[start:end]
            entity["start"], entity["end"] = offsets(start), offsets(end)
            if span_was_value:  # a synonym-labelled value (e.g. ev_charger) stays as is
                entity["value"] = new_text[entity["start"]:entity["end"]]
        realigned.append(entity)
    message.set(ORIGINAL_TEXT, text)
    message.set(TEXT, new_text)
    if entities:
        message.set(ENTITIES, realigned)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False
)
class ChineseNumeralNormalizer(GraphComponent):
    """三二零一/幺/全角数字/数字中的空格 → Arabic digits, before tokenization."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "ChineseNumeralNormalizer":
        return cls()

    @staticmethod
    def supported_languages() -> List[Text]:
        return ["zh"]

    @staticmethod
    def required_packages() -> List[Text]:
        return ["cn2an"]

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for message in training_data.training_examples:
            normalise_message(message)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            normalise_message(message)
        return messages
