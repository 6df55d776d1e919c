"""The notice bench (scripts/bench_notices.py) on a small population: it claims what its data
plans, sends all of it once, and a second round finds nothing."""
from __future__ import annotations

from datetime import datetime

from bot.store import migrate
from scripts import bench_notices


def test_the_bench_round_claims_what_the_data_plans_and_the_next_round_nothing(postgres_url):
    migrate(postgres_url)
    now = datetime(2026, 12, 3, 10, 0, tzinfo=bench_notices.SH)
    counts = bench_notices.fill(postgres_url, 200, now)
    assert counts == {"customers": 200, "bills": 1600, "bindings": 220}
    figures = bench_notices.measure(postgres_url, now)
    low = sum(1 for i in range(200) if i % 10 == 5 and i % 70 <= 30)
    assert figures["by_kind"] == {"bill_issued": 60, "due_reminder": 40, "overdue": 4, "low_balance": low,
                                  "planned_outage": 4, "abnormal_usage": 4}
    assert figures["send"]["sent"] == sum(figures["by_kind"].values()) == figures["claim"]["rows"]
    assert figures["claim"]["claimed"] == figures["claim"]["rows"]  # the round's own count, on PostgreSQL
    assert figures["idle_round"]["claimed"] == figures["idle_round"]["sent"] == 0
    assert figures["full_recheck"]["claimed"] == figures["full_recheck"]["sent"] == 0
    # The idle round skips the bill scans: fewer statements than the full re-check.
    assert figures["idle_round"]["statements"] < figures["full_recheck"]["statements"]
    text = bench_notices.markdown({"figures": figures, "counts": counts,
                                   "machine": {"postgres": "15", "cpus": 2, "date": "2026-12-03"}})
    assert "| claim (every scan + claim inserts) |" in text and "200 bound customers" in text
    assert "| full re-check, nothing new (every 10 min, or after a change) |" in text
