"""Console request handlers: thin, blocking work through ``store.run``."""
from __future__ import annotations

import asyncio
import json
import logging
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot import masking, throttle, vocabulary
from bot.agent_tools import ticket_steps
from bot.console import auth, labels, queries
from bot.console.auth import SESSION_COOKIE, LOGIN_CSRF_COOKIE, StaffIdentity
from bot.events import EVENT_BUS, AvailabilityEvent
from bot.handoff import HANDOFF_SERVICE, HandoffError, HandoffService
from bot.sla import SLA_RULES
from bot.store import STORE
from bot.store.models import TICKET_TYPES
from bot.store.types import SHANGHAI, now_utc

log = logging.getLogger(__name__)

JINJA = web.AppKey("console_jinja", jinja2.Environment)
TICKET_STATUS_CHOICES = ("accepted", "dispatched", "arrived", "in_progress", "resolved", "closed", "cancelled")

# Fixed messages shown after an action (the query string carries only the key).
NOTICES = {
    "accepted": "已接入会话。", "taken_over": "已接管会话，机器人暂停回复。", "handed_back": "已转回机器人。",
    "closed": "会话已结束。", "reviewed": "已标记为已复核。", "unreviewed": "已取消复核标记。",
    "flagged": "已标记该消息，并记录正确意图。", "unflagged": "已取消标记。", "status_changed": "工单状态已更新。", "assigned": "已更新处理人。",
    "staff_saved": "坐席账号已保存。", "note_added": "已添加内部备注（客户不可见）。",
    "labels_saved": "标签已保存。", "transferred": "会话已转接。", "availability_online": "状态已设为：在线。",
    "availability_busy": "状态已设为：忙碌（不接入新会话）。", "availability_away": "状态已设为：离开（不接入新会话）。", "canned_saved": "快捷回复已保存。", "canned_deleted": "快捷回复已删除。", "label_saved": "标签已保存到列表。", "label_updated": "标签状态已更新。", "staff_updated": "坐席账号状态已更新。", "logged_out": "您已退出登录。",
}


def staff(request: web.Request) -> StaffIdentity:
    return request["staff"]


def store(request: web.Request):
    return request.config_dict[STORE]


def service(request: web.Request) -> HandoffService:
    return request.config_dict[HANDOFF_SERVICE]


def wants_json(request: web.Request) -> bool:
    return request.headers.get("X-Requested-With") == "fetch" or request.path.startswith("/console/api/")


def done(request: web.Request, location: str, notice: str | None = None, error: str | None = None) -> web.Response:
    """Answers an action: JSON for scripts, a redirect (post/redirect/get) for forms."""
    if wants_json(request):
        if error:
            return web.json_response({"error": "refused", "message": error}, status=409)
        return web.json_response({"ok": True, "notice": NOTICES.get(notice or "", "")})
    params = {}
    if notice:
        params["notice"] = notice
    if error:
        params["error"] = error[:200]
    sep = "&" if "?" in location else "?"
    raise web.HTTPSeeOther(location + (sep + urlencode(params) if params else ""))


def render(request: web.Request, template: str, context: dict[str, Any], status: int = 200) -> web.Response:
    identity = request.get("staff")
    context.setdefault("staff", identity)
    context.setdefault("csrf_token", identity.csrf_token if identity else "")
    context.setdefault("notice", NOTICES.get(request.query.get("notice", ""), ""))
    context.setdefault("error", request.query.get("error", "")[:200])
    context.setdefault("mask", not (identity and identity.is_supervisor))
    if identity is not None and not identity.is_supervisor:
        # Agents see personal numbers masked, in every field and every free text of every page.
        context = {key: value if key in RENDER_UNMASKED else masking.redact(value, key)
                   for key, value in context.items()}
    return aiohttp_jinja2.render_template(template, request, context, status=status, app_key=JINJA)


# Page context entries that are the viewer's own or the page's machinery, not customer data.
RENDER_UNMASKED = frozenset({"staff", "csrf_token", "url", "page", "mask", "now"})


def for_viewer(request: web.Request, data: Any) -> Any:
    """A console JSON answer as the viewer may see it: masked for agents, whole for supervisors."""
    return data if staff(request).is_supervisor else masking.redact(data)


def conversation_url(conversation_id: str) -> str:
    return "/console/conversations/" + quote(conversation_id, safe="")


async def form(request: web.Request) -> dict[str, str]:
    data = await request.post()
    return {k: v for k, v in data.items() if isinstance(v, str)}


# ---------------------------------------------------------------- log-in

async def login_page(request: web.Request) -> web.Response:
    token = auth.secrets.token_urlsafe(24)
    response = render(request, "login.html", {"login_csrf": token, "next": _safe_next(request.query.get("next")),
                                               "username": ""})
    _set_login_cookie(request, response, token)
    return response


def _set_login_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    # request.secure is true behind a trusted HTTPS proxy too (bot/proxies.py).
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict", path="/console/",
                        secure=request.secure, max_age=3600)


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/console/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/console/queue"


async def login_submit(request: web.Request) -> web.Response:
    data = await form(request)
    username = data.get("username", "").strip()[:64]
    password = data.get("password", "")
    next_url = _safe_next(data.get("next"))
    if not auth.tokens_equal(data.get("csrf_token"), request.cookies.get(LOGIN_CSRF_COOKIE)):
        raise web.HTTPForbidden(text="CSRF 校验失败，请刷新登录页面后重试。")
    limiter = throttle.of(request.config_dict)
    user_key, client_key = username.lower(), request.remote or "unknown"
    checks = ((auth.LOGIN_PER_USER, user_key), (auth.LOGIN_PER_CLIENT, client_key))
    error = None
    result: tuple | None = None
    if await throttle.any_over(limiter, checks):
        error = f"登录失败次数过多，请 {auth.LOGIN_PER_USER.minutes} 分钟后再试。"
    else:
        result = await store(request).run(_login_tx, store(request), username, password)
        if result is None:
            for limit, key in checks:
                await limiter.record(limit, key)
            error = "用户名或密码错误。"
    if error:
        token = auth.secrets.token_urlsafe(24)
        response = render(request, "login.html", {"login_csrf": token, "next": next_url, "username": username,
                                                   "error": error}, status=401)
        _set_login_cookie(request, response, token)
        return response
    # The username's failures are forgotten; the address's are not (one good account must not
    # reset the count of an address that tries many).
    await limiter.reset(auth.LOGIN_PER_USER, user_key)
    assert result is not None  # no error: the log-in succeeded
    cookie, _identity = result
    response = web.HTTPSeeOther(next_url)
    response.set_cookie(SESSION_COOKIE, cookie, httponly=True, samesite="Lax", path="/console/",
                        secure=request.secure, max_age=auth.SESSION_HOURS * 3600)
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/console/")
    raise response


def _login_tx(st, username: str, password: str):
    from bot.agent_tools import availability

    with st.session() as session:
        result = auth.log_in(session, username, password)
        if result is not None:  # logging in means being at the desk: online
            availability.set_availability(session, result[1].id, "online")
        return result


async def logout(request: web.Request) -> web.Response:
    token = request.cookies.get(SESSION_COOKIE, "")

    from bot.agent_tools import availability

    me = staff(request)

    def _tx():
        with store(request).session() as session:
            auth.log_out(session, token)
            availability.set_availability(session, me.id, "away")

    await store(request).run(_tx)
    await _publish_availability(request)
    response = web.HTTPSeeOther("/console/login?notice=logged_out")
    response.del_cookie(SESSION_COOKIE, path="/console/")
    raise response


async def _publish_availability(request: web.Request) -> None:
    await request.config_dict[EVENT_BUS].publish(AvailabilityEvent(type="availability", conversation_id=None))


# ---------------------------------------------------------------- queue

async def index(request: web.Request) -> web.Response:
    raise web.HTTPFound("/console/queue")


def _read(request: web.Request, fn, *args):
    st = store(request)

    def _tx():
        with st.session() as session:
            return fn(session, *args)

    return st.run(_tx)


async def queue_page(request: web.Request) -> web.Response:
    data = await _queue_data(request)
    settings = service(request).settings
    return render(request, "queue.html", {"page": "queue", "q": data, "now": now_utc(),
                                          "staff_hours": settings.staff_hours.describe(),
                                          "desk_open": settings.staff_hours.is_open(service(request).clock()),
                                          "accept_seconds": settings.accept_seconds})


async def _queue_data(request: web.Request) -> dict:
    """The queue, plus (supervisors) every staff member's availability and whether anyone is online."""
    from bot.agent_tools import availability

    me = staff(request)
    data = await _read(request, queries.queue, me.username, me.is_supervisor)
    data["staffed"] = await _read(request, availability.desk_staffed)
    if me.is_supervisor:
        data["staff_states"] = await _read(request, availability.staff_states)
    return data


async def queue_fragment(request: web.Request) -> web.Response:
    data = await _queue_data(request)
    return render(request, "_queue_body.html", {"q": data, "now": now_utc()})


async def api_queue(request: web.Request) -> web.Response:
    me = staff(request)
    data = await _read(request, queries.queue, me.username, me.is_supervisor)
    waiting = [{
        "conversation_id": h["conversation_id"], "channel": h["channel"], "reason": h["reason"],
        "created_at": h["created_at"].isoformat(), "accept_due_at": h["accept_due_at"].isoformat()
        if h["accept_due_at"] else None, "account_no": h["account_no"],
        "intents": [i["intent"] for i in h["intents"]],
        "phone": h["customer"]["phone"] if h["customer"] else None,
        "tickets": [t["ticket_no"] for t in h["tickets"]],
    } for h in data["waiting"]]
    return web.json_response(for_viewer(request, {"waiting": waiting,
                                                  "serving": [h["conversation_id"] for h in data["serving"]]}))


async def api_vocabulary(request: web.Request) -> web.Response:
    """The product's words (bot.vocabulary) for scripts and other front ends; every page also
    carries them in ``<script type="application/json" id="vocabulary">``."""
    return web.json_response(vocabulary.as_json(), dumps=lambda o: json.dumps(o, ensure_ascii=False))


# ---------------------------------------------------------------- conversation

async def _conversation_or_404(request: web.Request, audited: bool = False) -> dict:
    conversation_id = request.match_info["cid"]
    data = await _read(request, queries.conversation, conversation_id)
    if data is None:
        raise web.HTTPNotFound(text="会话不存在。")
    if audited:
        await _audit_view(request, "view_conversation", "conversation", conversation_id,
                          {"account_no": data["account_no"]} if data["account_no"] else None)
    return data


async def _audit_view(request: web.Request, action: str, kind: str, subject_id: str,
                      detail: dict | None = None) -> None:
    """Records that this staff member opened a page with a customer's personal data (PIPL)."""
    from bot.privacy import audit

    me = staff(request)
    st = store(request)

    def _tx():
        with st.session() as session:
            audit.record(session, actor=me.username, actor_role=me.role, action=action, subject_kind=kind,
                         subject_id=subject_id, unmasked=me.is_supervisor, client=request.remote,
                         detail=detail)

    await st.run(_tx)


def _mask_customer_name(request: web.Request, data: dict) -> dict:
    """Agents see the customer's name masked also where staff wrote it (a quick reply's {{姓名}})."""
    customer = data.get("customer")
    if staff(request).is_supervisor or not customer or len(customer.get("name") or "") < 2:
        return data
    name, masked = customer["name"], masking.mask_name(customer["name"])
    for entry in data.get("timeline", []) + data.get("messages", []):
        if entry.get("text") and name in entry["text"]:
            entry["text"] = entry["text"].replace(name, masked)
    return data


async def conversation_page(request: web.Request) -> web.Response:
    data = _mask_customer_name(request, await _conversation_or_404(request, audited=True))
    me = staff(request)
    active = data["active_handoff"]
    mine = bool(active and active["status"] == "accepted" and (active["agent"] == me.username or me.is_supervisor))
    from bot.agent_tools import notes as agent_notes

    from bot.agent_tools import availability

    every_label = await _read(request, agent_notes.label_list)
    label_choices = [label for label in every_label if label["active"] or label["name"] in data["tags"]]
    transfer_targets = [s for s in await _read(request, availability.online_staff)
                        if active and s["username"] != active["agent"]] if mine else []
    return render(request, "conversation.html", {
        "page": "conversation", "c": data, "mine": mine, "now": now_utc(),
        "intents": labels.INTENTS, "url": conversation_url(data["id"]),
        "label_choices": label_choices, "label_names": [label["name"] for label in every_label],
        "transfer_targets": transfer_targets,
    })


async def transcript_fragment(request: web.Request) -> web.Response:
    data = _mask_customer_name(request, await _conversation_or_404(request))
    return render(request, "_transcript.html", {"c": data, "intents": labels.INTENTS,
                                                "url": conversation_url(data["id"])})


async def api_conversation(request: web.Request) -> web.Response:
    """What the conversation page shows, as JSON: the customer (phone masked for agents), the
    tickets with their response-time milestones, the hand-offs and the transcript."""
    data = _mask_customer_name(request, await _conversation_or_404(request, audited=True))

    def when(value) -> str | None:
        return value.isoformat() if value is not None else None

    customer = data["customer"]
    return web.json_response(for_viewer(request, {
        "id": data["id"], "channel": data["channel"], "state": data["state"],
        "assigned_agent": data["assigned_agent"], "account_no": data["account_no"], "customer": customer,
        "tags": data["tags"], "note": data["note"], "reviewed": data["reviewed"],
        "satisfaction": data["satisfaction"], "created_at": when(data["created_at"]),
        "last_message_at": when(data["last_message_at"]), "closed_at": when(data["closed_at"]),
        "active_handoff_id": data["active_handoff"]["id"] if data["active_handoff"] else None,
        "handoffs": [{"id": h["id"], "reason": h["reason"], "status": h["status"], "agent": h["agent"],
                      "summary": h["summary"], "callback_ticket_no": h["callback_ticket_no"],
                      "created_at": when(h["created_at"]), "accept_due_at": when(h["accept_due_at"]),
                      "accepted_at": when(h["accepted_at"]), "ended_at": when(h["ended_at"])}
                     for h in data["handoffs"]],
        "tickets": [{"ticket_no": t["ticket_no"], "type": t["type"], "status": t["status"],
                     "summary": t["summary"], "created_at": when(t["created_at"]),
                     "milestones": [{"name": m["name"], "rule": m["rule"], "due_at": when(m["due_at"]),
                                     "met_at": when(m["met_at"]), "state": m["state"],
                                     "seconds_left": round(m["seconds_left"])} for m in t["milestones"]]}
                    for t in data["tickets"]],
        # Staff-only entries (private notes, transfers, label changes): console JSON only.
        "notes": [{"id": n["id"], "kind": n["kind"], "author": n["author"], "text": n["text"],
                   "created_at": n["created_at"].isoformat()} for n in data["notes"]],
        "messages": [{"id": m["id"], "sender": m["sender"], "agent": m["agent"], "text": m["text"],
                      "buttons": [b.get("title") for b in (m["payload"] or {}).get("buttons") or []],
                      "intent": m["intent"], "confidence": m["confidence"],
                      "created_at": m["created_at"].isoformat()} for m in data["messages"]],
    }))


async def _act(request: web.Request, action) -> web.Response:
    conversation_id = request.match_info["cid"]
    url = conversation_url(conversation_id)
    try:
        notice = await action(conversation_id, staff(request))
    except HandoffError as exc:
        if wants_json(request):
            return web.json_response({"error": exc.code, "message": exc.message}, status=exc.status)
        return done(request, url, error=exc.message)
    return done(request, url, notice=notice)


async def accept(request: web.Request) -> web.Response:
    from bot.agent_tools import availability

    async def action(cid, me):
        if not me.is_supervisor and not await _read(request, availability.is_online, me.username):
            # The queue offers hand-offs to online agents only.
            raise HandoffError("not_online", "您当前不是“在线”状态，请先设为在线再接入会话。")
        await service(request).accept(cid, me.username, me.display_name)
        return "accepted"
    return await _act(request, action)


async def take_over(request: web.Request) -> web.Response:
    async def action(cid, me):
        await service(request).take_over(cid, me.username, me.display_name)
        return "taken_over"
    return await _act(request, action)


async def reply(request: web.Request) -> web.Response:
    from bot.agent_tools import canned

    data = await form(request)

    async def action(cid, me):
        text = data.get("text", "")
        if "{{" in text:  # a quick reply's variables, filled here (the reply box keeps them as typed)
            values = await _read(request, lambda session: canned.values_for(session, cid, me.display_name,
                                                                            for_agent_view=False))
            text = canned.fill(text, values)
        await service(request).reply(cid, me.username, me.display_name, text,
                                     supervisor=me.is_supervisor)
        return None
    return await _act(request, action)


async def hand_back(request: web.Request) -> web.Response:
    async def action(cid, me):
        await service(request).hand_back(cid, me.username, supervisor=me.is_supervisor)
        return "handed_back"
    return await _act(request, action)


async def close(request: web.Request) -> web.Response:
    from bot.agent_tools import notes as agent_notes

    posted = await request.post()
    data = {k: v for k, v in posted.items() if isinstance(v, str)}
    chosen = [t for t in posted.getall("tags", []) if isinstance(t, str)]
    # Labels come from the supervisors' list only (no more free text at closing).
    tags = await _read(request, agent_notes.allowed_labels, chosen) if chosen else []

    async def action(cid, me):
        await service(request).close(cid, me.username, tags=tags, note=data.get("note"),
                                     supervisor=me.is_supervisor)
        return "closed"
    return await _act(request, action)


async def mark_reviewed(request: web.Request) -> web.Response:
    data = await form(request)
    reviewed = data.get("reviewed", "1") == "1"
    conversation_id = request.match_info["cid"]

    def _tx():
        with store(request).session() as session:
            return queries.set_reviewed(session, conversation_id, reviewed)

    if not await store(request).run(_tx):
        raise web.HTTPNotFound(text="会话不存在。")
    return done(request, conversation_url(conversation_id), "reviewed" if reviewed else "unreviewed")


async def flag_message(request: web.Request) -> web.Response:
    data = await form(request)
    try:
        message_id = int(request.match_info["mid"])
    except ValueError:
        raise web.HTTPNotFound()
    intent = data.get("intent", "").strip() or None
    if intent is not None and (len(intent) > 64 or not all(c.isalnum() or c in "_/" for c in intent)):
        raise web.HTTPBadRequest(text="意图名称不合法。")

    def _tx():
        with store(request).session() as session:
            return queries.flag_message(session, message_id, intent)

    conversation_id = await store(request).run(_tx)
    if conversation_id is None:
        raise web.HTTPNotFound(text="消息不存在或不是客户消息。")
    return done(request, conversation_url(conversation_id) + f"#m{message_id}",
                "flagged" if intent else "unflagged")


# ---------------------------------------------------------------- review

def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


async def review_page(request: web.Request) -> web.Response:
    q = request.query
    filters = queries.ReviewFilters(
        date_from=_date(q.get("from")), date_to=_date(q.get("to")), account_no=q.get("account", "").strip()[:10],
        ticket_no=q.get("ticket", "").strip()[:32], channel=q.get("channel", "")[:16], tag=q.get("tag", "").strip()[:32],
        satisfaction=q.get("satisfaction", "")[:16], reviewed=q.get("reviewed", "")[:3], flagged=q.get("flagged", "")[:3],
        started=q.get("started") == "1", area=q.get("area", "")[:16], intent=q.get("intent", "").strip()[:64],
        text=q.get("text", "").strip()[:500], handoff=q.get("handoff", "")[:8], agent=q.get("agent", "").strip()[:64])
    rows = await _read(request, queries.review_search, filters)
    return render(request, "review.html", {"page": "review", "rows": rows, "f": filters, "query": q})


async def export_nlu(request: web.Request) -> web.Response:
    examples = await _read(request, queries.flagged_examples)
    return web.Response(text=nlu_yaml(examples), content_type="application/x-yaml", charset="utf-8",
                        headers={"Content-Disposition": 'attachment; filename="flagged_nlu.yml"'})


def nlu_yaml(examples: dict[str, list[str]]) -> str:
    """Rasa 3 NLU training data: one block per intent, one example a line."""
    lines = ['version: "3.1"', "nlu:"]
    for intent in sorted(examples):
        lines.append(f"- intent: {intent}")
        lines.append("  examples: |")
        for text in examples[intent]:
            lines.append(f"    - {text}")
    if len(lines) == 2:
        lines[-1] = "nlu: []"
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- tickets

async def tickets_page(request: web.Request) -> web.Response:
    q = request.query
    filters = queries.TicketFilters(type=q.get("type", "")[:64], status=q.get("status", "open")[:16],
                                    overdue=q.get("overdue") == "1", account_no=q.get("account", "").strip()[:10],
                                    q=q.get("q", "").strip()[:64], q2=q.get("q2", "").strip()[:64],
                                    date_from=_date(q.get("from")), date_to=_date(q.get("to")),
                                    closed=q.get("closed") == "1", channel=q.get("channel", "")[:16],
                                    area=q.get("area", "")[:16], rule=q.get("rule", "").strip()[:64],
                                    sla=q.get("sla", "")[:16])
    rows = await _read(request, queries.ticket_list, filters)
    return render(request, "tickets.html", {"page": "tickets", "rows": rows, "f": filters,
                                            "types": TICKET_TYPES})


async def ticket_page(request: web.Request) -> web.Response:
    data = await _read(request, queries.ticket_detail, request.match_info["no"])
    if data is None:
        raise web.HTTPNotFound(text="工单不存在。")
    await _audit_view(request, "view_ticket", "ticket", data["ticket_no"],
                      {"account_no": data["account_no"]} if data["account_no"] else None)
    staff_choices = await _read(request, ticket_steps.staff_choices)
    return render(request, "ticket.html", {"page": "tickets", "t": data,
                                           "choices": ticket_steps.next_statuses(data["type"], data["status"]),
                                           "staff_choices": staff_choices})


async def ticket_status(request: web.Request) -> web.Response:
    from bot import tickets as ticket_service

    data = await form(request)
    ticket_no = request.match_info["no"]
    status = data.get("status", "")
    note = data.get("note", "").strip()[:2000] or None
    me = staff(request)
    url = "/console/tickets/" + quote(ticket_no, safe="")
    rules = request.config_dict[SLA_RULES]

    def _tx():
        with store(request).session() as session:
            current = ticket_service.get_ticket(session, ticket_no)
            if current is None:
                raise ticket_service.TicketNotFound("not_found", "no such ticket")
            if status != current.status and status not in ticket_steps.next_statuses(current.type, current.status):
                # The console moves a ticket forward only (the drop-down offers nothing else).
                raise ticket_service.TicketError("validation_error", "该状态不是当前工单的下一步，请刷新页面后重试。",
                                                 "status")
            ticket = ticket_service.change_status(session, rules, ticket_no, status, actor=me.username, note=note)
            return ticket_service.ticket_json(ticket, with_events=True)

    try:
        ticket = await store(request).run(_tx)
    except ticket_service.TicketNotFound:
        raise web.HTTPNotFound(text="工单不存在。")
    except ticket_service.TicketError as exc:
        return done(request, url, error=str(exc) or "状态变更被拒绝。")
    await _notify_ticket_change(request, ticket)
    return done(request, url, "status_changed")


async def ticket_assignee(request: web.Request) -> web.Response:
    """Sets who works on a ticket: a staff member or a field crew (free text, 抢修一班)."""
    data = await form(request)
    ticket_no = request.match_info["no"]
    url = "/console/tickets/" + quote(ticket_no, safe="")
    me = staff(request)

    def _tx():
        with store(request).session() as session:
            return ticket_steps.set_assignee(session, ticket_no, data.get("assignee", ""), actor=me.username) \
                is not None

    try:
        found = await store(request).run(_tx)
    except ValueError:
        return done(request, url, error="工单已关闭或已取消，不能再指派。")
    if not found:
        raise web.HTTPNotFound(text="工单不存在。")
    return done(request, url, "assigned")


async def _notify_ticket_change(request: web.Request, ticket: dict) -> None:
    """Lets the SLA engineer's notifier tell the customer (when it is installed)."""
    try:
        from bot.sla.notify import notify_ticket_status
    except ImportError:
        return
    try:
        await notify_ticket_status(request.config_dict, ticket["ticket_no"], ticket["status"])
    except Exception:  # best effort: the status change itself is stored
        log.exception("ticket %s: customer notification failed", ticket["ticket_no"])


# ---------------------------------------------------------------- supervisor pages

async def sla_page(request: web.Request) -> web.Response:
    from bot.sla import report as sla_report

    until_day = _date(request.query.get("to")) or now_utc().astimezone(SHANGHAI).date()
    since_day = _date(request.query.get("from")) or until_day - timedelta(days=sla_report.DEFAULT_DAYS - 1)
    since = datetime.combine(since_day, datetime.min.time(), tzinfo=SHANGHAI)
    until = datetime.combine(until_day + timedelta(days=1), datetime.min.time(), tzinfo=SHANGHAI)
    report = await _read(request, sla_report.compute_report, since, until)
    return render(request, "sla.html", {"page": "sla", "report": report, "since": since_day, "until": until_day,
                                        "type_names": labels.TICKET_TYPES, "area_names": sla_report.AREA_NAMES})


async def staff_page(request: web.Request) -> web.Response:
    rows = await _read(request, queries.staff_list)
    return render(request, "staff.html", {"page": "staff", "rows": rows})


async def staff_save(request: web.Request) -> web.Response:
    data = await form(request)
    username = data.get("username", "").strip()
    display_name = data.get("display_name", "").strip()
    role = data.get("role", "agent")
    password = data.get("password", "")

    def _tx():
        with store(request).session() as session:
            auth.upsert_staff(session, username, display_name, role, password)

    try:
        await store(request).run(_tx)
    except ValueError as exc:
        messages = {"username": "用户名需为 2-64 位字母、数字、下划线、点或连字符。",
                    "role": "角色不正确。", "display": "显示名需为 1-64 个字符。",
                    "password shorter": f"密码至少 {auth.MIN_PASSWORD_LENGTH} 位。",
                    "password longer": "密码过长。"}
        text = next((v for k, v in messages.items() if str(exc).startswith(k)), "保存失败。")
        return done(request, "/console/staff", error=text)
    return done(request, "/console/staff", "staff_saved")


async def staff_active(request: web.Request) -> web.Response:
    data = await form(request)
    try:
        user_id = int(request.match_info["uid"])
    except ValueError:
        raise web.HTTPNotFound()
    if user_id == staff(request).id:
        return done(request, "/console/staff", error="不能停用自己的账号。")
    active = data.get("active") == "1"

    def _tx():
        with store(request).session() as session:
            return queries.set_staff_active(session, user_id, active)

    if not await store(request).run(_tx):
        raise web.HTTPNotFound()
    return done(request, "/console/staff", "staff_updated")


# ---------------------------------------------------------------- live updates (Server-Sent Events)

async def events(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    bus = request.config_dict[EVENT_BUS]
    # The stream knows the viewer's role: supervisor-only notices (SLA) reach supervisors only.
    queue = bus.open_stream(supervisor=staff(request).is_supervisor)
    try:
        await response.write(b"retry: 3000\n\n")
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), timeout=15)
            except asyncio.TimeoutError:
                await response.write(b": ping\n\n")
                await _touch(request)  # an open console keeps its staff member present
                continue
            if event is None:  # the gateway is shutting down
                break
            await response.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode("utf-8"))
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        bus.close_stream(queue)
    return response


async def _touch(request: web.Request) -> None:
    from bot.agent_tools import availability

    me = staff(request)
    try:
        await _read(request, availability.touch, me.id)
    except Exception:  # presence is best effort
        log.debug("presence update failed", exc_info=True)
