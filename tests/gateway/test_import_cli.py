"""The store commands as a user runs them: ``python -m bot init-store|import|tickets|handoffs``."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select

from bot import tickets as ticket_service
from bot.config import ROOT
from bot.importer import DEMO_FILE
from bot.sla import load_rules
from bot.store import Store, migrate
from bot.store.models import Bill, Conversation, Customer, Handoff, Outage

UTC = timezone.utc

CUSTOMERS = [
    {"account_no": "3201000101", "name": "陈静", "phone": "13912345601", "address": "江苏省南京市鼓楼区湖南路10号",
     "area_type": "urban", "customer_type": "residential"},
    {"account_no": "3201000102", "name": "周强", "phone": "13912345602", "address": "江苏省南京市溧水区白马镇石头寨村3号",
     "area_type": "rural", "customer_type": "residential"},
]
BILLS = [
    {"account_no": "3201000101", "period": "2026-09", "kwh": 286.0, "amount": 153.89, "due_date": "2026-10-31",
     "status": "paid", "paid_at": "2026-10-08T19:20:00+08:00",
     "tiers": [{"tier": 1, "kwh": 230.0, "price": 0.5283}, {"tier": 2, "kwh": 56.0, "price": 0.5783}]},
    {"account_no": "3201000101", "period": "2026-10", "kwh": 200.0, "amount": 105.66, "due_date": "2026-11-30",
     "status": "unpaid"},
    {"account_no": "3201000102", "period": "2026-10", "kwh": 150.0, "amount": 79.25, "due_date": "2026-11-30",
     "status": "unpaid", "paid_at": None, "peak_kwh": 90.0, "valley_kwh": 60.0},
]
OUTAGES = [
    {"outage_no": "TD202612010001", "kind": "planned", "area": "南京市鼓楼区", "scope": ["湖南路"],
     "start": "2026-12-01T08:00:00+08:00", "end": "2026-12-01T17:00:00+08:00", "reason": "线路检修"},
]


def write(path: Path, data: dict) -> Path:
    """One record per line, so line numbers are predictable: line 1 is "{", customers start on 3."""
    lines = ["{"]
    sections = [s for s in ("customers", "bills", "outages") if s in data]
    for i, section in enumerate(sections):
        lines.append(f'  "{section}": [')
        records = data[section]
        for j, record in enumerate(records):
            lines.append("    " + json.dumps(record, ensure_ascii=False) + ("," if j < len(records) - 1 else ""))
        lines.append("  ]" + ("," if i < len(sections) - 1 else ""))
    lines.append("}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def bot(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def snapshot(url: str) -> dict:
    store = Store(url, max_workers=1)
    try:
        with store.session() as session:
            return {
                "customers": sorted((c.account_no, c.name, c.phone, c.address, c.area_type, c.customer_type)
                                    for c in session.execute(select(Customer)).scalars()),
                "bills": sorted((b.account_no, b.period, b.kwh, str(b.amount), b.due_date, b.status,
                                 b.paid_at, b.peak_kwh, b.valley_kwh, json.dumps(b.tiers))
                                for b in session.execute(select(Bill)).scalars()),
                "outages": sorted((o.outage_no, o.kind, o.area, json.dumps(o.scope, ensure_ascii=False),
                                   o.start_at, o.end_at, o.reason)
                                  for o in session.execute(select(Outage)).scalars()),
            }
    finally:
        store.close()


def test_import_twice_changes_nothing(store_url, tmp_path):
    path = write(tmp_path / "data.json", {"customers": CUSTOMERS, "bills": BILLS, "outages": OUTAGES})
    first = bot(store_url, "import", str(path))
    assert first.returncode == 0, first.stderr
    assert "customers: 2 new" in first.stdout and "bills: 3 new" in first.stdout
    after_first = snapshot(store_url)
    assert len(after_first["bills"]) == 3
    assert after_first["bills"][0][6] == datetime(2026, 10, 8, 11, 20, tzinfo=UTC)  # paid_at kept as UTC
    second = bot(store_url, "import", str(path))
    assert second.returncode == 0, second.stderr
    assert "0 new, 0 updated, 2 unchanged" in second.stdout
    assert snapshot(store_url) == after_first


def test_a_bad_record_is_named_and_nothing_is_imported(store_url, tmp_path):
    bad_bill = {**BILLS[1], "amount": "105.66元"}
    bad_outage = {**OUTAGES[0], "end": "2026-12-01T07:00:00+08:00"}
    path = write(tmp_path / "bad.json", {"customers": CUSTOMERS, "bills": [BILLS[0], bad_bill, BILLS[2]],
                                         "outages": [bad_outage]})
    result = bot(store_url, "import", str(path))
    assert result.returncode == 1
    # Line 1 "{", 2 "customers": [, 3-4 customers, 5 "]," 6 "bills": [, 7-9 bills, 10 "]," 11 "outages": [, 12.
    assert "bills[1], line 8, field 'amount': must be a non-negative number of yuan (got '105.66元')" in result.stderr
    assert "outages[0], line 12, field 'end': must be after start" in result.stderr
    assert "nothing was imported" in result.stderr
    assert snapshot(store_url) == {"customers": [], "bills": [], "outages": []}


def test_every_kind_of_mistake_is_reported(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    data = {
        "customers": [{**CUSTOMERS[0], "phone": "1391234560"}, {**CUSTOMERS[1], "area_type": "suburb"},
                      {**CUSTOMERS[0], "account_no": "3201000103"}, {**CUSTOMERS[0], "account_no": "3201000103"}],
        "bills": [{**BILLS[0], "account_no": "3201000999"}, {**BILLS[1], "period": "2026-13"},
                  {**BILLS[2], "paid_at": "2026-10-08 19:20"}, {**BILLS[0], "tiers": [{"tier": 0, "kwh": 1}]}],
        "outages": [{**OUTAGES[0], "kind": "maybe", "scope": "湖南路"}],
    }
    result = bot(url, "import", str(write(tmp_path / "bad.json", data)))
    assert result.returncode == 1
    expected = [
        "customers[0], line 3, field 'phone': must be an 11-digit mobile number",
        "customers[1], line 4, field 'area_type': must be one of urban, rural, remote (got 'suburb')",
        "customers[3], line 6: duplicate of customers[2]",
        "bills[1], line 10, field 'period': must be YYYY-MM",
        "bills[2], line 11, field 'paid_at': needs an offset such as +08:00",
        "bills[3], line 12, field 'tiers[0].tier': must be a positive integer",
        "bills[3], line 12, field 'tiers[0]': needs numeric kwh and price",
        "outages[0], line 15, field 'kind': must be one of planned, unplanned",
        "outages[0], line 15, field 'scope': must be a list of non-empty strings",
        "bills[0], line 9, field 'account_no': account 3201000999 is neither in this file nor in the store",
    ]
    for message in expected:
        assert message in result.stderr, (message, result.stderr)


def test_unreadable_files_are_refused_clearly(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "customers": [\n    {"account_no": "3201000101",}\n  ]\n}\n', encoding="utf-8")
    result = bot(url, "import", str(broken))
    assert result.returncode == 1 and "line 3" in result.stderr and "not valid JSON" in result.stderr
    missing = bot(url, "import", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_a_changed_record_is_updated_in_place(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    path = write(tmp_path / "data.json", {"customers": CUSTOMERS, "bills": BILLS})
    assert bot(url, "import", str(path)).returncode == 0
    paid = {**BILLS[1], "status": "paid", "paid_at": "2026-11-26T10:00:00+08:00"}
    write(path, {"customers": [{**CUSTOMERS[0], "phone": "13700000000"}], "bills": [paid]})
    result = bot(url, "import", str(path))
    assert result.returncode == 0, result.stderr
    assert "customers: 0 new, 1 updated" in result.stdout and "bills: 0 new, 1 updated" in result.stdout
    data = snapshot(url)
    assert ("3201000101", "陈静", "13700000000") == data["customers"][0][:3]
    assert [b[5] for b in data["bills"] if b[1] == "2026-10" and b[0] == "3201000101"] == ["paid"]


def test_init_store_imports_the_demo_once_with_outages_ahead(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    first = bot(url, "init-store", "--demo-if-empty")
    assert first.returncode == 0, first.stderr
    assert "customers: 38 new" in first.stdout
    second = bot(url, "init-store", "--demo-if-empty")
    assert second.returncode == 0 and "demo data not imported" in second.stdout
    store = Store(url, max_workers=1)
    try:
        with store.session() as session:
            assert session.execute(select(func.count()).select_from(Customer)).scalar_one() == 38
            starts = sorted(session.execute(select(Outage.start_at)).scalars())
            latest_period = session.execute(select(func.max(Bill.period))).scalar_one()
    finally:
        store.close()
    now = datetime.now(UTC)
    assert now < starts[0] < now + timedelta(days=2)  # the first planned outage is tomorrow
    shanghai_today = datetime.now(timezone(timedelta(hours=8))).date()
    last_month = (shanghai_today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    assert latest_period == last_month


def test_demo_file_is_what_the_generator_makes():
    from scripts.make_demo_data import dumps, generate

    assert dumps(generate()) == DEMO_FILE.read_text(encoding="utf-8")


def test_tickets_and_handoffs_as_json_newest_first(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate(url)
    rules = load_rules(ROOT / "sla.yml")
    store = Store(url, max_workers=1)
    base = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
    try:
        with store.session() as session:
            session.add(Customer(**CUSTOMERS[0]))
        numbers = []
        for minutes, account in ((0, "3201000101"), (5, None), (10, "3201000101")):
            with store.session() as session:
                result = ticket_service.create_ticket(session, rules, type="repair", summary="停电", channel="web",
                                                      account_no=account, now=base + timedelta(minutes=minutes))
                numbers.append(result.ticket.ticket_no)
        with store.session() as session:
            session.add(Conversation(id="web:abc", channel="web"))
            session.add(Conversation(id="wechat:o1", channel="wechat"))
            session.flush()
            session.add(Handoff(conversation_id="web:abc", channel="web", reason="customer_request",
                                status="accepted", created_at=base, accepted_at=base + timedelta(minutes=2),
                                agent="王芳"))
            session.add(Handoff(conversation_id="wechat:o1", channel="wechat", reason="fallback", status="missed",
                                created_at=base + timedelta(hours=1), callback_ticket_no="HD20261126001"))
    finally:
        store.close()

    listed = bot(url, "tickets", "--json")
    assert listed.returncode == 0, listed.stderr
    tickets = json.loads(listed.stdout)
    assert [t["ticket_no"] for t in tickets] == numbers[::-1]
    assert tickets[0]["created_at"] == "2026-11-26T10:10:00+08:00"
    assert {"ticket_no", "type", "status", "priority", "account_no", "conversation_id", "channel", "summary",
            "created_at", "milestones"} <= set(tickets[0])
    assert tickets[0]["milestones"][0] == {"name": "抢修人员到达现场", "rule": "repair.arrival",
                                           "due_at": "2026-11-26T10:55:00+08:00", "met_at": None, "breached": True}
    mine = json.loads(bot(url, "tickets", "--account", "3201000101", "--json").stdout)
    assert [t["ticket_no"] for t in mine] == [numbers[2], numbers[0]]
    assert bot(url, "tickets", "--account", "12", "--json").returncode == 2

    handoffs = bot(url, "handoffs", "--json")
    assert handoffs.returncode == 0, handoffs.stderr
    assert json.loads(handoffs.stdout) == [
        {"conversation_id": "wechat:o1", "channel": "wechat", "reason": "fallback", "status": "missed",
         "created_at": "2026-11-26T11:00:00+08:00", "accepted_at": None, "agent": None,
         "callback_ticket_no": "HD20261126001"},
        {"conversation_id": "web:abc", "channel": "web", "reason": "customer_request", "status": "accepted",
         "created_at": "2026-11-26T10:00:00+08:00", "accepted_at": "2026-11-26T10:02:00+08:00", "agent": "王芳",
         "callback_ticket_no": None},
    ]
