"""``/console/notices``: the supervisors' page of proactive notices (issue 19).

- the notice kinds with their switch, when each is sent, and the engine's settings (reminder
  days, balance thresholds, quiet hours, daily cap, abnormal-usage ratio, outage lead time),
  saved through ``bot.notices.settings`` (its checks, its messages) and audited;
- delivery figures of a period (default the last 7 days, by the deliveries' creation): per
  kind and channel the deliveries sent / pending / failed / dead / skipped, the bound
  customers; the recent failures with the customer masked (``bot.masking``);
- an ad-hoc notice (``bot.notices.adhoc``): 预览 shows the message as customers read it and how
  many bindings it reaches; 发送 stores it with the supervisor's name and one pending delivery
  per recipient for the engine; the list of past ad-hoc notices with their delivery counts.

Supervisors only (the console's ``SUPERVISOR_ROUTES``); agents get 403 and no link.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Dict, List

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import masking, vocabulary
from bot.console import views as console_views
from bot.console.views import _read, done, form, render, staff, store
from bot.notices import adhoc, settings as notice_settings
from bot.store.models import AdhocNotice, Customer, CustomerBinding, NoticeDelivery, StaffUser
from bot.store.types import SHANGHAI, now_utc

ROUTES = ("console-notices", "console-notices-settings", "console-notices-adhoc-preview",
          "console-notices-adhoc-send")
DEFAULT_DAYS = 7
MAX_DAYS = 366
FAILURES_SHOWN = 50
ADHOC_SHOWN = 20
STATUSES = ("sent", "pending", "failed", "dead", "skipped")
STATUS_NAMES = {"sent": "已发送", "pending": "待发送", "failed": "失败待重试", "dead": "已放弃", "skipped": "已跳过"}
CHANNEL_NAMES = {"web": "网页", "wechat": "微信公众号", "wecom": "企业微信", "sms": "短信"}
# Why the engine skipped a delivery (its ``last_error``; bot.notices.engine.skip_reason).
SKIP_REASONS = {"unbound": "已解绑", "opted_out": "已退订", "kind_off": "类型已关闭", "no_sms_consent": "未同意短信",
                "expired": "已过时效"}
# The engine's parameters as the form shows them: key, label, hint.
FIELDS = (
    ("due_reminder_days", "缴费提醒：到期前天数", "多个用逗号分开，例如 7,1"),
    ("low_balance_thresholds", "余额提醒阈值（元）", "预付费账户余额降到这些金额时提醒，例如 30,20,0"),
    ("quiet_hours", "免打扰时段", "此时段不发非紧急通知，例如 21:00-08:00；留空表示不设"),
    ("daily_cap", "每户每日上限（条）", "每个绑定每天最多收到的非紧急通知，0 表示不限"),
    ("abnormal_usage_ratio", "异常用电判定比例", "月用电量比自身历史高或低这个比例即提醒，0.5 即 ±50%"),
    ("outage_notice_hours_before", "停电提前通知（小时）", "计划停电开始前多少小时通知，开始和结束时另行通知"),
)
FIELD_LABELS = {key: label for key, label, _hint in FIELDS}
NOTICES = {
    "notice_settings_saved": "通知设置已保存。",
    "notice_settings_unchanged": "通知设置没有改动。",
    "adhoc_sent": "通知已提交发送，投递情况见“已发送的临时通知”。",
    "adhoc_already_sent": "这条通知已经发送过（重复提交），没有再次发送。",
}
_NUMBERS_SPLIT = re.compile(r"[,，、;；\s]+")


# ---------------------------------------------------------------- figures


@dataclass(frozen=True)
class Period:
    first_day: date
    last_day: date

    @property
    def since(self) -> datetime:
        return datetime.combine(self.first_day, datetime.min.time(), tzinfo=SHANGHAI)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), datetime.min.time(), tzinfo=SHANGHAI)


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def period_from(query: Any) -> Period:
    """Whole Shanghai days ``from``..``to`` of a request, default the last 7 days."""
    last = _day(query.get("to")) or now_utc().astimezone(SHANGHAI).date()
    first = _day(query.get("from")) or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        first, last = last, first
    return Period(max(first, last - timedelta(days=MAX_DAYS - 1)), last)


def _order(mapping: Dict[str, str], key: str) -> tuple[int, str]:
    keys = list(mapping)
    return (keys.index(key) if key in keys else len(keys), key)


def delivery_figures(session: Session, period: Period) -> Dict[str, Any]:
    """Deliveries created in the period by kind x channel x status, and the bound customers
    (now): three grouped queries, whatever the number of rows."""
    created = (NoticeDelivery.created_at >= period.since) & (NoticeDelivery.created_at < period.until)
    table: Dict[tuple[str, str], Dict[str, int]] = {}
    totals = {status: 0 for status in STATUSES}
    query = (select(NoticeDelivery.kind, NoticeDelivery.channel, NoticeDelivery.status, func.count())
             .where(created).group_by(NoticeDelivery.kind, NoticeDelivery.channel, NoticeDelivery.status))
    for kind, channel, status, n in session.execute(query):
        counts = table.setdefault((kind, channel), {s: 0 for s in STATUSES})
        counts[status] = counts.get(status, 0) + n
        totals[status] = totals.get(status, 0) + n
    rows = [{"kind": kind, "kind_name": vocabulary.NOTICE_KINDS.get(kind, kind), "channel": channel,
             "channel_name": CHANNEL_NAMES.get(channel, channel), "counts": counts,
             "total": sum(counts.values())}
            for (kind, channel), counts in sorted(table.items(), key=lambda item: (
                _order(vocabulary.NOTICE_KINDS, item[0][0]), _order(CHANNEL_NAMES, item[0][1])))]
    active = CustomerBinding.unbound_at.is_(None)
    per_channel = {channel: {"bindings": bindings, "accounts": accounts} for channel, bindings, accounts in
                   session.execute(select(CustomerBinding.channel, func.count(),
                                          func.count(func.distinct(CustomerBinding.account_no)))
                                   .where(active).group_by(CustomerBinding.channel))}
    accounts = session.execute(select(func.count(func.distinct(CustomerBinding.account_no)))
                               .where(active)).scalar_one()
    skipped = dict(session.execute(select(NoticeDelivery.last_error, func.count())
                                   .where(created, NoticeDelivery.status == "skipped")
                                   .group_by(NoticeDelivery.last_error)).all())
    return {"rows": rows, "totals": {**totals, "total": sum(totals.values())},
            "skipped_reasons": [{"reason": reason or "", "name": SKIP_REASONS.get(reason or "", reason or "其他"),
                                 "count": n} for reason, n in sorted(skipped.items(), key=lambda kv: -kv[1])],
            "bound": {"accounts": accounts, "bindings": sum(c["bindings"] for c in per_channel.values()),
                      "per_channel": dict(sorted(per_channel.items(),
                                                 key=lambda item: _order(CHANNEL_NAMES, item[0])))}}


def recent_failures(session: Session, period: Period, limit: int = FAILURES_SHOWN) -> List[Dict[str, Any]]:
    """Failed (to be retried) and dead deliveries of the period, newest first, customers masked."""
    query = (select(NoticeDelivery.id, NoticeDelivery.kind, NoticeDelivery.channel, NoticeDelivery.status,
                    NoticeDelivery.account_no, NoticeDelivery.binding_id, NoticeDelivery.event_key,
                    NoticeDelivery.attempts, NoticeDelivery.last_error,
                    NoticeDelivery.next_attempt_at, NoticeDelivery.created_at, Customer.name, Customer.phone)
             .outerjoin(Customer, Customer.account_no == NoticeDelivery.account_no)
             .where(NoticeDelivery.status.in_(("failed", "dead")),
                    NoticeDelivery.created_at >= period.since, NoticeDelivery.created_at < period.until)
             .order_by(NoticeDelivery.created_at.desc(), NoticeDelivery.id.desc()).limit(limit))
    return [{"id": row.id, "kind": row.kind, "kind_name": vocabulary.NOTICE_KINDS.get(row.kind, row.kind),
             "channel": row.channel, "channel_name": CHANNEL_NAMES.get(row.channel, row.channel),
             "status": row.status, "status_name": STATUS_NAMES.get(row.status, row.status),
             "account_no": row.account_no or "",
             # A ticket's status goes to the ticket's conversation, not to a binding.
             "ticket_no": row.event_key.split(":", 1)[0] if row.binding_id is None else None,
             "customer_name": masking.mask_name(row.name),
             "customer_phone": masking.mask_phone(row.phone), "attempts": row.attempts,
             "last_error": masking.mask_text((row.last_error or "")[:300]),
             "next_attempt_at": row.next_attempt_at if row.status == "failed" else None,
             "created_at": row.created_at}
            for row in session.execute(query)]


def adhoc_history(session: Session, limit: int = ADHOC_SHOWN) -> List[Dict[str, Any]]:
    """The latest ad-hoc notices, who sent them, and their deliveries by status."""
    query = (select(AdhocNotice, StaffUser.display_name)
             .outerjoin(StaffUser, StaffUser.username == AdhocNotice.sent_by)
             .order_by(AdhocNotice.id.desc()).limit(limit))
    found = list(session.execute(query))
    counts = adhoc.delivery_counts(session, [notice.id for notice, _name in found])
    return [{"id": notice.id, "area": notice.area, "scope": "、".join(notice.scope or []), "text": notice.text,
             "urgent": notice.urgent, "sent_by": notice.sent_by, "sent_by_name": name or notice.sent_by,
             "recipients": notice.recipients, "created_at": notice.created_at,
             "counts": {status: counts[notice.id].get(status, 0) for status in STATUSES}}
            for notice, name in found]


# ---------------------------------------------------------------- settings


def schedule_of(kind: str, values: Dict[str, Any]) -> str:
    """When the engine sends a kind, with the current settings, as staff read it."""
    def numbers(key: str) -> str:
        return "、".join(str(v) for v in values.get(key) or [])

    return {
        "bill_issued": "新账单出账后",
        "due_reminder": f"缴费截止日前 {numbers('due_reminder_days')} 天",
        "overdue": "逾期未缴时，附已产生的违约金",
        "low_balance": f"预付费余额降到 {numbers('low_balance_thresholds')} 元时",
        "planned_outage": f"计划停电开始前 {values.get('outage_notice_hours_before')} 小时，停电开始和结束时",
        "restoration": "故障停电恢复供电后（紧急，不受免打扰限制）",
        "abnormal_usage": f"月用电量比自身历史高或低 {round(float(values.get('abnormal_usage_ratio') or 0) * 100)}% 以上",
        "ticket_status": "工单受理、派工、到达现场、办结时",
        "adhoc": "班长在本页手动发送",
    }.get(kind, "")


def field_text(key: str, value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def parse_settings(data: Dict[str, str]) -> Dict[str, Any]:
    """The form's values, checked (``SettingError`` names the field)."""
    values: Dict[str, Any] = {f"kind.{kind}": data.get(f"kind.{kind}") == "on" for kind in vocabulary.NOTICE_KINDS}
    for key, label, _hint in FIELDS:
        text = (data.get(key) or "").strip()
        raw: Any = text
        try:
            if key in ("due_reminder_days", "low_balance_thresholds"):
                raw = [float(part) for part in _NUMBERS_SPLIT.split(text) if part] if text else None
            elif key in ("daily_cap", "outage_notice_hours_before"):
                raw = int(text)
            elif key == "abnormal_usage_ratio":
                raw = float(text.rstrip("%")) / 100 if text.endswith("%") else float(text)
        except ValueError:
            raw = text  # the check below answers the field's own message
        try:
            values[key] = notice_settings.check(key, raw)
        except notice_settings.SettingError as exc:
            raise notice_settings.SettingError(f"{label}：{exc}") from None
    return values


def save_settings(session: Session, values: Dict[str, Any], by: str) -> Dict[str, list]:
    """Stores what changed; answers ``{key: [before, after]}``."""
    current = notice_settings.load(session)
    changes: Dict[str, list] = {}
    for key, value in values.items():
        if current.get(key) != value:
            notice_settings.change(session, key, value, by)
            changes[key] = [current.get(key), value]
    return changes


def page_data(session: Session, period: Period) -> Dict[str, Any]:
    values = notice_settings.load(session)
    kinds = [{"kind": kind, "name": name, "enabled": notice_settings.kind_enabled(values, kind),
              "urgent": kind in vocabulary.NOTICE_KINDS_URGENT, "schedule": schedule_of(kind, values)}
             for kind, name in vocabulary.NOTICE_KINDS.items()]
    fields = [{"key": key, "label": label, "hint": hint, "value": field_text(key, values.get(key))}
              for key, label, hint in FIELDS]
    return {"kinds": kinds, "fields": fields, "adhoc_enabled": notice_settings.kind_enabled(values, adhoc.KIND),
            "figures": delivery_figures(session, period), "failures": recent_failures(session, period),
            "history": adhoc_history(session)}


def engine_state(app: Any) -> Dict[str, Any]:
    """The notice engine as this gateway runs it (bot.notices.runner): on or off, how often,
    its rounds so far, the last round's figures, the channels it can send on."""
    from bot.notices import runner
    from bot.store.models import NOTICE_CHANNELS

    state = app.get(runner.RUNNER)
    channels = list(state.get("channels") or []) if state else []
    return {"enabled": runner.enabled(), "running": state is not None, "interval": runner.interval(),
            "rounds": state.get("rounds", 0) if state else 0, "last": state.get("last") if state else None,
            "channels": channels, "missing": [c for c in NOTICE_CHANNELS if c not in channels]}


# ---------------------------------------------------------------- views


async def _page(request: web.Request, period: Period | None = None, status: int = 200,
                **extra: Any) -> web.Response:
    period = period or period_from(request.query)
    data = await _read(request, page_data, period)
    context = {"page": "notices", "period": period, "status_names": STATUS_NAMES, "statuses": STATUSES,
               "channel_names": CHANNEL_NAMES, "draft": {"area": "", "scope": "", "text": "", "urgent": True},
               "max_text": adhoc.MAX_TEXT, "engine": engine_state(request.config_dict), **data, **extra}
    return render(request, "notices.html", context, status=status)


async def notices_page(request: web.Request) -> web.Response:
    return await _page(request)


async def settings_save(request: web.Request) -> web.Response:
    from bot.privacy import audit

    data = await form(request)
    try:
        values = parse_settings(data)
    except notice_settings.SettingError as exc:
        return done(request, "/console/notices", error=str(exc))
    me = staff(request)

    def _tx() -> Dict[str, list]:
        with store(request).session() as session:
            changes = save_settings(session, values, me.username)
            if changes:
                audit.record(session, actor=me.username, actor_role=me.role, action="change_notice_settings",
                             subject_kind="notice_settings", subject_id="notice_settings",
                             client=request.remote, detail={"changes": changes})
            return changes

    changes = await store(request).run(_tx)
    return done(request, "/console/notices", "notice_settings_saved" if changes else "notice_settings_unchanged")


def _draft_form(data: Dict[str, str]) -> Dict[str, Any]:
    return {"area": data.get("area", "")[:adhoc.MAX_AREA * 2], "scope": data.get("scope", "")[:2000],
            "text": data.get("text", "")[:adhoc.MAX_TEXT * 2], "urgent": data.get("urgent") == "on"}


async def adhoc_preview(request: web.Request) -> web.Response:
    data = await form(request)
    draft_form = _draft_form(data)
    try:
        draft = adhoc.check_draft(draft_form["area"], draft_form["scope"], draft_form["text"], draft_form["urgent"])
    except adhoc.AdhocError as exc:
        return await _page(request, status=400, draft=draft_form, error=str(exc))
    found = await _read(request, adhoc.recipients, draft)
    preview = {"message": adhoc.message_text(draft), "count": found.count, "accounts": found.accounts,
               "per_channel": found.per_channel, "per_scope": found.per_scope,
               "request_key": secrets.token_urlsafe(24), "scope": draft.scope_text}
    return await _page(request, draft=draft_form, preview=preview)


async def adhoc_send(request: web.Request) -> web.Response:
    from bot.privacy import audit

    data = await form(request)
    draft_form = _draft_form(data)
    me = staff(request)
    try:
        draft = adhoc.check_draft(draft_form["area"], draft_form["scope"], draft_form["text"], draft_form["urgent"])
        enabled = await _read(request, lambda session: notice_settings.kind_enabled(
            notice_settings.load(session), adhoc.KIND))
        if not enabled:
            raise adhoc.AdhocError(f"“{vocabulary.NOTICE_KINDS[adhoc.KIND]}”已在通知设置中关闭，请先开启再发送")

        def _audit(session: Session, result: adhoc.SendResult) -> None:
            audit.record(session, actor=me.username, actor_role=me.role, action="send_adhoc_notice",
                         subject_kind="adhoc_notice", subject_id=str(result.notice_id), client=request.remote,
                         detail={"area": draft.area, "scope": list(draft.scope), "urgent": draft.urgent,
                                 "recipients": result.recipients, "text": draft.text})

        result = await store(request).run(adhoc.send_once, store(request), draft, sent_by=me.username,
                                          request_key=data.get("request_key", ""), after=_audit)
    except adhoc.AdhocError as exc:
        return await _page(request, status=400, draft=draft_form, error=str(exc))
    return done(request, "/console/notices", "adhoc_sent" if result.created else "adhoc_already_sent")


def setup(app: web.Application) -> None:
    """Registers the page on the console (call after ``bot.console.setup``); supervisors only."""
    from bot.console import SUPERVISOR_ROUTES

    console_views.NOTICES.update(NOTICES)
    r = app.router
    r.add_get("/console/notices", notices_page, name="console-notices")
    r.add_post("/console/notices/settings", settings_save, name="console-notices-settings")
    r.add_post("/console/notices/adhoc/preview", adhoc_preview, name="console-notices-adhoc-preview")
    r.add_post("/console/notices/adhoc", adhoc_send, name="console-notices-adhoc-send")
    SUPERVISOR_ROUTES.update(ROUTES)
