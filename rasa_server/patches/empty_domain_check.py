"""Replaces ``rasa.shared.core.domain.Domain.is_empty`` (wraps it).

Why: ``Domain.is_empty`` (called for every message, to decide whether to warn about unknown
intents) builds a whole new empty Domain from a dict each time to compare with.

What instead: the empty domain's data is built once, at install, and compared the same way
(``self.as_dict() == empty``).
"""
from __future__ import annotations

from typing import Any

from rasa_server.patches import _common

REPLACES = ("rasa.shared.core.domain.Domain.is_empty",)


def install() -> bool:
    """Wraps ``Domain.is_empty``; idempotent. False when refused or not applicable."""
    if _common.version_refusal(__name__):
        return False
    unchanged = "empty domain rebuilt per message"
    try:
        from rasa.shared.core.domain import Domain
    except ImportError:
        return _common.internals_changed(unchanged)

    def once(original: Any) -> Any:
        empty = Domain.empty().as_dict()  # this Domain's own data, which nothing else holds

        def is_empty(self: Any) -> bool:
            return self.as_dict() == empty if _common.on(__name__) else original(self)
        return is_empty

    return _common.replace(Domain, "is_empty", once, unchanged, needs=("empty", "as_dict"))
