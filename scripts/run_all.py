"""``make run``: the gateway, the action server and the Rasa server, in the foreground.

Each process runs in its own process group with its output prefixed by its name. The
supervisor waits until Rasa has loaded the model, warms the model up with one message
through the ``gateway`` channel, then prints the URLs. A process that exits is reported
loudly and everything stops; Ctrl-C or SIGTERM stops every process group.

The same ``Stack`` starts the processes for the end-to-end tests (tests/support/stack.py).
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Optional

import yaml

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
    config = {}
    if source.exists():
        config = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    config["action_endpoint"] = {**(config.get("action_endpoint") or {}),
                                 "url": f"http://127.0.0.1:{action_port}/webhook"}
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def http_post_json(url: str, body: dict, timeout: float, headers: Optional[dict] = None) -> tuple[int, object]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None


@dataclass
class Managed:
    name: str
    argv: list[str]
    proc: Optional[subprocess.Popen] = None
    log_path: Optional[Path] = None
    _log_file: Optional[IO[bytes]] = None

    def tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Stack:
    """The three processes. ``log_dir`` set: output goes to files; else prefixed to stdout."""

    ports: Ports
    model: Path
    env: dict[str, str]
    log_dir: Optional[Path] = None
    python: str = sys.executable
    say: Callable[[str], None] = print
    processes: list[Managed] = field(default_factory=list)
    _stopping: bool = False

    def __post_init__(self) -> None:
        # Only the gateway may reach Rasa and only Rasa the actions: each run without tokens in
        # the environment gets its own random ones (no manual step for `make run`).
        for name in ("RASA_TOKEN", "ACTION_TOKEN"):
            if not self.env.get(name):
                self.env[name] = os.environ.get(name) or secrets.token_hex(16)

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

    def commands(self, endpoints: Path) -> list[Managed]:
        py = self.python
        return [
            # rasa_sdk's server behind a check of Rasa's token (ACTION_TOKEN).
            Managed("actions", [py, "-m", "actions.server", "--actions", "actions",
                                "-p", str(self.ports.actions)]),
            # The HTTP API (tracker, status...) only with the token: --auth-token.
            # python -m rasa_server run: installs the Rasa-side changes, then `rasa run`.
            Managed("rasa", [py, "-m", "rasa_server", "run", "--enable-api", "--auth-token", self.rasa_token,
                             "-i", "127.0.0.1",
                             "-p", str(self.ports.rasa), "--credentials", str(ROOT / "credentials.yml"),
                             "--endpoints", str(endpoints), "-m", str(self.model)]),
            Managed("gateway", [py, "-m", "bot.server"]),
        ]

    # ---- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        busy = [f"{name} port {port}" for name, port in vars(self.ports).items() if port_in_use(port)]
        if busy:
            raise StackError("already in use: " + ", ".join(busy) +
                             " (stop the other process or set GATEWAY_PORT / RASA_PORT / ACTION_PORT)")
        run_dir = self.log_dir or (ROOT / "var" / "run")
        endpoints = write_endpoints(run_dir / f"endpoints-{self.ports.actions}.yml", self.ports.actions)
        env = self.process_env()
        for managed in self.commands(endpoints):
            self._spawn(managed, env)

    def _spawn(self, managed: Managed, env: dict[str, str]) -> None:
        if self.log_dir is not None:
            managed.log_path = self.log_dir / f"{managed.name}.log"
            managed._log_file = open(managed.log_path, "ab")
            out = managed._log_file
        else:
            out = subprocess.PIPE
        managed.proc = subprocess.Popen(managed.argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        self.processes.append(managed)
        if out is subprocess.PIPE:
            threading.Thread(target=self._pump, args=(managed,), daemon=True).start()

    def _pump(self, managed: Managed) -> None:
        colour = COLOURS.get(managed.name, "") if sys.stdout.isatty() else ""
        reset = RESET if colour else ""
        prefix = f"{colour}{managed.name:>8} |{reset} "
        assert managed.proc is not None and managed.proc.stdout is not None
        for raw in iter(managed.proc.stdout.readline, b""):
            sys.stdout.write(prefix + raw.decode("utf-8", errors="replace").rstrip("\n") + "\n")
            sys.stdout.flush()

    def crashed(self) -> Optional[Managed]:
        for managed in self.processes:
            if managed.proc is not None and managed.proc.poll() is not None:
                return managed
        return None

    def wait_ready(self, timeout: float = 600.0) -> None:
        """Waits for every process, then warms the model up with one message."""
        deadline = time.monotonic() + timeout
        checks = [("actions", self.actions_url + "/health"),
                  ("gateway", self.gateway_url + "/widget.js"),
                  ("rasa", self.rasa_url + "/status?token=" + self.rasa_token)]
        for name, url in checks:
            self.say(f"waiting for {name} ({url.split('?', 1)[0]})")  # never print the token
            while True:
                self._raise_if_crashed()
                if time.monotonic() > deadline:
                    raise StackError(f"{name} was not ready after {timeout:.0f} s")
                try:
                    status, _ = http_get(url)
                    if status == 200:
                        break
                except (OSError, ValueError):
                    pass
                time.sleep(0.5)
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
        managed = self.crashed()
        if managed is not None:
            tail = managed.tail()
            raise StackError(f"{managed.name} exited with code {managed.proc.returncode}"
                             + (f"; last output:\n{tail}" if tail else ""))

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM to each process group, SIGKILL to any still alive after ``timeout``."""
        if self._stopping:
            return
        self._stopping = True
        for managed in reversed(self.processes):
            if managed.proc is not None and managed.proc.poll() is None:
                try:
                    os.killpg(managed.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        for managed in self.processes:
            if managed.proc is None:
                continue
            try:
                managed.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(managed.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                managed.proc.wait(timeout=5)
            if managed._log_file is not None:
                managed._log_file.close()


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
