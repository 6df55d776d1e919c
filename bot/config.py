"""Settings, read once from the environment. Every setting has a working default for one machine."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMEZONE = "Asia/Shanghai"

log = logging.getLogger(__name__)

_DEV_SERVICE_TOKEN = "dev-service-token-change-me"
_DEV_SESSION_SECRET = "dev-session-secret-change-me"


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

    def warn_insecure_defaults(self) -> None:
        if self.service_token == _DEV_SERVICE_TOKEN:
            log.warning("SERVICE_TOKEN is not set: using the development token (set it in production)")
        if self.session_secret == _DEV_SESSION_SECRET:
            log.warning("SESSION_SECRET is not set: using the development secret (set it in production)")


def load_settings() -> Settings:
    return Settings()
