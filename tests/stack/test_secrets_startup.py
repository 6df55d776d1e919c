"""Issue 16 item 10: outside development (APP_ENV) no process starts on the public
development secrets; in development (`make run`, the tests) they stand in with a warning."""
from __future__ import annotations

import dataclasses
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app import create_app
from bot.config import InsecureSettings, Settings
from bot.conversations import HUB

ROOT = Path(__file__).resolve().parent.parent.parent
REAL = "3f1c9e0b7a5d42e8b6c1f0a9d8e7c6b5"


def test_production_refuses_the_development_secrets(tmp_path):
    base = Settings(database_url=f"sqlite:///{tmp_path / 'g.db'}", app_env="production",
                    service_token=REAL, session_secret=REAL + "x", rasa_token=REAL + "r")
    create_app(base, start_background=False)  # real secrets: starts
    for field, name, value in (("service_token", "SERVICE_TOKEN", "dev-service-token-change-me"),
                               ("session_secret", "SESSION_SECRET", "dev-session-secret-change-me"),
                               ("service_token", "SERVICE_TOKEN", ""), ("session_secret", "SESSION_SECRET", "short"),
                               ("rasa_token", "RASA_TOKEN", "dev-rasa-token-change-me")):
        with pytest.raises(InsecureSettings) as refused:
            create_app(dataclasses.replace(base, **{field: value}), start_background=False)
        assert name in str(refused.value)


def test_development_warns_and_starts(tmp_path, caplog):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'g.db'}", app_env="development",
                        service_token="dev-service-token-change-me", session_secret="dev-session-secret-change-me")
    with caplog.at_level(logging.WARNING, logger="bot.config"):
        create_app(settings, start_background=False)
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "SERVICE_TOKEN" in warned and "SESSION_SECRET" in warned


def test_app_env_defaults_to_development(monkeypatch):
    monkeypatch.delenv("APP_ENV", raising=False)
    assert Settings().app_env == "development"
    monkeypatch.setenv("APP_ENV", "Production")
    assert Settings().app_env == "production"


def test_the_gateway_process_refuses_to_start_in_production_without_secrets(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("SERVICE_TOKEN", "SESSION_SECRET", "RASA_TOKEN", "ACTION_TOKEN")}
    env.update(APP_ENV="production", DATABASE_URL=f"sqlite:///{tmp_path / 'g.db'}", GATEWAY_PORT="18409",
               PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert all(name in done.stderr for name in ("SERVICE_TOKEN", "SESSION_SECRET", "RASA_TOKEN"))


# --- issue 16 item 4: the tokens of the internal hops follow the same rule

@pytest.mark.asyncio
async def test_the_gateway_shows_rasa_its_token(aiohttp_server, aiohttp_client, tmp_path):
    from tests.support.platforms import FakeRasa

    rasa = FakeRasa()
    server = await aiohttp_server(rasa.app())
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'g.db'}", rasa_token=REAL,
                        rasa_url=str(server.make_url("")).rstrip("/"))
    app = create_app(settings, start_background=False)
    await aiohttp_client(app)  # started, and cleaned up after the test
    await app[HUB].handle_customer_message("web", "web-token-check", "你好", client_msg_id="m1")
    assert rasa.authorization == [f"Bearer {REAL}"]


def test_rasas_gateway_channel_refuses_to_start_in_production_without_tokens(monkeypatch):
    import rasa_server
    from rasa_server.channel import GatewayInput

    rasa_server.install(patches=[])  # what the channel relies on (`python -m rasa_server run`)

    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.delenv("RASA_TOKEN", raising=False)
    monkeypatch.setenv("ACTION_TOKEN", REAL)
    with pytest.raises(InsecureSettings, match="RASA_TOKEN"):
        GatewayInput.from_credentials(None)
    monkeypatch.setenv("RASA_TOKEN", "dev-rasa-token-change-me")
    with pytest.raises(InsecureSettings, match="RASA_TOKEN"):
        GatewayInput.from_credentials(None)
    monkeypatch.setenv("RASA_TOKEN", REAL)
    monkeypatch.delenv("ACTION_TOKEN")
    with pytest.raises(InsecureSettings, match="ACTION_TOKEN"):
        GatewayInput.from_credentials(None)
    monkeypatch.setenv("ACTION_TOKEN", REAL + "a")
    assert GatewayInput.from_credentials(None).token == REAL


def test_the_action_server_refuses_to_start_in_production_without_tokens(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SERVICE_TOKEN", "ACTION_TOKEN")}
    env.update(APP_ENV="production", PYTHONPATH=str(ROOT), SERVICE_TOKEN=REAL)
    done = subprocess.run([sys.executable, "-m", "actions.server", "--actions", "actions", "-p", "18408"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "ACTION_TOKEN" in done.stderr and "SERVICE_TOKEN" not in done.stderr.split("not started")[-1]


@pytest.mark.parametrize("path", ["endpoints.yml", "deploy/endpoints.prod.yml"])
def test_rasa_sends_the_action_token_from_the_environment(path, monkeypatch):
    """Rasa expands ${ACTION_TOKEN} (only in unquoted values) into the action endpoint's header."""
    import re

    from rasa.utils.endpoints import read_endpoint_config

    for name in set(re.findall(r"\$\{(\w+)\}", (ROOT / path).read_text(encoding="utf-8"))):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("ACTION_TOKEN", REAL)
    endpoint = read_endpoint_config(str(ROOT / path), "action_endpoint")
    assert endpoint.headers == {"Authorization": f"Bearer {REAL}"}


def test_make_runs_endpoints_keep_the_token_header(tmp_path, monkeypatch):
    from rasa.utils.endpoints import read_endpoint_config

    from scripts.run_all import write_endpoints

    written = write_endpoints(tmp_path / "e.yml", 18407)
    monkeypatch.setenv("ACTION_TOKEN", REAL)
    endpoint = read_endpoint_config(str(written), "action_endpoint")
    assert endpoint.url == "http://127.0.0.1:18407/webhook"
    assert endpoint.headers == {"Authorization": f"Bearer {REAL}"}
