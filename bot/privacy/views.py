"""Console pages for supervisors: a customer's data (export, delete) and the audit log."""
from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.console import views as console_views
from bot.privacy import audit, subject as subjects

ACCOUNT_RE = re.compile(r"^\d{10}$")
CONVERSATION_RE = re.compile(r"^[\x21-\x7e]{1,128}$")  # printable, no spaces (as the API)


def _subject_from(values) -> subjects.Subject | None:
    kind = values.get("kind", "account")
    value = (values.get("id") or "").strip()
    if kind == "account" and ACCOUNT_RE.match(value):
        return subjects.Subject(account_no=value)
    if kind == "conversation" and CONVERSATION_RE.match(value):
        return subjects.Subject(conversation_id=value)
    return None


def _client(request: web.Request) -> str:
    return request.remote or ""


async def privacy_page(request: web.Request) -> web.Response:
    subject = _subject_from(request.query)
    context: dict[str, Any] = {"page": "privacy", "kind": request.query.get("kind", "account"),
               "value": request.query.get("id", ""),
               "subject": subject, "held": None, "notice_counts": None}
    if request.query.get("id") and subject is None:
        context["error"] = "请输入 10 位户号，或完整的会话编号（如 wechat:OpenID）。"
    if subject is not None:
        st = console_views.store(request)

        def _tx():
            with st.session() as session:
                data = subjects.collect(session, subject)
                return subjects.summary(data), data

        held, data = await st.run(_tx)
        context["held"] = held
        context["conversations"] = [{"id": c["id"], "channel": c["channel"], "messages": len(c["messages"]),
                                     "last": c["last_message_at"]} for c in data["conversations"]]
    if request.query.get("erased"):
        try:
            context["notice_counts"] = json.loads(request.query["erased"])
        except ValueError:
            context["notice_counts"] = None
    return console_views.render(request, "privacy.html", context)


async def privacy_export(request: web.Request) -> web.Response:
    """Downloads everything held about the subject (JSON or readable text); audited."""
    me = console_views.staff(request)
    subject = _subject_from(request.query)
    if subject is None:
        return web.json_response({"error": "validation_error", "message": "kind/id: 请给出 10 位户号或会话编号"},
                                 status=400)
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "text"):
        return web.json_response({"error": "validation_error", "message": "format: json 或 text"}, status=400)
    st = console_views.store(request)

    def _tx():
        with st.session() as session:
            data = subjects.collect(session, subject)
            audit.record(session, actor=me.username, actor_role=me.role, action="export_subject",
                         subject_kind=subject.kind, subject_id=subject.id, unmasked=True,
                         client=_client(request), detail={"format": fmt, **subjects.summary(data)})
            return data

    data = await st.run(_tx)
    safe_id = re.sub(r"[^0-9A-Za-z_-]", "_", subject.id)[:64]
    if fmt == "json":
        body = json.dumps(data, ensure_ascii=False, indent=2)
        return web.Response(text=body, content_type="application/json", headers={
            "Content-Disposition": f'attachment; filename="personal-data-{safe_id}.json"'})
    return web.Response(text=subjects.readable(data), content_type="text/plain", charset="utf-8", headers={
        "Content-Disposition": f'attachment; filename="personal-data-{safe_id}.txt"'})


async def privacy_erase(request: web.Request) -> web.Response:
    """Deletes/anonymises the subject's data after the id was typed again; audited."""
    me = console_views.staff(request)
    values = await console_views.form(request)
    subject = _subject_from(values)
    if subject is None:
        return console_views.done(request, "/console/privacy", error="请输入 10 位户号或完整的会话编号。")
    if values.get("confirm", "").strip() != subject.id:
        return console_views.done(request, "/console/privacy?" + _query(subject),
                                  error="确认内容与要删除的编号不一致，未删除任何数据。")
    include_account = values.get("include_account") == "1"
    st = console_views.store(request)

    def _tx():
        with st.session() as session:
            counts = subjects.erase(session, subject, include_account=include_account)
            audit.record(session, actor=me.username, actor_role=me.role, action="erase_subject",
                         subject_kind=subject.kind, subject_id=subject.id, client=_client(request),
                         detail={"counts": counts, "include_account": include_account,
                                 "reason": values.get("reason", "")[:200]})
            return counts

    counts = await st.run(_tx)
    if console_views.wants_json(request):
        return web.json_response({"ok": True, "counts": counts})
    raise web.HTTPSeeOther("/console/privacy?" + _query(subject) + "&" + urlencode({"erased": json.dumps(counts)}))


def _query(subject: subjects.Subject) -> str:
    return urlencode({"kind": subject.kind, "id": subject.id})


async def audit_page(request: web.Request) -> web.Response:
    q = request.query
    try:
        page = max(1, int(q.get("page", "1")))
    except ValueError:
        page = 1
    actor, subject, action = q.get("actor", "").strip()[:64], q.get("subject", "").strip()[:128], q.get("action", "")
    if action and action not in audit.ACTIONS:
        action = ""
    st = console_views.store(request)
    per_page = 100

    def _tx():
        with st.session() as session:
            rows, total = audit.search(session, actor=actor, subject=subject, action=action,
                                       limit=per_page, offset=(page - 1) * per_page)
            return [audit.entry_json(r) for r in rows], total

    rows, total = await st.run(_tx)
    if q.get("format") == "json":
        return web.json_response({"entries": rows, "total": total})
    return console_views.render(request, "audit.html", {
        "page": "audit", "rows": rows, "total": total, "actions": audit.ACTIONS, "f": {
            "actor": actor, "subject": subject, "action": action}, "page_no": page,
        "has_next": page * per_page < total})
