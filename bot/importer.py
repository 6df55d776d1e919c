"""Import of customers, bills and outages (the contract's import format).

Every record is validated first; a file with any bad record is refused as a whole, with each
problem named by section, record number, line and field. A valid file is imported in one
transaction, as upserts keyed by ``account_no``, ``(account_no, period)`` and ``outage_no``:
importing the same file twice changes nothing.
"""
from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import AREA_TYPES, BILL_STATUSES, CUSTOMER_TYPES, OUTAGE_KINDS, Bill, Customer, Outage

# Numeric columns on SQLite are floats underneath; amounts have two decimals, so this is harmless.
warnings.filterwarnings("ignore", message=r"Dialect sqlite\+pysqlite does \*not\* support Decimal")

SECTIONS = ("customers", "bills", "outages")
ACCOUNT_NO = re.compile(r"^\d{10}$")
MOBILE = re.compile(r"^1[3-9]\d{9}$")
PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CENT = Decimal("0.01")


@dataclass
class Problem:
    section: str | None
    index: int | None  # 0-based record number within the section
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.section is not None:
            where.append(self.section + (f"[{self.index}]" if self.index is not None else ""))
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.field:
            where.append(f"field '{self.field}'")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class ImportFileError(Exception):
    """The file is refused; ``problems`` lists every bad record and field."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(self.report())

    def report(self, limit: int = 50) -> str:
        lines = [f"{len(self.problems)} problem(s), nothing was imported:"]
        lines += [f"  - {p}" for p in self.problems[:limit]]
        if len(self.problems) > limit:
            lines.append(f"  ... and {len(self.problems) - limit} more")
        return "\n".join(lines)


@dataclass
class ImportSummary:
    created: dict[str, int] = field(default_factory=lambda: {s: 0 for s in SECTIONS})
    updated: dict[str, int] = field(default_factory=lambda: {s: 0 for s in SECTIONS})
    unchanged: dict[str, int] = field(default_factory=lambda: {s: 0 for s in SECTIONS})

    @property
    def changed(self) -> int:
        return sum(self.created.values()) + sum(self.updated.values())

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {s: {"created": self.created[s], "updated": self.updated[s], "unchanged": self.unchanged[s]}
                for s in SECTIONS}

    def __str__(self) -> str:
        return "; ".join(f"{s}: {self.created[s]} new, {self.updated[s]} updated, {self.unchanged[s]} unchanged"
                         for s in SECTIONS)


# ---------------------------------------------------------------- parsing with line numbers


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def record_lines(text: str) -> dict[str, list[int]]:
    """Line number of each record of each top-level section of a (valid) JSON document."""
    decoder = json.JSONDecoder()
    lines: dict[str, list[int]] = {}
    pos = _skip_ws(text, 0)
    if pos >= len(text) or text[pos] != "{":
        return lines
    pos = _skip_ws(text, pos + 1)
    while pos < len(text) and text[pos] != "}":
        key, pos = decoder.raw_decode(text, pos)
        pos = _skip_ws(text, pos)
        pos = _skip_ws(text, pos + 1)  # the colon
        if text[pos] == "[":
            starts: list[int] = []
            pos = _skip_ws(text, pos + 1)
            while text[pos] != "]":
                starts.append(text.count("\n", 0, pos) + 1)
                _, pos = decoder.raw_decode(text, pos)
                pos = _skip_ws(text, pos)
                if text[pos] == ",":
                    pos = _skip_ws(text, pos + 1)
            lines[key] = starts
            pos += 1
        else:
            _, pos = decoder.raw_decode(text, pos)
        pos = _skip_ws(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
    return lines


def parse(text: str) -> tuple[dict[str, Any], dict[str, list[int]]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFileError([Problem(None, None, exc.lineno, None,
                                       f"not valid JSON: {exc.msg} (column {exc.colno})")]) from None
    if not isinstance(data, dict):
        raise ImportFileError([Problem(None, None, 1, None,
                                       "the file must be a JSON object with customers, bills, outages")])
    return data, record_lines(text)


# ---------------------------------------------------------------- validation


class _Checker:
    def __init__(self, section: str, index: int, line: int | None, problems: list[Problem]):
        self.section, self.index, self.line, self.problems = section, index, line, problems
        self.ok = True

    def fail(self, field_name: str | None, message: str) -> None:
        self.ok = False
        self.problems.append(Problem(self.section, self.index, self.line, field_name, message))

    def text(self, record: dict, name: str, max_len: int, *, pattern: re.Pattern | None = None,
             choices: tuple[str, ...] | None = None, hint: str = "has an invalid format") -> str | None:
        value = record.get(name)
        if value is None:
            self.fail(name, "is missing")
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(name, "must be a non-empty string")
            return None
        value = value.strip()
        if len(value) > max_len:
            self.fail(name, f"must be at most {max_len} characters")
        elif choices is not None and value not in choices:
            self.fail(name, f"must be one of {', '.join(choices)} (got {value!r})")
        elif pattern is not None and not pattern.match(value):
            self.fail(name, f"{hint} (got {value!r})")
        return value

    def number(self, record: dict, name: str, *, required: bool = True) -> float | None:
        value = record.get(name)
        if value is None:
            if required:
                self.fail(name, "is missing")
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(name, f"must be a number (got {value!r})")
            return None
        if value < 0:
            self.fail(name, f"must not be negative (got {value!r})")
            return None
        return float(value)

    def moment(self, record: dict, name: str, *, required: bool = True) -> datetime | None:
        value = record.get(name)
        if value is None:
            if required:
                self.fail(name, "is missing")
            return None
        if not isinstance(value, str):
            self.fail(name, "must be an ISO-8601 time string")
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            self.fail(name, f"is not an ISO-8601 time (got {value!r})")
            return None
        if moment.tzinfo is None:
            self.fail(name, f"needs an offset such as +08:00 (got {value!r})")
            return None
        return moment


def _validate_customer(c: _Checker, record: dict) -> dict | None:
    values: dict[str, Any] = {
        "account_no": c.text(record, "account_no", 10, pattern=ACCOUNT_NO, hint="must be 10 digits"),
        "name": c.text(record, "name", 64),
        "phone": c.text(record, "phone", 11, pattern=MOBILE, hint="must be an 11-digit mobile number"),
        "address": c.text(record, "address", 255),
        "area_type": c.text(record, "area_type", 16, choices=AREA_TYPES),
        "customer_type": c.text(record, "customer_type", 16, choices=CUSTOMER_TYPES),
    }
    if "balance" in record:  # prepaid accounts only; absent: left as stored, null: not prepaid (any more)
        values["balance"] = _balance(c, record["balance"])
    return values if c.ok else None


def _balance(c: _Checker, value: Any) -> Decimal | None:
    """A prepaid balance in yuan (negative when the account is in arrears), or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        c.fail("balance", f"must be a number of yuan or null (got {value!r})")
        return None
    try:
        balance = Decimal(str(value)).quantize(CENT)
    except InvalidOperation:
        c.fail("balance", f"is not a number (got {value!r})")
        return None
    if not Decimal("-1000000") < balance < Decimal("1000000000"):
        c.fail("balance", f"is out of range (got {value!r})")
        return None
    return balance


def _validate_tiers(c: _Checker, tiers: Any) -> list[dict] | None:
    if tiers is None:
        return None
    if not isinstance(tiers, list):
        c.fail("tiers", "must be a list")
        return None
    clean = []
    for i, tier in enumerate(tiers):
        name = f"tiers[{i}]"
        if not isinstance(tier, dict):
            c.fail(name, "must be an object with tier, kwh, price")
            continue
        number = tier.get("tier")
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            c.fail(f"{name}.tier", f"must be a positive integer (got {number!r})")
        kwh = c.number(tier, "kwh")
        price = c.number(tier, "price")
        if kwh is None or price is None:
            c.fail(name, "needs numeric kwh and price")
            continue
        item: dict[str, Any] = {"tier": number, "kwh": kwh, "price": price}
        if "surcharge" in tier:
            if not isinstance(tier["surcharge"], bool):
                c.fail(f"{name}.surcharge", "must be true or false")
            item["surcharge"] = tier["surcharge"]
        clean.append(item)
    return clean


def _validate_bill(c: _Checker, record: dict) -> dict | None:
    values: dict[str, Any] = {
        "account_no": c.text(record, "account_no", 10, pattern=ACCOUNT_NO, hint="must be 10 digits"),
        "period": c.text(record, "period", 7, pattern=PERIOD, hint="must be YYYY-MM"),
        "kwh": c.number(record, "kwh"),
        "status": c.text(record, "status", 16, choices=BILL_STATUSES),
        "paid_at": c.moment(record, "paid_at", required=False),
        "peak_kwh": c.number(record, "peak_kwh", required=False),
        "valley_kwh": c.number(record, "valley_kwh", required=False),
        "tiers": _validate_tiers(c, record.get("tiers")),
    }
    amount = record.get("amount")
    if amount is None:
        c.fail("amount", "is missing")
    elif isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0:
        c.fail("amount", f"must be a non-negative number of yuan (got {amount!r})")
    else:
        try:
            values["amount"] = Decimal(str(amount)).quantize(CENT)
        except InvalidOperation:
            c.fail("amount", f"is not a number (got {amount!r})")
    due = record.get("due_date")
    if due is None:
        c.fail("due_date", "is missing")
    elif not isinstance(due, str) or not DATE.match(due):
        c.fail("due_date", f"must be YYYY-MM-DD (got {due!r})")
    else:
        try:
            values["due_date"] = date.fromisoformat(due)
        except ValueError:
            c.fail("due_date", f"is not a real date (got {due!r})")
    return values if c.ok else None


def _validate_outage(c: _Checker, record: dict) -> dict | None:
    values: dict[str, Any] = {
        "outage_no": c.text(record, "outage_no", 32),
        "kind": c.text(record, "kind", 16, choices=OUTAGE_KINDS),
        "area": c.text(record, "area", 128),
        "reason": c.text(record, "reason", 255),
        "start_at": c.moment(record, "start"),
        "end_at": c.moment(record, "end"),
    }
    scope = record.get("scope")
    if scope is None:
        c.fail("scope", "is missing (a list of streets or villages; [] for the whole area)")
    elif not isinstance(scope, list) or not all(isinstance(s, str) and s.strip() for s in scope):
        c.fail("scope", "must be a list of non-empty strings")
    else:
        values["scope"] = [s.strip() for s in scope]
    if values["start_at"] and values["end_at"] and values["end_at"] <= values["start_at"]:
        c.fail("end", "must be after start")
    return values if c.ok else None


VALIDATORS: dict[str, Callable[[_Checker, dict], dict | None]] = {
    "customers": _validate_customer,
    "bills": _validate_bill,
    "outages": _validate_outage,
}
KEYS: dict[str, Callable[[dict], Any]] = {
    "customers": lambda r: r["account_no"],
    "bills": lambda r: (r["account_no"], r["period"]),
    "outages": lambda r: r["outage_no"],
}


def validate(data: dict[str, Any], lines: dict[str, list[int]] | None = None,
             known_accounts: set[str] | None = None) -> dict[str, list[dict]]:
    """Clean records per section, or ``ImportFileError`` listing every problem."""
    lines = lines or {}
    problems: list[Problem] = []
    unknown = sorted(set(data) - set(SECTIONS) - {"meta"})  # "meta": free-form, ignored
    if unknown:
        problems.append(Problem(None, None, None, None,
                                f"unknown top-level key(s) {', '.join(unknown)}; expected {', '.join(SECTIONS)}"))
    clean: dict[str, list[dict]] = {s: [] for s in SECTIONS}
    for section in SECTIONS:
        records = data.get(section, [])
        if not isinstance(records, list):
            problems.append(Problem(section, None, None, None, "must be a list of records"))
            continue
        seen: dict[Any, int] = {}
        section_lines = lines.get(section, [])
        for index, record in enumerate(records):
            line = section_lines[index] if index < len(section_lines) else None
            checker = _Checker(section, index, line, problems)
            if not isinstance(record, dict):
                checker.fail(None, "must be a JSON object")
                continue
            values = VALIDATORS[section](checker, record)
            if values is None:
                continue
            key = KEYS[section](values)
            if key in seen:
                checker.fail(None, f"duplicate of {section}[{seen[key]}] (same key {key!r})")
                continue
            seen[key] = index
            clean[section].append({**values, "_index": index, "_line": line})
    accounts = {c["account_no"] for c in clean["customers"]} | (known_accounts or set())
    for bill in clean["bills"]:
        if bill["account_no"] not in accounts:
            problems.append(Problem("bills", bill["_index"], bill["_line"], "account_no",
                                    f"account {bill['account_no']} is neither in this file nor in the store"))
    if problems:
        raise ImportFileError(problems)
    return clean


# ---------------------------------------------------------------- import


def _same(current: Any, new: Any) -> bool:
    if isinstance(current, datetime) and isinstance(new, datetime):
        return current == new
    if current is None or new is None:
        return current is None and new is None
    if isinstance(current, Decimal) or isinstance(new, Decimal):
        return Decimal(str(current)).quantize(CENT) == Decimal(str(new)).quantize(CENT)
    return current == new


def _upsert(session: Session, model, existing: dict[Any, Any], key: Any, values: dict[str, Any],
            summary: ImportSummary, section: str) -> None:
    fields = {k: v for k, v in values.items() if not k.startswith("_")}
    row = existing.get(key)
    if row is None:
        session.add(model(**fields))
        summary.created[section] += 1
        return
    changed = False
    for name, value in fields.items():
        if not _same(getattr(row, name), value):
            setattr(row, name, value)
            changed = True
    if changed:
        summary.updated[section] += 1
    else:
        summary.unchanged[section] += 1


def import_data(session: Session, data: dict[str, Any], lines: dict[str, list[int]] | None = None) -> ImportSummary:
    """Validates and upserts everything inside the caller's transaction (all or nothing)."""
    accounts_in_file = {b.get("account_no") for b in data.get("bills", []) or [] if isinstance(b, dict)}
    known = set(session.execute(
        select(Customer.account_no).where(Customer.account_no.in_([a for a in accounts_in_file if isinstance(a, str)]))
    ).scalars()) if accounts_in_file else set()
    clean = validate(data, lines, known)
    summary = ImportSummary()

    account_nos = [c["account_no"] for c in clean["customers"]]
    customers = {c.account_no: c for c in session.execute(
        select(Customer).where(Customer.account_no.in_(account_nos))).scalars()} if account_nos else {}
    for record in clean["customers"]:
        _upsert(session, Customer, customers, record["account_no"], record, summary, "customers")
    session.flush()  # bills refer to customers

    bill_accounts = sorted({b["account_no"] for b in clean["bills"]})
    bills = {(b.account_no, b.period): b for b in session.execute(
        select(Bill).where(Bill.account_no.in_(bill_accounts))).scalars()} if bill_accounts else {}
    for record in clean["bills"]:
        _upsert(session, Bill, bills, (record["account_no"], record["period"]), record, summary, "bills")

    outage_nos = [o["outage_no"] for o in clean["outages"]]
    outages = {o.outage_no: o for o in session.execute(
        select(Outage).where(Outage.outage_no.in_(outage_nos))).scalars()} if outage_nos else {}
    for record in clean["outages"]:
        _upsert(session, Outage, outages, record["outage_no"], record, summary, "outages")
    if summary.updated["customers"] or summary.updated["bills"] or summary.updated["outages"]:
        from bot.notices.scan import mark_imported
        from bot.store.types import now_utc

        mark_imported(session, now_utc())  # a bill, balance, address or outage changed in place: look again
    session.flush()
    return summary


def import_file(store, path: str | Path) -> ImportSummary:
    """Reads, validates and imports a file in one transaction."""
    text = Path(path).read_text(encoding="utf-8")
    data, lines = parse(text)
    with store.session() as session:
        return import_data(session, data, lines)


# ---------------------------------------------------------------- demo data


DEMO_FILE = Path(__file__).resolve().parent.parent / "demo" / "demo_data.json"


def _add_months(period: str, months: int) -> str:
    year, month = int(period[:4]), int(period[5:7])
    total = year * 12 + (month - 1) + months
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def _shift_date(value: date, months: int) -> date:
    import calendar

    total = value.year * 12 + (value.month - 1) + months
    year, month = total // 12, total % 12 + 1
    return value.replace(year=year, month=month, day=min(value.day, calendar.monthrange(year, month)[1]))


def _paid_before(bill: dict[str, Any], paid: datetime, today: date) -> dict[str, Any]:
    """A shifted payment never lies in the future: one that would falls back to yesterday, or,
    when the bill was issued only today (after its month ended), the bill is still unpaid."""
    latest = today - timedelta(days=1)
    if paid.date() <= latest:
        return {"paid_at": paid.isoformat()}
    year, month = int(bill["period"][:4]), int(bill["period"][5:7])
    issued = date(year + month // 12, month % 12 + 1, 1)  # the day after the billing month
    if issued <= latest:
        return {"paid_at": paid.replace(year=latest.year, month=latest.month, day=latest.day).isoformat()}
    return {"paid_at": None, "status": "unpaid"}


def shift_demo(data: dict[str, Any], today: date) -> dict[str, Any]:
    """Moves the demo data from its reference date to ``today``.

    The demo file is generated for a fixed reference date (``meta.reference_date``) so it is
    reproducible; at import time its planned outages move by whole days and its bills by whole
    months so that outages are still in the coming days and the newest bill is last month's;
    a payment moved past the import day is put on the day before (or the bill left unpaid).
    Outage numbers stay as they are, so a later import of the same file updates those outages
    instead of adding copies.
    """
    meta = data.get("meta") or {}
    reference = meta.get("reference_date")
    shifted = {k: v for k, v in data.items() if k in SECTIONS}
    if not reference:
        return shifted
    ref = date.fromisoformat(reference)
    days = (today - ref).days
    months = (today.year - ref.year) * 12 + (today.month - ref.month)
    if days == 0 and months == 0:
        return _due_soon(shifted, meta, today)
    outages = []
    for outage in data.get("outages", []):
        moved = dict(outage)
        for name in ("start", "end"):
            moved[name] = (datetime.fromisoformat(outage[name]) + timedelta(days=days)).isoformat()
        outages.append(moved)
    bills = []
    for bill in data.get("bills", []):
        moved = dict(bill)
        moved["period"] = _add_months(bill["period"], months)
        moved["due_date"] = _shift_date(date.fromisoformat(bill["due_date"]), months).isoformat()
        if bill.get("paid_at"):
            paid = datetime.fromisoformat(bill["paid_at"])
            paid = paid.replace(**{f: getattr(_shift_date(paid.date(), months), f)
                                   for f in ("year", "month", "day")})
            moved.update(_paid_before(moved, paid, today))
        bills.append(moved)
    shifted["outages"] = outages
    shifted["bills"] = bills
    return _due_soon(shifted, meta, today)


def _due_soon(data: dict[str, Any], meta: dict[str, Any], today: date) -> dict[str, Any]:
    """``meta.due_in_days`` ({account: days}): the account's newest unpaid bill falls due that
    many days after the import, so the notice engine has a due reminder to show in the demo."""
    hints = meta.get("due_in_days") or {}
    if not isinstance(hints, dict) or not hints:
        return data
    newest: dict[str, int] = {}
    for index, bill in enumerate(data.get("bills", [])):
        account = bill.get("account_no")
        if account in hints and bill.get("status") == "unpaid" and (
                account not in newest or bill["period"] > data["bills"][newest[account]]["period"]):
            newest[account] = index
    bills = list(data.get("bills", []))
    for account, index in newest.items():
        bills[index] = {**bills[index], "due_date": (today + timedelta(days=int(hints[account]))).isoformat()}
    return {**data, "bills": bills}


def load_demo(store, today: date | None = None, path: Path = DEMO_FILE) -> ImportSummary:
    """Imports the demo data, moved to ``today`` (Asia/Shanghai) — see ``shift_demo``."""
    from bot.store.types import SHANGHAI

    data, _ = parse(Path(path).read_text(encoding="utf-8"))
    today = today or datetime.now(SHANGHAI).date()
    with store.session() as session:
        return import_data(session, shift_demo(data, today))
