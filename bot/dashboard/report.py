"""The service report: ``python -m bot report [--since ISO] [--until ISO] [--format json|csv|xlsx]``.

The figures are those of the dashboard (``bot.dashboard.queries.compute``), as JSON (the
contract's keys ``conversations``, ``containment``, ``handoffs``, ``tickets``, ``sla``,
``satisfaction``, ``complaint_topics``, plus ``period`` and ``trends``), or flattened into
rows ``section, group, item, measure, value`` for CSV and Excel (the workbook also has an
overview sheet with every headline figure against the previous period). The links of the
page are left out of CSV and Excel.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from datetime import datetime, timedelta
from typing import Any, Iterator

from bot.store.types import now_utc

SECTIONS = ("conversations", "containment", "handoffs", "tickets", "sla", "satisfaction", "complaint_topics")
SECTION_NAMES = {"conversations": "会话量", "containment": "机器人", "handoffs": "人工服务", "tickets": "工单",
                 "sla": "服务时限", "satisfaction": "满意度", "complaint_topics": "投诉热点", "trends": "趋势"}
# The key naming the row of a list entry (the first one present).
ITEM_KEYS = ("day", "channel", "intent", "text", "agent", "type", "status", "rule", "keyword", "topic",
             "conversation_id")
SKIPPED = {"link", "links", "closed_link", "contained_link", "fallback_link", "missed_link", "callback_link",
           "breached_link", "at_risk_link", "dissatisfied_link", "weekdays", "keywords_list"}
HEADER = ("section", "group", "item", "measure", "value")
DEFAULT_DAYS = 7


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def rows(figures: dict[str, Any]) -> Iterator[tuple]:
    """(section, group, item, measure, value) for every number of the report."""
    for key in ("since", "until", "channel", "area"):
        yield ("period", "", "", key, figures["period"][key])
    for section in SECTIONS:
        data = figures[section]
        for name, value in data.items():
            if name in SKIPPED:
                continue
            if _scalar(value):
                yield (section, "", "", name, value)
            elif name == "heatmap":
                weekdays = figures["conversations"]["weekdays"]
                for day_index, hours in enumerate(value):
                    for hour, n in enumerate(hours):
                        yield (section, name, f"{weekdays[day_index]} {hour:02d}时", "messages", n)
            elif isinstance(value, dict):
                for sub, n in value.items():
                    yield (section, name, sub, "count", n)
            elif isinstance(value, list):
                for entry in value:
                    item_key = next((k for k in ITEM_KEYS if k in entry), None)
                    item = entry.get(item_key, "") if item_key else ""
                    if item_key == "conversation_id" and not item:
                        item = entry.get("ticket_no") or ""
                    for measure, v in entry.items():
                        if measure in SKIPPED or measure == item_key or not _scalar(v):
                            continue
                        yield (section, name, item, measure, v)
    for key, trend in figures["trends"].items():
        for measure in ("current", "previous", "change"):
            yield ("trends", key, trend["label"], measure, trend[measure])


def to_csv(figures: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for row in rows(figures):
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()


def to_xlsx(figures: dict[str, Any]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    overview = book.active
    overview.title = "概览"
    period = figures["period"]
    overview.append(["服务报表", f"{period['first_day']} 至 {period['last_day']}",
                     f"渠道 {period['channel'] or '全部'}", f"区域 {period['area'] or '全部'}"])
    overview.append(["指标", "本期", "上期", "变化", "key"])
    for cell in overview[2]:
        cell.font = Font(bold=True)
    for key, trend in figures["trends"].items():
        overview.append([trend["label"], trend["current"], trend["previous"], trend["change"], key])
    overview.column_dimensions["A"].width = 22
    detail = book.create_sheet("明细")
    detail.append(list(HEADER))
    for cell in detail[1]:
        cell.font = Font(bold=True)
    for row in rows(figures):
        detail.append(list(row))
    for column, width in zip("ABCDE", (18, 20, 28, 28, 14)):
        detail.column_dimensions[column].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# ---- command line -----------------------------------------------------------------------

def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    from bot.sla.report import parse_time

    parser.add_argument("--since", type=parse_time, default=None,
                        help=f"from this time (ISO; without an offset Asia/Shanghai; default {DEFAULT_DAYS} days "
                             "before --until)")
    parser.add_argument("--until", type=parse_time, default=None, help="before this time (ISO, default now)")
    parser.add_argument("--format", choices=("json", "csv", "xlsx"), default="json")
    parser.add_argument("--channel", default="", help="only this channel (web, wechat, wecom, rest)")
    parser.add_argument("--area", default="", help="only this area type (urban, rural, remote)")
    parser.add_argument("--output", "-o", default="-", help="file to write (default standard output)")


def run(args: argparse.Namespace) -> int:
    from bot.config import load_settings
    from bot.dashboard.queries import Scope, compute
    from bot.store import Store, migrate

    until: datetime = args.until or now_utc()
    since: datetime = args.since or until - timedelta(days=DEFAULT_DAYS)
    if since >= until:
        print("report: --since must be before --until", file=sys.stderr)
        return 2
    settings = load_settings()
    migrate(settings.database_url)
    store = Store(settings.database_url)
    try:
        with store.session() as session:
            figures = compute(session, Scope(since, until, args.channel, args.area))
    finally:
        store.close()
    if args.format == "json":
        data = (json.dumps(figures, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    elif args.format == "csv":
        data = to_csv(figures).encode("utf-8")
    else:
        data = to_xlsx(figures)
    if args.output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        with open(args.output, "wb") as handle:
            handle.write(data)
    return 0
