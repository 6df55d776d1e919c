"""``make bench`` (notices part): one round of the notice engine over 100,000 bound customers.

``python -m scripts.bench_notices [--database-url URL] [--customers 100000] [--out docs]``

1. A throw-away PostgreSQL cluster (or ``--database-url``, a migrated empty store), filled
   with ``--customers`` accounts, each bound on the web (every tenth also on WeCom), 8 bills each
   (the last 7 months and the same month a year before), prepaid balances for a tenth, and one
   planned outage over one street in fifty; so that a round has every kind of work: about 30 %
   unpaid bills (bill issued, two thirds due in 5 days), 1 % overdue, low balances, 2 % far
   above their usual usage, 2 % in the outage's scope.
2. Times, and counts the SQL statements of (``before_cursor_execute``): the first round's claim
   (every scan and the claim inserts), its sending (leases, send-time checks, outcomes; the
   senders are no-ops: the figure is the engine's own cost, not a channel's), and a second
   round with nothing new (what every gateway does every minute: the bill scans skipped by the
   idle check), after ``ANALYZE`` of the deliveries (autovacuum's job after so many new rows;
   with the statistics of an empty table PostgreSQL plans the claimed-already checks badly),
   and a full re-check with nothing new (every 10 minutes, or after a change).
3. Writes its section (between the markers below) into ``docs/benchmarks.md`` and the raw
   figures into ``docs/benchmarks-notices.json``.
"""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from scripts.bench_sections import replace_marked

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
START = "<!-- notices-bench:start -->"
END = "<!-- notices-bench:end -->"
SH = ZoneInfo("Asia/Shanghai")
DISTRICTS = ("玄武区", "秦淮区", "鼓楼区", "建邺区", "江宁区")
STREETS = [f"测试{n}路" for n in range(50)]
SEASON = {1: 1.35, 2: 1.2, 3: 0.9, 4: 0.8, 5: 0.85, 6: 1.1, 7: 1.6, 8: 1.7, 9: 1.15, 10: 0.85, 11: 0.9, 12: 1.25}


def replace_section(path: Path, section: str) -> None:
    replace_marked(path, section, START, END)


def _copy(cursor, table: str, columns: tuple[str, ...], rows) -> int:
    buffer = io.StringIO()
    count = 0
    for row in rows:
        buffer.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
        count += 1
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)
    return count


def fill(url: str, customers: int, now: datetime) -> dict[str, int]:
    """The accounts, bills, bindings and the outage (PostgreSQL COPY)."""
    from sqlalchemy import create_engine

    from bot.notices.scan import add_months, previous_period

    today = now.astimezone(SH).date()
    period = previous_period(today)
    periods = [add_months(period, -i) for i in range(7)] + [add_months(period, -12)]
    created = now - timedelta(days=30)
    engine = create_engine(url)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        counts = {}
        counts["customers"] = _copy(cursor, "customers", (
            "account_no", "name", "phone", "address", "area_type", "customer_type", "balance", "created_at"), (
            (f"33{i:08d}", "测试用户", f"139{i:08d}",
             f"南京市{DISTRICTS[i % 5]}{STREETS[i % 50]}{i % 300 + 1}号", "urban", "residential",
             (i % 70) if i % 10 == 5 else None, created.isoformat()) for i in range(customers)))

        def bills():
            for i in range(customers):
                base = 120 + (i * 7919) % 200
                for p in periods:
                    kwh = round(base * SEASON[int(p[5:7])] * (2.5 if p == period and i % 50 == 7 else 1))
                    due = date(int(p[:4]) + int(p[5:7]) // 12, int(p[5:7]) % 12 + 1, 25)
                    status, paid = "paid", None
                    if p == period and i % 10 < 3:
                        status = "unpaid"
                        due = today + timedelta(days=5 if i % 10 < 2 else 20)
                    elif p == periods[1] and i % 100 == 99:
                        status, due = "overdue", today - timedelta(days=10)
                    elif p == period:
                        paid = created.isoformat()
                    yield (f"33{i:08d}", p, float(kwh), round(kwh * 0.53, 2), due.isoformat(), status, paid)

        counts["bills"] = _copy(cursor, "bills",
                                ("account_no", "period", "kwh", "amount", "due_date", "status", "paid_at"), bills())

        def bindings():
            for i in range(customers):
                yield (f"33{i:08d}", "web", f"web-{i}", f"web-{i}", "false", created.isoformat())
                if i % 10 == 9:
                    yield (f"33{i:08d}", "wecom", f"wecom-{i}", None, "false", created.isoformat())

        counts["bindings"] = _copy(cursor, "customer_bindings", (
            "account_no", "channel", "channel_user", "conversation_id", "sms_consent", "created_at"), bindings())
        start = now + timedelta(hours=18)
        cursor.execute("INSERT INTO outages (outage_no, kind, area, scope, start_at, end_at, reason) "
                       "VALUES (%s, 'planned', '南京市玄武区', %s, %s, %s, '线路检修')",
                       ("BENCH-1", json.dumps([STREETS[0]], ensure_ascii=False), start, start + timedelta(hours=8)))
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
        return counts
    finally:
        raw.close()
        engine.dispose()


class Statements:
    """Counts the SQL statements a store's engine sends (an executemany is one)."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.count = 0
        self.kinds: Counter = Counter()
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.count += 1
        self.kinds[statement.split(None, 1)[0].upper()] += 1


def measure(url: str, now: datetime) -> dict[str, Any]:
    from sqlalchemy import func, select

    from bot.notices import engine
    from bot.store import Store
    from bot.store.models import NoticeDelivery

    store = Store(url)
    statements = Statements(store.engine)
    sent: Counter = Counter()

    async def nothing(target) -> None:
        sent[target.kind] += 1

    senders = {"web": nothing, "wecom": nothing}
    try:
        figures: dict[str, Any] = {}
        before = statements.count
        t0 = time.perf_counter()
        with store.session() as session:
            events, claimed = engine.claim(session, now)
        figures["claim"] = {"seconds": round(time.perf_counter() - t0, 2), "statements": statements.count - before,
                            "events": events, "claimed": claimed}
        with store.session() as session:
            figures["claim"]["rows"] = session.execute(select(func.count(NoticeDelivery.id))).scalar_one()
        before = statements.count
        t0 = time.perf_counter()
        result = asyncio.run(engine.run_once(store, now, senders, claim_first=False))
        figures["send"] = {"seconds": round(time.perf_counter() - t0, 2), "statements": statements.count - before,
                           **{k: v for k, v in result.as_dict().items() if k in ("sent", "deferred", "skipped")}}
        with store.engine.begin() as connection:  # what autovacuum does soon after so many new rows
            connection.exec_driver_sql("ANALYZE notice_deliveries")
        before = statements.count
        t0 = time.perf_counter()
        again = asyncio.run(engine.run_once(store, now + timedelta(minutes=1), senders))
        figures["idle_round"] = {"seconds": round(time.perf_counter() - t0, 3),
                                 "statements": statements.count - before, "claimed": again.claimed, "sent": again.sent}
        # The bill and balance scans run again at least every FULL_SCAN_EVERY (and after a change):
        # that round costs what every idle round cost before the idle check.
        from bot.notices.scan import FULL_SCAN_EVERY

        before = statements.count
        t0 = time.perf_counter()
        full = asyncio.run(engine.run_once(store, now + timedelta(minutes=1) + FULL_SCAN_EVERY, senders))
        figures["full_recheck"] = {"seconds": round(time.perf_counter() - t0, 3),
                                   "statements": statements.count - before, "claimed": full.claimed,
                                   "sent": full.sent, "every_minutes": int(FULL_SCAN_EVERY.total_seconds() // 60)}
        with store.session() as session:
            figures["by_kind"] = dict(session.execute(
                select(NoticeDelivery.kind, func.count(NoticeDelivery.id)).group_by(NoticeDelivery.kind)).all())
            figures["by_status"] = dict(session.execute(
                select(NoticeDelivery.status, func.count(NoticeDelivery.id)).group_by(NoticeDelivery.status)).all())
        return figures
    finally:
        store.close()


def markdown(results: dict[str, Any]) -> str:
    f, m = results["figures"], results["machine"]
    claim, send, idle = f["claim"], f["send"], f["idle_round"]
    kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(f["by_kind"].items()))
    return "\n".join([
        "## Notice engine (scripts/bench_notices.py)", "",
        f"One round of the notice engine (`bot/notices/engine.py`) over **{results['counts']['customers']:,} bound "
        f"customers** ({results['counts']['bindings']:,} bindings, {results['counts']['bills']:,} bills) on "
        f"PostgreSQL {m['postgres']}, {m['cpus']} cores (load average after the run {m.get('load', '?')}: the "
        f"machine is shared), {m['date']}. Senders are no-ops: the figures are the "
        "engine's own work (a channel's latency comes on top, 8 sends at a time).", "",
        "| step | time | SQL statements | what |", "| --- | ---: | ---: | --- |",
        f"| claim (every scan + claim inserts) | {claim['seconds']} s | {claim['statements']} | "
        f"{claim['rows']:,} deliveries claimed for {claim['events']:,} events |",
        f"| send (leases, send-time checks, outcomes) | {send['seconds']} s | {send['statements']} | "
        f"{send['sent']:,} sent, {send['deferred']:,} held by the daily cap, {send['skipped']:,} skipped |",
        f"| next round, nothing new (every minute) | {idle['seconds']} s | {idle['statements']} | "
        f"{idle['claimed']} claimed, {idle['sent']} sent |",
        *([f"| full re-check, nothing new (every {full['every_minutes']} min, or after a change) | "
           f"{full['seconds']} s | {full['statements']} | {full['claimed']} claimed, {full['sent']} sent |"]
          if (full := f.get("full_recheck")) else []), "",
        f"Deliveries by kind: {kinds}. The statement count does not grow with the customers in the "
        "scans (one query per kind, reminder day, threshold or outage phase); the claim inserts go "
        "1,000 rows a statement and the sending 500 deliveries a batch. A round with nothing new first "
        "reads what the scans depend on (the day, the newest bill, customer, binding and outage, the "
        "importer's last change, the settings: `bot.notices.scan.bill_inputs`); when that is what the "
        "last full scan saw, less than 10 minutes ago, it skips the bill, balance and usage scans and "
        "the scope of every outage phase already looked at (a phase that begins is looked at in its "
        "first round). The full re-check is mostly the checks that the unpaid bills' notices were "
        "claimed already (an index look-up per unpaid bill and binding); the first round is the monthly "
        "burst (every bill issued at once).",
        *([""] + [results["notes"]] if results.get("notes") else []),
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="", help="a migrated, empty PostgreSQL store (default: throw-away)")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--out", default=str(DOCS))
    parser.add_argument("--no-write", action="store_true", help="print the figures only")
    parser.add_argument("--notes", default="", help="a paragraph added under the table")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the section of benchmarks.md from benchmarks-notices.json")
    args = parser.parse_args(argv)
    if args.report_only:
        out = Path(args.out)
        results = json.loads((out / "benchmarks-notices.json").read_text())
        results["notes"] = args.notes or results.get("notes", "")
        (out / "benchmarks-notices.json").write_text(json.dumps(results, ensure_ascii=False, indent=2))
        replace_section(out / "benchmarks.md", markdown(results))
        return 0
    sys.path.insert(0, str(ROOT))
    from bot.store import migrate

    now = datetime.combine(datetime.now(SH).date(), datetime.min.time().replace(hour=10), SH)
    server = None
    url = args.database_url
    if not url:
        from bot.local_servers import PostgresServer

        server = PostgresServer().start()
        url = server.create_database("noticebench")
    try:
        migrate(url)
        t0 = time.perf_counter()
        counts = fill(url, args.customers, now)
        print(f"filled in {time.perf_counter() - t0:.1f} s: {counts}", flush=True)
        figures = measure(url, now)
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.connect() as connection:
            version = connection.execute(text("SHOW server_version")).scalar()
        engine.dispose()
    finally:
        if server is not None:
            server.stop()
    results = {"machine": {"date": date.today().isoformat(), "cpus": os.cpu_count(),
                           "python": platform.python_version(), "postgres": str(version).split()[0],
                           "load": ", ".join(f"{x:.1f}" for x in os.getloadavg())},
               "counts": counts, "figures": figures, "notes": args.notes}
    print(json.dumps(results, ensure_ascii=False, indent=2))
    if not args.no_write:
        out = Path(args.out)
        (out / "benchmarks-notices.json").write_text(json.dumps(results, ensure_ascii=False, indent=2))
        replace_section(out / "benchmarks.md", markdown(results))
        print(f"wrote {out / 'benchmarks.md'} (notices section) and benchmarks-notices.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
