"""Normalise Chinese numerals and spoken digits in customer messages.

Customers type account numbers and phones as 三二零一…, 幺三八…, with full-width digits or
with spaces and dashes (138 1234 0001). Entity extraction (regexes, DIET) works on the text,
so the text itself is rewritten before tokenisation. Normal words that contain numeral
characters (一下, 一般, 三天, 十分) are left alone: spelled digits are only converted in runs of
four or more, and numbers with 十/百/千/万 only in front of a unit (月, 号, 度, 元, 栋...).

`normalise(text)` returns the new text and an `OffsetMap` that moves character offsets of
the original text onto the new one (used to keep training annotations aligned).
"""
from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Callable, List, Tuple

import cn2an

SPOKEN_DIGITS = {
    "零": "0", "〇": "0", "○": "0", "洞": None,  # 洞 (military 0) is too ambiguous
    "一": "1", "幺": "1", "么": None, "二": "2", "三": "3", "四": "4",
    "五": "5", "六": "6", "七": "7", "八": "8", "九": "9",
}
SPOKEN_DIGITS = {k: v for k, v in SPOKEN_DIGITS.items() if v is not None}
DIGIT_CHARS = "0123456789" + "".join(SPOKEN_DIGITS)

# Runs of spelled digits that are words, not numbers.
IDIOMS = {"七七八八", "一一二二"}

MIN_SPOKEN_RUN = 4          # 三二零一 yes, 三五 / 一一 no
MIN_JOINED_DIGITS = 7       # spaces/dashes are removed only inside long numbers
MAX_GROUP_DIGITS = 6        # two complete numbers side by side stay apart
NO_NUMBER_LENGTHS = {7, 8, 9}   # joined lengths that are two numbers side by side

# A run of digit groups separated by one space or dash.
_RUN_RE = re.compile(
    rf"[{DIGIT_CHARS}]+(?:(?:[ \t]{{1,2}}|\s?[-–—]\s?)[{DIGIT_CHARS}]+)*"
)
_SEP_RE = re.compile(r"\s{1,2}|\s?[-–—]\s?")

# Numbers written with positional characters, converted only before a unit.
_UNITS = (
    "月份|月|号楼|号|日|年|度|千瓦时|千瓦|瓦|伏|元|块钱|块|栋|幢|单元|室|楼|层|户|"
    "分钟|小时|个小时|天|周|岁|次|平方米|平米|米"
)
_POSITIONAL_RE = re.compile(
    rf"(?<![零〇一二两三四五六七八九十百千万亿])"
    rf"([零〇一二两三四五六七八九]?[十百千万][零〇一二两三四五六七八九十百千万]*)(?=(?:{_UNITS}))"
)
# A single spelled digit before 月 (九月, 2026年九月) or a building/unit word.
_SINGLE_RE = re.compile(
    r"(?<![零〇一二两三四五六七八九十百千万亿个第])([一二三四五六七八九])(?=月(?!亮)|号楼|栋|幢|单元)"
)

# Short spelled room/building numbers next to address words: 三栋五零一, 五零一室.
_ROOM_AFTER_RE = re.compile(r"(?<=[栋幢元楼号])([零〇幺一二三四五六七八九]{2,3})(?![零〇幺一二三四五六七八九十百千万])")
_ROOM_BEFORE_RE = re.compile(r"(?<![零〇幺一二三四五六七八九十百千万])([零〇幺一二三四五六七八九]{2,3})(?=室)")
# House numbers read digit by digit after a road or lane: 天元中路一二三号, 幸福里二号.
_HOUSE_NUMBER_RE = re.compile(r"(?<=[路街巷弄里])([零〇幺一二三四五六七八九]{1,3})(?=号)")


def _fullwidth_to_ascii(ch: str) -> str:
    code = ord(ch)
    if ch == "\u3000":
        return " "
    if 0xFF10 <= code <= 0xFF19 or 0xFF21 <= code <= 0xFF3A or 0xFF41 <= code <= 0xFF5A or code == 0xFF0D:
        return chr(code - 0xFEE0)
    return ch


@dataclass
class OffsetMap:
    """Maps boundary offsets of an original text onto a rewritten text.

    Kept as sorted edit records (old_start, old_end, new_start, new_end); offsets outside
    edits shift by the accumulated length change, offsets inside an edit are clamped.
    """

    edits: List[Tuple[int, int, int, int]] = field(default_factory=list)

    def __call__(self, offset: int) -> int:
        starts = [e[0] for e in self.edits]
        i = bisect_right(starts, offset) - 1
        if i < 0:
            return offset
        old_start, old_end, new_start, new_end = self.edits[i]
        if offset >= old_end:
            return new_end + (offset - old_end)
        if offset == old_start:
            return new_start
        return min(new_start + (offset - old_start), new_end)

    def then(self, other: "OffsetMap") -> "OffsetMap":
        """Composition: apply self, then other (as a callable map)."""
        first, second = self, other
        composed = _ComposedMap(lambda o: second(first(o)))
        return composed  # type: ignore[return-value]


class _ComposedMap(OffsetMap):
    def __init__(self, fn: Callable[[int], int]) -> None:
        super().__init__([])
        self._fn = fn

    def __call__(self, offset: int) -> int:
        return self._fn(offset)


def _apply(text: str, replacements: List[Tuple[int, int, str]]) -> Tuple[str, OffsetMap]:
    """Applies non-overlapping (start, end, new) replacements, left to right."""
    out: List[str] = []
    edits: List[Tuple[int, int, int, int]] = []
    cursor = 0
    new_len = 0
    for start, end, new in sorted(replacements):
        out.append(text[cursor:start])
        new_len += start - cursor
        edits.append((start, end, new_len, new_len + len(new)))
        out.append(new)
        new_len += len(new)
        cursor = end
    out.append(text[cursor:])
    return "".join(out), OffsetMap(edits)


def _digits_of(group: str) -> str:
    return "".join(SPOKEN_DIGITS.get(ch) or ch for ch in group)


def _looks_like_date(groups: List[str]) -> bool:
    # 2026-09, 2026 09 01: a year followed by short groups is a date, not one number.
    return (
        len(groups[0]) == 4
        and groups[0][:2] in ("19", "20")
        and all(len(g) <= 2 for g in groups[1:])
    )


def _normalise_run(run: str) -> str:
    """Rewrites one candidate run of digit groups (see module doc for the rules)."""
    pieces = _SEP_RE.split(run)
    seps = _SEP_RE.findall(run)
    digits = [_digits_of(p) for p in pieces]
    # Decide which separators disappear: only between short groups of one long number.
    segments: List[List[int]] = [[0]]
    for i in range(len(seps)):
        left, right = digits[i], digits[i + 1]
        joinable = len(left) <= MAX_GROUP_DIGITS and len(right) <= MAX_GROUP_DIGITS
        if joinable:
            segments[-1].append(i + 1)
        else:
            segments.append([i + 1])
    # A segment is joined only if it is long enough and not a date.
    out: List[str] = []
    for seg_index, seg in enumerate(segments):
        seg_digits = [digits[i] for i in seg]
        total = sum(len(d) for d in seg_digits)
        # (7 to 9 digits make no number a customer gives us: "2004 1304" is a room and a phone's
        # last four; 10 is a 户号, 11 a mobile, 12 and more a ticket, card or meter number.)
        join = len(seg) > 1 and total >= MIN_JOINED_DIGITS and not _looks_like_date(seg_digits) \
            and total not in NO_NUMBER_LENGTHS
        if join:
            parts = ["".join(pieces[i] for i in seg)]
        else:
            parts = [pieces[i] for i in seg]
        rendered: List[str] = []
        for part_index, part in enumerate(parts):
            spoken = any(ch in SPOKEN_DIGITS for ch in part)
            if spoken and len(part) >= MIN_SPOKEN_RUN and part not in IDIOMS:
                rendered.append(_digits_of(part))
            else:
                rendered.append(part)
            if not join and part_index < len(parts) - 1:
                rendered.append(seps[seg[part_index]])
        if seg_index > 0:
            out.append(seps[seg[0] - 1])
        out.append("".join(rendered))
    return "".join(out)


def _positional_to_digits(numeral: str) -> str:
    if all(ch in SPOKEN_DIGITS for ch in numeral):
        return _digits_of(numeral)
    try:
        value = cn2an.cn2an(numeral, "smart")
    except (ValueError, KeyError):
        return numeral
    return str(int(value)) if float(value).is_integer() else str(value)


def normalise(text: str) -> Tuple[str, OffsetMap]:
    """Returns (normalised text, map from original offsets to normalised offsets)."""
    # 1. Full-width digits and Latin letters to ASCII (same length, no offset change).
    text = "".join(_fullwidth_to_ascii(ch) for ch in text)

    # 2. Digit runs: spoken digits, separators inside numbers.
    replacements = []
    for match in _RUN_RE.finditer(text):
        new = _normalise_run(match.group(0))
        if new != match.group(0):
            replacements.append((match.start(), match.end(), new))
    text, map1 = _apply(text, replacements)

    # 3. Numbers with 十/百/千/万 before a unit, single digits before 月/栋/单元.
    replacements = []
    for regex in (_POSITIONAL_RE, _SINGLE_RE, _ROOM_AFTER_RE, _ROOM_BEFORE_RE, _HOUSE_NUMBER_RE):
        for match in regex.finditer(text):
            new = _positional_to_digits(match.group(1))
            if new != match.group(1):
                replacements.append((match.start(1), match.end(1), new))
    replacements = _drop_overlaps(replacements)
    text, map2 = _apply(text, replacements)
    return text, map1.then(map2)


def _drop_overlaps(replacements: List[Tuple[int, int, str]]) -> List[Tuple[int, int, str]]:
    kept: List[Tuple[int, int, str]] = []
    for rep in sorted(replacements):
        if kept and rep[0] < kept[-1][1]:
            continue
        kept.append(rep)
    return kept


def normalise_text(text: str) -> str:
    return normalise(text)[0]
