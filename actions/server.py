"""The action server: rasa_sdk's, answering only Rasa.

    python -m actions.server --actions actions -p 5055      (the same options as ``python -m rasa_sdk``)

rasa_sdk's ``/webhook`` runs any action on any tracker it is sent, so whoever reaches it can
read any customer's bill. This entry point wraps rasa_sdk's Sanic app with a request
middleware: ``/webhook`` and ``/actions`` need ``Authorization: Bearer $ACTION_TOKEN`` (Rasa
sends it: ``action_endpoint.headers`` in endpoints.yml), else 401; ``/health`` stays open for
probes. Outside development (``APP_ENV``) it refuses to start unless ``ACTION_TOKEN`` and
``SERVICE_TOKEN`` (its key to the gateway's REST API) are real secrets.

Only functions here: rasa_sdk imports every module of the ``actions`` package.
"""
from __future__ import annotations

import hmac
import logging
import os
import sys
from typing import Mapping

log = logging.getLogger(__name__)

DEVELOPMENT = "development"
MIN_SECRET_LENGTH = 16
# The same public development values as bot/config.py (the gateway and Rasa side).
DEV_ACTION_TOKEN = "dev-action-token-change-me"
DEV_SERVICE_TOKEN = "dev-service-token-change-me"
OPEN_PATHS = frozenset({"/health"})


class InsecureSettings(RuntimeError):
    pass


def action_token(environ: Mapping[str, str] = os.environ) -> str:
    """ACTION_TOKEN; outside development a missing, public or short secret is refused."""
    environment = (environ.get("APP_ENV") or DEVELOPMENT).strip().lower()
    weak = [name for name, default in (("ACTION_TOKEN", DEV_ACTION_TOKEN), ("SERVICE_TOKEN", DEV_SERVICE_TOKEN))
            if not environ.get(name) or environ[name] == default
            or (environment != DEVELOPMENT and len(environ[name]) < MIN_SECRET_LENGTH)]
    if weak and environment != DEVELOPMENT:
        raise InsecureSettings(
            f"APP_ENV={environment}: {', '.join(weak)} must be set to a random secret of at least "
            f"{MIN_SECRET_LENGTH} characters; the development defaults are public.")
    for name in weak:
        log.warning("%s is not set: using the public development value (APP_ENV=development only)", name)
    return environ.get("ACTION_TOKEN") or DEV_ACTION_TOKEN


def add_token_check(app, token: str) -> None:
    """A request middleware on rasa_sdk's Sanic app: the token or 401."""
    from sanic import response

    expected = token.encode()

    async def require_token(request):
        if request.path in OPEN_PATHS:
            return None
        scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), expected):
            return None
        log.warning("action server: %s %s without Rasa's token from %s refused", request.method, request.path,
                    request.ip)
        return response.json({"error": "unauthorized", "message": "action token required"}, status=401)

    app.register_middleware(require_token, "request")


def create_app(action_package: str = "actions", token: str | None = None, cors_origins=None,
               auto_reload: bool = False):
    from rasa_sdk.endpoint import create_app as sdk_create_app

    app = sdk_create_app(action_package, cors_origins=cors_origins, auto_reload=auto_reload)
    add_token_check(app, token if token is not None else action_token())
    return app


def main(argv: list[str] | None = None) -> int:
    from rasa_sdk import utils
    from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
    from rasa_sdk.endpoint import create_argument_parser, create_ssl_context
    from rasa_sdk.plugin import plugin_manager

    args = create_argument_parser().parse_args(argv)
    utils.configure_colored_logging(args.loglevel)
    utils.configure_file_logging(logging.getLogger(APPLICATION_ROOT_LOGGER_NAME), args.log_file, args.loglevel,
                                 args.logging_config_file)
    utils.update_sanic_log_level()
    logging.getLogger(__name__).setLevel(logging.INFO)
    try:
        token = action_token()
    except InsecureSettings as exc:
        log.error("action server not started: %s", exc)
        print(f"action server not started: {exc}", file=sys.stderr)
        return 2
    app = create_app(args.actions, token, cors_origins=args.cors, auto_reload=args.auto_reload)
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    ssl_context = create_ssl_context(args.ssl_certificate, args.ssl_keyfile, args.ssl_password)
    host = os.environ.get("SANIC_HOST", "0.0.0.0")
    log.info("action server on %s://%s:%s (Rasa's token required)", "https" if ssl_context else "http", host,
             args.port)
    app.run(host, args.port, ssl=ssl_context, workers=utils.number_of_sanic_workers())
    return 0


if __name__ == "__main__":
    sys.exit(main())
