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

ROOT = Path(__file__).resolve().parent.parent
REAL = "3f1c9e0b7a5d42e8b6c1f0a9d8e7c6b5"


def test_production_refuses_the_development_secrets(tmp_path):
    base = Settings(database_url=f"sqlite:///{tmp_path / 'g.db'}", app_env="production",
                    service_token=REAL, session_secret=REAL + "x")
    create_app(base, start_background=False)  # real secrets: starts
    for change in ({"service_token": "dev-service-token-change-me"}, {"session_secret": "dev-session-secret-change-me"},
                   {"service_token": ""}, {"session_secret": "short"}):
        with pytest.raises(InsecureSettings) as refused:
            create_app(dataclasses.replace(base, **change), start_background=False)
        assert ("SERVICE_TOKEN" if "service_token" in change else "SESSION_SECRET") in str(refused.value)


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
    assert "SERVICE_TOKEN" in done.stderr and "SESSION_SECRET" in done.stderr
