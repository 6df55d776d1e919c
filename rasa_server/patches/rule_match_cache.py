"""Replaces ``rasa.core.policies.rule_policy.RulePolicy._get_possible_keys`` (wraps it).

Why: RulePolicy matches the current dialogue states against every rule on every prediction
(2-4 a turn); the same states meet the same rules again and again (each conversation walks
the same forms).

What instead: the matches are remembered per policy object, keyed by the lookup table's
identity and size and a hashable copy of the states (at most ``RULE_MATCH_CACHE`` entries,
least recently used dropped); a caller gets a fresh ``set`` each time. States Rasa builds
differently (unhashable) go to Rasa's code.
"""
from __future__ import annotations

from typing import Any, Dict, Text

from rasa_server.patches import _common

REPLACES = ("rasa.core.policies.rule_policy.RulePolicy._get_possible_keys",)
RULE_MATCH_CACHE = 4096  # remembered (rules, states) matches per RulePolicy


def _freeze(states: Any) -> tuple:
    """A hashable copy of Rasa's dialogue states (lists of dicts of dicts of str/tuples)."""
    return tuple(
        tuple(sorted((part, tuple(sorted(features.items()))) for part, features in state.items()))
        for state in states
    )


def install() -> bool:
    """Remembers ``RulePolicy._get_possible_keys`` per policy; idempotent. False when refused
    or not applicable."""
    if _common.version_refusal(__name__):
        return False
    unchanged = "rule matches not remembered"
    try:
        from collections import OrderedDict

        from rasa.core.policies.rule_policy import RulePolicy
    except ImportError:
        return _common.internals_changed(unchanged)

    def remembered(original: Any) -> Any:
        def _get_possible_keys(self: Any, lookup: Dict[Text, Text], states: Any) -> set:
            if not _common.enabled:
                return original(self, lookup, states)
            try:
                key = (id(lookup), len(lookup), _freeze(states))
                hash(key)
            except TypeError:  # a state Rasa builds differently: no shortcut
                return original(self, lookup, states)
            cache = self.__dict__.setdefault("_speedups_rule_matches", OrderedDict())
            found = cache.get(key)
            if found is None:
                found = cache[key] = frozenset(original(self, lookup, states))
                while len(cache) > RULE_MATCH_CACHE:
                    cache.popitem(last=False)
            else:
                cache.move_to_end(key)
            return set(found)

        return _get_possible_keys

    return _common.replace(RulePolicy, "_get_possible_keys", remembered, unchanged)
