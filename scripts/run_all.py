"""``make run``: the gateway, the action server and the Rasa server, in the foreground.

Each process runs in its own process group with its output prefixed by its name. The
supervisor waits until Rasa has loaded the model, warms the model up with one message
through the ``gateway`` channel, then prints the URLs. A process that exits is reported
loudly and everything stops; Ctrl-C or SIGTERM stops every process group.

Processes are run by ``bot.supervisor``. The same ``Stack`` starts the processes for the
end-to-end tests (tests/support/stack.py).
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import yaml

from bot.supervisor import (
    Output,
    ProbeTimeout,
    Process,
    ProcessExited,
    Supervisor,
    http_status,
    port_listening,
    wait_until,
)

ROOT = Path(__file__).resolve().parent.parent
COLOURS = {"gateway": "\033[1;32m", "actions": "\033[1;35m", "rasa": "\033[1;36m", "run": "\033[1;34m"}
RESET = "\033[0m"
WARM_UP_TEXT = "你好"


class StackError(RuntimeError):
    """A process could not start, crashed or did not become ready."""


@dataclass
class Ports:
    gateway: int
    rasa: int
    actions: int

    @classmethod
    def from_env(cls) -> "Ports":
        return cls(gateway=int(os.environ.get("GATEWAY_PORT") or 8080),
                   rasa=int(os.environ.get("RASA_PORT") or 5005),
                   actions=int(os.environ.get("ACTION_PORT") or 5055))


def latest_model(models_dir: Path = ROOT / "models") -> Optional[Path]:
    """The model trained for the current data if there is one, else the newest model."""
    try:
        from scripts.train_if_needed import matching_model

        model = matching_model(models_dir)
        if model is not None:
            return model
    except Exception:  # the fingerprint is a convenience; any model will do
        pass
    models = sorted(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None


def write_endpoints(target: Path, action_port: int, source: Path = ROOT / "endpoints.yml") -> Path:
    """endpoints.yml with the action server's URL for the chosen port."""
    config: dict = {}
    if source.exists():
        config = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    config["action_endpoint"] = {**(config.get("action_endpoint") or {}),
                                 "url": f"http://127.0.0.1:{action_port}/webhook"}
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target


def http_post_json(url: str, body: dict, timeout: float, headers: Optional[dict] = None) -> tuple[int, object]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None


def answers_200(url: str) -> Callable[[], bool]:
    return lambda: http_status(url) == 200


@dataclass
class Stack:
    """The three processes, run by a ``bot.supervisor.Supervisor``. ``log_dir`` set: output
    goes to files; else prefixed to stdout."""

    ports: Ports
    model: Path
    env: dict[str, str]
    log_dir: Optional[Path] = None
    python: str = sys.executable
    say: Callable[[str], None] = print
    supervisor: Supervisor = field(default_factory=lambda: Supervisor(stop_timeout=20.0))
    _stopping: bool = False

    def __post_init__(self) -> None:
        # Only the gateway may reach Rasa and only Rasa the actions: each run without tokens in
        # the environment gets its own random ones (no manual step for `make run`).
        for name in ("RASA_TOKEN", "ACTION_TOKEN"):
            if not self.env.get(name):
                self.env[name] = os.environ.get(name) or secrets.token_hex(16)

    @property
    def processes(self) -> list[Process]:
        return self.supervisor.processes

    def process(self, name: str) -> Process:
        return self.supervisor.get(name)

    @property
    def rasa_token(self) -> str:
        return self.env["RASA_TOKEN"]

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.rasa}"

    @property
    def actions_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.actions}"

    def process_env(self) -> dict[str, str]:
        env = {**os.environ, **self.env}
        env.update({
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")])),
            "PYTHONUNBUFFERED": "1",
            # Libraries under Rasa print pages of DeprecationWarnings at start; keep the progress readable.
            "PYTHONWARNINGS": env.get("PYTHONWARNINGS") or "ignore::DeprecationWarning",
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(self.ports.gateway),
            "RASA_PORT": str(self.ports.rasa),
            "ACTION_PORT": str(self.ports.actions),
            "RASA_URL": self.rasa_url,
            "GATEWAY_URL": self.gateway_url,
            "SANIC_HOST": "127.0.0.1",  # the action server's bind address
            "RASA_TELEMETRY_ENABLED": "false",
        })
        return env

    def commands(self, endpoints: Path) -> list[tuple[str, list[str]]]:
        py = self.python
        return [
            # rasa_sdk's server behind a check of Rasa's token (ACTION_TOKEN).
            ("actions", [py, "-m", "actions.server", "--actions", "actions", "-p", str(self.ports.actions)]),
            # The HTTP API (tracker, status...) only with the token: --auth-token.
            # python -m rasa_server run: installs the Rasa-side changes, then `rasa run`.
            ("rasa", [py, "-m", "rasa_server", "run", "--enable-api", "--auth-token", self.rasa_token,
                      "-i", "127.0.0.1",
                      "-p", str(self.ports.rasa), "--credentials", str(ROOT / "credentials.yml"),
                      "--endpoints", str(endpoints), "-m", str(self.model)]),
            ("gateway", [py, "-m", "bot.server"]),
        ]

    # ---- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        busy = [f"{name} port {port}" for name, port in vars(self.ports).items() if port_listening(port)]
        if busy:
            raise StackError("already in use: " + ", ".join(busy) +
                             " (stop the other process or set GATEWAY_PORT / RASA_PORT / ACTION_PORT)")
        run_dir = self.log_dir or (ROOT / "var" / "run")
        endpoints = write_endpoints(run_dir / f"endpoints-{self.ports.actions}.yml", self.ports.actions)
        env = self.process_env()
        for name, argv in self.commands(endpoints):
            self.spawn(name, argv, env)

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Process:
        """Starts one process in its own process group: output to ``log_dir/NAME.log``, or
        to stdout with the process's name before each line."""
        log: Output = self.log_dir / f"{name}.log" if self.log_dir is not None else self._printer(name)
        return self.supervisor.start(name, argv, env=env, cwd=ROOT, log=log)

    @staticmethod
    def _printer(name: str) -> Callable[[str], None]:
        colour = COLOURS.get(name, "") if sys.stdout.isatty() else ""
        reset = RESET if colour else ""
        prefix = f"{colour}{name:>8} |{reset} "

        def write(line: str) -> None:
            sys.stdout.write(prefix + line + "\n")
            sys.stdout.flush()
        return write

    def crashed(self) -> Optional[Process]:
        return self.supervisor.exited()

    def wait_ready(self, timeout: float = 600.0) -> None:
        """Waits for every process, then warms the model up with one message."""
        deadline = time.monotonic() + timeout
        checks = [("actions", self.actions_url + "/health"),
                  ("gateway", self.gateway_url + "/widget.js"),
                  ("rasa", self.rasa_url + "/status?token=" + self.rasa_token)]
        for name, url in checks:
            self.say(f"waiting for {name} ({url.split('?', 1)[0]})")  # never print the token
            try:
                wait_until(answers_200(url), max(0.0, deadline - time.monotonic()),
                           f"answering {url.split('?', 1)[0]}", watch=self.processes, interval=0.5)
            except ProcessExited as exc:
                raise self._crash_error(exc) from exc
            except ProbeTimeout as exc:
                raise StackError(f"{name} was not ready after {timeout:.0f} s") from exc
        self.say("model loaded; warming it up with one message")
        started = time.monotonic()
        status, answer = http_post_json(
            self.rasa_url + "/webhooks/gateway/webhook",
            {"sender": f"warmup-{uuid.uuid4().hex}", "message": WARM_UP_TEXT, "metadata": {"channel": "warmup"}},
            timeout=max(30.0, deadline - time.monotonic()), headers={"Authorization": f"Bearer {self.rasa_token}"})
        if status != 200 or not isinstance(answer, list):
            raise StackError(f"the warm-up message failed: HTTP {status}")
        self.say(f"warm-up answered in {time.monotonic() - started:.1f} s")

    def _raise_if_crashed(self) -> None:
        try:
            self.supervisor.raise_if_exited()
        except ProcessExited as exc:
            raise self._crash_error(exc) from exc

    def _crash_error(self, exc: ProcessExited) -> StackError:
        # With output on the console its last lines are already on screen: no tail repeated.
        tail = exc.tail if self.log_dir is not None else ""
        return StackError(f"{exc.name} exited with code {exc.returncode}" + (f"; last output:\n{tail}" if tail else ""))

    def stop(self, timeout: float = 20.0) -> None:
        """Stops every process group, newest first: SIGTERM, SIGKILL after ``timeout``."""
        if self._stopping:
            return
        self._stopping = True
        self.supervisor.stop_all(timeout)


def _say(text: str) -> None:
    colour, reset = (COLOURS["run"], RESET) if sys.stdout.isatty() else ("", "")
    print(f"{colour}{'run':>8} |{reset} {text}", flush=True)


def main() -> int:
    model = latest_model()
    if model is None:
        _say("no model in models/: run `make run` (it trains first) or `.venv/bin/python -m scripts.train_if_needed`")
        return 1
    stack = Stack(ports=Ports.from_env(), model=model, env={}, say=_say)

    def on_signal(signum, _frame) -> None:
        # Once only: a second Ctrl-C must not interrupt the orderly stop below.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)  # also when started with SIGINT ignored (background job)
    try:
        _say(f"starting the action server, the Rasa server ({model.name}) and the gateway")
        stack.start()
        stack.wait_ready()
        base = stack.gateway_url
        _say("ready:")
        _say(f"  web widget demo   {base}/")
        _say(f"  widget script     {base}/widget.js")
        _say(f"  staff console     {base}/console/")
        _say(f"  REST API          {base}/api/v1/  (OpenAPI: {base}/api/openapi.json)")
        _say(f"  Rasa server       {stack.rasa_url}   action server {stack.actions_url}")
        _say("  (internal: Rasa's API wants ?token=$RASA_TOKEN, the action server Rasa's ACTION_TOKEN; "
             "set them in the environment to choose them, else each run makes its own)")
        _say("press Ctrl-C to stop everything")
        while True:
            stack._raise_if_crashed()
            time.sleep(0.5)
    except KeyboardInterrupt:
        _say("stopping every process")
        return 0
    except StackError as exc:
        _say("\033[1;31m!!! " + str(exc) + RESET if sys.stdout.isatty() else "!!! " + str(exc))
        _say("stopping every process because one failed")
        return 1
    finally:
        stack.stop()
        _say("stopped")


if __name__ == "__main__":
    sys.exit(main())
