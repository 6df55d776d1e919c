"""Text that the stores cannot keep: found, cleaned (customers) or refused (APIs).

PostgreSQL refuses a NUL character in a text column; neither SQLite nor PostgreSQL can encode
a lone UTF-16 surrogate (``"\\ud800"``, which JSON and socket.io happily carry) as UTF-8.
Such text used to fail deep in the store: a 500 for the REST API, ``not_stored`` for the
widget (which then resent it on every reconnect).

- ``clean_text``: what a customer typed, made storable without losing what can be read: a
  lone surrogate becomes U+FFFD (the replacement character), NUL and the other C0/C1 control
  characters except tab, line feed and carriage return are dropped. Valid surrogate pairs
  (an emoji sent as two escapes) are joined, not replaced.
- ``unstorable_field``: for the APIs, which refuse instead of guessing: the path of the first
  string (key or value) in a parsed JSON body that holds a NUL or a lone surrogate. The walk
  is iterative, so a deeply nested body cannot exhaust the stack.
"""
from __future__ import annotations

import re
from typing import Any, Optional

_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD and control characters dropped."""
    if _SURROGATE.search(text):
        # UTF-16 round trip: a valid pair becomes its character, a lone half becomes U+FFFD.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return _CONTROL.sub("", text)


def is_storable(text: str) -> bool:
    return _UNSTORABLE.search(text) is None


def unstorable_field(value: Any, root: str = "") -> Optional[str]:
    """The dotted path (``details.notes[2]``) of the first string in ``value`` that holds a NUL
    or a lone surrogate (a key counts as its own path), or None."""
    stack: list[tuple[str, Any]] = [(root, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if not is_storable(item):
                return path or "body"
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and not is_storable(key):
                    return path or "body"
                stack.append((child_path, child))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", child) for i, child in enumerate(item))
    return None
