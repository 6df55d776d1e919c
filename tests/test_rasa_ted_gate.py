"""The TEDPolicy gate (bot/rasa_speedups.py) never changes a prediction of the trained model.

Every training story and every e2e test story is replayed step by step; at each
action the next action is predicted with the gate and without it, and the winning prediction
must be the same: action, policy, confidences and events. The gate must have skipped TED
there (else it saves nothing); on a dialogue that no rule covers it must let TED run.
"""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot import rasa_speedups
from scripts.train_if_needed import matching_model

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def agent():
    from rasa.core.agent import load_agent

    model = matching_model()
    if model is None:
        pytest.fail("no trained model for the current data and config (make test trains one first)")
    assert rasa_speedups.install_ted_gate()
    return asyncio.run(load_agent(model_path=str(model)))


def _story_trackers(agent, resource: Path):
    from rasa.core.test import _create_data_generator

    tests = resource.name == "e2e"
    return _create_data_generator(str(resource), agent, use_conversation_test_files=tests).generate_story_trackers()


def _prediction(processor, tracker, gated: bool):
    rasa_speedups.gate_enabled = gated
    try:
        return processor._predict_next_with_tracker(tracker)
    finally:
        rasa_speedups.gate_enabled = True


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

    processor = agent.processor
    before = rasa_speedups.gate_counts()
    compared = 0
    for story in _story_trackers(agent, ROOT / resource):
        events = list(story.events)
        partial = DialogueStateTracker.from_events(story.sender_id, events[:1], agent.domain.slots)
        for event in events[1:]:
            if isinstance(event, ActionExecuted):
                plain = _prediction(processor, partial, gated=False)
                gated = _prediction(processor, partial, gated=True)
                _assert_same(plain, gated, f"{resource}: {story.sender_id} before {event.action_name}")
                compared += 1
            partial.update(event)
    after = rasa_speedups.gate_counts()
    assert compared > 40
    assert after["skipped"] > before["skipped"], "the gate never skipped TED"


def test_ted_runs_where_no_rule_decides(agent):
    """An action sequence no rule or story has: RulePolicy only offers its fallback (0.3)."""
    from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    events = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
              UserUttered("你好", {"name": "greet", "confidence": 1.0}),
              ActionExecuted("action_query_outage"), ActionExecuted("action_submit_survey")]
    tracker = DialogueStateTracker.from_events("no-rule", events, agent.domain.slots)
    before = rasa_speedups.gate_counts()
    plain = _prediction(agent.processor, tracker, gated=False)
    gated = _prediction(agent.processor, tracker, gated=True)
    _assert_same(plain, gated, "a dialogue no rule covers")
    assert rasa_speedups.gate_counts()["ran"] == before["ran"] + 1


def test_gate_is_installed_by_the_gateway_channel():
    import bot.rasa_connector  # noqa: F401  (loaded by every Rasa server from credentials.yml)
    from rasa.engine.runner.dask import DaskGraphRunner

    assert DaskGraphRunner._build_dask_graph.__module__ == "bot.rasa_speedups"
