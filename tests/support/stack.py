"""Session-scoped fixture ``stack``: the whole product as processes on free loopback ports.

Gateway, Rasa server (the trained model in models/) and action server, on a temp SQLite
store with the demo data imported, started by ``scripts.run_all.Stack`` exactly as
``make run`` starts them (``bot.supervisor``), and stopped by process group. Each process's output goes to a
log file in the temp directory; a failure shows its tail.

Usage: ``def test_x(stack): stack.gateway_url, stack.rasa_url, stack.database_url, stack.service_token``
(``stack.rasa_token``: Rasa's API and gateway channel; ``stack.action_token``: the action server).
Outside pytest (scripts/evaluate_conversations.py): ``with running_stack(model) as info: ...``.
STACK_PORT_BASE=N puts the gateway, Rasa and actions on N, N+1, N+2 instead of free ports.
Without a model the tests skip off-CI and fail in CI (``make test`` trains one first).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import pytest

from bot.supervisor import free_port
from tests.support.services import in_ci, unavailable

ROOT = Path(__file__).resolve().parent.parent.parent
SERVICE_TOKEN = "stack-test-service-token"


@dataclass
class StackInfo:
    gateway_url: str
    rasa_url: str
    actions_url: str
    database_url: str
    service_token: str
    log_dir: Path
    model: Path
    rasa_token: str = ""
    action_token: str = ""

    def logs(self, lines: int = 60) -> str:
        """The tail of every process's log, for assertion messages."""
        parts = []
        for log in sorted(self.log_dir.glob("*.log")):
            text = log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.name} ---\n" + "\n".join(text))
        return "\n".join(parts)


class StackStartError(RuntimeError):
    """The store could not be set up or a process did not start; the message has the logs."""


def stack_ports():
    """Free loopback ports, or STACK_PORT_BASE, +1, +2 when set (a session given a port range)."""
    from scripts.run_all import Ports

    base = os.environ.get("STACK_PORT_BASE")
    if base:
        return Ports(gateway=int(base), rasa=int(base) + 1, actions=int(base) + 2)
    return Ports(gateway=free_port(), rasa=free_port(), actions=free_port())


@contextmanager
def running_stack(model: Path, extra_env: Optional[dict] = None, keep_dir: bool = False,
                  ports=None) -> Iterator[StackInfo]:
    """Gateway, Rasa server and action server on a fresh temp SQLite store with the demo data;
    every process group stopped on exit. Raises StackStartError when something does not start."""
    from scripts.run_all import Stack, StackError

    workdir = Path(tempfile.mkdtemp(prefix="stack-"))
    database_url = f"sqlite:///{workdir / 'store.db'}"
    env = {
        "DATABASE_URL": database_url,
        "SERVICE_TOKEN": SERVICE_TOKEN,
        "SESSION_SECRET": "stack-test-session-secret",
        "RASA_TIMEOUT": "60",
        "TZ": "Asia/Shanghai",
        # Hand-off queue: staff on duty at any hour, a short accept time, a fast watcher.
        "STAFF_HOURS": "00:00-24:00",
        "HANDOFF_ACCEPT_SECONDS": "20",
        "HANDOFF_CHECK_SECONDS": "1",
        # Every test conversation comes from loopback: one web client as far as the per-address
        # cap on account-number lookups goes (tests/gateway/test_pii_doors.py tests that cap).
        "ACCOUNT_LOOKUPS_PER_CLIENT": "100000",
        # No proactive notices in the middle of a scripted conversation (a bound demo account
        # has a bill to announce); a test of the notices passes NOTICES_ENABLED=true.
        "NOTICES_ENABLED": "false",
        **(extra_env or {}),
    }
    init = subprocess.run([sys.executable, "-m", "bot", "init-store", "--demo-if-empty"], cwd=ROOT,
                          env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=300)
    if init.returncode != 0:
        raise StackStartError(f"init-store failed:\n{init.stdout}\n{init.stderr}")
    processes = Stack(ports=ports or stack_ports(), model=model, env=env, log_dir=workdir, say=lambda text: None)
    info = StackInfo(gateway_url=processes.gateway_url, rasa_url=processes.rasa_url,
                     actions_url=processes.actions_url, database_url=database_url,
                     service_token=SERVICE_TOKEN, log_dir=workdir, model=model,
                     # Stack makes a random pair for the run, as `make run` does.
                     rasa_token=processes.env["RASA_TOKEN"], action_token=processes.env["ACTION_TOKEN"])
    try:
        try:
            processes.start()
            processes.wait_ready(timeout=600)
        except StackError as exc:
            raise StackStartError(f"the stack did not start: {exc}\n{info.logs()}") from exc
        yield info
    finally:
        processes.stop()
        if not (keep_dir or in_ci()):
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def stack():
    from scripts.run_all import latest_model

    model = latest_model(ROOT / "models")
    if model is None:
        unavailable("a trained Rasa model in models/ (run scripts/setup.sh)")
    try:
        with running_stack(model) as info:
            yield info
    except StackStartError as exc:
        pytest.fail(str(exc))
