"""Which notices are due: set-based scans of bills, balances, outages and ad-hoc notices.

``scan(session, now, values)`` answers the events due at ``now`` for the bound customers who
have not been told yet, each with a stable ``event_key`` (the claim's key with the kind and the
binding). Every scan is one query (or one per reminder day / threshold / outage phase) joining
the source table with the active bindings and leaving out, in SQL, the (kind, event_key,
binding) already claimed (``NOT EXISTS`` on the claim's unique index): a second run finds
nothing and costs index look-ups only — no query per customer.

The rules (all days and months in Asia/Shanghai):

- **bill issued** (``{account}:{period}:issued``): last month's bill, not paid, not yet due;
- **due reminder** (``{account}:{period}:due-{d}``): for each of ``due_reminder_days`` (7, 1) the
  reminder whose window the bill is in — due in at most ``d`` days but more than the next
  smaller ``d`` — so a bill found 1 day before its due date gets the 1-day reminder only;
- **overdue** (``{account}:{period}:overdue``): once, for a bill not paid and past its due date by
  at most 30 days (older arrears are staff's business), with the late fee so far (``late_fee``);
- **low balance** (``{account}:low-{t}:{YYYY-MM}``): a prepaid balance at or below threshold
  ``t`` (30/20/0), only the lowest threshold crossed; at most once a month per threshold (the
  store keeps no balance history, so "crossing again after a recharge" is "again next month");
- **planned outage** (``{outage_no}:before|start|end:{YYYYmmddHHMM}``, the time the phase is
  about, so a rescheduled outage is announced again): for every bound customer whose address
  the outage covers (``bot.api.outages.covers``): ``outage_notice_hours_before`` hours before the
  start, at the start, at the (planned) end; each expires when the next phase begins;
- **restoration** (``{outage_no}:restored:{end}``, urgent): a fault (unplanned) outage reached its end time,
  within 6 hours;
- **abnormal usage** (``{account}:{period}:usage``): last month's usage far from the customer's
  own reference (see ``usage_verdict``);

Ad-hoc notices (``adhoc:{id}``) need no scan: ``bot.notices.adhoc.send`` claims their deliveries
when a supervisor sends one, and the engine sends them like any other.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable, Optional

from sqlalchemy import and_, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from bot import vocabulary
from bot.api.outages import area_district, covers
from bot.notices import settings as notice_settings
from bot.store.models import Bill, Customer, CustomerBinding, NoticeDelivery, NoticeSetting, Outage
from bot.store.types import SHANGHAI

CENT = Decimal("0.01")
OVERDUE_NOTICE_DAYS = 30  # arrears older than this get no automatic notice
OUTAGE_END_GRACE = timedelta(hours=6)  # "the outage is over" this long after its end at most
# Abnormal usage: a month compared with its reference needs this much history and difference.
USAGE_RECENT_MONTHS = 6
USAGE_MIN_RECENT = 3
USAGE_MIN_KWH_DIFFERENCE = 30.0
USAGE_MIN_REFERENCE_KWH = 20.0
# A household's typical usage by month relative to its yearly mean (Nanjing: heating in winter,
# air conditioning in summer). Used only when last year's same month is unknown: recent months
# are divided by their factor and the month under test is compared with the median times its
# own factor, so an ordinary winter or summer rise is no alert.
SEASONAL_FACTORS = {1: 1.35, 2: 1.25, 3: 0.95, 4: 0.85, 5: 0.85, 6: 1.0, 7: 1.4, 8: 1.45, 9: 1.05,
                    10: 0.85, 11: 0.9, 12: 1.2}
METER_TEST_BUTTON = {"title": "申请校验电表", "payload": "能不能帮我校验一下电表"}
BILL_BUTTON = {"title": "查询电费", "payload": "/query_bill"}
USAGE_MARKER = "_scan.abnormal_usage"  # notice_settings row: what the last usage scan saw
# notice_settings rows of the idle check: what the bill and balance scans last saw, and the
# importer's mark of a change to existing rows (a bill paid, a balance or due date changed).
INPUTS_MARKER = "_scan.inputs"
IMPORT_MARKER = "_scan.imported"
FULL_SCAN_EVERY = timedelta(minutes=10)  # also re-checked this often (writers other than the importer)


@dataclass
class Event:
    """One notice due for one account (or an outage's area): sent to ``bindings``."""

    kind: str
    event_key: str
    account_no: str
    text: str
    bindings: list[tuple[int, str]] = field(default_factory=list)  # (binding id, channel)
    urgent: bool = False
    buttons: list[dict] = field(default_factory=list)
    expires_at: Optional[datetime] = None
    adhoc_id: Optional[int] = None

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {"title": vocabulary.NOTICE_KINDS.get(self.kind, "通知"), "text": self.text}
        if self.buttons:
            data["buttons"] = self.buttons
        if self.expires_at is not None:
            data["expires_at"] = self.expires_at.isoformat()
        return data


# ---------------------------------------------------------------- words and numbers

def local_today(now: datetime) -> date:
    return now.astimezone(SHANGHAI).date()


def add_months(period: str, months: int) -> str:
    year, month = int(period[:4]), int(period[5:7])
    total = year * 12 + month - 1 + months
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def previous_period(today: date) -> str:
    return add_months(f"{today.year:04d}-{today.month:02d}", -1)


def period_words(period: str) -> str:
    return f"{int(period[:4])}年{int(period[5:7])}月"


def day_words(day: date, today: Optional[date] = None) -> str:
    if today is not None:
        if day == today:
            return "今天"
        if day == today + timedelta(days=1):
            return "明天"
    if today is not None and day.year != today.year:
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.month}月{day.day}日"


def time_words(moment: datetime, now: datetime) -> str:
    local, today = moment.astimezone(SHANGHAI), local_today(now)
    clock = local.strftime("%H:%M")
    if local.date() == today:
        return f"今天{clock}"
    if local.date() == today + timedelta(days=1):
        return f"明天{clock}"
    if local.date() == today - timedelta(days=1):
        return f"昨天{clock}"
    return f"{local.month}月{local.day}日{clock}"


def span_words(start: datetime, end: datetime, now: datetime) -> str:
    """"明天08:00至17:00": the end's day is said only when it differs from the start's."""
    if start.astimezone(SHANGHAI).date() == end.astimezone(SHANGHAI).date():
        return f"{time_words(start, now)}至{end.astimezone(SHANGHAI):%H:%M}"
    return f"{time_words(start, now)}至{time_words(end, now)}"


def yuan(amount: Any) -> str:
    return f"{Decimal(str(amount)).quantize(CENT, ROUND_HALF_UP)}"


def account_words(account_no: str) -> str:
    return f"户号尾号{account_no[-4:]}"


def late_fee(amount: Any, due_date: date, today: date, customer_type: str) -> Decimal:
    """电费违约金 so far (《供电营业规则》): from the day after the due date to ``today``,
    residential customers 1‰ of the arrears per day; other customers 2‰ per day for the days
    in the year the bill fell due and 3‰ per day for the days after that year ended (跨年度).
    A fee below 1 yuan is charged as 1 yuan; none before the due date has passed."""
    days = (today - due_date).days
    if days <= 0:
        return Decimal("0.00")
    arrears = Decimal(str(amount))
    if customer_type == "residential":
        fee = arrears * Decimal("0.001") * days
    else:
        in_year = min(days, (date(due_date.year, 12, 31) - due_date).days)
        fee = arrears * (Decimal("0.002") * in_year + Decimal("0.003") * (days - in_year))
    fee = fee.quantize(CENT, ROUND_HALF_UP)
    return max(fee, Decimal("1.00")) if arrears > 0 else Decimal("0.00")


# ---------------------------------------------------------------- the common part of every scan

def _unclaimed(kind: str, key: Any):
    """Active bindings that have no claim of (kind, key) yet."""
    claimed = exists().where(NoticeDelivery.kind == kind, NoticeDelivery.event_key == key,
                             NoticeDelivery.binding_id == CustomerBinding.id)
    return and_(CustomerBinding.unbound_at.is_(None), ~claimed)


def _bill_key(suffix: str):
    return Bill.account_no + literal(":") + Bill.period + literal(suffix)


def _group(rows: Iterable[Any], make) -> list[Event]:
    """Rows of (binding id, channel, event fields...) grouped into one event per key and account
    (an outage's key is shared by every account in its scope)."""
    events: dict[tuple[str, str], Event] = {}
    for row in rows:
        event = make(row)
        if event is None:
            continue
        found = events.setdefault((event.event_key, event.account_no), event)
        found.bindings.append((row.binding_id, row.channel))
    return list(events.values())


BINDING_COLUMNS = (CustomerBinding.id.label("binding_id"), CustomerBinding.channel)


# ---------------------------------------------------------------- bills

def bills_issued(session: Session, now: datetime) -> list[Event]:
    today = local_today(now)
    period = previous_period(today)
    key = _bill_key(":issued")
    rows = session.execute(
        select(*BINDING_COLUMNS, Bill.account_no, Bill.period, Bill.kwh, Bill.amount, Bill.due_date)
        .join(CustomerBinding, CustomerBinding.account_no == Bill.account_no)
        .where(Bill.period == period, Bill.status != "paid", Bill.due_date >= today,
               _unclaimed("bill_issued", key))
    ).all()

    def make(row) -> Event:
        text = (f"您{account_words(row.account_no)}的{period_words(row.period)}电费账单已出：用电"
                f"{row.kwh:g}千瓦时，电费{yuan(row.amount)}元，请在{day_words(row.due_date, today)}前缴纳。")
        return Event("bill_issued", f"{row.account_no}:{row.period}:issued", row.account_no, text,
                     buttons=[BILL_BUTTON])

    return _group(rows, make)


def due_reminders(session: Session, now: datetime, days: list) -> list[Event]:
    today = local_today(now)
    ordered = sorted({int(d) for d in days}, reverse=True)
    events: list[Event] = []
    for i, d in enumerate(ordered):
        lower = ordered[i + 1] if i + 1 < len(ordered) else -1  # the next reminder's window
        key = _bill_key(f":due-{d}")
        rows = session.execute(
            select(*BINDING_COLUMNS, Bill.account_no, Bill.period, Bill.amount, Bill.due_date)
            .join(CustomerBinding, CustomerBinding.account_no == Bill.account_no)
            .where(Bill.status == "unpaid", Bill.due_date <= today + timedelta(days=d),
                   Bill.due_date > today + timedelta(days=lower), _unclaimed("due_reminder", key))
        ).all()

        def make(row, d=d) -> Event:
            left = (row.due_date - today).days
            when = "今天" if left == 0 else ("明天" if left == 1 else f"{left}天后（{day_words(row.due_date)}）")
            text = (f"温馨提醒：您{account_words(row.account_no)}的{period_words(row.period)}电费"
                    f"{yuan(row.amount)}元将于{when}到期，请及时缴纳，逾期将按规定产生电费违约金。")
            return Event("due_reminder", f"{row.account_no}:{row.period}:due-{d}", row.account_no, text,
                         buttons=[BILL_BUTTON])

        events += _group(rows, make)
    return events


def overdue(session: Session, now: datetime) -> list[Event]:
    today = local_today(now)
    key = _bill_key(":overdue")
    rows = session.execute(
        select(*BINDING_COLUMNS, Bill.account_no, Bill.period, Bill.amount, Bill.due_date, Customer.customer_type)
        .join(CustomerBinding, CustomerBinding.account_no == Bill.account_no)
        .join(Customer, Customer.account_no == Bill.account_no)
        .where(Bill.status.in_(("unpaid", "overdue")), Bill.due_date < today,
               Bill.due_date >= today - timedelta(days=OVERDUE_NOTICE_DAYS), _unclaimed("overdue", key))
    ).all()

    def make(row) -> Event:
        days = (today - row.due_date).days
        fee = late_fee(row.amount, row.due_date, today, row.customer_type)
        rule = ("居民用户每日按欠费金额的千分之一计算" if row.customer_type == "residential"
                else "非居民用户当年欠费部分每日按千分之二、跨年度部分每日按千分之三计算")
        text = (f"您{account_words(row.account_no)}的{period_words(row.period)}电费{yuan(row.amount)}元已于"
                f"{day_words(row.due_date)}到期，目前已逾期{days}天，按《供电营业规则》已产生电费违约金"
                f"{yuan(fee)}元（{rule}）。请尽快缴纳，以免违约金继续增加。")
        return Event("overdue", f"{row.account_no}:{row.period}:overdue", row.account_no, text,
                     buttons=[BILL_BUTTON])

    return _group(rows, make)


def low_balances(session: Session, now: datetime, thresholds: list) -> list[Event]:
    month = local_today(now).strftime("%Y-%m")
    ordered = sorted({float(t) for t in thresholds}, reverse=True)
    events: list[Event] = []
    for i, t in enumerate(ordered):
        lower = ordered[i + 1] if i + 1 < len(ordered) else None
        label = f"{t:g}"
        key = Customer.account_no + literal(f":low-{label}:{month}")
        condition = [Customer.balance.is_not(None), Customer.balance <= t]
        if lower is not None:
            condition.append(Customer.balance > lower)
        rows = session.execute(
            select(*BINDING_COLUMNS, Customer.account_no, Customer.balance)
            .join(CustomerBinding, CustomerBinding.account_no == Customer.account_no)
            .where(*condition, _unclaimed("low_balance", key))
        ).all()

        def make(row, t=t, label=label) -> Event:
            if t <= 0:
                text = (f"您{account_words(row.account_no)}的预付费电费余额已用完（当前{yuan(row.balance)}元），"
                        "为避免停电，请尽快充值。")
            else:
                text = (f"您{account_words(row.account_no)}的预付费电费余额为{yuan(row.balance)}元，已低于{label}元，"
                        "请及时充值，以免余额不足影响用电。")
            return Event("low_balance", f"{row.account_no}:low-{label}:{month}", row.account_no, text)

        events += _group(rows, make)
    return events


# ---------------------------------------------------------------- outages

def _in_scope(session: Session, kind: str, key: str, area: str, scope: list) -> list[Any]:
    """Active bindings without a claim of (kind, key) whose customer's address the outage covers: SQL narrows by the scope's streets (or the district), ``covers`` decides."""
    items = [s.strip() for s in (scope or []) if isinstance(s, str) and s.strip()]
    if not items:
        district = area_district(area)
        if not district:
            return []
        items = [district]
    probe = Outage(area=area, scope=scope)
    rows = session.execute(
        select(*BINDING_COLUMNS, Customer.account_no, Customer.address)
        .join(CustomerBinding, CustomerBinding.account_no == Customer.account_no)
        .where(or_(*(Customer.address.contains(item, autoescape=True) for item in items)),
               _unclaimed(kind, literal(key)))
    ).all()
    return [row for row in rows if covers(probe, row.address)]


def _scope_words(outage: Outage) -> str:
    scope = "、".join(outage.scope or [])
    return f"{outage.area}{scope}" if scope else outage.area


def outages(session: Session, now: datetime, hours_before: int, planned_on: bool, restoration_on: bool,
            *, known: frozenset = frozenset(), scanned: Optional[set] = None) -> list[Event]:
    """The outage phases due now; ``known``: keys whose scope need not be looked at again (the
    idle check's), ``scanned`` collects the keys whose scope was looked at."""
    before = timedelta(hours=hours_before)
    found = session.execute(
        select(Outage).where(Outage.start_at <= now + before, Outage.end_at > now - OUTAGE_END_GRACE)
    ).scalars().all()
    events: list[Event] = []
    for outage in found:
        phases: list[tuple[str, str, str, bool, Optional[datetime]]] = []  # kind, phase, text, urgent, expires
        end = time_words(outage.end_at, now)
        if outage.kind == "planned" and planned_on:
            if outage.start_at - before <= now < outage.start_at:
                phases.append(("planned_outage", "before",
                               f"【停电通知】因{outage.reason}，{_scope_words(outage)}将于{span_words(outage.start_at, outage.end_at, now)}计划停电，"
                               "您的用电地址在停电范围内，请提前做好准备，停电期间请勿触碰电力设施。",
                               False, outage.start_at))
            elif outage.start_at <= now < outage.end_at:
                phases.append(("planned_outage", "start",
                               f"您所在区域的计划停电已开始（{outage.reason}），预计{end}恢复供电，请您谅解。",
                               False, outage.end_at))
            elif outage.end_at <= now:
                phases.append(("planned_outage", "end",
                               f"您所在区域的计划停电作业已于{end}结束，供电已恢复。如家中仍然没电，"
                               "请回复“报修”或拨打95598。",
                               False, outage.end_at + OUTAGE_END_GRACE))
        elif outage.kind == "unplanned" and restoration_on and outage.end_at <= now:
            phases.append(("restoration", "restored",
                           f"您所在区域因{outage.reason}造成的停电已恢复供电，给您带来不便，敬请谅解。"
                           "如家中仍然没电，请回复“报修”或拨打95598。",
                           True, outage.end_at + OUTAGE_END_GRACE))
        for kind, phase, text, _, expires in phases:
            # The time the phase is about is in the key: a rescheduled outage is announced again.
            moment = outage.start_at if phase in ("before", "start") else outage.end_at
            key = f"{outage.outage_no}:{phase}:{moment.astimezone(SHANGHAI):%Y%m%d%H%M}"
            if f"{kind}|{key}" in known:
                continue
            if scanned is not None:
                scanned.add(f"{kind}|{key}")
            urgent = kind in vocabulary.NOTICE_KINDS_URGENT
            rows = _in_scope(session, kind, key, outage.area, list(outage.scope or []))
            events += _group(rows, lambda row, kind=kind, key=key, text=text, urgent=urgent, expires=expires:
                             Event(kind, key, row.account_no, text, urgent=urgent, expires_at=expires))
    return events


# ---------------------------------------------------------------- abnormal usage

@dataclass(frozen=True)
class UsageVerdict:
    direction: str  # "high" | "low"
    percent: int  # how far from the reference, in %
    reference_kwh: float
    reference: str  # "last_year" | "recent"


def usage_verdict(period: str, kwh: float, history: dict[str, float], ratio: float) -> Optional[UsageVerdict]:
    """Whether a month's usage is abnormal for this customer.

    The reference is the same month last year when known (the season is then the same), else
    the median of up to 6 recent months, each divided by its month's seasonal factor, times
    the factor of the month under test. Abnormal: above reference × (1 + ratio) or below
    reference × (1 - ratio), and at least 30 kWh away from it (small numbers vary a lot)."""
    last_year = history.get(add_months(period, -12))
    if last_year is not None and last_year >= USAGE_MIN_REFERENCE_KWH:
        reference, source = last_year, "last_year"
    else:
        recent = (add_months(period, -i) for i in range(1, USAGE_RECENT_MONTHS + 1))
        values = [history[p] / SEASONAL_FACTORS[int(p[5:7])] for p in recent if p in history]
        if len(values) < USAGE_MIN_RECENT:
            return None
        reference = statistics.median(values) * SEASONAL_FACTORS[int(period[5:7])]
        source = "recent"
        if reference < USAGE_MIN_REFERENCE_KWH:
            return None
    if abs(kwh - reference) < USAGE_MIN_KWH_DIFFERENCE:
        return None
    if kwh > reference * (1 + ratio):
        return UsageVerdict("high", round((kwh / reference - 1) * 100), round(reference, 1), source)
    if kwh < reference * (1 - ratio):
        return UsageVerdict("low", round((1 - kwh / reference) * 100), round(reference, 1), source)
    return None


def usage_text(account_no: str, period: str, kwh: float, verdict: UsageVerdict) -> str:
    if verdict.reference == "last_year":
        compared = f"去年同期（{period_words(add_months(period, -12))}，{verdict.reference_kwh:g}千瓦时）"
    else:
        compared = f"您近几个月按季节折算的用电水平（约{verdict.reference_kwh:g}千瓦时）"
    head = f"您{account_words(account_no)}的{period_words(period)}用电{kwh:g}千瓦时，"
    if verdict.direction == "high":
        return (head + f"比{compared}高出约{verdict.percent}%。可能的原因：新添或长时间使用空调、电暖器、热水器等"
                "大功率电器，家中人员变化，或室内线路漏电。如排除了这些原因，可以申请校验电表。")
    return (head + f"比{compared}低了约{verdict.percent}%。可能的原因：家中长期无人居住或外出，用电习惯改变；"
            "如与实际情况不符，可能是电表计量异常，可以申请校验电表。")


def _usage_marker(session: Session, period: str) -> dict[str, Any]:
    """What the usage scan depends on: last month's bills and the bindings (cheap aggregates)."""
    bills, last_bill = session.execute(
        select(func.count(Bill.id), func.max(Bill.id)).where(Bill.period == period)).one()
    last_binding = session.execute(select(func.max(CustomerBinding.id))).scalar()
    return {"period": period, "bills": int(bills or 0), "last_bill": last_bill, "last_binding": last_binding}


def abnormal_usage(session: Session, now: datetime, ratio: float, *, remember: bool = True) -> list[Event]:
    """Last month's usage of every bound customer against their reference (``usage_verdict``).

    A normal month leaves no claim behind, so the scan remembers (``notice_settings`` row
    ``_scan.abnormal_usage``) the bills and bindings it judged and runs again only when last
    month's bills or the bindings changed."""
    period = previous_period(local_today(now))
    marker = _usage_marker(session, period)
    stored = session.get(NoticeSetting, USAGE_MARKER)
    if remember and stored is not None and stored.value == {**marker, "ratio": ratio}:
        return []
    key = _bill_key(":usage")
    current = session.execute(
        select(*BINDING_COLUMNS, Bill.account_no, Bill.kwh)
        .join(CustomerBinding, CustomerBinding.account_no == Bill.account_no)
        .where(Bill.period == period, _unclaimed("abnormal_usage", key))
    ).all()
    events: list[Event] = []
    if current:
        periods = [add_months(period, -12)] + [add_months(period, -i) for i in range(1, USAGE_RECENT_MONTHS + 1)]
        accounts = sorted({row.account_no for row in current})
        history: dict[str, dict[str, float]] = {}
        for chunk in range(0, len(accounts), 5000):
            for account_no, p, kwh in session.execute(
                    select(Bill.account_no, Bill.period, Bill.kwh)
                    .where(Bill.account_no.in_(accounts[chunk:chunk + 5000]), Bill.period.in_(periods))):
                history.setdefault(account_no, {})[p] = kwh
        verdicts: dict[str, Optional[UsageVerdict]] = {}

        def make(row) -> Optional[Event]:
            if row.account_no not in verdicts:
                verdicts[row.account_no] = usage_verdict(period, row.kwh, history.get(row.account_no, {}), ratio)
            verdict = verdicts[row.account_no]
            if verdict is None:
                return None
            return Event("abnormal_usage", f"{row.account_no}:{period}:usage", row.account_no,
                         usage_text(row.account_no, period, row.kwh, verdict), buttons=[METER_TEST_BUTTON])

        events = _group(current, make)
    if remember:
        _remember(session, {**marker, "ratio": ratio}, now)
    return events


def _remember(session: Session, value: dict[str, Any], now: datetime) -> None:
    """Stores the usage scan's marker."""
    _upsert_setting(session, USAGE_MARKER, value, now)


def _upsert_setting(session: Session, key: str, value: dict[str, Any], now: datetime,
                    by: str = "notice-engine") -> None:
    """Stores a scan's marker (an upsert: two gateways may write it at once)."""
    from sqlalchemy.dialects import postgresql, sqlite

    table = NoticeSetting.__table__
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    row = {"key": key, "value": value, "updated_by": by, "updated_at": now}
    session.execute(insert.values(**row).on_conflict_do_update(
        index_elements=["key"], set_={"value": value, "updated_by": by, "updated_at": now}))


# ---------------------------------------------------------------- everything

def bill_inputs(session: Session, now: datetime, values: dict[str, Any]) -> dict[str, Any]:
    """What the bill and balance scans depend on, read cheaply (three index-only maxima and two
    rows): the day, the newest bill, customer and binding (an insert moves them), the importer's
    last change to existing rows, and the settings the scans use. Unbinding, paying and claims
    only take candidates away."""
    newest = session.execute(select(
        select(func.max(Bill.id)).scalar_subquery(), select(func.max(Customer.id)).scalar_subquery(),
        select(func.max(CustomerBinding.id)).scalar_subquery(), select(func.max(Outage.id)).scalar_subquery())).one()
    imported = session.get(NoticeSetting, IMPORT_MARKER)
    kinds = {kind: notice_settings.kind_enabled(values, kind)
             for kind in ("bill_issued", "due_reminder", "overdue", "low_balance", "abnormal_usage")}
    return {"day": local_today(now).isoformat(), "bills": newest[0], "customers": newest[1], "bindings": newest[2],
            "outages": newest[3], "outage_notice_hours_before": values["outage_notice_hours_before"],
            "imported": imported.value if imported is not None else None, "kinds": kinds,
            "due_reminder_days": list(values["due_reminder_days"]),
            "low_balance_thresholds": list(values["low_balance_thresholds"]),
            "abnormal_usage_ratio": values["abnormal_usage_ratio"]}


def last_full_scan(session: Session, now: datetime, inputs: dict[str, Any]) -> Optional[dict[str, Any]]:
    """The marker of the last full scan when it saw the same inputs less than ``FULL_SCAN_EVERY``
    ago (everything it found was claimed in its transaction, so a scan now would find nothing
    new), else None: scan everything."""
    stored = session.get(NoticeSetting, INPUTS_MARKER)
    if stored is None or not isinstance(stored.value, dict) or stored.value.get("inputs") != inputs:
        return None
    try:
        at = datetime.fromisoformat(stored.value["at"])
    except (KeyError, TypeError, ValueError):
        return None
    return stored.value if timedelta(0) <= now - at < FULL_SCAN_EVERY else None


def mark_imported(session: Session, now: datetime) -> None:
    """Called by the importer when it changed existing rows: the next round scans the bills."""
    _upsert_setting(session, IMPORT_MARKER, {"at": now.isoformat()}, now, by="import")


def scan(session: Session, now: datetime, values: Optional[dict[str, Any]] = None, *,
         idle_check: bool = False) -> list[Event]:
    """Every event due at ``now`` for kinds switched on (``values``: the engine's settings).

    With ``idle_check`` (the engine's rounds, which claim in the same transaction) the bill,
    balance and usage scans, and the scope of each outage phase already looked at, are skipped
    when nothing they depend on changed since the last full scan (``bill_inputs``), which is then
    recorded; everything is scanned at least every ``FULL_SCAN_EVERY``. A new outage phase (its
    start, its end) is looked at in the round it begins."""
    values = values if values is not None else notice_settings.load(session)

    def on(kind: str) -> bool:
        return notice_settings.kind_enabled(values, kind)

    events: list[Event] = []
    inputs = bill_inputs(session, now, values) if idle_check else None
    last = last_full_scan(session, now, inputs) if inputs is not None else None
    full = last is None
    if full:
        if on("bill_issued"):
            events += bills_issued(session, now)
        if on("due_reminder"):
            events += due_reminders(session, now, list(values["due_reminder_days"]))
        if on("overdue"):
            events += overdue(session, now)
        if on("low_balance"):
            events += low_balances(session, now, list(values["low_balance_thresholds"]))
    known = frozenset(last.get("outage_keys") or []) if last is not None else frozenset()
    scanned: set = set()
    if on("planned_outage") or on("restoration"):
        events += outages(session, now, int(values["outage_notice_hours_before"]), on("planned_outage"),
                          on("restoration"), known=known, scanned=scanned)
    if on("abnormal_usage") and full:  # last month's bills and the bindings: in the inputs too
        events += abnormal_usage(session, now, float(values["abnormal_usage_ratio"]))
    if inputs is not None and (full or scanned):
        # An outage phase that began since the last full scan is looked at once, then known.
        keys = scanned if full else known | scanned
        at = now.isoformat() if last is None else last["at"]
        _upsert_setting(session, INPUTS_MARKER, {"inputs": inputs, "at": at, "outage_keys": sorted(keys)}, now)
    return events
