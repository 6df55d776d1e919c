"""The one process supervisor: child processes in their own process groups, readiness
probes that notice a child dying, and stops by process group (never by name).

Used by ``make run`` (scripts/run_all.py), ``make run-prod`` (scripts/run_prod.py), the
benchmarks (scripts/bench*.py) and the tests' servers (tests/support/services.py, stack.py).
Standard library only: it never imports Rasa or the gateway.

    with Supervisor() as sup:
        gateway = sup.start("gateway", [python, "-m", "bot", "serve"], env=env, cwd=ROOT,
                            log=Path("var/run/gateway.log"), port=8080)
        gateway.wait_for_port()              # ProcessExited (with the log tail) if it dies first
        ...
    # leaving the block stops every process started, in reverse order: SIGTERM to its group,
    # then SIGKILL to whatever of the group is still alive after the timeout.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Mapping, Optional, Sequence, Union

LOOPBACK = "127.0.0.1"

# Where a process's output goes: a log file (appended), a callable given each line (a
# reader thread), or nowhere (None).
Output = Union[Path, Callable[[str], None], None]


class ProcessError(RuntimeError):
    """A supervised process failed; ``tail`` holds the last lines of its log, if it has one."""

    def __init__(self, message: str, name: str = "", returncode: Optional[int] = None, tail: str = "") -> None:
        super().__init__(message + (f"; last output:\n{tail}" if tail else ""))
        self.name = name
        self.returncode = returncode
        self.tail = tail


class ProcessExited(ProcessError):
    """The process exited while it was waited for (or while it should have been running)."""


class ProbeTimeout(ProcessError, TimeoutError):
    """The process did not become ready in time."""


# ---- ports and probes -----------------------------------------------------------------------
def free_port(host: str = LOOPBACK) -> int:
    """A port that is free on ``host`` now (the OS's choice)."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True when ``port`` can be bound on ``host``."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        try:
            sock.bind((host, port))
            return True
        except OSError:
            return False


def port_listening(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_status(url: str, timeout: float = 2.0) -> int:
    """Status code of a GET of ``url``; 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except (OSError, ValueError):
        return 0


def wait_until(ready: Callable[[], bool], timeout: float, what: str = "ready",
               watch: Sequence["Process"] = (), interval: float = 0.2) -> None:
    """Calls ``ready()`` until it is true. Raises ``ProcessExited`` as soon as one of the
    ``watch`` processes has exited, ``ProbeTimeout`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    name = ", ".join(p.name for p in watch)
    while True:
        for process in watch:
            process.raise_if_exited(f"before it was {what}")
        if ready():
            return
        if time.monotonic() >= deadline:
            tail = watch[0].tail() if len(watch) == 1 else ""
            raise ProbeTimeout(f"{name or 'the condition'} was not {what} after {timeout:.0f} s",
                               name=name, tail=tail)
        time.sleep(interval)


# ---- stopping -------------------------------------------------------------------------------
def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:  # a member we may not signal is still a member
        return True


def _signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False


def stop_process_group(proc: "subprocess.Popen[bytes]", sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    """Stops a process started with ``start_new_session=True`` and every process of its group:
    ``sig`` to the group, then SIGKILL to the group if any member is alive after ``timeout``.
    The leader is reaped. Stopping a stopped group does nothing."""
    pgid = proc.pid
    if not _signal_group(pgid, sig):
        proc.poll()
        return
    deadline = time.monotonic() + timeout
    try:
        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    # The leader may be gone while children it started (workers, a shell's commands) linger.
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _group_alive(pgid):
        _signal_group(pgid, signal.SIGKILL)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
        pass


# ---- one process ----------------------------------------------------------------------------
@dataclass
class Process:
    """A child process that leads its own process group."""

    name: str
    popen: "subprocess.Popen[bytes]"
    log_path: Optional[Path] = None
    port: Optional[int] = None
    stop_signal: int = signal.SIGTERM
    _lines: list[str] = field(default_factory=list, repr=False)  # recent output when piped to a callable
    _reader: Optional[threading.Thread] = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> Optional[int]:
        return self.popen.poll()

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the process's output ('' when it is not kept)."""
        if self.log_path is not None:
            try:
                text = self.log_path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                return ""
            return "\n".join(text.splitlines()[-lines:])
        return "\n".join(self._lines[-lines:])

    def raise_if_exited(self, when: str = "") -> None:
        code = self.popen.poll()
        if code is not None:
            if self._reader is not None:
                self._reader.join(timeout=2.0)  # the last lines, unless a child keeps the pipe open
            raise ProcessExited(f"{self.name} exited with code {code}" + (f" {when}" if when else ""),
                                name=self.name, returncode=code, tail=self.tail())

    def wait_until(self, ready: Callable[[], bool], timeout: float = 60.0, what: str = "ready") -> None:
        wait_until(ready, timeout, what, watch=[self])

    def wait_for_port(self, port: Optional[int] = None, timeout: float = 60.0, host: str = LOOPBACK) -> None:
        """Until ``port`` (default: the process's own) accepts connections."""
        target = port if port is not None else self.port
        if target is None:
            raise ValueError(f"{self.name}: no port to wait for")
        self.wait_until(lambda: port_listening(target, host), timeout, f"listening on {host}:{target}")

    def wait_for_http(self, url: str, timeout: float = 60.0, status: int = 200) -> None:
        """Until a GET of ``url`` answers ``status``."""
        shown = url.split("?", 1)[0]  # a query may carry a token: never in a message
        self.wait_until(lambda: http_status(url) == status, timeout, f"answering {shown} with {status}")

    def stop(self, timeout: float = 15.0) -> None:
        stop_process_group(self.popen, self.stop_signal, timeout)


def _pump(stream: IO[bytes], sink: Callable[[str], None], keep: list[str]) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", errors="replace").rstrip("\n")
        keep.append(line)
        del keep[:-200]
        sink(line)


def start_process(name: str, argv: Sequence[str], *, env: Optional[Mapping[str, str]] = None,
                  cwd: Union[str, Path, None] = None, log: Output = None, port: Optional[int] = None,
                  stop_signal: int = signal.SIGTERM) -> Process:
    """Starts ``argv`` in a new session (its own process group), stdin closed, stderr with
    stdout into ``log``: a file (appended), a callable given each line, or nowhere."""
    out_file: Optional[IO[bytes]] = None
    stdout: Union[int, IO[bytes]] = subprocess.DEVNULL
    if isinstance(log, Path):
        log.parent.mkdir(parents=True, exist_ok=True)
        out_file = open(log, "ab")
        stdout = out_file
    elif log is not None:
        stdout = subprocess.PIPE
    try:
        popen = subprocess.Popen(list(argv), cwd=cwd, env=dict(env) if env is not None else None,
                                 stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    finally:
        if out_file is not None:
            out_file.close()  # the child holds its own descriptor
    process = Process(name, popen, log if isinstance(log, Path) else None, port, stop_signal)
    if callable(log):
        assert popen.stdout is not None
        process._reader = threading.Thread(target=_pump, args=(popen.stdout, log, process._lines), daemon=True,
                                           name=f"output of {name}")
        process._reader.start()
    return process


# ---- several processes ----------------------------------------------------------------------
class Supervisor:
    """The processes of one run. As a context manager, leaving the block stops every process
    still running, newest first (an entry point before what it depends on)."""

    def __init__(self, stop_timeout: float = 15.0) -> None:
        self.processes: list[Process] = []
        self.stop_timeout = stop_timeout

    def start(self, name: str, argv: Sequence[str], *, env: Optional[Mapping[str, str]] = None,
              cwd: Union[str, Path, None] = None, log: Output = None, port: Optional[int] = None,
              stop_signal: int = signal.SIGTERM) -> Process:
        process = start_process(name, argv, env=env, cwd=cwd, log=log, port=port, stop_signal=stop_signal)
        self.processes.append(process)
        return process

    def get(self, name: str) -> Process:
        return next(p for p in self.processes if p.name == name)

    def exited(self) -> Optional[Process]:
        """The first process that is no longer running, if any."""
        return next((p for p in self.processes if not p.alive()), None)

    def raise_if_exited(self, when: str = "") -> None:
        for process in self.processes:
            process.raise_if_exited(when)

    def stop(self, process: Process, timeout: Optional[float] = None) -> None:
        """Stops one process and forgets it."""
        process.stop(self.stop_timeout if timeout is None else timeout)
        if process in self.processes:
            self.processes.remove(process)

    def stop_all(self, timeout: Optional[float] = None) -> None:
        """Stops every process, newest first, each by its group; then forgets them."""
        errors: list[BaseException] = []
        for process in reversed(list(self.processes)):
            try:
                process.stop(self.stop_timeout if timeout is None else timeout)
            except Exception as exc:  # keep stopping the others
                errors.append(exc)
        self.processes.clear()
        if errors:
            print(f"supervisor: errors while stopping: {errors}", file=sys.stderr)

    def __enter__(self) -> "Supervisor":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()
