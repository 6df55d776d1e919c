"""The gates and caches of rasa_server/patches/ and of the seams named in config.yml
(``rasa_server.policies.CachedRulePolicy``, ``nlu_components.faq_gate.FaqGatedResponseSelector``)
change no outcome of the trained model. "Without" below means Rasa's own code for all of them
(``_rasas_own``: the patches bypassed, the policy's remembered matches and the selector's gate
off).

TEDPolicy gate and remembered rule matches: never change a prediction (every story is
replayed twice, so the second pass meets remembered matches).

Every training story and every e2e test story is replayed step by step; at each
action the next action is predicted with the gate and without it, and the winning prediction
must be the same: action, policy, confidences and events. The gate must have skipped TED
there (else it saves nothing); on a dialogue that no rule covers it must let TED run.

Remembered prior states: for every prefix of every story (extended event by event, as the
prediction loop does), the states RulePolicy and MemoizationPolicy read are Rasa's own.

ResponseSelector gate, COO feature stacking, direct TensorFlow calls and direct graph runs:
every held-out NLU sentence is parsed with and without them; intents and entities are the
same, the FAQ answer is the same wherever FAQ is among the top two intents, and the selector is
skipped for the others.
"""
from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Iterator

import pytest

import rasa_server
from nlu_components.faq_gate import FaqGatedResponseSelector
from rasa_server.patches import bypassed, direct_graph_runner, direct_tf_call, shortcuts_on, ted_gate
from rasa_server.policies import CachedRulePolicy
from rasa_server.patches.direct_graph_runner import _GraphPlan
from scripts.train_if_needed import matching_model

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="module")
def agent():
    from rasa.core.agent import load_agent

    model = matching_model()
    if model is None:
        pytest.fail("no trained model for the current data and config (make test trains one first)")
    installed = rasa_server.install()  # as the Rasa server's start does
    assert all(installed.values()), installed
    return asyncio.run(load_agent(model_path=str(model)))


def _story_trackers(agent, resource: Path):
    from rasa.core.test import _create_data_generator

    tests = resource.name == "e2e"
    return _create_data_generator(str(resource), agent, use_conversation_test_files=tests).generate_story_trackers()


def _components(agent, cls) -> list:
    return [node._component for node in agent.processor.graph_runner._instantiated_nodes.values()
            if isinstance(node._component, cls)]


@contextlib.contextmanager
def _rasas_own(agent) -> Iterator[None]:
    """Rasa's own code: patches bypassed, no remembered rule matches, the selector ungated
    (the memory the policy had is kept for afterwards)."""
    policies, selectors = _components(agent, CachedRulePolicy), _components(agent, FaqGatedResponseSelector)
    assert policies and selectors, "the model does not use the seams of config.yml"
    memories = [policy.rule_matches for policy in policies]
    for policy in policies:
        policy.rule_matches = None
    for selector in selectors:
        selector.component_config["gate"] = False
    try:
        with bypassed():
            yield
    finally:
        for policy, memory in zip(policies, memories):
            policy.rule_matches = memory
        for selector in selectors:
            selector.component_config["gate"] = True


def _shortcuts(agent, on: bool) -> contextlib.AbstractContextManager:
    return contextlib.nullcontext() if on else _rasas_own(agent)


def _prediction(agent, tracker, gated: bool):
    with _shortcuts(agent, gated):
        return agent.processor._predict_next_with_tracker(tracker)


def _assert_same(plain, gated, where: str) -> None:
    assert (gated.policy_name, gated.max_confidence_index, gated.events, gated.optional_events,
            gated.is_no_user_prediction) == (
        plain.policy_name, plain.max_confidence_index, plain.events, plain.optional_events,
        plain.is_no_user_prediction), where
    assert gated.probabilities == pytest.approx(plain.probabilities), where


@pytest.mark.parametrize("resource", ["data/stories", "tests/e2e"])
def test_gate_changes_no_prediction(agent, resource):
    from rasa.shared.core.events import ActionExecuted
    from rasa.shared.core.trackers import DialogueStateTracker

    before = ted_gate.gate_counts()
    graph_runs_before = direct_graph_runner.runs
    compared = 0
    for story in _story_trackers(agent, ROOT / resource) * 2:
        events = list(story.events)
        partial = DialogueStateTracker.from_events(story.sender_id, events[:1], agent.domain.slots)
        for event in events[1:]:
            if isinstance(event, ActionExecuted):
                plain = _prediction(agent, partial, gated=False)
                gated = _prediction(agent, partial, gated=True)
                _assert_same(plain, gated, f"{resource}: {story.sender_id} before {event.action_name}")
                compared += 1
            partial.update(event)
    after = ted_gate.gate_counts()
    assert compared > 40
    # Every gated prediction ran its graph directly (the plain ones through dask).
    assert direct_graph_runner.runs - graph_runs_before == compared
    assert after["skipped"] > before["skipped"], "the gate never skipped TED"
    # The loaded RulePolicy is ours and remembered matches (the second pass met them).
    rule_policies = _components(agent, CachedRulePolicy)
    assert rule_policies and all(len(p.rule_matches or {}) > 10 for p in rule_policies)


def test_prior_states_are_rasa_s(agent):
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.shared.core.events import ActionExecuted
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = agent.domain
    rule_policy = next(node._component for node in agent.processor.graph_runner._instantiated_nodes.values()
                       if isinstance(node._component, RulePolicy))
    rule_only_data = rule_policy._get_rule_only_data()  # what MemoizationPolicy is given

    def states(tracker, remembered: bool, hide_rule_turns: bool):
        with shortcuts_on(remembered):
            return domain.states_for_tracker_history(tracker, ignore_rule_only_turns=hide_rule_turns,
                                                     rule_only_data=rule_only_data if hide_rule_turns else None)

    compared = hidden = 0
    for resource in ("data/stories", "tests/e2e"):
        for story in _story_trackers(agent, ROOT / resource):
            events = list(story.events)
            partial = DialogueStateTracker.from_events(story.sender_id, events[:1], domain.slots)
            for event in events[1:]:
                if isinstance(event, ActionExecuted):
                    # Mark turns as a live server does: hidden when RulePolicy predicted a rule-only turn.
                    prediction = _prediction(agent, partial, gated=True)
                    if domain.action_names_or_texts[prediction.max_confidence_index] == event.action_name:
                        event = ActionExecuted(event.action_name, prediction.policy_name, prediction.max_confidence,
                                               hide_rule_turn=prediction.hide_rule_turn)
                partial.update(event)
                for hide in (False, True):
                    plain = states(partial, remembered=False, hide_rule_turns=hide)
                    assert states(partial, remembered=True, hide_rule_turns=hide) == plain, story.sender_id
                    # The copies handed out are the caller's to edit: the next call is unaffected.
                    for state in states(partial, remembered=True, hide_rule_turns=hide):
                        for sub_state in state.values():
                            sub_state["edited"] = "by a caller"
                    assert states(partial, remembered=True, hide_rule_turns=hide) == plain, story.sender_id
                    compared += 1
                hidden += len(states(partial, False, False)) != len(states(partial, False, True))
            assert partial.__dict__["_speedups_prior_states"].events == partial.applied_events()
    assert compared > 500
    assert hidden > 0, "no story had a rule-only turn to hide: the hiding path was not compared"


def test_ted_runs_where_no_rule_decides(agent):
    """An action sequence no rule or story has: RulePolicy only offers its fallback (0.3)."""
    from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    events = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
              UserUttered("你好", {"name": "greet", "confidence": 1.0}),
              ActionExecuted("action_query_outage"), ActionExecuted("action_submit_survey")]
    tracker = DialogueStateTracker.from_events("no-rule", events, agent.domain.slots)
    before = ted_gate.gate_counts()
    plain = _prediction(agent, tracker, gated=False)
    direct_before = direct_tf_call.calls
    gated = _prediction(agent, tracker, gated=True)
    _assert_same(plain, gated, "a dialogue no rule covers")
    assert ted_gate.gate_counts()["ran"] == before["ran"] + 1
    assert direct_tf_call.calls == direct_before + 1  # TED's graph, called directly


def test_gate_is_installed_by_the_rasa_servers_start():
    assert all(rasa_server.install().values())  # what `python -m rasa_server run` does first
    from rasa.engine.runner.dask import DaskGraphRunner

    assert DaskGraphRunner._build_dask_graph.__module__ == "rasa_server.patches.ted_gate"
    assert DaskGraphRunner.run.__module__ == "rasa_server.patches.direct_graph_runner"


def _held_out_texts() -> list:
    from rasa.shared.nlu.training_data.loading import load_data

    texts = []
    for path in sorted((ROOT / "tests" / "nlu_test").glob("**/*.yml")):
        texts += [example.get("text") for example in load_data(str(path)).intent_examples]
    return texts


def _parse(agent, text: str, gated: bool) -> dict:
    with _shortcuts(agent, gated):
        return asyncio.run(agent.parse_message(text))


def test_response_selector_only_skipped_where_its_answer_is_unused(agent):
    texts = _held_out_texts()
    assert len(texts) > 200
    direct_before = direct_tf_call.calls
    graph_runs_before = direct_graph_runner.runs
    skipped = answered = 0
    for text in texts:
        plain, gated = _parse(agent, text, gated=False), _parse(agent, text, gated=True)
        assert gated["intent"] == plain["intent"], text
        assert gated["entities"] == plain["entities"], text
        # What the selector saw: the classifier's ranking, before FallbackClassifier adds nlu_fallback.
        top_two = [entry["name"] for entry in plain["intent_ranking"] if entry["name"] != "nlu_fallback"][:2]
        if "faq" in top_two:
            assert gated["response_selector"] == plain["response_selector"], text
            answered += 1
        else:
            assert "faq" not in gated.get("response_selector", {}), text
            skipped += 1
    assert answered > 30 and skipped > 150
    # DIET ran directly for every gated parse (exactly the same intent confidences above).
    assert direct_tf_call.calls - direct_before >= len(texts) + answered
    assert direct_graph_runner.runs - graph_runs_before == len(texts)  # the gated parses


def test_graph_runs_directly_with_dask_s_results(agent):
    """The direct graph runner ran the parses and predictions compared above, and gives the
    same outputs as dask for a whole NLU run (every node's output, not only the targets)."""
    from rasa.core.channels.channel import UserMessage

    runner = agent.processor.graph_runner
    final = agent.processor.model_metadata.nlu_target
    every_node = list(runner._graph_schema.minimal_graph_schema([final]).nodes)

    def run(direct: bool) -> dict:
        with shortcuts_on(direct):
            before = direct_graph_runner.runs
            message = UserMessage("我家停电了，户号3201000001")
            outputs = runner.run(inputs={"__message__": [message]}, targets=every_node)
            assert direct_graph_runner.runs == before + (1 if direct else 0)
            return outputs

    plain, direct = run(False), run(True)
    assert list(direct) == list(plain) == every_node and len(every_node) > 5
    plain_message, direct_message = plain[final][0], direct[final][0]
    assert plain_message.get("intent")["name"] == "report_fault"
    for key in ("intent", "entities", "intent_ranking"):
        assert direct_message.get(key) == plain_message.get(key), key


def test_graph_runner_checks_inputs_and_order_like_dask(agent):
    from rasa.engine.exceptions import GraphRunError

    runner = agent.processor.graph_runner
    target = agent.processor.model_metadata.nlu_target
    for direct in (False, True):
        with shortcuts_on(direct):
            # An input value that names a node is refused, as Rasa refuses it.
            with pytest.raises(GraphRunError, match="clashes with a node name"):
                runner.run(inputs={"__message__": target}, targets=[target])

    calls = []

    def node(name):
        def call(*args):
            calls.append(name)
            return name, args
        return call

    graph = {"c": (node("c"), "a", "b", 7), "a": (node("a"), "in"), "b": (node("b"), "a"), "in": ("in", None)}
    plan = _GraphPlan(graph, ("in",))
    assert [key for key, _, _ in plan.steps] == ["a", "b", "c"]  # dependencies first, input skipped
    assert plan.steps[2][2] == ((True, "a"), (True, "b"), (False, 7))  # literals stay literals
    with pytest.raises(RuntimeError, match="Cycle"):
        _GraphPlan({"a": (node("a"), "b"), "b": (node("b"), "a")}, ())


def test_empty_domain_check_answers_as_rasa(agent):
    from rasa.shared.core.domain import Domain

    domains = [Domain.empty(), Domain.from_dict({}), agent.domain, Domain.from_dict({"intents": ["greet"]}),
               Domain.from_dict({"responses": {"utter_hi": [{"text": "你好"}]}})]
    answers = {}
    for remembered in (False, True, True):
        with shortcuts_on(remembered):
            answers.setdefault(remembered, [d.is_empty() for d in domains])
            assert [d.is_empty() for d in domains] == answers[remembered]
    assert answers[True] == answers[False] == [True, True, False, False, False]
