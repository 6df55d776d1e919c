"""Rasa policies of this product, named in ``config.yml``: ``CachedRulePolicy``.

``CachedRulePolicy`` is Rasa's ``RulePolicy`` with its rule matches remembered.

Why: RulePolicy matches the current dialogue states against every rule on every prediction
(2-4 a turn); the same states meet the same rules again and again (each conversation walks
the same forms).

What instead: a loaded policy (the Rasa server's) remembers ``_get_possible_keys`` per
(lookup table's identity and size, a hashable copy of the states), at most
``rule_match_cache_size`` entries (config, default 4096), least recently used dropped; a
caller gets a fresh ``set`` each time; states Rasa builds differently (unhashable) go to
Rasa's code. A policy being trained remembers nothing (its lookup tables are still being
built). ``_get_possible_keys`` is a private method, so the cache is only switched on when the
running Rasa is the pinned one (``constraints.txt``); on another version the policy logs an
ERROR and runs Rasa's own code (same outcomes, slower).

Rasa 3.6 recognises a RulePolicy three ways, and each answers for this class as for Rasa's:

- by class equality, in the recipe validator (``node.uses == RulePolicy``: the warning that
  restart/back will not work without a RulePolicy, the check of ``core_fallback_action_name``
  against the domain): the class compares equal to ``RulePolicy`` (``rasa_server.counts_as``);
- by ``issubclass``: the validator's forms check, the recipe (which node provides the
  rule-only data to MemoizationPolicy), ``rasa_server.patches.ted_gate``: it is a subclass;
- by name: a prediction's ``policy_name`` (``ActionExecuted.policy`` in every stored tracker,
  ``rasa.core.policies.ensemble.is_not_in_training_data`` used by ``rasa test``): its
  predictions are named ``RulePolicy``, as Rasa's.

``tests/rasa_server/test_seams.py`` checks each, and that predictions are the same with and without
the remembered matches.
"""
from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.rule_policy import RulePolicy
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

from rasa_server.counts_as import CountsAs

log = logging.getLogger(__name__)

RULE_MATCH_CACHE_SIZE = 4096  # remembered (rules, states) matches per policy, by default


def _freeze(states: Any) -> tuple:
    """A hashable copy of Rasa's dialogue states (lists of dicts of dicts of str/tuples)."""
    return tuple(
        tuple(sorted((part, tuple(sorted(features.items()))) for part, features in state.items()))
        for state in states
    )


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class CachedRulePolicy(RulePolicy, metaclass=CountsAs, counts_as=RulePolicy):
    """Rasa's RulePolicy, remembering which rules match which states (see the module)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**RulePolicy.get_default_config(), "rule_match_cache_size": RULE_MATCH_CACHE_SIZE}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # None: Rasa's own matching (while training, or on another Rasa version).
        self.rule_matches: Optional[OrderedDict] = None
        self.rule_match_cache_size = int(self.config.get("rule_match_cache_size", RULE_MATCH_CACHE_SIZE) or 0)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "CachedRulePolicy":
        policy = super().load(config, model_storage, resource, execution_context, **kwargs)
        assert isinstance(policy, CachedRulePolicy)
        policy.remember_matches()
        return policy

    def remember_matches(self, on: bool = True) -> bool:
        """Switches the remembered matches on (a fresh, empty memory) or off; answers whether
        they are on (never on another Rasa version than the pinned one, nor with size 0)."""
        from rasa_server.patches._common import version_refusal

        on = on and self.rule_match_cache_size > 0 and not version_refusal(f"{__name__}.{type(self).__name__}")
        self.rule_matches = OrderedDict() if on else None
        return on

    def _get_possible_keys(self, lookup: Dict[Text, Text], states: List[Dict[Text, Any]]) -> set:
        cache = self.rule_matches
        if cache is None:
            return super()._get_possible_keys(lookup, states)
        try:
            key = (id(lookup), len(lookup), _freeze(states))
            hash(key)
        except TypeError:  # a state Rasa builds differently: no shortcut
            return super()._get_possible_keys(lookup, states)
        found = cache.get(key)
        if found is None:
            found = cache[key] = frozenset(super()._get_possible_keys(lookup, states))
            while len(cache) > self.rule_match_cache_size:
                cache.popitem(last=False)
        else:
            cache.move_to_end(key)
        return set(found)

    def predict_action_probabilities(self, tracker: DialogueStateTracker, domain: Domain,
                                     rule_only_data: Optional[Dict[Text, Any]] = None,
                                     **kwargs: Any) -> PolicyPrediction:
        prediction = super().predict_action_probabilities(tracker, domain, rule_only_data=rule_only_data, **kwargs)
        prediction.policy_name = RulePolicy.__name__  # what trackers and `rasa test` know it by
        return prediction
