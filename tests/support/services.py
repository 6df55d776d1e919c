"""Real PostgreSQL and Redis servers for the tests, started on loopback and stopped by pid.

The servers and the process helpers are the product's (``bot.local_servers``,
``bot.supervisor``); this module adds the tests' rule: on a developer machine without them
the tests that need them skip; in CI (CI=true) a missing server is a failure, never a skip.
"""
from __future__ import annotations

import os
import signal
import subprocess

import pytest

from bot import local_servers
from bot.supervisor import free_port, wait_until
from bot.supervisor import stop_process_group as _stop_process_group

__all__ = ["in_ci", "unavailable", "free_port", "wait_for_port", "stop_process_group", "PostgresServer",
           "RedisServer", "postgres_server", "postgres_url", "redis_server"]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(what: str) -> None:
    if in_ci():
        pytest.fail(f"{what} is required in CI but is not available")
    pytest.skip(f"{what} is not available on this machine")


def wait_for_port(port: int, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    """Until something listens on 127.0.0.1:``port``: RuntimeError if ``proc`` exits first,
    TimeoutError after ``timeout``."""
    from bot.supervisor import ProbeTimeout, Process, ProcessExited, port_listening

    watch = [Process("process", proc)] if proc is not None else []
    try:
        wait_until(lambda: port_listening(port), timeout, f"listening on 127.0.0.1:{port}", watch=watch, interval=0.1)
    except ProcessExited as exc:
        raise RuntimeError(f"process exited with {exc.returncode} before listening on {port}") from exc
    except ProbeTimeout as exc:
        raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s") from exc


def stop_process_group(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    """Stops a process started with start_new_session=True and its whole group."""
    _stop_process_group(proc, sig, timeout)


class PostgresServer(local_servers.PostgresServer):
    """A throw-away PostgreSQL cluster with trust auth on a free loopback port."""

    def start(self, timeout: float = 60.0) -> "PostgresServer":
        try:
            super().start(timeout)
        except local_servers.ServerUnavailable as exc:
            unavailable(exc.what)
        return self


class RedisServer(local_servers.RedisServer):
    def start(self, timeout: float = 30.0) -> "RedisServer":
        try:
            super().start(timeout)
        except local_servers.ServerUnavailable as exc:
            unavailable(exc.what)
        return self


@pytest.fixture(scope="session")
def postgres_server():
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh, empty PostgreSQL database for one test."""
    return postgres_server.create_database()


@pytest.fixture(scope="session")
def redis_server():
    server = RedisServer().start()
    yield server
    server.stop()
