"""``/console/dashboard``: the page, its figures as JSON, CSV and Excel (supervisors only)."""
from __future__ import annotations

from datetime import date, timedelta

from aiohttp import web

from bot.console import labels
from bot.console.views import _audit_view, _read, render
from bot.dashboard import queries, report
from bot.store.models import AREA_TYPES
from bot.store.types import SHANGHAI, now_utc

DEFAULT_DAYS = 7
MAX_DAYS = 366


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def scope_from(query) -> queries.Scope:
    """Period (``from``/``to``, whole days, default the last 7), ``channel`` and ``area`` of a request."""
    last = _day(query.get("to")) or now_utc().astimezone(SHANGHAI).date()
    first = _day(query.get("from")) or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        first, last = last, first
    first = max(first, last - timedelta(days=MAX_DAYS - 1))
    channel = query.get("channel", "")
    area = query.get("area", "")
    return queries.day_scope(first, last, channel if channel in labels.CHANNELS else "",
                             area if area in AREA_TYPES else "")


async def _figures(request: web.Request) -> tuple[queries.Scope, dict]:
    scope = scope_from(request.query)
    return scope, await _read(request, queries.compute, scope)


async def dashboard_page(request: web.Request) -> web.Response:
    scope, figures = await _figures(request)
    filters = {"from": scope.first_day.isoformat(), "to": scope.last_day.isoformat(),
               "channel": scope.channel, "area": scope.area}
    qs = "&".join(f"{k}={v}" for k, v in filters.items() if v)
    return render(request, "dashboard.html", {"page": "dashboard", "d": figures, "scope": scope, "qs": qs,
                                              "filters": filters, "areas": labels.AREAS,
                                              "channels": labels.CHANNELS})


async def dashboard_data(request: web.Request) -> web.Response:
    _scope, figures = await _figures(request)
    return web.json_response(figures, dumps=report.dumps)


async def dashboard_download(request: web.Request) -> web.Response:
    scope, figures = await _figures(request)
    fmt = request.match_info["fmt"]
    name = f"service-report-{scope.first_day.isoformat()}-{scope.last_day.isoformat()}.{fmt}"
    await _audit_view(request, "export_report", "report", name,
                      {"since": figures["period"]["since"], "until": figures["period"]["until"]})
    if fmt == "csv":
        body = report.to_csv(figures).encode("utf-8-sig")  # with a BOM: Excel opens it as UTF-8
        content_type = "text/csv"
    else:
        body = report.to_xlsx(figures)
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return web.Response(body=body, content_type=content_type, charset="utf-8" if fmt == "csv" else None,
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
