"""Real PostgreSQL and Redis servers for the tests, started on loopback and stopped by pid.

On a developer machine without them the tests that need them skip; in CI (CI=true) a
missing server is a failure, never a skip.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from contextlib import closing
from pathlib import Path

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(what: str) -> None:
    if in_ci():
        pytest.fail(f"{what} is required in CI but is not available")
    pytest.skip(f"{what} is not available on this machine")


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def stop_process_group(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    """Stops a process started with start_new_session=True, by its group id."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=timeout)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


class PostgresServer:
    """A throw-away PostgreSQL cluster with trust auth on a free loopback port."""

    def __init__(self) -> None:
        self.initdb = _pg_bin("initdb")
        self.postgres = _pg_bin("postgres")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="pgtest-"))
        self.proc: subprocess.Popen | None = None
        self._as_user: list[str] = []

    def start(self) -> "PostgresServer":
        if not (self.initdb and self.postgres):
            unavailable("PostgreSQL")
        if os.geteuid() == 0:  # initdb refuses to run as root
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        data = self.dir / "data"
        subprocess.run(self._as_user + [self.initdb, "-D", str(data), "-A", "trust", "-U", "postgres",
                                        "-E", "UTF8", "--no-locale"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.proc = subprocess.Popen(
            self._as_user + [self.postgres, "-D", str(data), "-h", "127.0.0.1", "-p", str(self.port),
                             "-k", str(self.dir), "-c", "fsync=off", "-c", "max_connections=300"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for_port(self.port, 60, self.proc)
        # The port opens a moment before the server accepts logins.
        deadline = time.monotonic() + 30
        while True:
            try:
                import psycopg2

                psycopg2.connect(self.url_for("postgres", driver=False)).close()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        return self

    def url_for(self, database: str, driver: bool = True) -> str:
        scheme = "postgresql+psycopg2" if driver else "postgresql"
        return f"{scheme}://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "t") -> str:
        """Creates a fresh database and returns its SQLAlchemy URL."""
        import psycopg2

        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        conn = psycopg2.connect(self.url_for("postgres", driver=False))
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        return self.url_for(name)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process_group(self.proc, signal.SIGINT)
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        binary = shutil.which("redis-server")
        if not binary:
            unavailable("Redis")
        self.proc = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        wait_for_port(self.port, 30, self.proc)
        return self

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.proc is not None:
            stop_process_group(self.proc)


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
