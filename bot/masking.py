"""Masking personal data: the one set of rules for phones and ID numbers, fields and free text.

Used by the staff console (what agents see), the REST API (``phone_masked``), the hand-off
messages to customers and the actions (this module imports nothing of the gateway, so the
action server can use it too).

- ``mask_phone("13812340001")`` -> ``138****0001``: a field known to hold a phone number;
- ``mask_text(text)``: every mobile (also written ``138 1234 0001``, ``+86 138-1234-0001``),
  landline with an area code (``025-84561234``, ``(025)84561234``, ``02584561234``) and
  ID/bank-card-like number (12 to 19 digits; an 18-character resident ID may end in X) inside
  free text, masked the same way: first three and last four digits stay;
- ``mask_name("张伟")`` -> ``张*``: a person's name, family name kept (``欧阳娜娜`` -> ``欧阳**``);
- ``redact(value)``: a whole read model (dicts, lists) with every text masked and every
  phone field masked, except identifiers the console needs to link (ids, ticket and account
  numbers) -- what an agent's page or JSON gets.
"""
from __future__ import annotations

import re
from typing import Any

# Long digit runs first (ID and bank-card numbers, 12-19 digits), so a mobile-looking head of one is not cut out.
_LONG_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{11,18}[\dXx](?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)(?:(?:\+|00)?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)")
_LANDLINE = re.compile(
    r"(?<!\d)(?:\(0\d{2,3}\)[ -]?\d{7,8}|0\d{2,3}[ -]\d{7,8}|0\d{10,11})(?!\d)")
# Keys whose values are identifiers or links, never personal free text.
KEEP_KEYS = frozenset({"id", "conversation_id", "ticket_no", "callback_ticket_no", "account_no",
                       "request_key", "client_msg_id", "outage_no", "csrf_token", "url", "rule", "intent",
                       "flag_intent", "handoff_id", "active_handoff_id"})
# Keys whose whole value is a phone number.
PHONE_KEYS = frozenset({"phone", "contact_phone"})
# Keys whose whole value is a customer's name; also "name" inside a "customer" dict.
NAME_KEYS = frozenset({"customer_name"})
# Two-character family names kept whole by mask_name.
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "夏侯", "长孙",
                     "宇文", "司徒", "端木", "独孤", "南宫", "西门", "轩辕", "呼延")


def mask_name(name: Any) -> str:
    """A person's name as agents see it: the family name stays, each other character is ``*``."""
    if not name:
        return ""
    name = str(name).strip()
    if name.startswith("（"):  # placeholders such as （已删除）
        return name
    keep = 2 if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else 1
    return name[:keep] + "*" * max(1, len(name) - keep)


def mask_phone(phone: Any) -> str:
    """A phone field: ``138****0001``; a short number keeps only its last four digits."""
    if phone is None:
        return ""
    digits = "".join(ch for ch in str(phone) if ch.isdigit())
    if not digits:
        return ""
    for country in ("0086", "86"):  # +86 / 0086 before a mobile
        if len(digits) == 11 + len(country) and digits.startswith(country):
            digits = digits[len(country):]
    if len(digits) >= 11:
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) >= 7:
        return f"****{digits[-4:]}"
    return "****"


def _mask_long(match: re.Match) -> str:
    value = match.group(0)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_text(text: Any) -> str:
    """Free text with every phone and ID/card number in it masked."""
    if not text:
        return "" if text is None else text
    text = str(text)
    text = _LONG_NUMBER.sub(_mask_long, text)
    text = _MOBILE.sub(lambda m: mask_phone(m.group(0)), text)
    return _LANDLINE.sub(lambda m: mask_phone(m.group(0)), text)


def redact(value: Any, key: str | None = None) -> Any:
    """A copy of ``value`` (dicts, lists, tuples, strings; anything else as is) as an agent may see it."""
    if key in KEEP_KEYS:
        return value
    if isinstance(value, str):
        if key in NAME_KEYS:
            return mask_name(value)
        return mask_phone(value) if key in PHONE_KEYS else mask_text(value)
    if isinstance(value, dict):
        masked = {k: redact(v, k if isinstance(k, str) else None) for k, v in value.items()}
        if key == "customer" and isinstance(value.get("name"), str):
            masked["name"] = mask_name(value["name"])
        return masked
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    if isinstance(value, tuple):
        return tuple(redact(v, key) for v in value)
    return value
