"""PostgreSQL and Redis servers of one machine, on loopback, run by ``bot.supervisor``.

``make run-prod`` keeps their data under ``var/prod/``; the tests and the benchmarks use
throw-away ones (a temp directory, deleted on stop). A server whose programs are not
installed raises ``ServerUnavailable`` (the tests skip or fail on it, ``make run-prod`` stops).
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Optional

from bot.supervisor import Output, Process, Supervisor, free_port, port_listening, start_process


class ServerUnavailable(RuntimeError):
    """The server's programs are not installed on this machine."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is not installed")
        self.what = what


def pg_bin(name: str) -> Optional[str]:
    """The newest installed PostgreSQL's ``name`` program (Debian keeps them off PATH)."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


class PostgresServer:
    """A PostgreSQL cluster with trust authentication on a loopback port. ``data_root`` holds
    the cluster (``data/``, initialised when missing) and the socket; without one, a temp
    directory that ``stop()`` deletes (with ``fsync=off``: test data)."""

    def __init__(self, data_root: Optional[Path] = None, port: Optional[int] = None, *,
                 supervisor: Optional[Supervisor] = None, log: Output = None, max_connections: int = 300) -> None:
        self.throwaway = data_root is None
        self.dir = Path(data_root) if data_root is not None else Path(tempfile.mkdtemp(prefix="pgtest-"))
        self.port = port or free_port()
        self.supervisor = supervisor
        self.log = log
        self.max_connections = max_connections
        self.process: Optional[Process] = None

    def start(self, timeout: float = 60.0) -> "PostgresServer":
        initdb, postgres = pg_bin("initdb"), pg_bin("postgres")
        if not (initdb and postgres):
            raise ServerUnavailable("PostgreSQL")
        self.dir.mkdir(parents=True, exist_ok=True)
        as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            as_user = ["runuser", "-u", "postgres", "--"]
        data = self.dir / "data"
        if not (data / "PG_VERSION").exists():
            subprocess.run(as_user + [initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                                      "--no-locale"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        argv = as_user + [postgres, "-D", str(data), "-h", "127.0.0.1", "-p", str(self.port), "-k", str(self.dir),
                          "-c", f"max_connections={self.max_connections}"]
        if self.throwaway:
            argv += ["-c", "fsync=off"]
        # SIGINT: PostgreSQL's "fast" shutdown (SIGTERM waits for every client to leave).
        start = self.supervisor.start if self.supervisor is not None else start_process
        self.process = start("postgres", argv, env=dict(os.environ), log=self.log, port=self.port,
                             stop_signal=signal.SIGINT)
        deadline = time.monotonic() + timeout
        self.process.wait_for_port(timeout=timeout)
        # The port opens a moment before the server accepts logins.
        self.process.wait_until(self.accepts_logins, max(1.0, deadline - time.monotonic()), "accepting logins")
        return self

    def accepts_logins(self) -> bool:
        try:
            import psycopg2

            psycopg2.connect(self.url_for("postgres", driver=False), connect_timeout=2).close()
            return True
        except Exception:
            return False

    def url_for(self, database: str, driver: bool = True) -> str:
        scheme = "postgresql+psycopg2" if driver else "postgresql"
        return f"{scheme}://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "t") -> str:
        """Creates a fresh database (``prefix`` and a random suffix) and returns its SQLAlchemy URL."""
        import psycopg2

        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        conn = psycopg2.connect(self.url_for("postgres", driver=False))
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        return self.url_for(name)

    def stop(self) -> None:
        _stop(self.process, self.supervisor)
        if self.throwaway:
            shutil.rmtree(self.dir, ignore_errors=True)


def _stop(process: Optional[Process], supervisor: Optional[Supervisor]) -> None:
    """Stops a server's process group: through the supervisor that started it, if any."""
    if process is None:
        return
    if supervisor is not None:
        supervisor.stop(process)
    else:
        process.stop()


class RedisServer:
    """A Redis server on a loopback port: with ``data_dir``, append-only persistence there;
    without, nothing kept."""

    def __init__(self, data_dir: Optional[Path] = None, port: Optional[int] = None, *,
                 supervisor: Optional[Supervisor] = None, log: Output = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.supervisor = supervisor
        self.log = log
        self.process: Optional[Process] = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 30.0) -> "RedisServer":
        binary = shutil.which("redis-server")
        if not binary:
            raise ServerUnavailable("Redis")
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            argv += ["--dir", str(self.data_dir), "--appendonly", "yes"]
        else:
            argv += ["--appendonly", "no"]
        start = self.supervisor.start if self.supervisor is not None else start_process
        self.process = start("redis", argv, env=dict(os.environ), log=self.log, port=self.port)
        self.process.wait_until(lambda: port_listening(self.port), timeout, f"listening on 127.0.0.1:{self.port}")
        return self

    def stop(self) -> None:
        _stop(self.process, self.supervisor)
