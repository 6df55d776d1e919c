"""Small, explicit validators for request bodies and query strings (each names the field)."""
from __future__ import annotations

import json
import re
from typing import Any, Iterable

from aiohttp import web

from bot.api.errors import ApiError, validation_error
from bot.text_safety import unstorable_field

ACCOUNT_NO = re.compile(r"^\d{10}$")
PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
CHANNEL = re.compile(r"^[a-z][a-z0-9_]{0,15}$")
SLUG = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
MOBILE = re.compile(r"^1[3-9][0-9]{9}$")  # a mainland mobile number, in full
PHONE = re.compile(r"^\+?[0-9][0-9\- ]{4,18}[0-9]$")
LAST4 = re.compile(r"^\d{4}$")
# A gateway conversation id (web session id, wechat:<OpenID>, wecom:<UserID>): printable, no spaces.
CONVERSATION_ID = re.compile(r"^[^\s\x00-\x1f\x7f]{1,128}$")
MAX_DETAILS_BYTES = 16 * 1024


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400/415 JSON error."""
    ctype = request.content_type
    if ctype not in ("application/json", "text/json") and not ctype.endswith("+json"):
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    try:
        raw = await request.text()
        body = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
    except RecursionError:  # the parser's own guard against a stack-exhausting body
        raise ApiError(400, "invalid_json", "the body is nested too deeply") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    bad = unstorable_field(body)
    if bad is not None:
        raise validation_error(bad, "contains a character that cannot be stored (NUL or a lone surrogate)")
    return body


def string(body: dict, field: str, *, required: bool = False, max_len: int = 255,
           pattern: re.Pattern | None = None, choices: Iterable[str] | None = None,
           hint: str | None = None) -> str | None:
    value = body.get(field)
    if value is None or (isinstance(value, str) and value.strip() == "" and not required):
        if required:
            raise validation_error(field, "is required")
        return None
    if not isinstance(value, str):
        raise validation_error(field, "must be a string")
    value = value.strip()
    if required and not value:
        raise validation_error(field, "must not be empty")
    if len(value) > max_len:
        raise validation_error(field, f"must be at most {max_len} characters")
    if choices is not None:
        allowed = tuple(choices)
        if value not in allowed:
            raise validation_error(field, f"must be one of {', '.join(allowed)}")
    if pattern is not None and not pattern.match(value):
        raise validation_error(field, hint or "has an invalid format")
    return value


def json_dict(body: dict, field: str) -> dict | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise validation_error(field, "must be a JSON object")
    if len(json.dumps(value, ensure_ascii=False).encode()) > MAX_DETAILS_BYTES:
        raise validation_error(field, f"must be at most {MAX_DETAILS_BYTES} bytes")
    return value


def query_int(request: web.Request, field: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(field)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise validation_error(field, "must be an integer") from None
    if not low <= value <= high:
        raise validation_error(field, f"must be between {low} and {high}")
    return value


def query_string(request: web.Request, field: str, **kwargs) -> str | None:
    return string(dict(request.query), field, **kwargs)
