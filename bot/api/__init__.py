"""The gateway's REST API (``/api/v1``), its service-token guard and its OpenAPI description.

The guard is a middleware on every path under ``/api/v1/``, so routes other modules add there
(``/api/v1/handoffs``...) are protected the same way.
"""
from __future__ import annotations

import hmac

from aiohttp import web

from bot.api import notices
from bot.api.errors import ApiError, json_errors
from bot.api.openapi import OPENAPI_SPEC, spec
from bot.config import SETTINGS
from bot.api.routes import routes

PROTECTED_PREFIX = "/api/v1/"


def token_matches(given: str, expected: str) -> bool:
    """Constant-time comparison (no early exit that leaks how much of the token matched)."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


@web.middleware
async def require_service_token(request: web.Request, handler):
    if not request.path.startswith(PROTECTED_PREFIX) and request.path != PROTECTED_PREFIX.rstrip("/"):
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    expected = request.config_dict[SETTINGS].service_token
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <service token>",
                       headers={"WWW-Authenticate": "Bearer"})
    if not expected or not token_matches(token.strip(), expected):
        raise ApiError(401, "unauthorized", "the service token is wrong",
                       headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return await handler(request)


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI_SPEC])


def setup(app: web.Application) -> None:
    # json_errors wraps the guard, so a refused token is answered as JSON too.
    app.middlewares.append(json_errors)
    app.middlewares.append(require_service_token)
    app[OPENAPI_SPEC] = spec()
    app.router.add_routes(routes)
    notices.setup(app)  # /api/v1/notices/... and the usage chart's public link
    app.router.add_get("/api/openapi.json", openapi_json)
