"""Settings, read once from the environment. Every setting has a working default for one machine."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
TIMEZONE = "Asia/Shanghai"

log = logging.getLogger(__name__)

_DEV_SERVICE_TOKEN = "dev-service-token-change-me"
_DEV_SESSION_SECRET = "dev-session-secret-change-me"
# Gateway → Rasa (the `gateway` channel and Rasa's HTTP API) and Rasa → action server.
DEV_RASA_TOKEN = "dev-rasa-token-change-me"
DEV_ACTION_TOKEN = "dev-action-token-change-me"
# APP_ENV: "development" (the default: `make run`, the tests) lets the public development
# secrets above stand in, with a warning; anything else ("production": deploy/, run-prod)
# refuses to start without real ones.
DEVELOPMENT = "development"
MIN_SECRET_LENGTH = 16


class InsecureSettings(RuntimeError):
    """Outside development a secret is missing, a public default or too short."""


def app_env(environ=os.environ) -> str:
    return (environ.get("APP_ENV") or DEVELOPMENT).strip().lower()


def check_secrets(secrets: dict[str, tuple[str, str]], environment: str) -> list[str]:
    """``{NAME: (value, development default)}``: the names that are not real secrets.

    Outside development raises ``InsecureSettings`` naming them; in development returns them
    (the caller warns)."""
    weak = [name for name, (value, default) in secrets.items()
            if not value or value == default or (environment != DEVELOPMENT and len(value) < MIN_SECRET_LENGTH)]
    if weak and environment != DEVELOPMENT:
        raise InsecureSettings(
            f"APP_ENV={environment}: {', '.join(weak)} must be set to a random secret of at least "
            f"{MIN_SECRET_LENGTH} characters (e.g. `openssl rand -hex 32`); the development defaults are public. "
            f"Set APP_ENV=development only on a developer's machine.")
    return weak


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=lambda: _env("DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'bot.db'}"))
    host: str = field(default_factory=lambda: _env("GATEWAY_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(_env("GATEWAY_PORT", "8080")))
    # Public base URL of the gateway (for links in notifications and the widget snippet).
    public_url: str = field(default_factory=lambda: _env("GATEWAY_PUBLIC_URL", ""))
    rasa_url: str = field(default_factory=lambda: _env("RASA_URL", "http://127.0.0.1:5005"))
    rasa_port: int = field(default_factory=lambda: int(_env("RASA_PORT", "5005")))
    action_port: int = field(default_factory=lambda: int(_env("ACTION_PORT", "5055")))
    # Bearer token that protects the REST API (used by the action server).
    service_token: str = field(default_factory=lambda: _env("SERVICE_TOKEN", _DEV_SERVICE_TOKEN))
    session_secret: str = field(default_factory=lambda: _env("SESSION_SECRET", _DEV_SESSION_SECRET))
    # Shared secret the gateway shows Rasa (Authorization: Bearer on the `gateway` channel).
    rasa_token: str = field(default_factory=lambda: _env("RASA_TOKEN", DEV_RASA_TOKEN))
    sla_config: Path = field(default_factory=lambda: Path(_env("SLA_CONFIG", str(ROOT / "sla.yml"))))
    # Area types of places (城区/乡村/偏远) for repair deadlines, beside sla.yml.
    areas_config: Path = field(default_factory=lambda: Path(_env("AREAS_CONFIG", str(ROOT / "areas.yml"))))
    # Redis URL for socket.io fan-out between several gateways (empty: one gateway).
    redis_url: str = field(default_factory=lambda: _env("REDIS_URL", ""))
    # Seconds the gateway waits for Rasa before answering the customer with an apology.
    rasa_timeout: float = field(default_factory=lambda: float(_env("RASA_TIMEOUT", "15")))
    # Proxies (addresses/CIDRs, comma-separated) whose X-Forwarded-Proto/-For are believed
    # (bot/proxies.py); empty: the headers are ignored.
    trusted_proxies: str = field(default_factory=lambda: _env("TRUSTED_PROXIES", ""))
    # Different account numbers one chat conversation (10 minutes) and one web client address (an
    # hour) may ask about before "too many" (bot/api/routes.py); mobile carriers put many
    # customers behind one address, so the per-address cap is the higher one.
    account_lookups_per_conversation: int = field(
        default_factory=lambda: int(_env("ACCOUNT_LOOKUPS_PER_CONVERSATION", "5")))
    account_lookups_per_client: int = field(default_factory=lambda: int(_env("ACCOUNT_LOOKUPS_PER_CLIENT", "20")))
    # One conversation cannot take the bot for everyone (bot.conversations.TurnGate): customer
    # messages per minute (sustained) and at once (burst), and turns waiting behind the one being
    # answered. Over the limits a message is stored and answered politely, never sent to Rasa.
    chat_rate_per_minute: float = field(default_factory=lambda: float(_env("CHAT_RATE_PER_MINUTE", "30")))
    chat_burst: int = field(default_factory=lambda: int(_env("CHAT_BURST", "10")))
    chat_queue: int = field(default_factory=lambda: int(_env("CHAT_QUEUE", "5")))

    app_env: str = field(default_factory=app_env)

    def secrets(self) -> dict[str, tuple[str, str]]:
        return {"SERVICE_TOKEN": (self.service_token, _DEV_SERVICE_TOKEN),
                "SESSION_SECRET": (self.session_secret, _DEV_SESSION_SECRET),
                "RASA_TOKEN": (self.rasa_token, DEV_RASA_TOKEN)}

    def check_secrets(self) -> None:
        """Warns about development secrets in development; refuses them anywhere else."""
        for name in check_secrets(self.secrets(), self.app_env):
            log.warning("%s is not set: using the public development value (APP_ENV=development only)", name)


SETTINGS = web.AppKey("settings", Settings)  # the gateway's settings on its app


def load_settings() -> Settings:
    return Settings()


def rasa_server_secrets(environ=os.environ) -> dict[str, tuple[str, str]]:
    """The Rasa server's secrets (checked by its `gateway` channel at start-up)."""
    return {"RASA_TOKEN": (environ.get("RASA_TOKEN", ""), DEV_RASA_TOKEN),
            "ACTION_TOKEN": (environ.get("ACTION_TOKEN", ""), DEV_ACTION_TOKEN)}
