"""Custom actions that failed during one turn, told to the gateway (runs inside the Rasa server).

When the action server is down (or answers an error, or hangs), Rasa 3.6 logs the exception
in ``MessageProcessor._run_action``, drops the action's events and carries on: the turn ends
with whatever was said before, often nothing, and the REST answer is ``[]``. The customer
heard nothing at all and the gateway could not tell a failure from a deliberate silence.

``install()`` (called by the Rasa server's start, ``python -m rasa_server run``) wraps ``RemoteAction.run`` (every custom action and form validation goes
through it): a failure (anything but Rasa's own ``ActionExecutionRejection``, the normal
"this form does not apply" signal) is recorded in the current turn's ``recording()`` before
Rasa handles it as before, and a call is bounded by ``ACTION_TIMEOUT`` seconds (Rasa's own
limit is 5 minutes, during which it holds the conversation's lock); after a failure, the
turn's further custom actions fail at once instead of waiting again. The ``gateway`` channel
opens a recording around each message and answers the names in the header
``X-Rasa-Action-Failed``; the gateway then adds an apology with the offer of a person.
"""
from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
from typing import Any, Iterator, List, Optional

log = logging.getLogger(__name__)

FAILED_HEADER = "X-Rasa-Action-Failed"
# Seconds one custom-action call may take before it counts as failed (below the gateway's
# RASA_TIMEOUT, so the customer gets the precise apology rather than the timeout's).
ACTION_TIMEOUT = float(os.environ.get("ACTION_TIMEOUT") or 10)

_failures: contextvars.ContextVar[Optional[List[str]]] = contextvars.ContextVar("gateway_action_failures",
                                                                                default=None)
_MARK = "_gateway_failures_recorded"


@contextlib.contextmanager
def recording() -> Iterator[List[str]]:
    """The names of the custom actions that fail inside this block (this task only)."""
    failed: List[str] = []
    token = _failures.set(failed)
    try:
        yield failed
    finally:
        _failures.reset(token)


def _record(name: str) -> None:
    failed = _failures.get()
    if failed is not None and name not in failed:
        failed.append(name)


def installed() -> bool:
    """Whether ``RemoteAction.run`` is wrapped in this process."""
    from rasa.core.actions.action import RemoteAction

    return bool(getattr(RemoteAction.run, _MARK, False))


def install() -> bool:
    """Wraps ``RemoteAction.run``; idempotent (False when it already was)."""
    from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
    from rasa.shared.exceptions import RasaException

    if getattr(RemoteAction.run, _MARK, False):
        return False
    original = RemoteAction.run

    async def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        failed = _failures.get()
        if failed:  # the action server failed earlier in this turn: do not wait for it again
            _record(self.name())
            raise RasaException(f"custom action '{self.name()}' skipped: '{failed[0]}' failed in this turn")
        try:
            return await asyncio.wait_for(original(self, *args, **kwargs), ACTION_TIMEOUT)
        except ActionExecutionRejection:
            raise
        except asyncio.TimeoutError:
            _record(self.name())
            raise RasaException(f"custom action '{self.name()}' took longer than {ACTION_TIMEOUT:g} s") from None
        except Exception:
            _record(self.name())
            raise

    setattr(run, _MARK, True)
    run.__wrapped__ = original  # type: ignore[attr-defined]
    RemoteAction.run = run
    return True
