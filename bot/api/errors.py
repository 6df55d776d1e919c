"""JSON errors of the REST API: ``{"error": code, "message": text}`` (+ ``field`` for validation)."""
from __future__ import annotations

import json
import logging
import re
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)


class ApiError(web.HTTPException):
    """An HTTP error whose body is the API's JSON error object."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None):
        self.status_code = status
        body: dict[str, Any] = {"error": code, "message": message}
        if field:
            body["field"] = field
        super().__init__(text=json.dumps(body, ensure_ascii=False), content_type="application/json",
                         headers=headers)


def validation_error(field: str, message: str) -> ApiError:
    return ApiError(400, "validation_error", f"{field}: {message}", field=field)


def not_found(message: str) -> ApiError:
    return ApiError(404, "not_found", message)


_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
                 415: "unsupported_media_type", 422: "unprocessable"}


def _json_body(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status,
                             dumps=lambda o: json.dumps(o, ensure_ascii=False))


@web.middleware
async def json_errors(request: web.Request, handler):
    """Every error under /api/ is JSON, including aiohttp's own 404/405 and crashes."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except ApiError:
        raise
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        reason = exc.reason or "error"
        code = _STATUS_CODES.get(exc.status, re.sub(r"\W+", "_", reason.lower()).strip("_"))
        response = _json_body(exc.status, code, exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else reason)
        for name in ("Allow", "WWW-Authenticate"):
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        return response
    except Exception:  # noqa: BLE001 - the client gets a JSON 500, the log gets the trace
        log.exception("unhandled error in %s %s", request.method, request.path)
        return _json_body(500, "internal_error", "internal error, see the gateway log")
