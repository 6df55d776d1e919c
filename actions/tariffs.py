"""The prices the assistant quotes (tariffs.yml), loaded once by the action server."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict

import yaml

ROOT = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=1)
def tariffs() -> Dict[str, Any]:
    path = Path(os.environ.get("TARIFFS_CONFIG") or ROOT / "tariffs.yml")
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def time_of_use() -> Dict[str, Any]:
    return (tariffs().get("residential") or {}).get("time_of_use") or {}


def price_slots() -> Dict[str, str]:
    """Prices as text for the responses in domain.yml ({tier1_price}, {peak_price}, ...)."""
    data = tariffs()
    residential = data.get("residential") or {}
    tiers = residential.get("tiers") or []
    tou = residential.get("time_of_use") or {}
    values: Dict[str, str] = {}
    for tier in tiers:
        values[f"tier{tier['tier']}_price"] = f"{float(tier['price']):.4f}"
    for name in ("peak", "valley"):
        if name in tou:
            values[f"{name}_price"] = f"{float(tou[name]['price']):.4f}"
            values[f"{name}_hours"] = str(tou[name]["hours"])
    for kind in ("commercial", "industrial"):
        if kind in data:
            values[f"{kind}_price"] = f"{float(data[kind]['price']):.4f}"
    return values
