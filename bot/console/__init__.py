"""The staff console under ``/console/``: queue, live conversations, review, tickets.

A sub-application with its own middleware: every route except the log-in page and the
static files needs a staff session; every state-changing request needs the session's
CSRF token; supervisor pages need the supervisor role.
"""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot import masking, vocabulary
from bot.agent_tools import availability
from bot.agent_tools import views as agent_tools_views
from bot.console import auth, labels, views
from bot.console.auth import SESSION_COOKIE
from bot.console.views import JINJA
from bot.privacy import views as privacy_views
from bot.store import STORE

HERE = Path(__file__).resolve().parent
PUBLIC_ROUTES = {"console-login", "console-login-submit", "console-static"}
SUPERVISOR_ROUTES = {"console-sla", "console-export-nlu", "console-staff", "console-staff-save", "console-staff-active",
                     "console-privacy", "console-privacy-export", "console-privacy-erase", "console-audit",
                     "console-dashboard", "console-dashboard-data", "console-dashboard-download"}
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _refuse(request: web.Request, status: int, message: str) -> web.StreamResponse:
    accepts_html = "text/html" in request.headers.get("Accept", "")
    api_like = request.path.startswith("/console/api/") or request.method != "GET" or not accepts_html
    if status == 401 and not api_like:
        target = "/console/login?" + urlencode({"next": request.path_qs})
        raise web.HTTPFound(target)
    if api_like:
        return web.json_response({"error": {401: "unauthorized", 403: "forbidden"}[status], "message": message},
                                 status=status)
    return aiohttp_jinja2.render_template("error.html", request, {"status": status, "message": message,
                                                                  "staff": request.get("staff"), "mask": True},
                                          status=status, app_key=JINJA)


@web.middleware
async def security_middleware(request: web.Request, handler):
    if not (request.path == "/console" or request.path.startswith("/console/")):
        return await handler(request)
    route = request.match_info.route
    name = getattr(route, "name", None) or (route.resource.name if route.resource is not None else None)
    if name not in PUBLIC_ROUTES:
        token = request.cookies.get(SESSION_COOKIE)
        identity = None
        if token:
            st = request.config_dict[STORE]

            def _lookup():
                with st.session() as session:
                    found = auth.identity_for(session, token)
                    if found is not None:
                        availability.touch(session, found.id)  # present (at most one write a minute)
                    return found

            identity = await st.run(_lookup)
        if identity is None:
            return _refuse(request, 401, "请先登录。")
        request["staff"] = identity
        if request.method in UNSAFE_METHODS:
            sent: object = request.headers.get("X-CSRF-Token")
            if not sent and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                sent = (await request.post()).get("csrf_token")
            if not auth.tokens_equal(sent if isinstance(sent, str) else None, identity.csrf_token):
                return _refuse(request, 403, "CSRF 校验失败，请刷新页面后重试。")
        if name in SUPERVISOR_ROUTES and not identity.is_supervisor:
            return _refuse(request, 403, "此页面仅限班长访问。")
    response = await handler(request)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if name != "console-static":
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; frame-ancestors 'none'; form-action 'self'")
    return response


def _filters() -> dict:
    return {
        "local_time": labels.local_time,
        "duration": labels.duration,
        "mask_phone": masking.mask_phone,
        "mask_text": masking.mask_text,
        "intent_label": labels.intent_label,
        "tojson_attr": lambda v: json.dumps(v, ensure_ascii=False),
        "curl": views.conversation_url,
    }


def setup(app: web.Application) -> None:
    # Routes live on the gateway itself (not a sub-application): aiohttp 3.9's sub-app
    # resolution reads request.url, which the pinned yarl refuses for hosts with a port.
    aiohttp_jinja2.setup(
        app,
        app_key=JINJA,
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=True,  # every page shows customer text: escape everything by default
        filters=_filters(),
    )
    env = aiohttp_jinja2.get_env(app, app_key=JINJA)
    # VOCABULARY: the product's words for the pages' scripts (base.html's JSON data block).
    env.globals.update(L=labels, VOCABULARY=vocabulary.as_json())
    app.middlewares.append(security_middleware)

    r = app.router
    r.add_get("/console/login", views.login_page, name="console-login")
    r.add_post("/console/login", views.login_submit, name="console-login-submit")
    r.add_post("/console/logout", views.logout, name="console-logout")
    r.add_get("/console/", views.index, name="console-index")
    r.add_get("/console", views.index, name="console-root")
    r.add_get("/console/queue", views.queue_page, name="console-queue")
    r.add_get("/console/queue/fragment", views.queue_fragment, name="console-queue-fragment")
    r.add_get("/console/conversations/{cid}", views.conversation_page, name="console-conversation")
    r.add_get("/console/conversations/{cid}/transcript", views.transcript_fragment, name="console-transcript")
    r.add_post("/console/conversations/{cid}/accept", views.accept, name="console-accept")
    r.add_post("/console/conversations/{cid}/takeover", views.take_over, name="console-takeover")
    r.add_post("/console/conversations/{cid}/reply", views.reply, name="console-reply")
    r.add_post("/console/conversations/{cid}/handback", views.hand_back, name="console-handback")
    r.add_post("/console/conversations/{cid}/close", views.close, name="console-close")
    r.add_post("/console/conversations/{cid}/review", views.mark_reviewed, name="console-review-mark")
    r.add_post("/console/messages/{mid}/flag", views.flag_message, name="console-flag")
    r.add_get("/console/review", views.review_page, name="console-review")
    r.add_get("/console/review/nlu.yml", views.export_nlu, name="console-export-nlu")
    r.add_get("/console/tickets", views.tickets_page, name="console-tickets")
    r.add_get("/console/tickets/{no}", views.ticket_page, name="console-ticket")
    r.add_post("/console/tickets/{no}/status", views.ticket_status, name="console-ticket-status")
    r.add_post("/console/tickets/{no}/assignee", views.ticket_assignee, name="console-ticket-assignee")
    r.add_get("/console/sla", views.sla_page, name="console-sla")
    r.add_get("/console/staff", views.staff_page, name="console-staff")
    r.add_post("/console/staff", views.staff_save, name="console-staff-save")
    r.add_post("/console/staff/{uid}/active", views.staff_active, name="console-staff-active")
    r.add_get("/console/privacy", privacy_views.privacy_page, name="console-privacy")
    r.add_get("/console/privacy/export", privacy_views.privacy_export, name="console-privacy-export")
    r.add_post("/console/privacy/erase", privacy_views.privacy_erase, name="console-privacy-erase")
    r.add_get("/console/audit", privacy_views.audit_page, name="console-audit")
    agent_tools_views.setup(app, SUPERVISOR_ROUTES)
    r.add_get("/console/api/queue", views.api_queue, name="console-api-queue")
    r.add_get("/console/api/vocabulary", views.api_vocabulary, name="console-api-vocabulary")
    r.add_get("/console/api/conversations/{cid}", views.api_conversation, name="console-api-conversation")
    r.add_get("/console/api/events", views.events, name="console-api-events")
    r.add_static("/console/static/", str(HERE / "static"), name="console-static")
    # Live streams (/console/api/events) are the event bus's (bot.events): it ends them on shutdown.
