"""Replaces ``rasa.engine.runner.dask.DaskGraphRunner.run`` (wraps it).

Why: Rasa runs its model graph (the NLU pipeline for each message, the policies for each
prediction: 3-5 runs a turn) through ``dask.get``, which on every call derives the minimal
schema, builds a dask graph, orders it and schedules each task through its executor; that
bookkeeping profiled at 6 ms of a Rasa server's 38 ms turn.

What instead: Rasa's graphs are plain dependency trees of synchronous ``GraphNode`` calls, so
the order is worked out once per (targets, input names) (``dask.core.toposort``, which also
refuses cycles) and the same nodes are called with the same arguments: the graph itself still
comes from ``_build_dask_graph`` (with the TEDPolicy gate of ``ted_gate``), inputs are checked
as Rasa checks them, a task's exception propagates unchanged and a ``RuntimeError`` becomes
Rasa's ``GraphRunError``.
"""
from __future__ import annotations

from typing import Any, Dict, Text

from rasa_server.patches import _common

REPLACES = ("rasa.engine.runner.dask.DaskGraphRunner.run",)
runs = 0  # graph runs that took the direct path, in this process (tests check it)


class _GraphPlan:
    """The tasks of one (targets, input names) run of a graph runner in dask's dependency
    order: what dask works out on every call."""

    __slots__ = ("keys", "steps")

    def __init__(self, graph: Dict[Text, Any], inputs: tuple) -> None:
        from dask.core import ishashable, istask, toposort

        def is_key(arg: Any) -> bool:  # dask's rule: a hashable argument naming a key
            return ishashable(arg) and arg in graph

        self.keys = frozenset(graph)
        # Inputs are filled in per run; anything that is not a task is a literal.
        self.steps = [(key, graph[key][0], tuple((is_key(arg), arg) for arg in graph[key][1:]))
                      for key in toposort(graph) if key not in inputs and istask(graph[key])]


def install() -> bool:
    """Wraps ``DaskGraphRunner.run``; idempotent. False when refused or not applicable."""
    if _common.version_refusal(__name__):
        return False
    unchanged = "graphs run through dask as before"
    try:
        from rasa.engine.exceptions import GraphRunError
        from rasa.engine.runner.dask import DaskGraphRunner
    except ImportError:
        return _common.internals_changed(unchanged)
    needed = ("_build_dask_graph", "_add_inputs_to_graph")

    def direct(original: Any) -> Any:
        def run(self: Any, inputs: Any = None, targets: Any = None) -> Dict[Text, Any]:
            global runs
            if not _common.on(__name__) or not hasattr(self, "_graph_schema"):
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
            runs += 1
            return dict(values[target] for target in run_targets)
        return run

    return _common.replace(DaskGraphRunner, "run", direct, unchanged, needs=needed)
