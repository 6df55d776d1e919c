"""Engine, sessions and migrations.

The store is used synchronously (2.0-style ``Session``); async code calls it through
``Store.run`` which runs the function in a worker thread so the event loop never blocks.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


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
    return create_engine(url, future=True, pool_pre_ping=True, pool_size=10, max_overflow=20)


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

    async def run(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """Runs a blocking store function in the store's thread pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._executor.shutdown(wait=False)
        self.engine.dispose()


@contextlib.contextmanager
def session_scope(store: Store) -> Iterator[Session]:
    with store.session() as session:
        yield session
