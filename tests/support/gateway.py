"""An in-process gateway on a temporary SQLite store, for tests of the API and its users.

Fixtures (names are stable, other test modules rely on them):
- ``store_url`` / ``backend_store``: a fresh migrated store, parametrized over SQLite and PostgreSQL;
- ``gateway_settings``: ``Settings`` on a temp SQLite file with the known ``SERVICE_TOKEN``;
- ``gateway_app``: ``bot.app.create_app(settings, start_background=False)``;
- ``gateway_client``: an aiohttp test client of ``gateway_app`` (pytest-aiohttp);
- ``service_headers``: the ``Authorization`` header the REST API wants;
- ``demo_gateway_app`` / ``demo_gateway_client``: the same with the demo data loaded
  (outages moved to start in the coming days, see ``bot.importer.shift_demo``).
Helper: ``load_demo_data(app_or_store, today=None)`` loads the demo data into a gateway.
"""
from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import pytest_asyncio

from bot.store import STORE

SERVICE_TOKEN = "test-service-token-3f9a2c"


def load_demo_data(app_or_store, today: date | None = None):
    """Imports demo/demo_data.json into the gateway's store; returns the import summary."""
    from bot.importer import load_demo

    store = app_or_store[STORE] if hasattr(app_or_store, "router") else app_or_store
    return load_demo(store, today=today)


def auth_headers(token: str = SERVICE_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def gateway_settings(tmp_path):
    from bot.config import Settings

    return Settings(database_url=f"sqlite:///{tmp_path / 'gateway.db'}", service_token=SERVICE_TOKEN)


@pytest.fixture
def gateway_app(gateway_settings):
    from bot.app import create_app

    return create_app(gateway_settings, start_background=False)


@pytest.fixture
def service_headers() -> dict[str, str]:
    return auth_headers()


@pytest_asyncio.fixture
async def gateway_client(aiohttp_client, gateway_app):
    return await aiohttp_client(gateway_app)


@pytest.fixture(scope="session")
def _demo_store_template(tmp_path_factory) -> Path:
    """A migrated SQLite store with the demo data, built once and copied for each test."""
    from bot.store import Store, migrate

    path = tmp_path_factory.mktemp("demo-template") / "demo.db"
    url = f"sqlite:///{path}"
    migrate(url)
    store = Store(url, max_workers=1)
    try:
        load_demo_data(store)
    finally:
        store.close()  # the last connection closing folds the WAL into the file
    return path


@pytest.fixture
def demo_gateway_app(request, gateway_settings, _demo_store_template):
    if "gateway_app" in request.fixturenames:
        # The test also uses gateway_app: load the demo into that very app.
        app = request.getfixturevalue("gateway_app")
        load_demo_data(app)
        return app
    from bot.app import create_app

    target = Path(gateway_settings.database_url.split("///", 1)[1])
    shutil.copyfile(_demo_store_template, target)
    return create_app(gateway_settings, start_background=False)


@pytest_asyncio.fixture
async def demo_gateway_client(aiohttp_client, demo_gateway_app):
    return await aiohttp_client(demo_gateway_app)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """A fresh, migrated store, once on SQLite and once on PostgreSQL."""
    from bot.store import migrate

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    migrate(url)
    return url


@pytest.fixture
def backend_store(store_url):
    """A ``Store`` on ``store_url`` (both backends), closed after the test."""
    from bot.store import Store

    opened = Store(store_url)
    yield opened
    opened.close()
