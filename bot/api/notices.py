"""REST API for the customer side of notices (issue 19), used by the action server.

Under ``/api/v1/notices`` (service token, JSON errors as every ``/api/v1`` path):

- ``POST /api/v1/notices/bindings`` ``{account_no, conversation_id}``: binds the person of the
  conversation (channel and channel user from the gateway's own conversation record, never from
  the caller) to the account. Refused with 403 ``identity_not_proven`` unless the customer proved
  that very account in that conversation (``identity/verify`` with the conversation id recorded
  it on ``Conversation.account_no``; the hub forgets it after an hour of silence) — the gateway
  checks this itself, it does not take the action server's word for it.
- ``GET /api/v1/notices/bindings?conversation_id=``: the person's bindings and subscriptions.
- ``POST /api/v1/notices/bindings/unbind`` ``{conversation_id, account_no?}``.
- ``POST /api/v1/notices/subscriptions`` ``{conversation_id, kinds: [...], enabled, account_no?}``
  (409 ``always_on`` for switching off a kind that cannot be, 404 ``not_bound``).
- ``POST /api/v1/notices/usage-chart`` ``{account_no, conversation_id}``: the 一图看懂 chart's
  link (same identity check as binding), its expiry and the summary in words.

And, without a token (the customer's browser or WeChat fetches it): ``GET /charts/usage/{token}.png``
— the PNG while the token is valid; 403 (forged/altered) or 410 (expired) with a Chinese page.
"""
from __future__ import annotations

import asyncio
import html
import json
import logging
import os
import re
from typing import Any, Dict, List, Optional

from aiohttp import web
from sqlalchemy import select

from bot import vocabulary
from bot.api.errors import ApiError, validation_error
from bot.api.validation import ACCOUNT_NO, CONVERSATION_ID, json_object, string
from bot.config import SETTINGS
from bot.notices import bindings as service
from bot.notices import chart
from bot.privacy import audit
from bot.store import STORE
from bot.store.models import Bill, Conversation, Customer

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
CHART_PATH = "/charts/usage/{token}.png"
_TOKEN = re.compile(r"^[A-Za-z0-9_=-]{40,400}$")
TOKENS_KEY = web.AppKey("usage_chart_tokens", chart.ChartTokens)  # the usage chart links' signer on the app


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def _store(request: web.Request):
    return request.app[STORE]


def _conversation_id(fields: dict, required: bool = True) -> str:
    value = string(fields, "conversation_id", required=required, max_len=128, pattern=CONVERSATION_ID,
                   hint="must be a conversation id (printable, no spaces)")
    assert value is not None or not required
    return value  # type: ignore[return-value]


def _account(fields: dict, required: bool = True) -> Optional[str]:
    return string(fields, "account_no", required=required, max_len=10, pattern=ACCOUNT_NO, hint="must be 10 digits")


def _binding_error(exc: service.BindingError) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message, field=exc.field)


def person_of(session, conversation_id: str, proven_account: Optional[str] = None) -> service.Person:
    """The person of an existing conversation; with ``proven_account``, only when the customer
    proved that account in it (403 ``identity_not_proven``)."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise service.BindingError(404 if proven_account is None else 403,
                                   "not_found" if proven_account is None else "identity_not_proven",
                                   f"conversation {conversation_id} does not exist")
    if proven_account is not None and conversation.account_no != proven_account:
        raise service.BindingError(403, "identity_not_proven",
                                   "the customer has not proved this account in this conversation "
                                   "(verify the identity with this conversation_id first)")
    return service.person_of_conversation(conversation.id, conversation.channel)


def _run(store, fn, *args, **kwargs):
    with store.session() as session:
        return fn(session, *args, **kwargs)


async def _call(request: web.Request, fn, *args, **kwargs):
    try:
        return await _store(request).run(_run, _store(request), fn, *args, **kwargs)
    except service.BindingError as exc:
        raise _binding_error(exc) from None


# ---------------------------------------------------------------- bindings


def _bind(session, conversation_id: str, account_no: str) -> Dict[str, Any]:
    service.write_lock(session)  # before reading the conversation (SQLite: two gateways binding at once)
    person = person_of(session, conversation_id, proven_account=account_no)
    binding, created = service.bind(session, person, account_no)
    switches = service.choices(session, [binding.id])[binding.id]
    return {"binding": service.binding_json(binding, switches), "created": created}


@routes.post("/api/v1/notices/bindings")
async def bind(request: web.Request) -> web.Response:
    body = await json_object(request)
    account_no = _account(body)
    conversation_id = _conversation_id(body)
    data = await _call(request, _bind, conversation_id, account_no)
    return _json(data, status=201 if data["created"] else 200)


def _list(session, conversation_id: str) -> Dict[str, Any]:
    return {"bindings": service.list_bindings(session, person_of(session, conversation_id))}


@routes.get("/api/v1/notices/bindings")
async def list_bindings(request: web.Request) -> web.Response:
    conversation_id = _conversation_id(dict(request.query))
    return _json(await _call(request, _list, conversation_id))


def _unbind(session, conversation_id: str, account_no: Optional[str]) -> Dict[str, Any]:
    person = person_of(session, conversation_id)
    ended = service.unbind(session, person, account_no)
    return {"unbound": [b.account_no for b in ended],
            "bindings": service.list_bindings(session, person, audit_view=False)}


@routes.post("/api/v1/notices/bindings/unbind")
async def unbind(request: web.Request) -> web.Response:
    body = await json_object(request)
    conversation_id = _conversation_id(body)
    account_no = _account(body, required=False)
    return _json(await _call(request, _unbind, conversation_id, account_no))


def _kinds(body: dict) -> List[str]:
    kinds = body.get("kinds")
    if isinstance(kinds, str):
        kinds = [kinds]
    if not isinstance(kinds, list) or not kinds or not all(isinstance(k, str) for k in kinds):
        raise validation_error("kinds", "must be a non-empty list of notice kinds")
    if len(kinds) > len(vocabulary.NOTICE_KINDS):
        raise validation_error("kinds", "too many kinds")
    return kinds


def _subscribe(session, conversation_id: str, account_no: Optional[str], kinds: List[str],
               enabled: bool) -> Dict[str, Any]:
    person = person_of(session, conversation_id)
    service.set_subscription(session, person, kinds, enabled, account_no=account_no)
    return {"bindings": service.list_bindings(session, person, audit_view=False)}


@routes.post("/api/v1/notices/subscriptions")
async def set_subscription(request: web.Request) -> web.Response:
    body = await json_object(request)
    conversation_id = _conversation_id(body)
    account_no = _account(body, required=False)
    kinds = _kinds(body)
    enabled = body.get("enabled")
    if not isinstance(enabled, bool):
        raise validation_error("enabled", "must be true or false")
    return _json(await _call(request, _subscribe, conversation_id, account_no, kinds, enabled))


# ---------------------------------------------------------------- the usage chart


def chart_ttl() -> int:
    raw = os.environ.get("CHART_URL_SECONDS", "")
    try:
        value = int(raw) if raw else chart.DEFAULT_TTL_SECONDS
    except ValueError:
        log.warning("CHART_URL_SECONDS=%r is not a number; using %s", raw, chart.DEFAULT_TTL_SECONDS)
        value = chart.DEFAULT_TTL_SECONDS
    return max(60, min(value, 24 * 3600))


def tokens(app: web.Application) -> chart.ChartTokens:
    found = app.get(TOKENS_KEY)
    if found is None:
        found = chart.ChartTokens(app[SETTINGS].session_secret, chart_ttl())
    return found


def _bills_of(session, account_no: str) -> List[Dict[str, Any]]:
    rows = session.execute(select(Bill).where(Bill.account_no == account_no)
                           .order_by(Bill.period.desc()).limit(chart.MONTHS + 12)).scalars()
    return [{"period": b.period, "kwh": b.kwh, "amount": float(b.amount), "peak_kwh": b.peak_kwh,
             "valley_kwh": b.valley_kwh} for b in rows]


def _chart_figures(session, conversation_id: str, account_no: str):
    person = person_of(session, conversation_id, proven_account=account_no)
    months = chart.usage_months(_bills_of(session, account_no))
    audit.record(session, actor=service.ACTOR, actor_role=service.ACTOR, action="view_usage_chart",
                 subject_kind="account", subject_id=account_no, client=conversation_id,
                 detail={"channel": person.channel})
    return months, chart.summary(months)


def chart_title(account_no: str) -> str:
    return f"近12个月用电情况（户号尾号{account_no[-4:]}）"


@routes.post("/api/v1/notices/usage-chart")
async def usage_chart(request: web.Request) -> web.Response:
    body = await json_object(request)
    account_no = _account(body)
    assert account_no is not None
    conversation_id = _conversation_id(body)
    months, figures = await _call(request, _chart_figures, conversation_id, account_no)
    answer: Dict[str, Any] = {"summary": figures, "text": chart.summary_text(figures),
                              "title": chart_title(account_no)}
    if figures.get("months"):
        signer = tokens(request.app)
        token = signer.issue(account_no)
        path = CHART_PATH.format(token=token)
        public = (request.app[SETTINGS].public_url or "").rstrip("/")
        answer.update({"url": f"{public}{path}" if public else path, "path": path,
                       "expires_at": signer.expires_at(token), "expires_in": signer.ttl})
        # Drawn now, while the answer travels to the customer: the picture is ready when fetched.
        asyncio.get_running_loop().run_in_executor(None, _warm, tuple(months), chart_title(account_no))
    return _json(answer, status=201)


_PAGES = {
    403: ("无法查看", "这个链接无效，无法查看用电图。用电图只对本人开放，请在对话里重新发送“查看用电情况”获取。"),
    410: ("链接已过期", "为保护您的用电信息，用电图链接1小时内有效，现已过期。请在对话里重新发送“查看用电情况”获取新的图。"),
}


def refusal_page(status: int) -> web.Response:
    title, text = _PAGES[status]
    body = ("<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>{html.escape(title)}</title></head>"
            "<body style=\"font-family:sans-serif;max-width:32em;margin:3em auto;padding:0 1em;color:#333\">"
            f"<h1 style=\"font-size:1.3em\">{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>")
    return web.Response(status=status, text=body, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def _chart_data(store, account_no: str):
    with store.session() as session:
        if session.execute(select(Customer.id).where(Customer.account_no == account_no)).first() is None:
            return None
        return _bills_of(session, account_no)


def _warm(months, title: str) -> None:
    try:
        chart.render_png_cached(months, title)
    except Exception:  # noqa: BLE001 - the fetch draws it again and reports the error there
        log.exception("usage chart: drawing ahead failed")


_CHART_SRC = re.compile(r"(?:^|/)charts/usage/([A-Za-z0-9_=-]{40,400})\.png$")


async def chart_png(app: web.Application, src: str) -> Optional[bytes]:
    """The PNG behind a chart link of this gateway (a messaging channel sends it as an image
    message); None when ``src`` is not one, or its token is forged or expired."""
    found = _CHART_SRC.search(src.split("?", 1)[0])
    if found is None or TOKENS_KEY not in app:
        return None
    try:
        account_no = tokens(app).account(found.group(1))
    except chart.ChartTokenError:
        return None
    store = app[STORE]
    bills = await store.run(_chart_data, store, account_no)
    if bills is None:
        return None
    months = chart.usage_months(bills)
    return await asyncio.get_running_loop().run_in_executor(None, chart.render_png_cached, tuple(months),
                                                            chart_title(account_no))


async def serve_chart(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    if not _TOKEN.match(token):
        return refusal_page(403)
    try:
        account_no = tokens(request.app).account(token)
    except chart.ChartTokenError as exc:
        return refusal_page(410 if exc.kind == "expired" else 403)
    bills = await _store(request).run(_chart_data, _store(request), account_no)
    if bills is None:  # the account is gone (erased) since the link was made
        return refusal_page(403)
    months = chart.usage_months(bills)
    loop = asyncio.get_running_loop()
    png = await loop.run_in_executor(None, chart.render_png_cached, tuple(months), chart_title(account_no))
    return web.Response(body=png, content_type="image/png",
                        headers={"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer",
                                 "X-Content-Type-Options": "nosniff"})


def setup(app: web.Application) -> None:
    app[TOKENS_KEY] = chart.ChartTokens(app[SETTINGS].session_secret, chart_ttl())
    app.router.add_routes(routes)
    app.router.add_get(CHART_PATH, serve_chart)
