"""Replaces ``rasa.shared.core.domain.Domain.states_for_tracker_history`` (wraps it).

Why: RulePolicy and MemoizationPolicy each turn the whole conversation into a list of states
for every prediction (2-4 a turn): Rasa replays every event onto a fresh tracker and reads its
state before each action. Profiled at 10 % of a Rasa server's request time.

What instead: each prior state is read once per tracker object (kept on the tracker, so it
dies with it) and the replay continues when the prediction loop appends events; then Rasa
3.6's own per-call loop (hiding rule-only turns for MemoizationPolicy) runs on copies.
Trackers of other classes (training), ``omit_unset_slots`` and a tracker whose events are not
an extension of what was replayed go to Rasa's code or start over.
"""
from __future__ import annotations

from typing import Any, Dict, Text

from rasa_server.patches import _common

REPLACES = ("rasa.shared.core.domain.Domain.states_for_tracker_history",)
_PRIOR_STATES_ATTRIBUTE = "_speedups_prior_states"


class _PriorStates:
    """What ``Domain.states_for_tracker_history`` reads from each prior tracker, for the
    applied events replayed so far (the replay continues when events are appended)."""

    __slots__ = ("domain", "events", "replay", "snapshots")

    def __init__(self, domain: Any, tracker: Any) -> None:
        self.domain = domain
        self.events: list = []
        self.replay = tracker.init_copy()
        self.snapshots: list = []


def _snapshot(domain: Any, tracker: Any, hide_rule_turn: bool) -> tuple:
    return (domain.get_active_state(tracker, omit_unset_slots=False), hide_rule_turn,
            tracker.followup_action, tracker.latest_action_name == tracker.active_loop_name,
            domain._get_prev_action_sub_state(tracker))


def _prior_snapshots(domain: Any, tracker: Any) -> list:
    from rasa.shared.core.events import ActionExecuted

    applied = tracker.applied_events()
    cache = tracker.__dict__.get(_PRIOR_STATES_ATTRIBUTE)
    if (cache is None or cache.domain is not domain or len(applied) < len(cache.events)
            or any(new is not old for new, old in zip(applied, cache.events))):
        cache = _PriorStates(domain, tracker)  # not an extension of what was replayed: start over
        tracker.__dict__[_PRIOR_STATES_ATTRIBUTE] = cache
    for event in applied[len(cache.events):]:
        if isinstance(event, ActionExecuted):
            cache.snapshots.append(_snapshot(domain, cache.replay, event.hide_rule_turn))
        cache.replay.update(event)
        cache.events.append(event)
    return cache.snapshots + [_snapshot(domain, cache.replay, False)]


def _copy_state(state: Dict[Text, Any]) -> Dict[Text, Any]:
    # Rasa's states are dicts of flat sub-state dicts; the caller edits both levels.
    return {part: dict(sub_state) if isinstance(sub_state, dict) else sub_state
            for part, sub_state in state.items()}


def install() -> bool:
    """Wraps ``Domain.states_for_tracker_history``; idempotent. False when refused or not applicable."""
    if _common.version_refusal(__name__):
        return False
    unchanged = "prior states not remembered"
    try:
        from rasa.shared.core.constants import PREVIOUS_ACTION
        from rasa.shared.core.domain import Domain
        from rasa.shared.core.trackers import DialogueStateTracker
    except ImportError:
        return _common.internals_changed(unchanged)
    if not hasattr(DialogueStateTracker, "applied_events"):
        return _common.internals_changed(unchanged)

    def remembered(original: Any) -> Any:
        def states_for_tracker_history(self: Any, tracker: Any, omit_unset_slots: bool = False,
                                       ignore_rule_only_turns: bool = False,
                                       rule_only_data: Any = None) -> list:
            if not _common.on(__name__) or omit_unset_slots or type(tracker) is not DialogueStateTracker:
                return original(self, tracker, omit_unset_slots=omit_unset_slots,
                                ignore_rule_only_turns=ignore_rule_only_turns, rule_only_data=rule_only_data)
            # The loop below is Rasa 3.6's, reading the remembered snapshots instead of trackers.
            states: list = []
            last_ml_action_sub_state = None
            turn_was_hidden = False
            for state, hide_rule_turn, followup_action, loop_is_latest, prev_action in _prior_snapshots(self, tracker):
                if ignore_rule_only_turns:
                    if not turn_was_hidden:
                        last_ml_action_sub_state = prev_action
                    if not followup_action and not loop_is_latest:
                        turn_was_hidden = hide_rule_turn
                    if turn_was_hidden:
                        continue
                state = _copy_state(state)
                if ignore_rule_only_turns:
                    self._remove_rule_only_features(state, rule_only_data)
                    if states:
                        self._substitute_rule_only_user_input(state, states[-1])
                    if last_ml_action_sub_state:
                        state[PREVIOUS_ACTION] = dict(last_ml_action_sub_state)
                states.append(self._clean_state(state))
            return states
        return states_for_tracker_history

    needed = ("get_active_state", "_get_prev_action_sub_state", "_remove_rule_only_features",
              "_substitute_rule_only_user_input", "_clean_state")
    return _common.replace(Domain, "states_for_tracker_history", remembered, unchanged, needs=needed)
