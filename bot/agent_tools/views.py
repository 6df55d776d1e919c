"""Console routes of the agent's tools (added by ``bot.console.setup``)."""
from __future__ import annotations

import re

from aiohttp import web

from bot.agent_tools import customers
from bot.console import queries
from bot.console.views import _audit_view, _read, render, staff

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
    r = app.router
    r.add_get("/console/customers/{account_no}", customer_page, name="console-customer")
