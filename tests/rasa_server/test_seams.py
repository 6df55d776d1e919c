"""Rasa's seams used instead of patches: ``rasa_server.policies.CachedRulePolicy`` (RulePolicy
with its rule matches remembered) and ``nlu_components.faq_gate.FaqGatedResponseSelector``
(the ResponseSelector only for possible FAQ questions), both named in config.yml.

Rasa 3.6 recognises a RulePolicy and a ResponseSelector by class equality (its recipe
validator), by ``issubclass`` and by the prediction's policy name (the ensemble's
``is_not_in_training_data``, ``ActionExecuted.policy``). Each check must answer for the
subclasses as for Rasa's classes: shown here on a small project of its own (a domain, NLU data
with a retrieval intent, one rule) validated and trained in this process, with Rasa's class
and with ours side by side. With/without comparisons on the product's trained model:
``tests/rasa_server/test_gates.py``.
"""
from __future__ import annotations

import copy
import logging
import warnings
from pathlib import Path

import pytest

from nlu_components.faq_gate import FaqGatedResponseSelector, may_be_retrieval_intent
from rasa_server.policies import CachedRulePolicy

OURS = {"policy": "rasa_server.policies.CachedRulePolicy",
        "selector": "nlu_components.faq_gate.FaqGatedResponseSelector"}
RASAS = {"policy": "RulePolicy", "selector": "ResponseSelector"}

DOMAIN = """
version: "3.1"
intents: [greet, faq]
actions: [action_my_fallback]
responses:
  utter_greet:
  - text: 您好
"""
FORM = """
slots:
  name:
    type: text
    mappings: [{type: from_text}]
forms:
  name_form:
    required_slots: [name]
"""
NLU = """
version: "3.1"
nlu:
- intent: greet
  examples: |
    - 你好
    - 您好
- intent: faq/hours
  examples: |
    - 营业厅几点开门
    - 几点上班
responses:
  utter_faq/hours:
  - text: 营业厅 8:30 开门。
"""
RULES = """
version: "3.1"
rules:
- rule: greet back
  steps:
  - intent: greet
  - action: utter_greet
"""

NO_RULE_POLICY = "is not included in the model's policy configuration"
NO_SELECTOR = "does not include a response selector component"


def _project(tmp_path: Path, form: bool = False) -> dict:
    (tmp_path / "domain.yml").write_text(DOMAIN + (FORM if form else ""), encoding="utf-8")
    (tmp_path / "nlu.yml").write_text(NLU, encoding="utf-8")
    (tmp_path / "rules.yml").write_text(RULES, encoding="utf-8")
    return {"domain": str(tmp_path / "domain.yml"), "data": [str(tmp_path / "nlu.yml"), str(tmp_path / "rules.yml")]}


def _config(selector: str | None, policy: str | None, **policy_config) -> dict:
    pipeline = [{"name": "WhitespaceTokenizer"}, {"name": "CountVectorsFeaturizer"},
                {"name": "DIETClassifier", "epochs": 1}]
    if selector:
        pipeline.append({"name": selector, "retrieval_intent": "faq", "epochs": 1})
    policies = [{"name": "MemoizationPolicy"}]
    if policy:
        policies.append({"name": policy, **policy_config})
    return {"recipe": "default.v1", "language": "zh", "pipeline": pipeline, "policies": policies}


def _validate(tmp_path: Path, config: dict, form: bool = False) -> list[str]:
    """Runs Rasa's recipe validator as ``rasa train`` does; answers the warnings' texts."""
    from rasa.engine.recipes.recipe import Recipe
    from rasa.graph_components.validators.default_recipe_validator import DefaultV1RecipeValidator
    from rasa.shared.data import TrainingType
    from rasa.shared.importers.importer import TrainingDataImporter

    paths = _project(tmp_path, form)
    model_config = Recipe.recipe_for_name("default.v1").graph_config_for_recipe(
        copy.deepcopy(config), {}, training_type=TrainingType.BOTH)
    importer = TrainingDataImporter.load_from_dict(copy.deepcopy(config), None, paths["domain"], paths["data"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        DefaultV1RecipeValidator(model_config.train_schema).validate(importer)
    return [str(w.message) for w in caught]


def _fired(messages: list[str]) -> set[str]:
    return {check for check in (NO_RULE_POLICY, NO_SELECTOR) if any(check in m for m in messages)}


@pytest.mark.parametrize("classes", [RASAS, OURS], ids=["rasa", "ours"])
def test_the_validator_takes_the_subclasses_for_rasas_classes(tmp_path, classes):
    """With a RulePolicy and a ResponseSelector configured (Rasa's or ours) neither warning
    fires: restart/back work, the response examples are used."""
    assert _fired(_validate(tmp_path, _config(classes["selector"], classes["policy"]))) == set()


def test_the_validators_checks_still_fire_without_them(tmp_path):
    """The same project with neither: both warnings (the checks are live in this set-up)."""
    assert _fired(_validate(tmp_path, _config(None, None))) == {NO_RULE_POLICY, NO_SELECTOR}


@pytest.mark.parametrize("classes", [RASAS, OURS], ids=["rasa", "ours"])
def test_the_fallback_action_is_checked_against_the_domain_by_the_validator(tmp_path, classes):
    from rasa.shared.core.domain import InvalidDomain

    config = _config(classes["selector"], classes["policy"], core_fallback_action_name="action_not_in_domain")
    with pytest.raises(InvalidDomain, match="action_not_in_domain"):
        _validate(tmp_path, config)
    ok = _config(classes["selector"], classes["policy"], core_fallback_action_name="action_my_fallback")
    assert _fired(_validate(tmp_path, ok)) == set()


@pytest.mark.parametrize("classes, refused", [(RASAS, False), (OURS, False), ({"selector": None, "policy": None}, True)],
                         ids=["rasa", "ours", "none"])
def test_a_form_needs_a_rule_policy(tmp_path, classes, refused):
    from rasa.shared.core.domain import InvalidDomain

    config = _config(classes["selector"], classes["policy"])
    if refused:
        with pytest.raises(InvalidDomain, match="form action"):
            _validate(tmp_path, config, form=True)
    else:
        _validate(tmp_path, config, form=True)


def test_the_subclasses_count_as_rasas_classes_and_stay_classes_of_their_own():
    from rasa.core.policies.memoization import MemoizationPolicy
    from rasa.core.policies.policy import Policy
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.core.policies.ted_policy import TEDPolicy
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe
    from rasa.nlu.classifiers.diet_classifier import DIETClassifier
    from rasa.nlu.selectors.response_selector import ResponseSelector

    for ours, rasas in ((CachedRulePolicy, RulePolicy), (FaqGatedResponseSelector, ResponseSelector)):
        assert ours == rasas and rasas == ours and not (ours != rasas) and hash(ours) == hash(rasas)
        assert rasas in {ours} and ours in {rasas}
        # Warm the ABC caches both ways, then ask again: a plain Rasa class is never ours.
        for _ in range(2):
            assert issubclass(ours, rasas) and not issubclass(rasas, ours)
            assert isinstance(ours.__new__(ours), rasas) and not isinstance(rasas.__new__(rasas), ours)
        assert ours.__name__ != rasas.__name__  # Rasa's registry keys components by name
        assert DefaultV1Recipe._from_registry(rasas.__name__).clazz is rasas
        assert DefaultV1Recipe._from_registry(f"{ours.__module__}.{ours.__name__}").clazz is ours
    assert issubclass(CachedRulePolicy, MemoizationPolicy) and issubclass(CachedRulePolicy, Policy)
    assert not issubclass(CachedRulePolicy, TEDPolicy) and CachedRulePolicy != MemoizationPolicy
    assert issubclass(FaqGatedResponseSelector, DIETClassifier) and FaqGatedResponseSelector != DIETClassifier
    assert CachedRulePolicy != FaqGatedResponseSelector


# ---------------------------------------------------------------- the policy, trained here


@pytest.fixture()
def trained(tmp_path):
    """A CachedRulePolicy trained on the small project, as ``rasa train`` trains it, and the
    same persisted resource loaded as the Rasa server loads it, by our class and by Rasa's."""
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.core.training import load_data
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.core.domain import Domain
    from rasa.shared.importers.importer import TrainingDataImporter

    (tmp_path / "project").mkdir()
    paths = _project(tmp_path / "project")
    domain = Domain.load(paths["domain"])
    importer = TrainingDataImporter.load_from_dict({}, None, paths["domain"], paths["data"])
    trackers = load_data(importer, domain, augmentation_factor=0)
    (tmp_path / "storage").mkdir()
    storage = LocalModelStorage(tmp_path / "storage")
    resource = Resource("train_rasa_server.policies.CachedRulePolicy1")
    context = ExecutionContext(GraphSchema({}), "test")
    config = CachedRulePolicy.get_default_config()
    policy = CachedRulePolicy.create(dict(config), storage, resource, context)
    assert policy.rule_matches is None  # nothing remembered while training
    policy.train(trackers, domain)
    ours = CachedRulePolicy.load(dict(config), storage, resource, context)
    rasas = RulePolicy.load(dict(RulePolicy.get_default_config()), storage, resource, context)
    return domain, ours, rasas


def _greeted(domain, text="你好"):
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    events = [ActionExecuted("action_listen"), UserUttered(text, {"name": "greet", "confidence": 1.0})]
    return DialogueStateTracker.from_events("seams", events, domain.slots)


def test_the_loaded_policy_predicts_as_rasas_and_remembers_its_matches(trained):
    domain, ours, rasas = trained
    assert ours.rule_matches == {}
    first = ours.predict_action_probabilities(_greeted(domain), domain)
    remembered = len(ours.rule_matches)
    again = ours.predict_action_probabilities(_greeted(domain), domain)
    plain = rasas.predict_action_probabilities(_greeted(domain), domain)
    assert remembered > 0 and len(ours.rule_matches) == remembered  # the second met what the first left
    for prediction in (first, again):
        assert prediction == plain  # probabilities, policy name, priority, events, flags
        assert domain.action_names_or_texts[prediction.max_confidence_index] == "utter_greet"
        assert prediction.max_confidence == 1.0


def test_the_ensemble_takes_our_predictions_for_rule_predictions(trained):
    """By name (``is_not_in_training_data``, the tracker's ``ActionExecuted.policy``) and by
    priority and confidence (the ensemble's choice against TED), as Rasa's RulePolicy's."""
    from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble, is_not_in_training_data
    from rasa.core.policies.policy import PolicyPrediction
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.core.policies.ted_policy import TEDPolicy

    domain, ours, rasas = trained
    tracker = _greeted(domain)
    ted = PolicyPrediction([1.0 / domain.num_actions] * domain.num_actions, TEDPolicy.__name__,
                           TEDPolicy.get_default_config()["priority"])
    chosen = {}
    for name, policy in (("ours", ours), ("rasa", rasas)):
        prediction = policy.predict_action_probabilities(tracker, domain)
        assert prediction.policy_name == RulePolicy.__name__
        assert prediction.policy_priority == rasas.priority == ours.priority
        assert is_not_in_training_data(prediction.policy_name, prediction.max_confidence) \
            == is_not_in_training_data(RulePolicy.__name__, 1.0)
        chosen[name] = DefaultPolicyPredictionEnsemble().combine_predictions([ted, prediction], tracker, domain)
    assert chosen["ours"] == chosen["rasa"] and chosen["ours"].policy_name == RulePolicy.__name__


def test_the_cache_keeps_fresh_sets_and_its_bound(trained):
    domain, ours, _ = trained
    ours.rule_match_cache_size = 1
    keys = ours._get_possible_keys(ours.lookup["rules"], [{}])
    keys.add("edited by a caller")
    assert "edited by a caller" not in ours._get_possible_keys(ours.lookup["rules"], [{}])
    ours.predict_action_probabilities(_greeted(domain), domain)
    assert len(ours.rule_matches) == 1


def test_no_remembered_matches_on_another_rasa_version(trained, monkeypatch, caplog):
    import rasa

    _, ours, _ = trained
    monkeypatch.setattr(rasa, "__version__", "3.6.22")
    with caplog.at_level(logging.ERROR, logger="rasa_server.patches"):
        assert ours.remember_matches() is False
    assert ours.rule_matches is None and "CachedRulePolicy refused" in caplog.text and "3.6.22" in caplog.text


# ---------------------------------------------------------------- the selector's gate


def test_the_gate_lets_through_what_may_be_a_faq_question():
    from rasa.shared.nlu.training_data.message import Message

    def message(*ranking):
        data = {"text": "x"}
        if ranking:
            data["intent"] = {"name": ranking[0], "confidence": 0.9}
            data["intent_ranking"] = [{"name": name, "confidence": 0.1} for name in ranking]
        return Message(data=data)

    assert may_be_retrieval_intent(message("faq", "greet"), "faq")
    assert may_be_retrieval_intent(message("greet", "faq"), "faq")  # the second: a fallback may offer it
    assert not may_be_retrieval_intent(message("greet", "query_bill", "faq"), "faq")
    assert may_be_retrieval_intent(message(), "faq")  # nothing classified it
