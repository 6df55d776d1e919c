"""The action-result validation patch keeps Rasa's checks and drops the per-call schema check."""
import pytest
from jsonschema import ValidationError
from jsonschema.validators import validator_for

from bot import rasa_speedups


def _action():
    from rasa.core.actions.action import RemoteAction
    from rasa.utils.endpoints import EndpointConfig

    return RemoteAction("action_demo", EndpointConfig("http://127.0.0.1:9/webhook"))


def test_installed_by_the_gateway_channel():
    import bot.rasa_connector  # noqa: F401  (loaded by Rasa from credentials.yml)
    from rasa.core.actions.action import RemoteAction

    assert RemoteAction._validate_action_result.__module__ == "bot.rasa_speedups"


def test_valid_result_accepted_and_schema_checked_once(monkeypatch):
    assert rasa_speedups.install()
    action = _action()
    cls = validator_for(action.action_response_format_spec())
    calls = []
    original = cls.check_schema.__func__
    monkeypatch.setattr(cls, "check_schema", classmethod(lambda c, s, *a, **k: (calls.append(1), original(c, s, *a, **k))))
    rasa_speedups._installed = False  # fresh cache
    rasa_speedups.install()
    result = {"events": [{"event": "slot", "name": "account_no", "value": "3201000001"}],
              "responses": [{"text": "好的"}]}
    for _ in range(5):
        assert action._validate_action_result(result) is True
    assert len(calls) == 1


@pytest.mark.parametrize("bad", [
    {"events": [{"event": 12}]},             # event name must be a string
    {"events": "slot"},                      # events must be a list
    {"events": [{"name": "x"}]},             # an event without its type
])
def test_invalid_result_rejected_with_rasas_message(bad):
    assert rasa_speedups.install()
    with pytest.raises(ValidationError) as err:
        _action()._validate_action_result(bad)
    assert "Failed to validate Action server response" in err.value.message


@pytest.mark.asyncio
async def test_latest_intent_read_as_one_row_of_the_sql_tracker_store(tmp_path):
    from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.rasa_connector import _latest_parse_data_sql

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
