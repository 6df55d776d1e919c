"""Engine, sessions and migrations.

The store is used synchronously (2.0-style ``Session``); async code calls it through
``Store.run`` which runs the function in a worker thread so the event loop never blocks.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from aiohttp import web
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# A pooled connection that sat unused this long is checked with a ping before use (a database
# restart or an idle-timeout cut it). One used moments ago is not: SQLAlchemy's pool_pre_ping
# pinged on every checkout, a round trip per transaction (4 per customer turn).
PING_IF_IDLE_SECONDS = 2.0


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # Amounts are Numeric; SQLite keeps them as floats with 2 decimals, which is what bills need.
        warnings.filterwarnings("ignore", message=r"Dialect sqlite\+pysqlite does \*not\* support Decimal")
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, future=True, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    engine = create_engine(url, future=True, pool_size=10, max_overflow=20)
    _ping_idle_connections(engine)
    return engine


def _ping_idle_connections(engine: Engine) -> None:
    """pool_pre_ping, only for connections idle for ``PING_IF_IDLE_SECONDS`` or more.

    A failed ping raises ``DisconnectionError``: the pool drops that connection and checks
    out a fresh one (up to three times), exactly as pool_pre_ping does. A connection the
    database cut while it was in use still fails that transaction; the pool then invalidates
    every older connection, so the next checkouts get fresh ones."""

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_conn, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn, record, proxy) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < PING_IF_IDLE_SECONDS:
            return  # new, or in use moments ago
        if getattr(dbapi_conn, "closed", 0):  # psycopg2 knows some dead connections for free
            raise DisconnectionError("connection closed")
        try:
            cursor = dbapi_conn.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
        except Exception as exc:
            raise DisconnectionError(f"ping failed: {exc!r}") from exc


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Brings the schema to the newest migration (idempotent)."""
    command.upgrade(alembic_config(url), "head")


class Store:
    def __init__(self, url: str, max_workers: int = 8):
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, future=True, expire_on_commit=False)
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="store")

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: commits on success, rolls back on any error (nothing half-written)."""
        with self.sessions() as session:
            with session.begin():
                yield session

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A Core connection in a transaction (commit on success, rollback on error), for hot
        paths that need no ORM objects."""
        with self.engine.begin() as connection:
            yield connection

    async def run(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """Runs a blocking store function in the store's thread pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._executor.shutdown(wait=False)
        self.engine.dispose()


STORE = web.AppKey("store", Store)  # the gateway's store on its app


@contextlib.contextmanager
def session_scope(store: Store) -> Iterator[Session]:
    with store.session() as session:
        yield session
