"""``make run-prod``: the production layout on one machine, in the foreground.

    nginx :8080 (customers, staff) ──> gateway :8081, gateway :8082 ─┐
    nginx :5005 (internal)  ──> Rasa :5006, Rasa :5007 <──────────────┘ (RASA_URL = nginx :5005)
    Rasa ──> action server :5055 ──> nginx :8080 (REST API)
    store: PostgreSQL; Rasa trackers: PostgreSQL; Rasa locks + socket.io fan-out: Redis

PostgreSQL and Redis are started here (Debian packages, private data directories under
``var/prod/``, loopback only) unless ``DATABASE_URL`` / ``REDIS_URL`` are given. Every
process runs in its own process group, logs to ``var/prod/logs/``; Ctrl-C (or the loss of
any process) stops them all, by group (``bot.supervisor``). Secrets come from the environment; missing ones
are generated once and kept in ``var/prod/secrets.env`` (mode 600).

``ProdStack`` is also used by ``tests/stack/test_scale_out.py`` and ``scripts/bench.py``.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import unquote, urlsplit

from bot.local_servers import PostgresServer, RedisServer, ServerUnavailable
from bot.supervisor import Process, Supervisor, free_port, http_status, port_is_free, port_listening

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
RASA = str(ROOT / ".venv" / "bin" / "rasa")
NGINX_TEMPLATE = ROOT / "deploy" / "nginx.conf.template"
ENDPOINTS = ROOT / "deploy" / "endpoints.prod.yml"
CREDENTIALS = ROOT / "credentials.yml"


def log(text: str) -> None:
    print(f"\033[1;35m[run-prod]\033[0m {text}", flush=True)


@dataclass
class Ports:
    """Loopback ports of one stack. The defaults keep the contract's ports for what a
    client sees (8080 gateway, 5005 Rasa, 5055 actions), served by nginx."""

    public: int = 8080
    rasa_lb: int = 5005
    gateways: list[int] = field(default_factory=lambda: [8081, 8082])
    rasa: list[int] = field(default_factory=lambda: [5006, 5007])
    actions: int = 5055
    postgres: int = 55432
    redis: int = 56379

    @classmethod
    def from_env(cls) -> "Ports":
        ports = cls()
        env = os.environ.get
        ports.public = int(env("PROD_PUBLIC_PORT", ports.public))
        ports.rasa_lb = int(env("PROD_RASA_LB_PORT", ports.rasa_lb))
        ports.gateways = [int(p) for p in env("PROD_GATEWAY_PORTS", "8081,8082").split(",")]
        ports.rasa = [int(p) for p in env("PROD_RASA_PORTS", "5006,5007").split(",")]
        ports.actions = int(env("PROD_ACTION_PORT", ports.actions))
        ports.postgres = int(env("PROD_PG_PORT", ports.postgres))
        ports.redis = int(env("PROD_REDIS_PORT", ports.redis))
        return ports

    @classmethod
    def free(cls, gateways: int = 2, rasa: int = 2) -> "Ports":
        """Free ports for tests and benchmarks (postgres/redis come from elsewhere)."""
        return cls(public=free_port(), rasa_lb=free_port(), gateways=[free_port() for _ in range(gateways)],
                   rasa=[free_port() for _ in range(rasa)], actions=free_port(), postgres=0, redis=0)


# A process of the stack (name, popen, pid, port, log_path, alive(), tail()).
Proc = Process


def with_database(url: str, database: str) -> str:
    """The same server URL with another database name."""
    parts = urlsplit(url)
    return parts._replace(path="/" + database).geturl()


def ensure_database(url: str) -> None:
    """Creates the PostgreSQL database of ``url`` if it does not exist."""
    import psycopg2

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(scheme="postgresql", path="/postgres").geturl()
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()


def tracker_env(tracker_url: str) -> dict[str, str]:
    """TRACKER_DB_* for deploy/endpoints.prod.yml from a SQLAlchemy/libpq URL."""
    parts = urlsplit(tracker_url)
    return {
        "TRACKER_DB_HOST": parts.hostname or "127.0.0.1",
        "TRACKER_DB_PORT": str(parts.port or 5432),
        "TRACKER_DB_NAME": parts.path.lstrip("/"),
        "TRACKER_DB_USER": unquote(parts.username or ""),
        "TRACKER_DB_PASSWORD": unquote(parts.password or ""),
    }


def redis_lock_env(redis_url: str) -> dict[str, str]:
    """REDIS_* for Rasa's lock store; it uses the database after the fan-out's one."""
    parts = urlsplit(redis_url)
    fanout_db = int(parts.path.lstrip("/") or 0)
    return {
        "REDIS_HOST": parts.hostname or "127.0.0.1",
        "REDIS_PORT": str(parts.port or 6379),
        "REDIS_PASSWORD": unquote(parts.password or ""),
        "REDIS_LOCK_DB": str((fanout_db + 1) % 16),
        "REDIS_LOCK_PREFIX": "electricbot",
    }


def render_nginx(values: dict[str, str]) -> str:
    """Fills ``${NAME}`` placeholders only (nginx's own ``$vars`` have no braces)."""
    text = NGINX_TEMPLATE.read_text()
    missing = sorted(set(re.findall(r"\$\{(\w+)\}", text)) - set(values))
    if missing:
        raise ValueError(f"nginx template needs values for {missing}")
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], text)


# REST API (actions → gateway), staff sessions, gateway → Rasa, Rasa → actions.
SECRET_NAMES = ("SERVICE_TOKEN", "SESSION_SECRET", "RASA_TOKEN", "ACTION_TOKEN")


def load_or_create_secrets(path: Path) -> dict[str, str]:
    """The secrets (``SECRET_NAMES``) from the environment, else from (or new in) ``path``."""
    stored: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                stored[key.strip()] = value.strip()
    result = {}
    for key in SECRET_NAMES:
        result[key] = os.environ.get(key) or stored.get(key) or secrets.token_hex(32)
    if not path.exists() or any(stored.get(k) != v for k, v in result.items() if not os.environ.get(k)):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("# generated by scripts/run_prod.py; set these in the environment in production\n")
            for key, value in result.items():
                out.write(f"{key}={value}\n")
    return result


class ProdStack:
    """Starts and stops the production processes of one machine."""

    def __init__(self, run_dir: Path, *, ports: Ports, database_url: str = "", tracker_url: str = "",
                 redis_url: str = "", model: str = "models", secrets_env: Optional[dict[str, str]] = None,
                 enable_rasa_api: bool = False, rasa_extra_args: tuple[str, ...] = (),
                 extra_env: Optional[dict[str, str]] = None, gateway_command: Optional[list[str]] = None,
                 import_demo: bool = True, quiet: bool = False) -> None:
        self.run_dir = Path(run_dir)
        self.logs = self.run_dir / "logs"
        self.ports = ports
        self.database_url = database_url
        self.tracker_url = tracker_url
        self.redis_url = redis_url
        self.model = model
        self.secrets = {name: secrets.token_hex(16) for name in SECRET_NAMES}
        self.secrets.update(secrets_env or {})
        self.enable_rasa_api = enable_rasa_api
        self.rasa_extra_args = rasa_extra_args
        self.extra_env = extra_env or {}
        self.gateway_command = gateway_command
        self.import_demo = import_demo
        self.quiet = quiet
        self.supervisor = Supervisor(stop_timeout=15.0)

    @property
    def procs(self) -> list[Proc]:
        """The running processes, in start order."""
        return self.supervisor.processes

    # --- helpers -------------------------------------------------------------------
    def say(self, text: str) -> None:
        if not self.quiet:
            log(text)

    def _base_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            # Rasa imports the gateway channel (rasa_server.channel) and nlu_components from here.
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")])),
            "PYTHONUNBUFFERED": "1",
            "TZ": env.get("TZ", "Asia/Shanghai"),
            "RASA_TELEMETRY_ENABLED": "false",
            # The production layout: every process refuses the public development secrets.
            "APP_ENV": env.get("APP_ENV") or "production",
        })
        env.update(self.secrets)
        env.update(self.extra_env)
        return env

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str], port: Optional[int] = None,
               stop_signal: int = signal.SIGTERM) -> Proc:
        log_path = self.logs / f"{name}.log"
        proc = self.supervisor.start(name, cmd, env=env, cwd=ROOT, log=log_path, port=port, stop_signal=stop_signal)
        self._started(proc)
        return proc

    def _started(self, proc: Optional[Proc]) -> None:
        if proc is not None:
            port = f", port {proc.port}" if proc.port else ""
            self.say(f"started {proc.name} (pid {proc.pid}{port}), log {proc.log_path}")

    @staticmethod
    def _wait(proc: Proc, ready: Callable[[], bool], timeout: float) -> None:
        """Until ``ready()``; ``ProcessExited`` (a RuntimeError) if ``proc`` dies first,
        ``ProbeTimeout`` (a TimeoutError) after ``timeout``, both with the log's tail."""
        proc.wait_until(ready, timeout, "ready")

    # --- PostgreSQL and Redis (only when no URL is given) --------------------------------
    def start_postgres(self) -> None:
        data_root = self.run_dir / "postgres"
        data_root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            self.run_dir.chmod(0o755)  # the postgres user must reach its data directory
        if not (data_root / "data" / "PG_VERSION").exists():
            self.say(f"initialising PostgreSQL in {data_root / 'data'}")
        server = PostgresServer(data_root, self.ports.postgres, supervisor=self.supervisor,
                                log=self.logs / "postgres.log")
        try:
            server.start(timeout=60)
        except ServerUnavailable:
            raise SystemExit("PostgreSQL is not installed (apt-get install postgresql) and DATABASE_URL is not set")
        self._started(server.process)
        self.database_url = self.database_url or server.url_for("electricbot")
        self.tracker_url = self.tracker_url or server.url_for("rasa")

    def start_redis(self) -> None:
        server = RedisServer(self.run_dir / "redis", self.ports.redis, supervisor=self.supervisor,
                             log=self.logs / "redis.log")
        try:
            server.start(timeout=30)
        except ServerUnavailable:
            raise SystemExit("redis-server is not installed (apt-get install redis-server) and REDIS_URL is not set")
        self._started(server.process)
        self.redis_url = server.url

    # --- the application processes --------------------------------------------------------
    def gateway_env(self, port: int) -> dict[str, str]:
        env = self._base_env()
        env.update({
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "RASA_URL": f"http://127.0.0.1:{self.ports.rasa_lb}",
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(port),
            "GATEWAY_PUBLIC_URL": env.get("GATEWAY_PUBLIC_URL") or f"http://127.0.0.1:{self.ports.public}",
            # nginx on loopback is the gateways' proxy: its X-Forwarded-Proto/-For are believed.
            "TRUSTED_PROXIES": env.get("TRUSTED_PROXIES") or "127.0.0.1",
        })
        return env

    def rasa_env(self) -> dict[str, str]:
        env = self._base_env()
        env["ACTION_ENDPOINT_URL"] = f"http://127.0.0.1:{self.ports.actions}/webhook"
        # One TensorFlow thread per Rasa server (one server per core), not a pool per core in
        # every server; under load it measured 0-4 ms less CPU per turn (noisy; docs/benchmark-findings.md).
        env.setdefault("TF_INTRA_OP_PARALLELISM_THREADS", "1")
        env.setdefault("TF_INTER_OP_PARALLELISM_THREADS", "1")
        # The same for numpy's BLAS, which runs the sentence encoder (nlu_components/sentence_embedding.py).
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
        env.update(tracker_env(self.tracker_url))
        env.update(redis_lock_env(self.redis_url))
        return env

    def start_rasa(self, index: int) -> Proc:
        port = self.ports.rasa[index]
        cmd = [PYTHON, "-m", "rasa_server", "run", "-i", "127.0.0.1", "-p", str(port), "-m", self.model,
               "--endpoints", str(ENDPOINTS), "--credentials", str(CREDENTIALS), *self.rasa_extra_args]
        if self.enable_rasa_api:
            cmd += ["--enable-api", "--auth-token", self.secrets["RASA_TOKEN"]]  # the API only with the token
        return self._spawn(f"rasa-{index + 1}", cmd, self.rasa_env(), port)

    def wait_rasa(self, proc: Proc, timeout: float = 300) -> None:
        self._wait(proc, lambda: http_status(f"http://127.0.0.1:{proc.port}/webhooks/gateway/") == 200, timeout)
        # The first message loads lazily initialised parts of the pipeline: pay that here.
        body = json.dumps({"sender": f"warmup-{uuid.uuid4().hex}", "message": "你好",
                           "metadata": {"channel": "warmup"}}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{proc.port}/webhooks/gateway/webhook", data=body,
                                         headers={"Content-Type": "application/json",
                                                  "Authorization": f"Bearer {self.secrets['RASA_TOKEN']}"})
        started = time.monotonic()
        with urllib.request.urlopen(request, timeout=120) as resp:
            if resp.status != 200:
                raise RuntimeError(f"{proc.name}: warm-up message answered HTTP {resp.status}")
        self.say(f"{proc.name} ready (warm-up message {time.monotonic() - started:.1f} s)")

    def start_actions(self) -> Proc:
        env = self._base_env()
        env.update({"SANIC_HOST": "127.0.0.1", "GATEWAY_URL": f"http://127.0.0.1:{self.ports.public}"})
        port = self.ports.actions
        # rasa_sdk's server behind a check of Rasa's token (ACTION_TOKEN).
        return self._spawn("actions", [PYTHON, "-m", "actions.server", "--actions", "actions", "-p", str(port)],
                           env, port)

    def start_gateway(self, index: int) -> Proc:
        port = self.ports.gateways[index]
        cmd = list(self.gateway_command or [PYTHON, "-m", "bot", "serve"])
        return self._spawn(f"gateway-{index + 1}", cmd, self.gateway_env(port), port)

    def nginx_config(self) -> str:
        nginx_dir = self.run_dir / "nginx"
        return render_nginx({
            "NGINX_RUN_DIR": str(nginx_dir),
            "NGINX_WORKERS": os.environ.get("NGINX_WORKERS", "1"),
            "PUBLIC_LISTEN": f"127.0.0.1:{self.ports.public}",
            "RASA_LISTEN": f"127.0.0.1:{self.ports.rasa_lb}",
            "GATEWAY_SERVERS": "\n        ".join(
                f"server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in self.ports.gateways),
            "RASA_SERVERS": "\n        ".join(
                f"server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in self.ports.rasa),
        })

    def start_nginx(self) -> Proc:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        nginx_dir = self.run_dir / "nginx"
        nginx_dir.mkdir(parents=True, exist_ok=True)
        # nginx workers drop root for "nobody": they must reach their temp directories.
        for path in (self.run_dir, nginx_dir):
            path.chmod(0o755)
        conf = nginx_dir / "nginx.conf"
        conf.write_text(self.nginx_config())
        subprocess.run([binary, "-t", "-q", "-c", str(conf), "-p", str(nginx_dir), "-e", str(nginx_dir / "error.log")],
                       check=True)
        proc = self._spawn("nginx", [binary, "-c", str(conf), "-p", str(nginx_dir), "-e",
                                     str(nginx_dir / "error.log"), "-g", "daemon off;"], dict(os.environ),
                           self.ports.public)
        self._wait(proc, lambda: port_listening(self.ports.public) and port_listening(self.ports.rasa_lb), 20)
        return proc

    def init_store(self) -> None:
        env = self._base_env()
        env["DATABASE_URL"] = self.database_url
        cmd = [PYTHON, "-m", "bot", "init-store"] + (["--demo-if-empty"] if self.import_demo else [])
        self.say("migrating the store" + (" and importing demo data if it is empty" if self.import_demo else ""))
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)

    # --- whole stack -------------------------------------------------------------------
    def start(self) -> "ProdStack":
        try:
            if not self.database_url or (not self.tracker_url and not self.database_url.startswith("postgresql")):
                self.start_postgres()
            if not self.tracker_url:
                self.tracker_url = with_database(self.database_url, "rasa")
            if not self.redis_url:
                self.start_redis()
            for url in (self.database_url, self.tracker_url):
                if url.startswith("postgresql"):
                    ensure_database(url)
            self.init_store()
            # Rasa servers take longest (model load): start them first. Two servers creating
            # the tracker table at once is fine: Rasa retries until the table exists.
            rasa = [self.start_rasa(i) for i in range(len(self.ports.rasa))]
            actions = self.start_actions()
            gateways = [self.start_gateway(i) for i in range(len(self.ports.gateways))]
            self.start_nginx()
            actions.wait_for_http(f"http://127.0.0.1:{actions.port}/health", 120)
            for gateway in gateways:
                gateway.wait_for_port(timeout=120)
            for proc in rasa:
                self.wait_rasa(proc, timeout=600)
        except BaseException:
            self.stop()
            raise
        return self

    def by_name(self, name: str) -> Proc:
        return next(p for p in self.procs if p.name == name)

    def check_alive(self) -> Optional[Proc]:
        return next((p for p in self.procs if not p.alive()), None)

    def stop(self) -> None:
        # Reverse start order: the entry (nginx, gateways) first, the stores last.
        self.supervisor.stop_all()


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.run_prod", description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default=str(ROOT / "var" / "prod"),
                        help="data, logs and nginx files (default var/prod)")
    args = parser.parse_args(argv)
    run_dir = Path(args.run_dir)
    ports = Ports.from_env()
    busy = [p for p in [ports.public, ports.rasa_lb, *ports.gateways, *ports.rasa, ports.actions]
            if not port_is_free(p)]
    if busy:
        log(f"ports already in use: {busy} (stop the other stack, e.g. `make run`, or set PROD_*_PORT)")
        return 1
    stack = ProdStack(run_dir, ports=ports, database_url=os.environ.get("DATABASE_URL", ""),
                      tracker_url=os.environ.get("TRACKER_DATABASE_URL", ""),
                      redis_url=os.environ.get("REDIS_URL", ""),
                      secrets_env=load_or_create_secrets(run_dir / "secrets.env"))

    stopping = False

    def on_signal(signum, _frame):
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    # Explicit handlers: a shell that starts us in the background leaves SIGINT ignored.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        stack.start()
        log(f"ready: web widget and console http://127.0.0.1:{ports.public}/ (nginx → gateways "
            f"{ports.gateways}), Rasa {ports.rasa} behind nginx :{ports.rasa_lb}, actions :{ports.actions}. "
            "Ctrl-C stops everything.")
        while True:
            dead = stack.check_alive()
            if dead is not None:
                log(f"{dead.name} exited with {dead.returncode}; stopping everything. Last lines:\n{dead.tail()}")
                return 1
            time.sleep(1)
    except KeyboardInterrupt:
        log("stopping")
        return 0
    except (RuntimeError, TimeoutError, subprocess.CalledProcessError) as err:
        log(f"start-up failed: {err}")
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the clean-up
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
