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
