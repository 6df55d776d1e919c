"""Replaces ``rasa.engine.runner.dask.DaskGraphRunner._build_dask_graph`` (wraps it).

Why: every action prediction runs every policy, and TEDPolicy's TensorFlow call is the most
expensive of them (about 6 ms each, 2-4 predictions per turn). When RulePolicy has matched a
rule or an active form it predicts with confidence 1.0, and Rasa's ensemble then always picks
it: it takes the highest confidence and, on a tie, the higher priority (RulePolicy 6, TED 1).
TED's answer cannot change the outcome then.

What instead: in the graph Rasa builds, each TEDPolicy prediction node is put behind a gate
that receives RulePolicy's output first and gives TED's node an abstaining prediction in
exactly those cases. TED still runs whenever its prediction could matter: RulePolicy below
1.0, a rejected action on the tracker (the ensemble then zeroes that action in every
prediction), or a TED trained end to end (its text predictions outrank intent ones).
"""
from __future__ import annotations

from typing import Any, Dict, Text

from rasa_server.patches import _common

REPLACES = ("rasa.engine.runner.dask.DaskGraphRunner._build_dask_graph",)


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
        # Decided per call too: a graph built while the gate was on may be run after it is bypassed.
        if domain is not None and _common.on(__name__) and self._decided_by_rules(rule_prediction, tracker):
            self.skipped += 1
            component = self.ted_node._component
            abstain = PolicyPrediction(
                [0.0] * domain.num_actions, component.__class__.__name__, component.priority
            )
            return self.ted_node._node_name, abstain
        self.ran += 1
        return self.ted_node(*inputs)


_GATES: Dict[int, _RuleGatedNode] = {}


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


def gate_counts() -> Dict[Text, int]:
    """How often TED was skipped and run through the gate, in this process."""
    return {"skipped": sum(g.skipped for g in _GATES.values()), "ran": sum(g.ran for g in _GATES.values())}


def install() -> bool:
    """Wraps ``DaskGraphRunner._build_dask_graph`` so that TEDPolicy is skipped when
    RulePolicy already decides the prediction; idempotent. False when refused (another Rasa
    version) or Rasa's internals are not what this was written against."""
    if _common.version_refusal(__name__):
        return False
    unchanged = "TEDPolicy not gated"
    try:
        from rasa.core.policies.policy import PolicyPrediction  # noqa: F401
        from rasa.core.policies.rule_policy import RulePolicy  # noqa: F401
        from rasa.core.policies.ted_policy import TEDPolicy  # noqa: F401
        from rasa.engine.graph import GraphNode
        from rasa.engine.runner.dask import DaskGraphRunner
    except ImportError:
        return _common.internals_changed(unchanged)
    needed = ("_inputs", "_node_name", "_component_class", "_fn_name")
    if not all(name in GraphNode.__init__.__code__.co_names for name in needed):
        return _common.internals_changed(unchanged)

    def gated(original: Any) -> Any:
        def _build_dask_graph(self: Any, schema: Any) -> Dict[Text, Any]:
            graph = original(self, schema)
            return _gate_ted_behind_rules(graph) if _common.on(__name__) else graph
        return _build_dask_graph

    return _common.replace(DaskGraphRunner, "_build_dask_graph", gated, unchanged)
