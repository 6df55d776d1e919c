"""bot.supervisor: early deaths with their log tail, stops by process group, probe timeouts."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from bot.supervisor import (
    ProbeTimeout,
    ProcessExited,
    Supervisor,
    free_port,
    port_is_free,
    port_listening,
    start_process,
    stop_process_group,
    wait_until,
)


def gone(pid: int, within: float = 5.0) -> bool:
    """True once ``pid`` no longer runs (a zombie waiting for its reaper counts as gone)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def read_pid(path: Path, within: float = 5.0) -> int:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.05)
    raise AssertionError(f"{path} was not written")


def test_a_process_that_dies_early_is_reported_with_its_log_tail(tmp_path):
    log = tmp_path / "boom.log"
    with Supervisor() as sup:
        proc = sup.start("boom", ["sh", "-c", "echo first line; echo the reason it failed; exit 3"], log=log,
                         port=free_port())
        with pytest.raises(ProcessExited) as caught:
            proc.wait_for_port(timeout=30)
    assert caught.value.returncode == 3
    assert caught.value.name == "boom"
    assert "the reason it failed" in caught.value.tail
    assert "boom exited with code 3" in str(caught.value) and "the reason it failed" in str(caught.value)


def test_the_tail_of_a_piped_process_is_kept_and_each_line_given_to_the_callable():
    lines: list[str] = []
    with Supervisor() as sup:
        proc = sup.start("talker", ["sh", "-c", "echo hello; echo 你好; exit 1"], log=lines.append)
        with pytest.raises(ProcessExited) as caught:
            proc.wait_until(lambda: False, timeout=30)
    wait_until(lambda: len(lines) == 2, timeout=5)
    assert lines == ["hello", "你好"]
    assert "你好" in caught.value.tail


def test_a_probe_timeout_names_the_process_and_what_it_waited_for(tmp_path):
    port = free_port()
    with Supervisor() as sup:
        proc = sup.start("sleeper", ["sleep", "60"], log=tmp_path / "sleeper.log", port=port)
        started = time.monotonic()
        with pytest.raises(ProbeTimeout) as caught:
            proc.wait_for_port(timeout=0.5)
        assert time.monotonic() - started < 5
        assert f"listening on 127.0.0.1:{port}" in str(caught.value)
        with pytest.raises(TimeoutError):  # a ProbeTimeout is a TimeoutError
            proc.wait_for_http(f"http://127.0.0.1:{port}/health?token=secret", timeout=0.3)
        assert proc.alive()
    assert not proc.alive()


def test_a_stop_kills_the_whole_group_including_children_that_ignore_sigterm(tmp_path):
    pidfile = tmp_path / "child.pid"
    # The shell and its child ignore SIGTERM: only the SIGKILL after the timeout ends them.
    proc = start_process("stubborn", ["sh", "-c", f"trap '' TERM; sleep 300 & echo $! > {pidfile}; wait"],
                         log=tmp_path / "stubborn.log")
    child = read_pid(pidfile)
    started = time.monotonic()
    proc.stop(timeout=1.0)
    assert 0.9 < time.monotonic() - started < 10
    assert proc.returncode is not None
    assert gone(child)


def test_a_stop_reaches_children_whose_leader_already_exited(tmp_path):
    pidfile = tmp_path / "child.pid"
    proc = start_process("orphaner", ["sh", "-c", f"sleep 300 & echo $! > {pidfile}"])
    child = read_pid(pidfile)
    wait_until(lambda: not proc.alive(), timeout=10)
    assert not gone(child, within=0.2)
    stop_process_group(proc.popen, timeout=5)
    assert gone(child)
    stop_process_group(proc.popen)  # a stopped group: nothing to do, no error


def test_leaving_the_block_stops_everything_newest_first(tmp_path):
    order = tmp_path / "order"
    script = "trap 'echo {name} >> {order}; exit 0' TERM; while :; do sleep 0.1; done"
    with Supervisor() as sup:
        procs = [sup.start(name, ["sh", "-c", script.format(name=name, order=order)]) for name in ("db", "app", "web")]
        time.sleep(0.3)  # the traps are set
    assert all(not p.alive() for p in procs)
    assert order.read_text().split() == ["web", "app", "db"]
    assert sup.processes == []


def test_an_http_probe_and_a_port_probe_that_succeed(tmp_path):
    port = free_port()
    (tmp_path / "health").write_text("ok")
    with Supervisor() as sup:
        server = sup.start("http", [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                           cwd=tmp_path, log=tmp_path / "http.log", port=port)
        server.wait_for_port(timeout=30)
        server.wait_for_http(f"http://127.0.0.1:{port}/health", timeout=30)
        assert not port_is_free(port)
        assert sup.exited() is None
    assert not server.alive()
    assert not port_listening(port)


def test_a_missing_server_skips_off_ci_and_fails_in_ci(monkeypatch):
    from bot import local_servers
    from tests.support import services

    monkeypatch.setattr(local_servers, "pg_bin", lambda name: None)
    monkeypatch.setattr(local_servers.shutil, "which", lambda name: None)
    for server in (services.PostgresServer(), services.RedisServer()):
        monkeypatch.setenv("CI", "false")
        with pytest.raises(pytest.skip.Exception):
            server.start()
        monkeypatch.setenv("CI", "true")
        with pytest.raises(pytest.fail.Exception, match="required in CI"):
            server.start()
        server.stop()
    with pytest.raises(local_servers.ServerUnavailable, match="Redis"):  # the product's own error
        local_servers.RedisServer().start()
