"""Rasa component: a second opinion on the intent, from a linear model, averaged with DIET's.

DIET alone, trained twice on the same data with different seeds, differed by two points of intent
accuracy on customers it had never seen: its one-layer transformer keys on single words now and then
("欠" → outage, "喂喂" → greet). A logistic regression over the same sparse features (word and
character n-grams, regexes) errs differently: it weighs every n-gram of the message at once. The
average of the two probability distributions is the intent; where they agree nothing changes.

This is Rasa's ``LogisticRegressionClassifier`` (training, persistence with skops) with a different
``process``: it blends with the ranking the classifier before it (DIET) set, instead of replacing it,
and it leaves the training data's labels alone.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

DEFAULTS: Dict[Text, Any] = {
    # The linear model's share of the average; DIET's is the rest.
    "weight": 0.5,
    "max_iter": 1000,
    # Inverse regularisation strength of the logistic regression.
    "C": 1.0,
    "ranking_length": 10,
    # Adds both models' rankings to the parse result (for comparing them offline).
    "expose_votes": False,
}


def blend(first: List[Dict[Text, Any]], second: Dict[Text, float], weight: float) -> List[Dict[Text, Any]]:
    """``first`` (a ranking) and ``second`` (name → probability), averaged with ``weight`` on the
    second; best first. An intent missing from a ranking counts as 0 there."""
    scores: Dict[Text, float] = {name: weight * p for name, p in second.items()}
    for entry in first:
        name = entry.get("name")
        if name is not None:
            scores[name] = scores.get(name, 0.0) + (1 - weight) * float(entry.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    return [{"name": name, PREDICTED_CONFIDENCE_KEY: score} for name, score in ranked]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentVote(LogisticRegressionClassifier):
    """Logistic regression on the sparse features, averaged with the preceding classifier's ranking."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**LogisticRegressionClassifier.get_default_config(), **DEFAULTS}

    def __init__(self, config: Dict[Text, Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.clf.set_params(C=self.config["C"], max_iter=self.config["max_iter"])

    def process(self, messages: List[Message]) -> List[Message]:
        if not hasattr(self.clf, "classes_"):  # nothing was trained (no intent examples)
            return messages
        probabilities = self.clf.predict_proba(self._create_X(messages))
        weight = float(self.config["weight"])
        for message, row in zip(messages, probabilities):
            linear = {str(name): float(p) for name, p in zip(self.clf.classes_, row)}
            previous = message.get(INTENT_RANKING_KEY) or []
            if not previous and message.get(INTENT):
                previous = [message.get(INTENT)]
            ranking = blend(previous, linear, weight if previous else 1.0)[: self.config["ranking_length"]]
            if self.config["expose_votes"]:
                message.set("intent_votes", {"previous": previous, "linear": linear}, add_to_output=True)
            message.set(INTENT, dict(ranking[0]), add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        # The training examples keep the labels they were written with.
        return training_data
