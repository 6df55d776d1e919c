"""The speed-up patches (rasa_server/patches/) keep Rasa's answers, are installed by the Rasa
server's start and refuse any other Rasa version than the pinned one; the gateway channel's
intent headers (rasa_server/channel.py)."""
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import ValidationError
from jsonschema.validators import validator_for

import rasa_server
from rasa_server import patches
from rasa_server.patches import _common, action_result_validation, event_lookup, heap_freeze, sparse_feature_stacking

ROOT = Path(__file__).resolve().parent.parent.parent


def _action():
    from rasa.core.actions.action import RemoteAction
    from rasa.utils.endpoints import EndpointConfig

    return RemoteAction("action_demo", EndpointConfig("http://127.0.0.1:9/webhook"))


def test_installed_by_the_rasa_servers_start():
    assert all(rasa_server.install().values())  # what `python -m rasa_server run` does first
    from rasa.core.actions.action import RemoteAction

    assert RemoteAction._validate_action_result.__module__ == "rasa_server.patches.action_result_validation"
    from rasa.shared.core.domain import Domain
    from rasa.utils.tensorflow.models import RasaModel

    assert Domain.states_for_tracker_history.__module__ == "rasa_server.patches.prior_states_cache"
    assert RasaModel._rasa_predict.__module__ == "rasa_server.patches.direct_tf_call"


def test_importing_the_channel_installs_nothing():
    """A fresh interpreter: importing the input channel (as Rasa does from credentials.yml)
    leaves Rasa's own code in place; only the server's start installs the patches."""
    probe = (
        "import rasa_server.channel\n"
        "from rasa.core.actions.action import RemoteAction\n"
        "from rasa.engine.runner.dask import DaskGraphRunner\n"
        "from rasa.core.actions import two_stage_fallback\n"
        "print(RemoteAction._validate_action_result.__module__, DaskGraphRunner.run.__module__,\n"
        "      two_stage_fallback._message_clarification.__module__, RemoteAction.run.__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["rasa.core.actions.action", "rasa.engine.runner.dask",
                           "rasa.core.actions.two_stage_fallback", "rasa.core.actions.action"]


def test_the_channel_refuses_a_server_not_started_by_rasa_server():
    probe = (
        "from rasa_server.channel import GatewayInput, NotStartedByRasaServer\n"
        "try:\n    GatewayInput()\nexcept NotStartedByRasaServer as e:\n    print('refused', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.startswith("refused") and "python -m rasa_server run" in out


def test_entry_point_installs_then_hands_over_to_rasas_command_line():
    """`python -m rasa_server run --help`: everything installed, then Rasa's own `run` parser."""
    run = subprocess.run([sys.executable, "-m", "rasa_server", "run", "--help"], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "changes installed" in run.stderr and "not installed" not in run.stderr
    assert "--credentials" in run.stdout and "--endpoints" in run.stdout
    wrong = subprocess.run([sys.executable, "-m", "rasa_server", "train"], cwd=ROOT, capture_output=True, text=True)
    assert wrong.returncode == 2 and "only 'run'" in wrong.stderr


def test_the_pin_is_read_from_the_constraints():
    import rasa

    assert _common.pinned_rasa_version() == rasa.__version__ == "3.6.21"
    _common.check_rasa_version()  # the pinned Rasa: no error
    assert set(patches.ALL) == {path.stem for path in (ROOT / "rasa_server" / "patches").glob("*.py")
                                if not path.stem.startswith("_")}


@pytest.mark.parametrize("name", patches.ALL)
def test_every_patch_refuses_another_rasa_version(name, monkeypatch, caplog):
    """Each patch's own install() refuses (an ERROR log line, nothing replaced) on any Rasa
    but the pinned one; each module says in its docstring what it replaces and why."""
    import importlib

    import rasa

    module = importlib.import_module(f"rasa_server.patches.{name}")
    assert "Why" in (module.__doc__ or "")
    assert all(path.count(".") >= 2 for path in module.REPLACES)
    monkeypatch.setattr(rasa, "__version__", "3.6.22")
    monkeypatch.setattr(_common, "_replaced", set())  # as in a process that installed nothing yet
    monkeypatch.setattr(heap_freeze, "_armed", False)
    with caplog.at_level(logging.ERROR, logger="rasa_server.patches"):
        assert module.install() is False
    assert f"patch rasa_server.patches.{name} refused" in caplog.text and "3.6.22" in caplog.text
    assert _common._replaced == set() and heap_freeze._armed is False
    assert patches.install([name]) == {name: False}
    with pytest.raises(_common.VersionMismatch, match="pinned 3.6.21"):
        _common.check_rasa_version()


def test_unknown_patch_names_are_refused():
    with pytest.raises(ValueError, match="unknown patches: no_such_patch"):
        patches.install(["no_such_patch"])
    with pytest.raises(ValueError, match="unknown patches: no_such_patch"):
        with patches.bypassed(["no_such_patch"]):
            pass


def test_one_patch_bypassed_alone_calls_rasas_code(monkeypatch):
    """``bypassed([name])`` (the bench's per-patch figures): that patch runs Rasa's own code,
    the others keep their shortcuts, and everything is back afterwards."""
    import jsonschema

    assert action_result_validation.install()
    checked = []
    monkeypatch.setattr(jsonschema, "validate", lambda result, schema: checked.append(result))  # Rasa's check
    result = {"events": [{"event": "slot", "name": "account_no", "value": "3201000001"}], "responses": []}
    assert _action()._validate_action_result(result) is True and checked == []  # the shortcut
    with patches.bypassed(["action_result_validation"]):
        assert not _common.on(action_result_validation.__name__) and _common.on(event_lookup.__name__)
        _action()._validate_action_result(result)
        assert checked == [result]  # Rasa's own validation ran
        with patches.bypassed(["event_lookup"]):
            assert not _common.on(event_lookup.__name__)
        assert _common.on(event_lookup.__name__) and not _common.on(action_result_validation.__name__)
    assert _common.on(action_result_validation.__name__) and _common.bypassed_patches == set()
    assert _action()._validate_action_result(result) is True and checked == [result]


def test_valid_result_accepted_and_schema_checked_once(monkeypatch):
    assert action_result_validation.install()
    action = _action()
    cls = validator_for(action.action_response_format_spec())
    calls = []
    original = cls.check_schema.__func__
    monkeypatch.setattr(cls, "check_schema", classmethod(lambda c, s, *a, **k: (calls.append(1), original(c, s, *a, **k))))
    from rasa.core.actions.action import RemoteAction

    _common._replaced.discard((RemoteAction, "_validate_action_result"))  # fresh cache
    action_result_validation.install()
    result = {"events": [{"event": "slot", "name": "account_no", "value": "3201000001"}],
              "responses": [{"text": "好的"}]}
    assert action._validate_action_result(result) is True
    first = len(calls)
    assert first >= 1  # the schemas are checked when the first response comes
    for _ in range(5):
        assert action._validate_action_result(result) is True
    assert len(calls) == first  # and never again


@pytest.mark.parametrize("bad", [
    {"events": [{"event": 12}]},             # event name must be a string
    {"events": "slot"},                      # events must be a list
    {"events": [{"name": "x"}]},             # an event without its type
])
def test_invalid_result_rejected_with_rasas_message(bad):
    assert action_result_validation.install()
    with pytest.raises(ValidationError) as err:
        _action()._validate_action_result(bad)
    assert "Failed to validate Action server response" in err.value.message


@pytest.mark.asyncio
async def test_latest_intent_read_as_one_row_of_the_sql_tracker_store(tmp_path):
    from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from rasa_server.channel import _latest_parse_data_sql

    domain = Domain.from_dict({"intents": ["greet", "faq"]})
    store = FailSafeTrackerStore(SQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "t.db")))
    assert _latest_parse_data_sql(store, "nobody") == {}
    tracker = DialogueStateTracker("c1", domain.slots)
    for text, intent, conf in (("你好", "greet", 0.91), ("怎么交电费", "faq", 0.87)):
        parse = {"text": text, "intent": {"name": intent, "confidence": conf}, "entities": []}
        tracker.update(UserUttered(text, parse["intent"], [], parse))
        tracker.update(ActionExecuted("action_listen"))
    await store.save(tracker)
    latest = _latest_parse_data_sql(store, "c1")
    assert latest["intent"] == {"name": "faq", "confidence": 0.87}
    assert _latest_parse_data_sql(object(), "c1") is None  # not SQL: the caller reads the tracker


def _sample_events() -> list:
    """One event of every kind Rasa can serialise, as an action server would send them."""
    from rasa.shared.core import events as ev

    samples = [
        ev.UserUttered("你好", {"name": "greet", "confidence": 0.9}, [], {"text": "你好"}),
        ev.BotUttered("您好", {"buttons": []}), ev.SlotSet("account_no", "3201000001"),
        ev.Restarted(), ev.AllSlotsReset(), ev.ReminderScheduled("greet", __import__("datetime").datetime(2026, 1, 1)),
        ev.ReminderCancelled(), ev.ActionReverted(), ev.UserUtteranceReverted(), ev.StoryExported(),
        ev.FollowupAction("action_listen"), ev.ConversationPaused(), ev.ConversationResumed(),
        ev.ActionExecuted("action_listen"), ev.AgentUttered("hi"), ev.ActiveLoop("bill_form"),
        ev.LoopInterrupted(True), ev.ActionExecutionRejected("bill_form"), ev.SessionStarted(),
        ev.EntitiesAdded([{"entity": "account_no", "value": "1", "start": 0, "end": 1}]),
    ]
    return [event.as_dict() for event in samples]


def test_event_dispatch_agrees_with_the_full_schema_on_every_event_type():
    from jsonschema import Draft202012Validator

    action = _action()
    schema = action.action_response_format_spec()
    fast = action_result_validation._EventDispatchValidator(schema)
    full = Draft202012Validator(schema)
    events = _sample_events()
    broken = [dict(e, timestamp="yesterday") for e in events] + [dict(e, event="unknown") for e in events] + [
        {"event": "slot", "name": 5}, {"event": "user", "parse_data": "x"}, {"event": "action", "name": 3},
        {"event": "bot", "text": ["a"]}, {"event": None}, "slot", {}]
    for event in events + broken:
        result = {"events": [event], "responses": [{"text": "好的"}]}
        assert fast.is_valid(result) == full.is_valid(result), event
    assert sum(fast.is_valid({"events": [e]}) for e in events) == len(events)
    assert not fast.is_valid({"events": events, "responses": "x"})


def test_rejected_response_gets_rasas_message_after_the_fast_check():
    assert action_result_validation.install()
    with pytest.raises(ValidationError) as err:
        _action()._validate_action_result({"events": [{"event": "slot", "name": 5}]})
    assert "Failed to validate Action server response" in err.value.message
    assert "5 is not of type 'string'" in str(err.value) or "is not valid under any of the given schemas" in str(err.value)


def test_event_type_lookup_gives_rasas_answers():
    from rasa.shared.core.events import Event
    from rasa.shared.utils.common import all_subclasses

    assert event_lookup.install()
    assert Event.resolve_by_type.__module__ == "rasa_server.patches.event_lookup"
    for cls in all_subclasses(Event):
        expected = next(c for c in all_subclasses(Event) if c.type_name == cls.type_name)
        assert Event.resolve_by_type(cls.type_name) is expected
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no_such_event", default=Event) is Event
    with pytest.raises(ValueError):
        Event.resolve_by_type("no_such_event")
    restored = Event.from_parameters({"event": "slot", "name": "account_no", "value": "3201000001"})
    assert restored.key == "account_no" and restored.value == "3201000001"


@pytest.mark.asyncio
async def test_intent_headers_name_the_newest_message_with_an_in_memory_store():
    """`make run` keeps trackers in memory; Rasa rebuilds them by replaying the *applied*
    events, which leaves ``latest_message`` at the message that started a form. The headers
    must name the message just handled."""
    from types import SimpleNamespace

    from rasa.core.tracker_store import InMemoryTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import (ActionExecuted, ActiveLoop, BotUttered,
                                         DefinePrevUserUtteredFeaturization, SessionStarted, SlotSet,
                                         UserUttered)
    from rasa.shared.core.trackers import DialogueStateTracker

    from rasa_server.channel import _intent_headers

    domain = Domain.load("domain.yml")

    def user(text, intent, confidence):
        data = {"name": intent, "confidence": confidence}
        return UserUttered(text, data, [], {"text": text, "intent": data, "entities": []})

    events = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
              user("我想查电费", "query_bill", 0.99), DefinePrevUserUtteredFeaturization(False),
              ActionExecuted("bill_form"), ActiveLoop("bill_form"), SlotSet("requested_slot", "account_no"),
              BotUttered("请告诉我您的10位户号"), ActionExecuted("action_listen"),
              user("三二零一零零零零零一", "inform", 0.98), SlotSet("account_no", "3201000001"),
              DefinePrevUserUtteredFeaturization(False), ActionExecuted("bill_form"),
              SlotSet("requested_slot", "phone_last4"), ActionExecuted("action_listen")]
    store = InMemoryTrackerStore(domain)
    await store.save(DialogueStateTracker.from_events("c-mem", events, domain.slots))
    request = SimpleNamespace(app=SimpleNamespace(ctx=SimpleNamespace(agent=SimpleNamespace(tracker_store=store))))
    headers = await _intent_headers(request, "c-mem")
    assert headers == {"X-Rasa-Intent": "inform", "X-Rasa-Confidence": "0.9800"}


def test_heap_frozen_once_after_the_first_message(monkeypatch):
    import gc

    monkeypatch.setattr(heap_freeze, "_heap_frozen", False)
    monkeypatch.setattr(heap_freeze, "_armed", False)
    assert heap_freeze.after_message() is False  # not installed: nothing happens
    assert heap_freeze.install()
    kept = [object() for _ in range(1000)]  # long-lived objects of "start-up"
    before = gc.get_freeze_count()
    assert heap_freeze.after_message() is True
    assert gc.get_freeze_count() >= before + len(kept)
    assert heap_freeze.after_message() is False  # only the first message freezes
    gc.unfreeze()


@pytest.mark.parametrize("left_dtype,right_dtype", [("float32", "float32"), ("float32", "float64"), ("int64", "float32")])
def test_coo_features_stacked_as_scipy_does(left_dtype, right_dtype):
    import numpy as np
    import scipy.sparse as sp
    from rasa.shared.nlu.training_data.features import Features

    assert sparse_feature_stacking.install()
    rng = np.random.default_rng(7)
    left = sp.random(6, 40, density=0.2, format="coo", random_state=1, dtype=np.float64)
    right = sp.random(6, 25, density=0.2, format="coo", random_state=2, dtype=np.float64)
    left = sp.coo_matrix((rng.integers(1, 9, left.nnz).astype(left_dtype), (left.row, left.col)), shape=left.shape)
    right = sp.coo_matrix((rng.random(right.nnz).astype(right_dtype), (right.row, right.col)), shape=right.shape)
    expected = sp.hstack([left, right])

    features = Features(left, "sequence", "text", "CountVectorsFeaturizer")
    fingerprint = features.fingerprint()
    features.combine_with_features(Features(right, "sequence", "text", "CountVectorsFeaturizer"))

    combined = features.features
    assert type(combined) is sp.coo_matrix and combined.shape == (6, 65) and combined.dtype == expected.dtype
    assert (combined.toarray() == expected.toarray()).all()
    assert features.fingerprint() != fingerprint  # the cached fingerprint was dropped


def test_other_sparse_formats_and_mismatches_go_to_rasa():
    import numpy as np
    import scipy.sparse as sp
    from rasa.shared.nlu.training_data.features import Features

    assert sparse_feature_stacking.install()
    left = sp.random(3, 10, density=0.5, format="csc", random_state=3)
    right = sp.random(3, 4, density=0.5, format="csc", random_state=4)
    features = Features(left, "sentence", "text", "x")
    features.combine_with_features(Features(right, "sentence", "text", "x"))
    assert features.features.format == sp.hstack([left, right]).format
    assert np.array_equal(features.features.toarray(), sp.hstack([left, right]).toarray())

    mismatched = Features(sp.coo_matrix(np.ones((2, 3))), "sequence", "text", "x")
    with pytest.raises(ValueError, match="sequence dimensions do not match"):
        mismatched.combine_with_features(Features(sp.coo_matrix(np.ones((3, 3))), "sequence", "text", "x"))


def test_replacements_happen_once_and_never_on_unknown_internals(caplog):
    class Component:
        def work(self):
            return "rasa"

    wrap = lambda original: lambda self: "fast " + original(self)  # noqa: E731
    assert _common.replace(Component, "work", wrap, "work as before")
    assert _common.replace(Component, "work", wrap, "work as before")  # not wrapped twice
    assert Component().work() == "fast rasa"

    assert not _common.replace(Component, "gone", wrap, "gone as before")
    assert not _common.replace(Component, "__init__", wrap, "init as before", needs=("missing",))
    assert not hasattr(Component, "gone") and "init as before" in caplog.text
