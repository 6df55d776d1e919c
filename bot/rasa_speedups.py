"""Removes measured per-turn waste inside the Rasa server (Rasa 3.6); imported by the
``gateway`` channel (``bot/rasa_connector.py``), so it runs in every Rasa server process.

Rasa validates every action server response with ``jsonschema.validate(result, schema)``.
That function first checks the *schema itself* against the JSON Schema 2020-12
meta-schema, every call; the schema never changes, and that check costs about 20 ms of
CPU per action call here (profiled: about half of a whole turn's CPU in form turns,
which make 2-4 action calls). The replacement checks the schema once, keeps one
validator, and still validates every response, raising the same ``ValidationError``
with the same message.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, Text

log = logging.getLogger(__name__)

_installed = False


def _cached_validator(schema: Dict[Text, Any]) -> Any:
    from jsonschema.validators import validator_for

    cls = validator_for(schema)
    cls.check_schema(schema)  # once, as jsonschema.validate would do on every call
    return cls(schema)


def install() -> bool:
    """Patches ``RemoteAction._validate_action_result``; idempotent. False when Rasa's
    internals are not what this was measured against (then nothing is changed)."""
    global _installed
    if _installed:
        return True
    try:
        from jsonschema import ValidationError
        from jsonschema.exceptions import best_match
        from rasa.core.actions.action import RemoteAction
        from rasa.shared.constants import DOCS_BASE_URL
    except ImportError:  # a different Rasa/jsonschema: keep Rasa's own code
        log.warning("rasa_speedups: Rasa internals changed, action result validation not patched")
        return False
    if not hasattr(RemoteAction, "_validate_action_result") or not hasattr(RemoteAction, "action_response_format_spec"):
        log.warning("rasa_speedups: Rasa internals changed, action result validation not patched")
        return False

    validators: Dict[int, Any] = {}

    def _validate_action_result(self: Any, result: Dict[Text, Any]) -> bool:
        schema = self.action_response_format_spec()
        # The spec is rebuilt as an equal dict on every call: key the cache by its content.
        key = hash(repr(schema))
        validator = validators.get(key)
        if validator is None:
            validator = validators[key] = _cached_validator(schema)
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

    RemoteAction._validate_action_result = _validate_action_result
    _installed = True
    return True
