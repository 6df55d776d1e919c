"""Replaces ``rasa.shared.core.events.Event.resolve_by_type``.

Why: it walks every ``Event`` subclass (``all_subclasses(Event)``) for every event it reads,
on each tracker read and each action response: about 5 ms per turn.

What instead: one dict lookup from type name to class, built in Rasa's order (the first
matching subclass wins, as in Rasa) and rebuilt when a name is unknown (a subclass defined
later); unknown names still go to Rasa's function, so the answers and errors are the same.
"""
from __future__ import annotations

from typing import Any, Dict, Text

from rasa_server.patches import _common

REPLACES = ("rasa.shared.core.events.Event.resolve_by_type",)


def install() -> bool:
    """Replaces ``Event.resolve_by_type``; idempotent. False when refused or not applicable."""
    if _common.version_refusal(__name__):
        return False
    unchanged = "event classes looked up as before"
    try:
        from rasa.shared.core.events import Event
        from rasa.shared.utils.common import all_subclasses
    except ImportError:
        return _common.internals_changed(unchanged)

    def event_lookup(original: Any) -> Any:
        by_name: Dict[Text, Any] = {}

        def resolve_by_type(type_name: Text, default: Any = None) -> Any:
            if not _common.on(__name__):
                return original(type_name, default)
            cls = by_name.get(type_name)
            if cls is None:
                by_name.clear()
                for subclass in reversed(all_subclasses(Event)):  # first match wins, as in Rasa
                    by_name[subclass.type_name] = subclass
                cls = by_name.get(type_name)
            return cls if cls is not None else original(type_name, default)

        return staticmethod(resolve_by_type)

    return _common.replace(Event, "resolve_by_type", event_lookup, unchanged)
