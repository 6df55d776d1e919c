"""Rasa input channel ``gateway``: the REST channel plus metadata, used by the gateway.

The gateway posts ``{"sender": conversation_id, "message": text, "metadata": {"channel": ...}}``
to ``/webhooks/gateway/webhook`` and gets the list of bot messages back, exactly like
Rasa's ``rest`` channel. Two additions:

- the body's ``metadata`` reaches ``UserMessage`` (so actions see the customer's channel),
  and the tracker's input channel is the customer's channel ("web", "wechat"...);
- the answer carries the understood intent and its confidence in the headers
  ``X-Rasa-Intent`` / ``X-Rasa-Confidence``, so the gateway can store them with the
  customer's message for review, without changing the body's format;
- custom actions that failed during the turn (action server down, an error, a call longer
  than ``ACTION_TIMEOUT``) are named in ``X-Rasa-Action-Failed`` (``rasa_server.action_failures``):
  Rasa itself carries on silently, the gateway apologises and offers a person.

Only the gateway may use it: a message needs ``Authorization: Bearer $RASA_TOKEN`` (401
otherwise); the GET health check stays open. Outside development (``APP_ENV``) the Rasa
server refuses to start without real ``RASA_TOKEN`` and ``ACTION_TOKEN`` (bot/config.py).

Registered in ``credentials.yml`` as ``rasa_server.channel.GatewayInput:``. This module runs
inside the Rasa server: of the gateway it imports only ``bot/config.py`` (plain settings).
Importing it changes nothing in Rasa: the server's start (``python -m rasa_server run``)
installs what the channel relies on, and the channel refuses to start without it.
"""
from __future__ import annotations

import hmac
import json
import logging
import os
from asyncio import CancelledError
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.core.events import UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.config import DEV_RASA_TOKEN, app_env, check_secrets, rasa_server_secrets
from rasa_server import action_failures, dialogue
from rasa_server.patches import heap_freeze
from rasa_server.tracker_store import unwrap

log = logging.getLogger(__name__)
START = "python -m rasa_server run"


class NotStartedByRasaServer(RuntimeError):
    """The Rasa server was started without ``python -m rasa_server run``."""


class GatewayInput(RestInput):
    """REST channel for the gateway: metadata in, bot messages (+ intent headers) out."""

    @classmethod
    def name(cls) -> Text:
        return "gateway"

    def __init__(self, token: Optional[Text] = None) -> None:
        # Outside development a missing or public secret stops the Rasa server here.
        for name in check_secrets(rasa_server_secrets(), app_env()):
            log.warning("%s is not set: using the public development value (APP_ENV=development only)", name)
        self.token = token or os.environ.get("RASA_TOKEN") or DEV_RASA_TOKEN
        # The channel's answers rely on these (the failure header, the typed yes): a server
        # started as plain ``rasa run`` would answer differently, so it does not start.
        missing = [name for name, ok in (("rasa_server.action_failures", action_failures.installed()),
                                         ("rasa_server.dialogue", dialogue.installed())) if not ok]
        if missing:
            raise NotStartedByRasaServer(
                f"{', '.join(missing)} not installed: start the Rasa server with `{START} <rasa run arguments>`")

    def authorised(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, sent = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), self.token.encode())

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        metadata = (request.json or {}).get("metadata")
        return metadata if isinstance(metadata, dict) else None

    def _extract_input_channel(self, req: Request) -> Text:
        metadata = self.get_metadata(req) or {}
        channel = metadata.get("channel")
        return channel if isinstance(channel, str) and channel else self.name()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("gateway_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.authorised(request):
                log.warning("gateway channel: message without the gateway's token from %s refused", request.ip)
                return response.json({"error": "unauthorized", "message": "gateway token required"}, status=401)
            body = request.json
            if not isinstance(body, dict):
                return response.json({"error": "bad_request", "message": "JSON object expected"}, status=400)
            sender_id = body.get("sender")
            text = body.get("message")
            if not isinstance(sender_id, str) or not sender_id or not isinstance(text, str):
                return response.json(
                    {"error": "bad_request", "message": "'sender' and 'message' (strings) are required"},
                    status=400,
                )
            collector = CollectingOutputChannel()
            try:
                with action_failures.recording() as failed_actions:
                    await on_new_message(
                        UserMessage(
                            text,
                            collector,
                            sender_id,
                            input_channel=self._extract_input_channel(request),
                            metadata=self.get_metadata(request),
                        )
                    )
            except CancelledError:
                log.error("gateway message from %s timed out", sender_id)
                return response.json({"error": "timeout", "message": "message handling timed out"}, status=503)
            except Exception:  # the gateway answers the customer with an apology
                log.exception("gateway message from %s failed", sender_id)
                return response.json({"error": "failure", "message": "message handling failed"}, status=500)
            headers = await _intent_headers(request, sender_id)
            if failed_actions:  # Rasa carried on without them: the gateway apologises
                headers[action_failures.FAILED_HEADER] = ",".join(failed_actions)[:200]
            heap_freeze.after_message()  # once, when the server's start installed it
            return response.json(collector.messages, headers=headers)

        return webhook


async def _intent_headers(request: Request, sender_id: str) -> Dict[str, str]:
    """The latest user message's intent, read from the agent's tracker store (best effort)."""
    try:
        agent = getattr(request.app.ctx, "agent", None)
        if agent is None or agent.tracker_store is None:
            return {}
        inner = unwrap(agent.tracker_store)
        # GatewaySQLTrackerStore kept it when it saved this turn: no database read at all.
        parse_data = inner.pop_latest_parse_data(sender_id) if hasattr(inner, "pop_latest_parse_data") else None
        if parse_data is None:
            parse_data = _latest_parse_data_sql(inner, sender_id)
        if parse_data is None:  # another tracker store: read the whole tracker
            tracker = await agent.tracker_store.retrieve(sender_id)
            # The newest user event, not ``tracker.latest_message``: an in-memory tracker
            # rebuilt from its dialogue kept reporting the session's first message there.
            latest = next((e for e in reversed(tracker.events) if isinstance(e, UserUttered)), None) \
                if tracker else None
            parse_data = (latest.parse_data or {}) if latest else {}
        intent = parse_data.get("intent") or {}
        name = intent.get("name")
        if not name:
            return {}
        # A retrieval intent (faq) is more useful with its sub-intent: faq/ask_payment_methods.
        selector = parse_data.get("response_selector") or {}
        full = ((selector.get(name) or {}).get("response") or {}).get("intent_response_key")
        if isinstance(full, str) and full.startswith(f"{name}/"):
            name = full
        headers = {"X-Rasa-Intent": str(name)}
        if intent.get("confidence") is not None:
            headers["X-Rasa-Confidence"] = f"{float(intent['confidence']):.4f}"
        return headers
    except Exception:  # never fail a customer's answer for review data
        log.debug("could not read the intent of %s", sender_id, exc_info=True)
        return {}


def _latest_parse_data_sql(store: Any, sender_id: str) -> Optional[Dict[str, Any]]:
    """The latest user event's parse data read as one row of the SQL tracker store.

    Reading the tracker instead loads and replays the conversation's whole event history
    (measured: a few ms of the Rasa server's CPU per turn, after Rasa already did it twice).
    None when the store is not Rasa's SQL store (the caller falls back to the tracker)."""
    from rasa.core.tracker_store import SQLTrackerStore

    inner = unwrap(store)  # FailSafeTrackerStore and AwaitableTrackerStore wrap the real one
    if not isinstance(inner, SQLTrackerStore):
        return None
    event = inner.SQLEvent
    with inner.session_scope() as session:
        row = (session.query(event.data)
               .filter(event.sender_id == sender_id, event.type_name == "user")
               .order_by(event.id.desc()).limit(1).first())
    if row is None:
        return {}
    return (json.loads(row[0]) or {}).get("parse_data") or {}
