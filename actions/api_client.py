"""The one way actions reach the gateway: its REST API, over aiohttp, with timeouts.

Settings come from the environment at call time (``GATEWAY_URL``, ``SERVICE_TOKEN``,
``GATEWAY_TIMEOUT``), so a test can point the actions at its own gateway with
``monkeypatch.setenv`` or :func:`configure`.
"""
from __future__ import annotations

import asyncio
import logging
import os
import re
import weakref
from typing import Any, Dict, List, Optional

import aiohttp

log = logging.getLogger(__name__)

DEFAULT_GATEWAY_URL = "http://127.0.0.1:8080"
# Same development default as bot.config; production sets SERVICE_TOKEN for both sides.
DEFAULT_SERVICE_TOKEN = "dev-service-token-change-me"

_overrides: Dict[str, Any] = {}
# What the gateway accepts as a conversation id (bot.api.validation.CONVERSATION_ID).
_CONVERSATION_ID = re.compile(r"^[^\s\x00-\x1f\x7f]{1,128}$")
_CLIENT = re.compile(r"^[A-Za-z0-9:._-]{1,64}$")  # bot.api.routes.CLIENT


# One keep-alive session per event loop (the action server runs one loop): a session per
# call opened a new TCP connection through nginx to a gateway for every API call. Idle
# connections are dropped by the client after 15 s, before nginx or a gateway would.
_sessions: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession]" = \
    weakref.WeakKeyDictionary()
KEEPALIVE_SECONDS = 15
CONNECTIONS_PER_LOOP = 64


def _session() -> aiohttp.ClientSession:
    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        connector = aiohttp.TCPConnector(limit=CONNECTIONS_PER_LOOP, keepalive_timeout=KEEPALIVE_SECONDS)
        session = _sessions[loop] = aiohttp.ClientSession(connector=connector)
    return session


async def close() -> None:
    """Closes this event loop's session (tests, shutdown)."""
    session = _sessions.pop(asyncio.get_running_loop(), None)
    if session is not None:
        await session.close()


def configure(base_url: Optional[str] = None, token: Optional[str] = None,
              timeout: Optional[float] = None) -> None:
    """Overrides the environment (tests); ``configure()`` with no arguments resets."""
    _overrides.clear()
    if base_url is not None:
        _overrides["base_url"] = base_url
    if token is not None:
        _overrides["token"] = token
    if timeout is not None:
        _overrides["timeout"] = timeout


def _setting(key: str, env: str, default: str) -> str:
    if key in _overrides:
        return str(_overrides[key])
    value = os.environ.get(env)
    return value if value else default


class ApiError(Exception):
    """The gateway could not be reached or did not answer as expected."""

    def __init__(self, message: str, status: Optional[int] = None, body: Any = None):
        super().__init__(message)
        self.status = status
        self.body = body


class NotFound(ApiError):
    pass


class Forbidden(ApiError):
    """403: the gateway refuses (e.g. ``identity_not_proven``: the account was not proved in this conversation)."""


class RateLimited(ApiError):
    """429: this conversation or client asked about too many different account numbers lately."""


async def request(method: str, path: str, *, json: Any = None,
                  params: Optional[Dict[str, Any]] = None,
                  expect: tuple = (200,)) -> Dict[str, Any]:
    """Calls the gateway and returns its JSON body; raises ApiError on anything unexpected."""
    base_url = _setting("base_url", "GATEWAY_URL", DEFAULT_GATEWAY_URL).rstrip("/")
    token = _setting("token", "SERVICE_TOKEN", DEFAULT_SERVICE_TOKEN)
    total = float(_setting("timeout", "GATEWAY_TIMEOUT", "6"))
    timeout = aiohttp.ClientTimeout(total=total, connect=min(2.0, total))
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    clean_params = {k: v for k, v in (params or {}).items() if v is not None}
    url = f"{base_url}{path}"
    try:
        async with _session().request(method, url, json=json, params=clean_params,
                                      headers=headers, timeout=timeout) as response:
            try:
                body = await response.json(content_type=None)
            except ValueError:
                body = None
            if response.status == 404:
                raise NotFound(f"{method} {path}: not found", 404, body)
            if response.status == 403:
                raise Forbidden(f"{method} {path}: forbidden", 403, body)
            if response.status == 429:
                raise RateLimited(f"{method} {path}: rate limited", 429, body)
            if response.status not in expect:
                raise ApiError(f"{method} {path}: HTTP {response.status}", response.status, body)
            if not isinstance(body, dict):
                raise ApiError(f"{method} {path}: answer is not a JSON object", response.status, body)
            return body
    except ApiError:
        raise
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        # asyncio.TimeoutError is not the builtin TimeoutError before Python 3.11.
        raise ApiError(f"{method} {path}: {exc.__class__.__name__}: {exc}") from exc


# --- the calls the actions make -------------------------------------------------------

def _asker(conversation_id: Optional[str], client: Optional[str]) -> Dict[str, str]:
    """Who a lookup by account number is for (the gateway limits how many different numbers one
    conversation and one client may ask about). A sender id the gateway could not hold (only
    from other Rasa channels: rasa shell, a REST client) is left out rather than failing."""
    asker: Dict[str, str] = {}
    if conversation_id and _CONVERSATION_ID.match(conversation_id):
        asker["conversation_id"] = conversation_id
    if client and _CLIENT.match(client):
        asker["client"] = client
    return asker


async def verify_identity(account_no: str, phone_last4: str, conversation_id: Optional[str] = None,
                          client: Optional[str] = None) -> Dict[str, Any]:
    """With ``conversation_id`` (the tracker's sender id) a successful check also attaches the
    account to the gateway's conversation (staff console, hand-off callbacks)."""
    body: Dict[str, Any] = {"account_no": account_no, "phone_last4": phone_last4,
                            **_asker(conversation_id, client)}
    return await request("POST", "/api/v1/identity/verify", json=body)


async def verify_identity_by_phone(phone: str, names: List[str], conversation_id: Optional[str] = None,
                                   client: Optional[str] = None) -> Dict[str, Any]:
    """The account of a customer who does not know its number: the registered mobile and the
    holder's name (candidates from what the customer said)."""
    body: Dict[str, Any] = {"phone": phone, "names": names[:8], **_asker(conversation_id, client)}
    return await request("POST", "/api/v1/identity/verify-by-phone", json=body)


async def get_account(account_no: str, conversation_id: Optional[str] = None,
                      client: Optional[str] = None) -> Dict[str, Any]:
    return await request("GET", f"/api/v1/accounts/{account_no}", params=_asker(conversation_id, client))


async def get_bills(account_no: str, period: Optional[str] = None, limit: Optional[int] = None) -> list:
    body = await request("GET", f"/api/v1/accounts/{account_no}/bills",
                         params={"period": period, "limit": limit})
    bills = body.get("bills")
    if not isinstance(bills, list):
        raise ApiError("bills: no list in the answer", body=body)
    return bills


async def find_outages(address: Optional[str] = None, account_no: Optional[str] = None,
                       conversation_id: Optional[str] = None, client: Optional[str] = None) -> list:
    params: Dict[str, Any] = {"address": address, "account_no": account_no}
    if account_no:
        params.update(_asker(conversation_id, client))
    body = await request("GET", "/api/v1/outages", params=params)
    outages = body.get("outages")
    if not isinstance(outages, list):
        raise ApiError("outages: no list in the answer", body=body)
    return outages


async def classify_area(address: str) -> Optional[str]:
    """The area type (urban/rural/remote) the gateway's areas.yml gives an address, or None."""
    body = await request("GET", "/api/v1/areas", params={"address": address})
    area_type = body.get("area_type")
    return area_type if area_type in ("urban", "rural", "remote") else None


async def create_ticket(payload: Dict[str, Any]) -> Dict[str, Any]:
    """Creates a ticket; returns it only when the gateway confirmed it (has a ticket number)."""
    ticket = await request("POST", "/api/v1/tickets", json=payload, expect=(200, 201))
    if not ticket.get("ticket_no"):
        raise ApiError("ticket: no ticket_no in the answer", body=ticket)
    return ticket


async def get_ticket(ticket_no: str) -> Dict[str, Any]:
    return await request("GET", f"/api/v1/tickets/{ticket_no}")


async def list_tickets(account_no: str, status: str = "open") -> list:
    body = await request("GET", "/api/v1/tickets", params={"account_no": account_no, "status": status})
    tickets = body.get("tickets")
    if not isinstance(tickets, list):
        raise ApiError("tickets: no list in the answer", body=body)
    return tickets


async def tickets_without_contact(conversation_id: str, ticket_type: str, status: str = "open") -> list:
    """The conversation's tickets of this type that have no phone to reach the customer on."""
    body = await request("GET", "/api/v1/tickets", params={"conversation_id": conversation_id, "contact": "missing",
                                                           "type": ticket_type, "status": status})
    tickets = body.get("tickets")
    if not isinstance(tickets, list):
        raise ApiError("tickets: no list in the answer", body=body)
    return tickets


async def conversation_tickets(conversation_id: str, ticket_type: str, status: str = "new") -> list:
    """The conversation's tickets of this type and status, newest first."""
    body = await request("GET", "/api/v1/tickets", params={"conversation_id": conversation_id,
                                                           "type": ticket_type, "status": status})
    tickets = body.get("tickets")
    if not isinstance(tickets, list):
        raise ApiError("tickets: no list in the answer", body=body)
    return tickets


async def set_ticket_contact(ticket_no: str, contact_phone: str, actor: str = "bot") -> Dict[str, Any]:
    return await request("POST", f"/api/v1/tickets/{ticket_no}/contact",
                         json={"contact_phone": contact_phone, "actor": actor})


async def set_ticket_address(ticket_no: str, address: str, actor: str = "bot") -> Dict[str, Any]:
    return await request("POST", f"/api/v1/tickets/{ticket_no}/address", json={"address": address, "actor": actor})


async def add_ticket_note(ticket_no: str, note: str, actor: str = "bot") -> Dict[str, Any]:
    return await request("POST", f"/api/v1/tickets/{ticket_no}/notes", json={"note": note, "actor": actor})


async def change_ticket_status(ticket_no: str, status: str, actor: str = "bot",
                               note: Optional[str] = None) -> Dict[str, Any]:
    body = {"status": status, "actor": actor, **({"note": note} if note else {})}
    return await request("POST", f"/api/v1/tickets/{ticket_no}/status", json=body)


async def create_handoff(payload: Dict[str, Any]) -> Dict[str, Any]:
    return await request("POST", "/api/v1/handoffs", json=payload, expect=(200, 201))


async def create_survey(payload: Dict[str, Any]) -> Dict[str, Any]:
    return await request("POST", "/api/v1/surveys", json=payload, expect=(200, 201))


# --- notices (issue 19): bindings, subscriptions, the usage chart ---------------------

def _bindings(body: Dict[str, Any]) -> list:
    bindings = body.get("bindings")
    if not isinstance(bindings, list):
        raise ApiError("notices: no bindings in the answer", body=body)
    return bindings


async def bind_notices(account_no: str, conversation_id: str) -> Dict[str, Any]:
    """Binds the conversation's person to the account (Forbidden unless proved in it)."""
    return await request("POST", "/api/v1/notices/bindings", expect=(200, 201),
                         json={"account_no": account_no, "conversation_id": conversation_id})


async def notice_bindings(conversation_id: str) -> list:
    """The person's bindings with their subscriptions; [] for a conversation the gateway does not know."""
    try:
        body = await request("GET", "/api/v1/notices/bindings", params={"conversation_id": conversation_id})
    except NotFound:
        return []
    return _bindings(body)


async def unbind_notices(conversation_id: str, account_no: Optional[str] = None) -> Dict[str, Any]:
    body: Dict[str, Any] = {"conversation_id": conversation_id}
    if account_no:
        body["account_no"] = account_no
    return await request("POST", "/api/v1/notices/bindings/unbind", json=body)


async def set_notice_subscription(conversation_id: str, kinds: list, enabled: bool,
                                  account_no: Optional[str] = None) -> list:
    """Switches kinds on/off; NotFound when the person has no binding."""
    body: Dict[str, Any] = {"conversation_id": conversation_id, "kinds": list(kinds), "enabled": enabled}
    if account_no:
        body["account_no"] = account_no
    return _bindings(await request("POST", "/api/v1/notices/subscriptions", json=body))


async def usage_chart(account_no: str, conversation_id: str) -> Dict[str, Any]:
    """The usage chart's link and summary (Forbidden unless the account was proved in the conversation)."""
    return await request("POST", "/api/v1/notices/usage-chart", expect=(201,),
                         json={"account_no": account_no, "conversation_id": conversation_id})
