"""What every speed-up patch shares: the Rasa version guard, the one-time replacement and
the switch the with/without tests flip.

Each patch replaces a private name of one Rasa (or TensorFlow-facing) class. Private names
change without notice between releases, so a patch installs only on the Rasa version that
``constraints.txt`` pins (the one it was measured and tested against); on any other version
it refuses with an ERROR log line and Rasa keeps its own code (every patch preserves
outcomes, so a refusal costs speed, never behaviour).
"""
from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Optional, Text

log = logging.getLogger("rasa_server.patches")

ROOT = Path(__file__).resolve().parents[2]
# Where the pin is read from, first match wins (the image copies both files).
PIN_FILES = (ROOT / "constraints.txt", ROOT / "requirements.txt")
_PIN = re.compile(r"^\s*rasa(?:\[[^\]]*\])?\s*==\s*([0-9][^\s;#]*)", re.IGNORECASE)

# False while a test compares Rasa's own outcome with the shortcut's (``patches.bypassed()``);
# never switched off in a server.
enabled = True
# Modules of the patches that call Rasa's own code for now (``patches.bypassed(names)``: the
# bench's per-patch with/without figures); empty in a server.
bypassed_patches: set = set()
_replaced: set = set()  # (class, attribute) pairs replaced in this process


class VersionMismatch(RuntimeError):
    """The installed Rasa is not the pinned one."""


@lru_cache(maxsize=None)
def pinned_rasa_version() -> Optional[str]:
    """``rasa==X`` from constraints.txt (else requirements.txt); None when neither pins it."""
    for path in PIN_FILES:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for line in lines:
            match = _PIN.match(line)
            if match:
                return match.group(1)
    return None


def installed_rasa_version() -> Optional[str]:
    try:
        import rasa
    except ImportError:
        return None
    return getattr(rasa, "__version__", None)


def check_rasa_version() -> None:
    """Raises ``VersionMismatch`` unless the running Rasa is the pinned one."""
    pinned, running = pinned_rasa_version(), installed_rasa_version()
    if pinned is None:
        raise VersionMismatch(f"no rasa==<version> pin in {', '.join(p.name for p in PIN_FILES)}")
    if running != pinned:
        raise VersionMismatch(f"Rasa {running} is running, the patches were written for the pinned {pinned}")


def on(patch: Text) -> bool:
    """Whether the patch of module ``patch`` (its ``__name__``) takes its shortcut now."""
    return enabled and patch not in bypassed_patches


def version_refusal(patch: Text) -> Optional[Text]:
    """None when ``patch`` may install; else the reason, logged at ERROR."""
    try:
        check_rasa_version()
    except VersionMismatch as error:
        log.error("patch %s refused: %s; Rasa's own code stays in place", patch, error)
        return str(error)
    return None


def internals_changed(unchanged: Text) -> bool:
    log.warning("rasa_server.patches: Rasa internals changed, %s", unchanged)
    return False


def replace(owner: Any, attribute: Text, make: Callable[[Any], Any], unchanged: Text,
            needs: tuple = ()) -> bool:
    """Sets ``owner.attribute`` to ``make(original)``, once (idempotent). When the attribute
    or any of ``needs`` is missing (a Rasa this was not measured against) nothing changes,
    a warning says what keeps Rasa's own behaviour (``unchanged``) and the answer is False."""
    if (owner, attribute) in _replaced:
        return True
    original = getattr(owner, attribute, None)
    if original is None or not all(hasattr(owner, name) for name in needs):
        return internals_changed(unchanged)
    setattr(owner, attribute, make(original))
    _replaced.add((owner, attribute))
    return True
