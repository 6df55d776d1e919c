"""Rewrites homophone typos and dialect words to standard Chinese before tokenisation.

点费 → 电费, 户好 → 户号, 报休 → 报修, 调闸 → 跳闸, 咋 → 怎么, 啥 → 什么, 莫得 → 没有,
查一哈 → 查一下 … The pairs live in ``colloquial_pairs.yml`` beside this file. One left-to-right
pass, longest entry first, so a rewritten word is never rewritten again.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Dict, Tuple

import yaml

from nlu_components.numerals import OffsetMap, _apply

PAIRS_FILE = Path(__file__).with_name("colloquial_pairs.yml")


@lru_cache(maxsize=1)
def load_pairs() -> Dict[str, str]:
    data = yaml.safe_load(PAIRS_FILE.read_text(encoding="utf-8")) or {}
    pairs: Dict[str, str] = {}
    for group in data.values():
        for source, target in (group or {}).items():
            pairs[str(source)] = str(target)
    return pairs


@lru_cache(maxsize=1)
def _pattern() -> "re.Pattern[str]":
    words = sorted(load_pairs(), key=len, reverse=True)
    return re.compile("|".join(re.escape(w) for w in words))


def normalise(text: str) -> Tuple[str, OffsetMap]:
    """Returns (standard text, map from original offsets to new offsets)."""
    pairs = load_pairs()
    replacements = [(m.start(), m.end(), pairs[m.group(0)]) for m in _pattern().finditer(text)]
    return _apply(text, replacements)


def normalise_text(text: str) -> str:
    return normalise(text)[0]
