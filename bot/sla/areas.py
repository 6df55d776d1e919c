"""Area types of places (areas.yml): which repair deadline (城区/乡村/偏远) an address gets.

The file nests places (district -> township -> village, 社区 or road); each has an optional
area type that the places under it inherit. ``AreaMap.classify`` finds the most specific
listed place an address names and answers its area type, or ``None`` when the file does not
decide (no place named, a place without a type, or two equally specific places disagreeing):
then the assistant asks the customer. Nothing is guessed from words such as 村 or 社区.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml
from aiohttp import web

AREA_TYPES = ("urban", "rural", "remote")
# Suffixes customers leave out: 江宁区 -> 江宁, 湖熟街道 -> 湖熟 (never 村/社区: 大泉 is also a road).
_SHORT_SUFFIXES = ("街道", "区", "县", "镇")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Place:
    path: tuple[str, ...]  # 溧水区, 晶桥镇, 枫香岭村
    names: tuple[str, ...]  # the full name first, then short forms
    area_type: str | None  # its own or inherited

    @property
    def depth(self) -> int:
        return len(self.path)

    @property
    def name(self) -> str:
        return self.path[-1]


@dataclass(frozen=True)
class Classification:
    area_type: str | None
    place: str | None  # the matched place's path, e.g. 溧水区晶桥镇枫香岭村


def _short_names(name: str, ancestors: tuple[str, ...]) -> tuple[str, ...]:
    names = [name]
    for suffix in _SHORT_SUFFIXES:
        short = name[: -len(suffix)] if name.endswith(suffix) else ""
        if len(short) >= 2 and not any(short == a or a.startswith(short) for a in ancestors):
            names.append(short)
    return tuple(names)


class AreaMap:
    def __init__(self, config: Mapping[str, Any] | None, source: str = "areas.yml"):
        self.source = source
        self.places: list[Place] = []
        self._load((config or {}).get("places") or {}, (), None, "places")

    def _load(self, places: Any, path: tuple[str, ...], inherited: str | None, where: str) -> None:
        if not isinstance(places, Mapping):
            raise ValueError(f"{self.source}: {where} must be a mapping of place names")
        for name, node in places.items():
            name = str(name).strip()
            here = f"{where}.{name}"
            children: Any = {}
            if isinstance(node, Mapping):
                unknown = set(node) - {"type", "places"}
                if unknown:
                    raise ValueError(f"{self.source}: {here}: unknown keys {sorted(unknown)}")
                own = node.get("type", inherited) if "type" in node else inherited
                children = node.get("places") or {}
            else:
                own = node
            if own is not None and own not in AREA_TYPES:
                raise ValueError(f"{self.source}: {here}: area type must be one of {AREA_TYPES}")
            self.places.append(Place(path + (name,), _short_names(name, path), own))
            self._load(children, path + (name,), own, here)

    @staticmethod
    def _named(place: Place, address: str) -> str | None:
        return next((n for n in place.names if n in address), None)

    def classify(self, address: str | None) -> Classification:
        address = _SPACE.sub("", address or "")
        if not address:
            return Classification(None, None)
        named = {p.path: self._named(p, address) for p in self.places}
        named_full = {path for path, hit in named.items() if hit == path[-1]}

        def consistent(place: Place) -> bool:
            # Every ancestor is named, or no other place of that level is named in full.
            for level in range(place.depth - 1):
                ancestor = place.path[: level + 1]
                if named.get(ancestor):
                    continue
                rivals = [p for p in named_full if len(p) == level + 1 and p[:level] == ancestor[:level]]
                if rivals:
                    return False
            return True

        matches = [p for p in self.places if named[p.path] and consistent(p)]
        if not matches:
            return Classification(None, None)
        deepest = max(p.depth for p in matches)
        best = [p for p in matches if p.depth == deepest]
        full = [p for p in best if named[p.path] == p.name]
        best = full or best
        types = {p.area_type for p in best}
        if len(types) != 1:
            return Classification(None, None)
        place = best[0] if len(best) == 1 else None
        return Classification(types.pop(), "".join(place.path) if place else None)


AREAS = web.AppKey("areas", AreaMap)  # the gateway's areas.yml on its app


def load_areas(path: str | Path) -> AreaMap:
    """Reads and validates areas.yml; a missing file is an empty map (every address asked)."""
    path = Path(path)
    if not path.exists():
        return AreaMap({}, source=str(path))
    with path.open(encoding="utf-8") as handle:
        config = yaml.safe_load(handle) or {}
    if not isinstance(config, Mapping):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return AreaMap(config, source=str(path))
