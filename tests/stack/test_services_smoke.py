"""The test servers themselves: PostgreSQL accepts the schema, Redis answers."""
import redis
from sqlalchemy import inspect

from bot.store.db import make_engine, migrate


def test_migration_creates_every_table_on_postgres(postgres_url):
    migrate(postgres_url)
    engine = make_engine(postgres_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"customers", "bills", "outages", "tickets", "milestones", "conversations",
            "messages", "handoffs", "staff_users", "ticket_events"} <= tables


def test_migration_is_idempotent_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate(url)
    migrate(url)
    engine = make_engine(url)
    assert "alembic_version" in inspect(engine).get_table_names()
    engine.dispose()


def test_redis_answers(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    client.set("k", "v")
    assert client.get("k") == b"v"


def test_the_migrations_build_exactly_the_models(tmp_path, postgres_url):
    """No model without its migration (0008 notices and on): Alembic finds nothing to add."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from bot.store.models import Base

    for url in (f"sqlite:///{tmp_path / 'store.db'}", postgres_url):
        migrate(url)
        engine = make_engine(url)
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        engine.dispose()
        assert differences == [], (url.split(":")[0], differences)
