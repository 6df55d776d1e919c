"""Which outages cover an address.

An outage names an area (``南京市玄武区``) and the streets or villages in scope
(``["中山路", "北京东路"]``). An address is covered when it names one of the scope's streets or
villages and does not name a different district than the outage's. Customers often leave out
the district (``中山路18号``): then the street alone decides. An outage with an empty scope covers
its whole area, and then the address must name the area's district.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Iterable

from bot.store.models import Outage
from bot.store.types import iso_local

# The districts and counties of Nanjing (the demo utility's area); any further district named
# by an outage's area is added on the fly.
KNOWN_DISTRICTS = ("玄武区", "秦淮区", "建邺区", "鼓楼区", "浦口区", "栖霞区", "雨花台区", "江宁区",
                   "六合区", "溧水区", "高淳区")
# Planned outages are announced 7 days ahead (供电营业规则): a customer asking "这周停不停电"
# must find one that starts in five days.
UPCOMING_WINDOW = timedelta(days=7)
_DISTRICT = re.compile(r"^([\u4e00-\u9fff]{1,5}?(?:区|县|市))")
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    return _SPACE.sub("", text or "")


def area_district(area: str) -> str | None:
    """The most specific district-level unit of an area, e.g. 南京市江宁区 -> 江宁区."""
    area = normalise(area)
    for district in KNOWN_DISTRICTS:
        if district in area:
            return district
    tail = re.sub(r"^.+?省", "", area)
    city = re.match(r"^.+?市(.+)$", tail)
    if city:
        tail = city.group(1)
    match = _DISTRICT.match(tail)
    return match.group(1) if match else (tail or None)


def districts_in(address: str, extra: Iterable[str] = ()) -> set[str]:
    address = normalise(address)
    return {d for d in (*KNOWN_DISTRICTS, *extra) if d and d in address}


def covers(outage: Outage, address: str, known_districts: Iterable[str | None] = ()) -> bool:
    address = normalise(address)
    if not address:
        return False
    district = area_district(outage.area)
    named = districts_in(address, [d for d in known_districts if d])
    if named and district and district not in named:
        return False  # the address is in another district
    scope = [normalise(s) for s in (outage.scope or []) if normalise(s)]
    if not scope:
        return bool(district and district in address)
    return any(names_place(item, address) for item in scope)


# "溧水白马曹家桥" for the village 曹家桥村: the name without its 村/社区 is said as often as with it.
_PLACE_SUFFIX = re.compile(r"^(.{2,}?)(村|社区|小区|新村|街道|镇|乡)$")
# ... but not where it begins another place's name: 大泉路 is no part of 大泉村.
_PLACE_CONTINUES = "路街巷道桥村镇乡区苑园里弄社小"


def names_place(item: str, address: str) -> bool:
    """Whether the address names the scope item (a street or a village), with or without its suffix."""
    if item in address:
        return True
    bare = _PLACE_SUFFIX.match(item)
    if not bare:
        return False
    stem = bare.group(1)
    return any(address[m.end():m.end() + 1] not in _PLACE_CONTINUES or m.end() == len(address)
               for m in re.finditer(re.escape(stem), address))


def relevant(outage: Outage, now: datetime) -> bool:
    """Current, or starting within the next 7 days."""
    return outage.end_at > now and outage.start_at <= now + UPCOMING_WINDOW


def outage_json(outage: Outage, now: datetime) -> dict[str, Any]:
    return {
        "outage_no": outage.outage_no,
        "kind": outage.kind,
        "area": outage.area,
        "scope": list(outage.scope or []),
        "start": iso_local(outage.start_at),
        "end": iso_local(outage.end_at),
        "reason": outage.reason,
        "active": outage.start_at <= now < outage.end_at,
    }
