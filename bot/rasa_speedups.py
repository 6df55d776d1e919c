"""Removes measured per-turn waste inside the Rasa server (Rasa 3.6); imported by the
``gateway`` channel (``bot/rasa_connector.py``), so it runs in every Rasa server process.

Rasa validates every action server response with ``jsonschema.validate(result, schema)``.
That function first checks the *schema itself* against the JSON Schema 2020-12
meta-schema, every call; the schema never changes, and that check costs about 20 ms of
CPU per action call here (profiled: about half of a whole turn's CPU in form turns,
which make 2-4 action calls). The replacement checks the schema once, keeps one
validator, and still validates every response, raising the same ``ValidationError``
with the same message.

Every action prediction also runs every policy, and TEDPolicy's TensorFlow call is the
most expensive of them (about 6 ms each, 2-4 predictions per turn). When RulePolicy has
matched a rule or an active form it predicts with confidence 1.0, and Rasa's ensemble then
always picks it: it takes the highest confidence and, on a tie, the higher priority
(RulePolicy 6, TED 1). TED's answer cannot change the outcome then, so the gate below lets
RulePolicy's node run first and gives TED's node an abstaining prediction in exactly those
cases. TED still runs whenever its prediction could matter: RulePolicy below 1.0, a
rejected action on the tracker (the ensemble then zeroes that action in every
prediction), or a TED trained end to end (its text predictions outrank intent ones).

The ResponseSelector (the FAQ answers, a second TensorFlow model) ran on every message,
although its answer is only used when the message is a FAQ question (``action_answer_faq``). It now
runs for messages whose top two intents include its retrieval intent (the second one too, so
that a two-stage fallback that turns the message into a FAQ question still has the answer).
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Dict, Text

log = logging.getLogger(__name__)

_heap_frozen = False
gate_enabled = True  # tests compare predictions with and without the gate
_replaced: set = set()  # (class, attribute) pairs this module has replaced


def _internals_changed(unchanged: Text) -> bool:
    log.warning("rasa_speedups: Rasa internals changed, %s", unchanged)
    return False


def _replace(owner: Any, attribute: Text, make: Callable[[Any], Any], unchanged: Text,
             needs: tuple = ()) -> bool:
    """Sets ``owner.attribute`` to ``make(original)``, once (idempotent). When the attribute
    or any of ``needs`` is missing (a Rasa this was not measured against) nothing changes,
    a warning says what keeps Rasa's own behaviour (``unchanged``) and the answer is False."""
    if (owner, attribute) in _replaced:
        return True
    original = getattr(owner, attribute, None)
    if original is None or not all(hasattr(owner, name) for name in needs):
        return _internals_changed(unchanged)
    setattr(owner, attribute, make(original))
    _replaced.add((owner, attribute))
    return True


def _cached_validator(schema: Dict[Text, Any]) -> Any:
    from jsonschema.validators import validator_for

    cls = validator_for(schema)
    cls.check_schema(schema)  # once, as jsonschema.validate would do on every call
    return cls(schema)


class _EventDispatchValidator:
    """Says whether a response is valid, quickly, for Rasa's action response schema.

    Each event of the schema is ``{..., "oneOf": [23 branches]}`` and each branch pins
    ``event`` to a different constant, so an event is valid exactly when it is valid
    against the common part and the one branch of its own type; jsonschema instead tries
    all 23 branches per event (about 1.5 ms per response). Only "valid" answers come from
    here: anything else is re-checked by the full validator, which gives Rasa's error."""

    def __init__(self, schema: Dict[Text, Any]) -> None:
        events = schema["properties"]["events"]
        items = events["items"]
        branches = items["oneOf"]
        consts = [branch["properties"]["event"]["const"] for branch in branches]
        if len(set(consts)) != len(consts):
            raise ValueError("event branches are not distinguished by their constant")
        top = dict(schema, properties=dict(schema["properties"], events=dict(events, items={})))
        common = {k: v for k, v in items.items() if k != "oneOf"}
        self.top = _cached_validator(top)
        self.common = _cached_validator(common)
        self.branches = {const: _cached_validator(branch) for const, branch in zip(consts, branches)}

    def is_valid(self, result: Any) -> bool:
        if not self.top.is_valid(result):
            return False
        for event in (result.get("events") or []) if isinstance(result, dict) else []:
            branch = self.branches.get(event.get("event")) if isinstance(event, dict) else None
            if branch is None or not self.common.is_valid(event) or not branch.is_valid(event):
                return False
        return True


def install() -> bool:
    """Patches ``RemoteAction._validate_action_result``; idempotent. False when Rasa's
    internals are not what this was measured against (then nothing is changed)."""
    unchanged = "action result validation not patched"
    try:
        from jsonschema import ValidationError
        from jsonschema.exceptions import best_match
        from rasa.core.actions.action import RemoteAction
        from rasa.shared.constants import DOCS_BASE_URL
        from rasa.shared.core.events import Event
        from rasa.shared.utils.common import all_subclasses
    except ImportError:  # a different Rasa/jsonschema: keep Rasa's own code
        return _internals_changed(unchanged)

    validators: Dict[int, Any] = {}
    fast_validators: Dict[int, _EventDispatchValidator] = {}

    def _validate_action_result(self: Any, result: Dict[Text, Any]) -> bool:
        schema = self.action_response_format_spec()
        # The spec is rebuilt as an equal dict on every call: key the cache by its content.
        key = hash(repr(schema))
        validator = validators.get(key)
        if validator is None:
            validator = validators[key] = _cached_validator(schema)
            try:
                fast_validators[key] = _EventDispatchValidator(schema)
            except (KeyError, TypeError, ValueError):  # another shape: full validation only
                log.warning("rasa_speedups: action response schema changed, validating in full")
        fast = fast_validators.get(key)
        if fast is not None and fast.is_valid(result):
            return True
        error = best_match(validator.iter_errors(result))
        if error is None:
            return True
        if isinstance(error, ValidationError):
            error.message += (
                f". Failed to validate Action server response from API, "
                f"make sure your response from the Action endpoint is valid. "
                f"For more information about the format visit "
                f"{DOCS_BASE_URL}/custom-actions"
            )
        raise error

    # ``Event.resolve_by_type`` walks every Event subclass for every event it reads (each
    # tracker read and each action response): about 5 ms per turn. One dict lookup instead,
    # rebuilt when a name is unknown (a subclass defined later), same answers and errors.
    def event_lookup(original: Any) -> Any:
        by_name: Dict[Text, Any] = {}

        def resolve_by_type(type_name: Text, default: Any = None) -> Any:
            cls = by_name.get(type_name)
            if cls is None:
                by_name.clear()
                for subclass in reversed(all_subclasses(Event)):  # first match wins, as in Rasa
                    by_name[subclass.type_name] = subclass
                cls = by_name.get(type_name)
            return cls if cls is not None else original(type_name, default)

        return staticmethod(resolve_by_type)

    return (_replace(RemoteAction, "_validate_action_result", lambda _rasa_s: _validate_action_result,
                     unchanged, needs=("action_response_format_spec",))
            and _replace(Event, "resolve_by_type", event_lookup, "event classes looked up as before"))


class _RuleGatedNode:
    """Stands in for a TEDPolicy node of the prediction graph (see the module docstring)."""

    def __init__(self, ted_node: Any) -> None:
        self.ted_node = ted_node
        self.skipped = 0
        self.ran = 0

    def _input(self, inputs: tuple, name: str) -> Any:
        provider = self.ted_node._inputs.get(name)
        for item in inputs:
            if isinstance(item, tuple) and item[0] == provider:
                return item[1]
        return None

    def _decided_by_rules(self, rule_prediction: Any, tracker: Any) -> bool:
        from rasa.shared.core.events import ActionExecuted, ActionExecutionRejected
        from rasa.shared.nlu.constants import TEXT

        if rule_prediction is None or tracker is None:
            return False
        component = getattr(self.ted_node, "_component", None)
        if component is None or TEXT in getattr(component, "fake_features", {TEXT: None}):
            return False
        if rule_prediction.is_end_to_end_prediction or rule_prediction.max_confidence < 1.0:
            return False
        for event in reversed(tracker.events):
            if isinstance(event, ActionExecutionRejected):
                return False
            if isinstance(event, ActionExecuted):
                break
        return True

    def __call__(self, rule_output: Any, *inputs: Any) -> Any:
        from rasa.core.policies.policy import PolicyPrediction

        rule_prediction = rule_output[1] if isinstance(rule_output, tuple) else None
        tracker, domain = self._input(inputs, "tracker"), self._input(inputs, "domain")
        if domain is not None and self._decided_by_rules(rule_prediction, tracker):
            self.skipped += 1
            component = self.ted_node._component
            abstain = PolicyPrediction(
                [0.0] * domain.num_actions, component.__class__.__name__, component.priority
            )
            return self.ted_node._node_name, abstain
        self.ran += 1
        return self.ted_node(*inputs)


def _gate_ted_behind_rules(graph: Dict[Text, Any]) -> Dict[Text, Any]:
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.core.policies.ted_policy import TEDPolicy
    from rasa.engine.graph import GraphNode

    def nodes_of(cls: type) -> list:
        return [
            name for name, task in graph.items()
            if isinstance(task, tuple) and task and isinstance(task[0], GraphNode)
            and issubclass(task[0]._component_class, cls)
            and task[0]._fn_name == "predict_action_probabilities"
        ]

    rules = nodes_of(RulePolicy)
    if len(rules) != 1:
        return graph
    for name in nodes_of(TEDPolicy):
        node, *needs = graph[name]
        gated = _GATES.get(id(node))
        if gated is None or gated.ted_node is not node:
            gated = _GATES[id(node)] = _RuleGatedNode(node)
        # dask resolves the RulePolicy node's name to its output before calling the gate.
        graph[name] = (gated, rules[0], *needs)
    return graph


_GATES: Dict[int, _RuleGatedNode] = {}


def gate_counts() -> Dict[Text, int]:
    """How often TED was skipped and run through the gate, in this process."""
    return {"skipped": sum(g.skipped for g in _GATES.values()), "ran": sum(g.ran for g in _GATES.values())}


def install_ted_gate() -> bool:
    """Patches ``DaskGraphRunner._build_dask_graph`` so that TEDPolicy is skipped when
    RulePolicy already decides the prediction; idempotent. False when Rasa's internals are
    not what this was written against (then nothing is changed)."""
    unchanged = "TEDPolicy not gated"
    try:
        from rasa.core.policies.policy import PolicyPrediction  # noqa: F401
        from rasa.core.policies.rule_policy import RulePolicy  # noqa: F401
        from rasa.core.policies.ted_policy import TEDPolicy  # noqa: F401
        from rasa.engine.graph import GraphNode
        from rasa.engine.runner.dask import DaskGraphRunner
    except ImportError:
        return _internals_changed(unchanged)
    needed = ("_inputs", "_node_name", "_component_class", "_fn_name")
    if not all(name in GraphNode.__init__.__code__.co_names for name in needed):
        return _internals_changed(unchanged)

    def gated(original: Any) -> Any:
        def _build_dask_graph(self: Any, schema: Any) -> Dict[Text, Any]:
            graph = original(self, schema)
            return _gate_ted_behind_rules(graph) if gate_enabled else graph
        return _build_dask_graph

    return _replace(DaskGraphRunner, "_build_dask_graph", gated, unchanged)



def _may_be_retrieval_intent(message: Any, retrieval_intent: Text) -> bool:
    intent = message.get("intent") or {}
    if not intent.get("name"):
        return True  # nothing classified it: keep Rasa's behaviour
    ranking = message.get("intent_ranking") or [intent]
    return any((entry or {}).get("name") == retrieval_intent for entry in ranking[:2])


def install_response_selector_gate() -> bool:
    """Patches ``ResponseSelector.process`` to skip messages that cannot be its retrieval
    intent (see the module docstring); idempotent."""
    unchanged = "ResponseSelector not gated"
    try:
        from rasa.nlu.selectors.response_selector import ResponseSelector
    except ImportError:
        return _internals_changed(unchanged)

    def gated(original: Any) -> Any:
        def process(self: Any, messages: list) -> list:
            retrieval_intent = getattr(self, "retrieval_intent", None)
            if not gate_enabled or not retrieval_intent:
                return original(self, messages)
            wanted = [m for m in messages if _may_be_retrieval_intent(m, retrieval_intent)]
            if len(wanted) == len(messages):
                return original(self, messages)
            if wanted:
                original(self, wanted)  # sets the selector's answer on each message in place
            return messages
        return process

    return _replace(ResponseSelector, "process", gated, unchanged)


RULE_MATCH_CACHE = 4096  # remembered (rules, states) matches per RulePolicy


def _freeze(states: Any) -> tuple:
    """A hashable copy of Rasa's dialogue states (lists of dicts of dicts of str/tuples)."""
    return tuple(
        tuple(sorted((part, tuple(sorted(features.items()))) for part, features in state.items()))
        for state in states
    )


def install_rule_match_cache() -> bool:
    """Remembers ``RulePolicy._get_possible_keys`` per policy (see the module docstring)."""
    unchanged = "rule matches not remembered"
    try:
        from collections import OrderedDict

        from rasa.core.policies.rule_policy import RulePolicy
    except ImportError:
        return _internals_changed(unchanged)

    def remembered(original: Any) -> Any:
        def _get_possible_keys(self: Any, lookup: Dict[Text, Text], states: Any) -> set:
            if not gate_enabled:
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

    return _replace(RulePolicy, "_get_possible_keys", remembered, unchanged)


def freeze_heap_after_warm_up() -> bool:
    """``gc.freeze()`` once, after the first handled message (see the module docstring).
    True when this call froze the heap."""
    global _heap_frozen
    if _heap_frozen:
        return False
    import gc

    _heap_frozen = True
    gc.collect()
    gc.freeze()
    log.info("rasa_speedups: %d long-lived objects moved out of the garbage collector's way", gc.get_freeze_count())
    return True



def _stack_coo(left: Any, right: Any) -> Any:
    """``scipy.sparse.hstack([left, right])`` for two COO matrices, without ``bmat``'s
    general block machinery (0.32 ms -> 0.06 ms per call; same entries, shape and dtype)."""
    import numpy as np
    from scipy.sparse import coo_matrix

    dtype = np.result_type(left.dtype, right.dtype)
    data = np.concatenate([left.data, right.data]).astype(dtype, copy=False)
    rows = np.concatenate([left.row, right.row])
    cols = np.concatenate([left.col, right.col + left.shape[1]])
    return coo_matrix((data, (rows, cols)), shape=(left.shape[0], left.shape[1] + right.shape[1]))


def install_sparse_feature_stacking() -> bool:
    """Every message's sparse features (token and sentence, of each featurizer) are joined
    by ``Features._combine_sparse_features`` with ``scipy.sparse.hstack``, 8 calls a message
    here; profiled at 4 % of a Rasa server's request time. Two COO matrices (what Rasa's
    featurizers produce) are joined directly; anything else still goes through ``hstack``."""
    unchanged = "sparse features stacked as before"
    try:
        from scipy.sparse import coo_matrix

        from rasa.shared.nlu.training_data.features import Features
    except ImportError:
        return _internals_changed(unchanged)

    def stacked(original: Any) -> Any:
        def _combine_sparse_features(self: Any, additional_features: Any) -> None:
            mine, theirs = self.features, additional_features.features
            if (not gate_enabled or type(mine) is not coo_matrix or type(theirs) is not coo_matrix
                    or mine.shape[0] != theirs.shape[0]):
                return original(self, additional_features)  # including Rasa's error for a mismatch
            self.features = _stack_coo(mine, theirs)
            self._cached_fingerprint = None
        return _combine_sparse_features

    return _replace(Features, "_combine_sparse_features", stacked, unchanged)


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


def install_prior_states_cache() -> bool:
    """RulePolicy and MemoizationPolicy each turn the whole conversation into a list of
    states for every prediction (2-4 a turn): ``Domain.states_for_tracker_history`` replays
    every event onto a fresh tracker and reads its state before each action. Profiled at
    10 % of a Rasa server's request time. The replica below reads each prior state once per
    tracker and continues the replay when the prediction loop appends events, then applies
    Rasa's own per-call steps (hiding rule-only turns for MemoizationPolicy) to copies.
    Trackers of other classes (training) and ``omit_unset_slots`` go to Rasa's code."""
    unchanged = "prior states not remembered"
    try:
        from rasa.shared.core.constants import PREVIOUS_ACTION
        from rasa.shared.core.domain import Domain
        from rasa.shared.core.trackers import DialogueStateTracker
    except ImportError:
        return _internals_changed(unchanged)
    if not hasattr(DialogueStateTracker, "applied_events"):
        return _internals_changed(unchanged)

    def remembered(original: Any) -> Any:
        def states_for_tracker_history(self: Any, tracker: Any, omit_unset_slots: bool = False,
                                       ignore_rule_only_turns: bool = False,
                                       rule_only_data: Any = None) -> list:
            if not gate_enabled or omit_unset_slots or type(tracker) is not DialogueStateTracker:
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
    return _replace(Domain, "states_for_tracker_history", remembered, unchanged, needs=needed)


_DIRECT_CALL_ATTRIBUTE = "_speedups_predict_call"
direct_tf_calls = 0  # tests check that predictions took the direct path


def _direct_predict_call(model: Any) -> Any:
    """The traced prediction graph of ``model`` and its input specs, once traced."""
    found = model.__dict__.get(_DIRECT_CALL_ATTRIBUTE)
    if found is None:
        concrete = model._tf_predict_step.get_concrete_function()
        args, kwargs = concrete.structured_input_signature
        if kwargs or len(args) != 1 or not isinstance(args[0], (list, tuple)):
            found = False  # a signature Rasa does not build: keep Rasa's call
        else:
            found = (concrete, tuple(args[0]))
        model.__dict__[_DIRECT_CALL_ATTRIBUTE] = found
    return found


def install_direct_tf_call() -> bool:
    """Rasa calls its traced TensorFlow prediction function (DIET, the ResponseSelector and
    TED) like any ``tf.function``: each call first matches the Python arguments against the
    function's signature and canonicalises every input (``_maybe_define_function``), which
    profiled at 45 % of the TensorFlow call and 6 % of a Rasa server's request time. Rasa
    gives that function a fixed input signature, so there is exactly one traced graph:
    after the first (tracing) call, inputs are converted to the signature's dtypes and the
    graph is called directly, as TensorFlow itself does after matching
    (``concrete._call_flat``). Inputs that do not fit the signature go to Rasa's call."""
    unchanged = "TensorFlow called as before"
    try:
        import tensorflow as tf
        from rasa.utils.tensorflow import models
        from rasa.shared.constants import DIAGNOSTIC_DATA
        from rasa.utils.tensorflow.models import RasaModel
    except ImportError:
        return _internals_changed(unchanged)
    tf_utils = getattr(models, "tf_utils", None)
    if tf_utils is None or not hasattr(tf_utils, "sync_to_numpy_or_python_type"):
        return _internals_changed(unchanged)

    def direct(original: Any) -> Any:
        def _rasa_predict(self: Any, batch_in: Any) -> Any:
            global direct_tf_calls
            if not gate_enabled or self._run_eagerly or self._tf_predict_step is None \
                    or not self.prepared_for_prediction:
                return original(self, batch_in)  # the first call traces the graph
            graph_call = _direct_predict_call(self)
            if not graph_call or len(batch_in) != len(graph_call[1]):
                return original(self, batch_in)
            concrete, specs = graph_call
            inputs = []
            for value, spec in zip(batch_in, specs):
                if not spec.shape.is_compatible_with(value.shape):
                    return original(self, batch_in)  # Rasa's call raises TensorFlow's own error
                inputs.append(tf.convert_to_tensor(value, spec.dtype))
            self._training = False
            outputs = tf_utils.sync_to_numpy_or_python_type(
                concrete._call_flat(inputs, captured_inputs=concrete.captured_inputs))
            if DIAGNOSTIC_DATA in outputs:
                outputs[DIAGNOSTIC_DATA] = self._empty_lists_to_none_in_dict(outputs[DIAGNOSTIC_DATA])
            direct_tf_calls += 1
            return outputs
        return _rasa_predict

    return _replace(RasaModel, "_rasa_predict", direct, unchanged)


direct_graph_runs = 0  # tests check that graph runs took the direct path


class _GraphPlan:
    """The tasks of one (targets, input names) run of a graph runner in dask's dependency
    order (``dask.core.toposort``, which also refuses cycles): what dask works out on every
    call (profiled: 6 ms of a Rasa server's turn)."""

    __slots__ = ("keys", "steps")

    def __init__(self, graph: Dict[Text, Any], inputs: tuple) -> None:
        from dask.core import ishashable, istask, toposort

        def is_key(arg: Any) -> bool:  # dask's rule: a hashable argument naming a key
            return ishashable(arg) and arg in graph

        self.keys = frozenset(graph)
        # Inputs are filled in per run; anything that is not a task is a literal.
        self.steps = [(key, graph[key][0], tuple((is_key(arg), arg) for arg in graph[key][1:]))
                      for key in toposort(graph) if key not in inputs and istask(graph[key])]


def install_direct_graph_runner() -> bool:
    """Rasa runs its model graph (the NLU pipeline for each message, the policies for each
    prediction: 3-5 runs a turn) through ``dask.get``, which on every call derives the
    minimal schema, builds a dask graph, orders it and schedules each task through its
    executor; that bookkeeping profiled at 6 ms of a Rasa server's 38 ms turn. Rasa's graphs
    are plain dependency trees of synchronous ``GraphNode`` calls, so the order is worked out
    once per (targets, input names) and the same nodes are called with the same arguments:
    the graph itself still comes from ``_build_dask_graph`` (with the TEDPolicy gate), inputs
    are checked as Rasa checks them, a task's exception propagates unchanged and a
    ``RuntimeError`` becomes Rasa's ``GraphRunError``."""
    unchanged = "graphs run through dask as before"
    try:
        from rasa.engine.exceptions import GraphRunError
        from rasa.engine.runner.dask import DaskGraphRunner
    except ImportError:
        return _internals_changed(unchanged)
    needed = ("_build_dask_graph", "_add_inputs_to_graph")

    def direct(original: Any) -> Any:
        def run(self: Any, inputs: Any = None, targets: Any = None) -> Dict[Text, Any]:
            global direct_graph_runs
            if not gate_enabled or not hasattr(self, "_graph_schema"):
                return original(self, inputs, targets)
            run_targets = targets if targets else self._graph_schema.target_names
            inputs = inputs or {}
            plans = self.__dict__.setdefault("_speedups_graph_plans", {})
            key = (tuple(run_targets), tuple(inputs))
            plan = plans.get(key)
            if plan is None:
                graph = self._build_dask_graph(self._graph_schema.minimal_graph_schema(run_targets))
                for name in inputs:
                    graph[name] = (name, None)  # a placeholder, as Rasa adds an input
                try:
                    plan = plans[key] = _GraphPlan(graph, tuple(inputs))
                except RuntimeError as error:
                    raise GraphRunError("Error running runner.") from error
            for name, value in inputs.items():
                if isinstance(value, str) and value in plan.keys:
                    self._add_inputs_to_graph({name: value}, {value: None})  # raises Rasa's error
            values: Dict[Text, Any] = {name: (name, value) for name, value in inputs.items()}
            try:
                for node_name, call, args in plan.steps:
                    values[node_name] = call(*(values[arg] if is_key else arg for is_key, arg in args))
            except RuntimeError as error:
                raise GraphRunError("Error running runner.") from error
            direct_graph_runs += 1
            return dict(values[target] for target in run_targets)
        return run

    return _replace(DaskGraphRunner, "run", direct, unchanged, needs=needed)


def install_empty_domain_check() -> bool:
    """``Domain.is_empty`` (called for every message, to decide whether to warn about unknown
    intents) builds a whole new empty Domain from a dict each time to compare with; the
    empty domain's data is built once here and compared the same way."""
    unchanged = "empty domain rebuilt per message"
    try:
        from rasa.shared.core.domain import Domain
    except ImportError:
        return _internals_changed(unchanged)

    def once(original: Any) -> Any:
        empty = Domain.empty().as_dict()  # this Domain's own data, which nothing else holds

        def is_empty(self: Any) -> bool:
            return self.as_dict() == empty if gate_enabled else original(self)
        return is_empty

    return _replace(Domain, "is_empty", once, unchanged, needs=("empty", "as_dict"))


def install_all() -> Dict[Text, bool]:
    """Every outcome-preserving replacement above, idempotent; which ones took effect."""
    installers = (install, install_ted_gate, install_response_selector_gate, install_rule_match_cache,
                  install_sparse_feature_stacking, install_prior_states_cache, install_direct_tf_call,
                  install_direct_graph_runner, install_empty_domain_check)
    return {installer.__name__: installer() for installer in installers}
