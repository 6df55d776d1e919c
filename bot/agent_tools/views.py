"""Console routes of the agent's tools (added by ``bot.console.setup``)."""
from __future__ import annotations

import re

from aiohttp import web

from bot.agent_tools import availability, canned, customers, notes, search
from bot.app import START_BACKGROUND
from bot.console import queries
from bot.console.views import _audit_view, _read, conversation_url, done, form, for_viewer, render, staff, wants_json
from bot.events import EVENT_BUS, AvailabilityEvent, Event, NoteEvent
from bot.store import STORE

ACCOUNT_RE = re.compile(r"^\d{1,10}$")


async def customer_page(request: web.Request) -> web.Response:
    account_no = request.match_info["account_no"]
    if not ACCOUNT_RE.match(account_no):
        raise web.HTTPNotFound(text="户号不正确。")
    data = await _read(request, customers.customer_history, account_no)
    if data is None:
        raise web.HTTPNotFound(text="没有这个户号的记录。")
    await _audit_view(request, "view_customer", "account", account_no)
    names = await _read(request, queries.agent_names)
    return render(request, "customer.html", {"page": "customer", "d": data, "names": names})


def setup(app: web.Application, supervisor_routes: set[str]) -> None:
    if app.get(START_BACKGROUND):
        async def indexer(app: web.Application):
            import asyncio

            stop = asyncio.Event()
            task = asyncio.create_task(search.run_indexer(app[STORE], stop))
            yield
            stop.set()
            await task

        app.cleanup_ctx.append(indexer)
    r = app.router
    r.add_get("/console/customers/{account_no}", customer_page, name="console-customer")
    r.add_post("/console/conversations/{cid}/notes", add_note, name="console-note-add")
    r.add_post("/console/conversations/{cid}/labels", set_labels, name="console-labels-set")
    r.add_get("/console/labels", labels_page, name="console-labels")
    r.add_post("/console/labels", labels_save, name="console-labels-save")
    r.add_post("/console/labels/{lid}/active", label_active, name="console-label-active")
    r.add_get("/console/search", search_page, name="console-search")
    r.add_post("/console/availability", set_availability, name="console-availability")
    r.add_post("/console/conversations/{cid}/transfer", transfer, name="console-transfer")
    r.add_get("/console/canned", canned_page, name="console-canned")
    r.add_post("/console/canned", canned_save, name="console-canned-save")
    r.add_post("/console/canned/{rid}/delete", canned_delete, name="console-canned-delete")
    r.add_get("/console/api/canned", api_canned, name="console-api-canned")
    supervisor_routes.update({"console-labels", "console-labels-save", "console-label-active",
                              "console-canned", "console-canned-save", "console-canned-delete"})


# ---------------------------------------------------------------- notes and labels

async def _write(request: web.Request, fn, *args, **kwargs):
    st = request.config_dict[STORE]

    def _tx():
        with st.session() as session:
            return fn(session, *args, **kwargs)

    return await st.run(_tx)


async def _publish(request: web.Request, event: Event) -> None:
    """Tells open consoles (of every gateway, through the event bus and its relay); never a channel."""
    await request.config_dict[EVENT_BUS].publish(event)


async def add_note(request: web.Request) -> web.Response:
    data = await form(request)
    cid = request.match_info["cid"]
    url = conversation_url(cid)
    try:
        await _write(request, notes.add_note, cid, staff(request).username, data.get("text", ""))
    except LookupError:
        raise web.HTTPNotFound(text="会话不存在。")
    except notes.NoteError as exc:
        if wants_json(request):
            return web.json_response({"error": "invalid", "message": str(exc)}, status=400)
        return done(request, url, error=str(exc))
    await _publish(request, NoteEvent(type="note", conversation_id=cid))
    return done(request, url + "#transcript", "note_added")


async def set_labels(request: web.Request) -> web.Response:
    posted = await request.post()
    cid = request.match_info["cid"]
    chosen = [v for v in posted.getall("labels", []) if isinstance(v, str)]
    try:
        changed = await _write(request, notes.set_conversation_labels, cid, chosen, staff(request).username)
    except LookupError:
        raise web.HTTPNotFound(text="会话不存在。")
    if changed:
        await _publish(request, NoteEvent(type="note", conversation_id=cid))
    return done(request, conversation_url(cid), "labels_saved")


async def labels_page(request: web.Request) -> web.Response:
    rows = await _read(request, notes.label_list)
    return render(request, "labels.html", {"page": "labels", "rows": rows})


async def labels_save(request: web.Request) -> web.Response:
    data = await form(request)
    try:
        await _write(request, notes.save_label, data.get("name", ""), data.get("description", ""))
    except notes.NoteError as exc:
        return done(request, "/console/labels", error=str(exc))
    return done(request, "/console/labels", "label_saved")


async def label_active(request: web.Request) -> web.Response:
    data = await form(request)
    try:
        label_id = int(request.match_info["lid"])
    except ValueError:
        raise web.HTTPNotFound()
    if not await _write(request, notes.set_label_active, label_id, data.get("active") == "1"):
        raise web.HTTPNotFound()
    return done(request, "/console/labels", "label_updated")


# ---------------------------------------------------------------- canned replies

async def canned_page(request: web.Request) -> web.Response:
    rows = await _read(request, canned.replies)
    edit = None
    if request.query.get("edit", "").isdigit():
        edit = next((r for r in rows if r["id"] == int(request.query["edit"])), None)
    return render(request, "canned.html", {"page": "canned", "rows": rows, "edit": edit,
                                           "variables": canned.VARIABLES})


async def canned_save(request: web.Request) -> web.Response:
    data = await form(request)
    reply_id = int(data["id"]) if data.get("id", "").isdigit() else None
    try:
        await _write(request, canned.save, data.get("shortcut", ""), data.get("title", ""), data.get("body", ""),
                     actor=staff(request).username, reply_id=reply_id)
    except LookupError:
        raise web.HTTPNotFound()
    except canned.CannedError as exc:
        return done(request, "/console/canned", error=str(exc))
    return done(request, "/console/canned", "canned_saved")


async def canned_delete(request: web.Request) -> web.Response:
    try:
        reply_id = int(request.match_info["rid"])
    except ValueError:
        raise web.HTTPNotFound()
    if not await _write(request, canned.remove, reply_id):
        raise web.HTTPNotFound()
    return done(request, "/console/canned", "canned_deleted")


async def api_canned(request: web.Request) -> web.Response:
    """The "/" popup's list for one conversation (previews masked for agents)."""
    me = staff(request)
    cid = request.query.get("conversation_id", "")[:128]
    rows = await _read(request, lambda session: canned.for_conversation(session, cid, me.display_name,
                                                                         for_agent_view=not me.is_supervisor))
    return web.json_response({"replies": for_viewer(request, rows)})


# ---------------------------------------------------------------- availability and transfer

async def set_availability(request: web.Request) -> web.Response:
    data = await form(request)
    value = data.get("availability", "")
    if value not in availability.LABELS:
        raise web.HTTPBadRequest(text="状态不正确。")
    me = staff(request)
    await _write(request, availability.set_availability, me.id, value)
    await _publish(request, AvailabilityEvent(type="availability", conversation_id=None))
    return done(request, "/console/queue", "availability_" + value)


async def transfer(request: web.Request) -> web.Response:
    from bot.console.views import _act, service
    from bot.handoff import HandoffError

    data = await form(request)
    target = data.get("to", "").strip()[:64]
    reason = data.get("reason", "")

    async def action(cid, me):
        online = {s["username"]: s for s in await _read(request, availability.online_staff)}
        if target not in online:
            raise HandoffError("target_not_online", "只能转接给当前“在线”的同事。")
        await service(request).transfer(cid, me.username, me.display_name, target,
                                        online[target]["display_name"], reason, supervisor=me.is_supervisor)
        return "transferred"
    return await _act(request, action)


# ---------------------------------------------------------------- search

async def search_page(request: web.Request) -> web.Response:
    q = request.query.get("q", "").strip()[:search.MAX_QUERY]
    result = await _write(request, search.search, q) if q else None
    return render(request, "search.html", {"page": "search", "q": q, "r": result})
