"""A spaCy gazetteer for addresses and business types in Chinese messages.

A blank `zh` pipeline (character segmentation, no model download) with an EntityRuler over
every province, city and district name that `cpca` ships (adcodes.csv), their short forms for
provinces and cities (江苏, 南京), and the business-type words of `business_types.py`.

An address is the span from the first place name to the end of the address-like text that
follows it: more place names, street-level names ending in 路/街/村/小区..., and numbers
with 号/栋/单元/室 (南京市玄武区中山路18号3栋501). Without a place name, a street with a
house number (中山路18号), an estate with a building number (幸福小区5栋) or a village group
(东风村三组) or a village or 社区 with a number (石塘村45号) still counts. The utility's own
places below the district (areas.yml) are place names too.
"""
from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Dict, Iterable, List, Optional, Set

from nlu_components.business_types import BUSINESS_TYPE_SYNONYMS

PLACE_LABEL = "PLACE"
BUSINESS_LABEL = "BUSINESS"

# Administrative names in the data that are not places a customer would name.
_SKIP_NAMES = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划", "城区", "郊区", "矿区"}
_PROVINCE_SUFFIXES = ("壮族自治区", "回族自治区", "维吾尔自治区", "特别行政区", "自治区", "省", "市")
_CITY_SUFFIXES = ("地区", "市", "盟")

# Characters that end an address: function words, verbs of the complaint, pronouns.
_STOP_CHARS = (
    "了的我你他她它们吗呢吧啊呀哦嘛是在有没停断跳闸坏修查想要请帮给让把被说问还又都也就才"
    "这那哪啥咋怎么么时候能会可已经刚今昨早晚点电家俺咱您和及或从到"
)
_NAME_CHAR = rf"(?:(?![{_STOP_CHARS}])[\u4e00-\u9fff])"
_SUFFIX = (
    "街道|大道|大街|胡同|社区|小区|花园|新村|家园|公寓|大厦|广场|开发区|工业园|"
    "省|市|区|县|旗|镇|乡|路|街|巷|弄|村|苑|庄|屯|组|里"
)
_NUMBER = r"(?:[0-9A-Za-z]+(?:-[0-9]+)*(?:号楼|号院|号|栋|幢|座|单元|室|楼|层|组|弄|户)?|[东西南北]侧)"
_TAIL_RE = re.compile(rf"(?:{_NAME_CHAR}{{0,10}}?(?:{_SUFFIX})|{_NUMBER})*")
# Without a known place name: a street, estate or building with a number (中山路18号,
# 幸福小区5栋2单元), or a village group (东风村三组).
_STREET_RE = re.compile(
    rf"{_NAME_CHAR}{{2,6}}?(?:大道|大街|路|街|巷|弄|小区|花园|新村|家园|公寓|大厦)(?:{_NUMBER})+"
    rf"|{_NAME_CHAR}{{1,5}}?村(?:[一二三四五六七八九十0-9]{{1,2}}组)"
    rf"|{_NAME_CHAR}{{2,5}}?(?:村|社区)(?:{_NUMBER})+"
)


@dataclass(frozen=True)
class GazetteerMatch:
    entity: str       # "address" or "business_type"
    value: str        # text span for address, canonical key for business_type
    start: int
    end: int
    text: str


def _place_names() -> Set[str]:
    raw = resources.files("cpca.resources").joinpath("adcodes.csv").read_bytes()
    names: Set[str] = set()
    for row in csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))):
        name, code = row["name"].strip(), row["adcode"].strip()
        if not name or name in _SKIP_NAMES:
            continue
        names.add(name)
        if code[2:] == "0000000000":
            names.update(_short(name, _PROVINCE_SUFFIXES))
        elif code[4:] == "00000000":
            names.update(_short(name, _CITY_SUFFIXES))
    return names


_AREAS_FILE = Path(__file__).resolve().parent.parent / "areas.yml"
_LOCAL_SHORT_SUFFIXES = ("街道", "镇", "区")


def _local_place_names(path: Optional[Path] = None) -> Set[str]:
    """The utility's own places below the district (areas.yml: 湖熟街道, 和平社区, 枫香岭村,
    将军大道…) and their short forms (湖熟, 晶桥): an address naming them is kept whole even
    where a name holds a character that otherwise ends an address (和平社区)."""
    path = Path(os.environ.get("AREAS_CONFIG") or path or _AREAS_FILE)
    if not path.exists():
        return set()
    import yaml

    names: Set[str] = set()

    def walk(places: Any) -> None:
        if not isinstance(places, dict):
            return
        for name, node in places.items():
            name = str(name).strip()
            names.add(name)
            names.update(_short(name, _LOCAL_SHORT_SUFFIXES))
            if isinstance(node, dict):
                walk(node.get("places"))

    walk((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("places"))
    return names


def _district_stems(names: Iterable[str]) -> Set[str]:
    """Short forms that are also a district's name without 区/县/市 (江宁, 溧水): a place only
    right before another place (溧水晶桥), never alone (江宁供电所)."""
    names = set(names)
    return {n for n in names if any(f"{n}{suffix}" in names for suffix in ("区", "县", "市"))
            and not n.endswith(("区", "县", "市", "省"))}


def _short(name: str, suffixes: Iterable[str]) -> List[str]:
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return [name[: -len(suffix)]]
    return []


class Gazetteer:
    """Finds addresses and business types; build once, reuse (spaCy set-up takes ~1 s)."""

    def __init__(self, business_types: Optional[Dict[str, List[str]]] = None) -> None:
        import spacy

        self.nlp = spacy.blank("zh")  # character segmenter: no download needed
        ruler: Any = self.nlp.add_pipe("entity_ruler")  # an EntityRuler (typed as any Pipe)
        local = _local_place_names()
        places = _place_names() | local
        self.district_stems = _district_stems(places) & local
        patterns = [{"label": PLACE_LABEL, "pattern": name} for name in sorted(places)]
        for key, words in (business_types or BUSINESS_TYPE_SYNONYMS).items():
            patterns += [{"label": BUSINESS_LABEL, "pattern": w, "id": key} for w in words]
        ruler.add_patterns(patterns)
        self.place_count = sum(1 for p in patterns if p["label"] == PLACE_LABEL)

    def find(self, text: str) -> List[GazetteerMatch]:
        doc = self.nlp(text)
        found: List[GazetteerMatch] = []
        places = [ent for ent in doc.ents if ent.label_ == PLACE_LABEL]
        for ent in doc.ents:
            if ent.label_ == BUSINESS_LABEL:
                found.append(GazetteerMatch("business_type", ent.ent_id_, ent.start_char, ent.end_char, ent.text))
        address = self._address(text, places)
        if address:
            # A business word inside an address (光伏路) is part of the address.
            found = [m for m in found if m.end <= address.start or m.start >= address.end]
            found.append(address)
        return sorted(found, key=lambda m: m.start)

    def _address(self, text: str, places) -> Optional[GazetteerMatch]:
        starts = {p.start_char for p in places}
        places = [p for p in places if p.text not in self.district_stems or p.end_char in starts]
        if places:
            start = places[0].start_char
            end = places[0].end_char
            for ent in places[1:]:  # a chain of place names: 江苏省南京市玄武区
                if ent.start_char != end:
                    break
                end = ent.end_char
            tail = _TAIL_RE.match(text, end)
            while tail and tail.end() > end:
                end = tail.end()
                # a place name can follow a street-level part again (…开发区南京路)
                nxt = next((p for p in places if p.start_char == end), None)
                if nxt is None:
                    break
                end = nxt.end_char
                tail = _TAIL_RE.match(text, end)
            return GazetteerMatch("address", text[start:end], start, end, text[start:end])
        street = _STREET_RE.search(text)
        if street:
            tail_match = _TAIL_RE.match(text, street.end())
            assert tail_match is not None  # the tail pattern also matches nothing
            end = tail_match.end()
            return GazetteerMatch("address", text[street.start():end], street.start(), end, text[street.start():end])
        return None


@lru_cache(maxsize=1)
def default_gazetteer() -> Gazetteer:
    return Gazetteer()
