"""Replaces ``rasa.core.actions.action.RemoteAction._validate_action_result``.

Why: Rasa validates every action server response with ``jsonschema.validate(result, schema)``,
which first checks the *schema itself* against the JSON Schema 2020-12 meta-schema on every
call; the schema never changes, and that check cost about 20 ms of CPU per action call
(profiled: about half of a whole turn's CPU in form turns, which make 2-4 action calls).
Then each event is tried against all 23 ``oneOf`` branches of the schema (about 1.5 ms per
response).

What instead: the schema is checked once and one validator kept (keyed by the schema's
content, as Rasa rebuilds an equal dict per call); a valid response is recognised by the
common part plus the one branch its ``event`` constant selects (``_EventDispatchValidator``);
anything not valid there is re-checked by the full validator, which raises the same
``ValidationError`` with Rasa's message. Every response is still validated.
"""
from __future__ import annotations

from typing import Any, Dict, Text

from rasa_server.patches import _common
from rasa_server.patches._common import log

REPLACES = ("rasa.core.actions.action.RemoteAction._validate_action_result",)


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
    """Replaces ``RemoteAction._validate_action_result``; idempotent. False when refused
    (another Rasa version) or Rasa's internals are not what this was measured against."""
    if _common.version_refusal(__name__):
        return False
    unchanged = "action result validation not patched"
    try:
        from jsonschema import ValidationError
        from jsonschema.exceptions import best_match
        from rasa.core.actions.action import RemoteAction
        from rasa.shared.constants import DOCS_BASE_URL
    except ImportError:  # a different Rasa/jsonschema: keep Rasa's own code
        return _common.internals_changed(unchanged)

    validators: Dict[int, Any] = {}
    fast_validators: Dict[int, _EventDispatchValidator] = {}

    def _validate_action_result(self: Any, result: Dict[Text, Any]) -> bool:
        if not _common.on(__name__):
            return rasas(self, result)
        schema = self.action_response_format_spec()
        # The spec is rebuilt as an equal dict on every call: key the cache by its content.
        key = hash(repr(schema))
        validator = validators.get(key)
        if validator is None:
            validator = validators[key] = _cached_validator(schema)
            try:
                fast_validators[key] = _EventDispatchValidator(schema)
            except (KeyError, TypeError, ValueError):  # another shape: full validation only
                log.warning("rasa_server.patches: action response schema changed, validating in full")
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

    rasas = RemoteAction._validate_action_result
    return _common.replace(RemoteAction, "_validate_action_result", lambda _rasa_s: _validate_action_result,
                           unchanged, needs=("action_response_format_spec",))
