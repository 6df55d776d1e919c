"""What the untrained rule components of the pipeline share: configuration and Rasa's plumbing.

``FaqAnswerGuard``, ``ProposalIntent``, ``BareValueIntent`` and ``EntityMerger`` learn nothing; each
is a ``process`` over messages with a configuration merged over its class's ``DEFAULTS``. The rules
that decide a message's intent set it with ``decide_intent``.
"""
from __future__ import annotations

from typing import Any, Dict, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData


class RuleComponent(GraphComponent):
    """An untrained graph component configured by ``DEFAULTS`` and the pipeline's entry."""

    DEFAULTS: Dict[Text, Any] = {}

    @classmethod
    def get_default_config(cls) -> Dict[Text, Any]:
        return dict(cls.DEFAULTS)

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.config = {**self.DEFAULTS, **config}

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "RuleComponent":
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data


def decide_intent(message: Message, name: Text) -> None:
    """Sets ``name`` as the message's intent with a rule's certainty (1.0); the rest of the ranking stays."""
    decided = {"name": name, PREDICTED_CONFIDENCE_KEY: 1.0}
    ranking = [entry for entry in message.get(INTENT_RANKING_KEY) or [] if entry.get("name") != name]
    message.set(INTENT, decided, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [dict(decided)] + ranking, add_to_output=True)
