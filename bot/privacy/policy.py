"""The retention policy: ``privacy.yml`` (path from ``PRIVACY_CONFIG``)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PATH = ROOT / "privacy.yml"

# Every kind of data the policy must give a period for.
KINDS = ("messages", "conversations", "handoff_summaries", "survey_comments", "tickets",
         "identity_checks", "audit_log")


class PolicyError(ValueError):
    pass


@dataclass(frozen=True)
class RetentionPolicy:
    days: dict[str, int] = field(default_factory=dict)
    run_at: time = time(3, 30)

    def period(self, kind: str) -> int:
        return self.days[kind]


def load_policy(path: Path | str | None = None) -> RetentionPolicy:
    path = Path(path or os.environ.get("PRIVACY_CONFIG") or DEFAULT_PATH)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise PolicyError(f"{path}: not found") from exc
    retention = raw.get("retention") or {}
    days: dict[str, int] = {}
    for kind in KINDS:
        value = retention.get(kind)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise PolicyError(f"{path}: retention.{kind} must be a whole number of days ≥ 1, got {value!r}")
        days[kind] = value
    unknown = set(retention) - set(KINDS)
    if unknown:
        raise PolicyError(f"{path}: unknown retention kinds {sorted(unknown)}")
    run_at = str(raw.get("run_at", "03:30"))
    try:
        hours, minutes = (int(part) for part in run_at.split(":"))
        at = time(hours, minutes)
    except (ValueError, TypeError) as exc:
        raise PolicyError(f"{path}: run_at must be HH:MM, got {run_at!r}") from exc
    return RetentionPolicy(days=days, run_at=at)
