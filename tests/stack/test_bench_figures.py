"""Figures the benchmark derives (scripts/bench.py), checked on known inputs."""
from scripts.bench import machine_cpu_times, machine_load, percentile


def test_busy_and_stolen_shares_of_the_cores():
    before = [100, 0, 50, 800, 10, 0, 0, 5]
    after = [400, 0, 150, 1250, 20, 0, 0, 35]  # +300 user, +100 system, +450 idle, +10 iowait, +30 steal
    assert machine_load(before, after) == {"busy_percent": round(100 * 430 / 890, 1),
                                           "steal_percent": round(100 * 30 / 890, 1)}
    assert machine_load([], after) == {} and machine_load(before, before) == {}


def test_machine_counters_are_read_and_grow():
    first = machine_cpu_times()
    sum(i * i for i in range(200_000))  # a little CPU time passes
    second = machine_cpu_times()
    assert len(first) == 8 and all(b >= a for a, b in zip(first, second))
    assert 0.0 <= machine_load(first, second).get("busy_percent", 0.0) <= 100.0


def test_nearest_rank_percentiles():
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50.0, 95.0, 99.0)
    assert percentile([7.0], 95) == 7.0


def test_steady_state_customers_hold_conversations_in_a_row(monkeypatch):
    """Each seat runs the next script each time, in a new session, after a think time; every
    conversation's turns and replies are counted."""
    import asyncio
    import time

    from scripts import bench

    started: list = []

    async def fake_customer(url, script, expected, think, start_at, quiet=0.6):
        started.append((url, script, start_at, time.monotonic()))
        result = bench.CustomerResult(f"s{len(started)}", script)
        result.turns = [bench.TurnResult(5.0, 10.0 + script, 1, True, "") for _ in bench.SCRIPTS[script]]
        result.received_ids = [len(started)]
        return result

    monkeypatch.setattr(bench, "simulate_customer", fake_customer)
    monkeypatch.setattr(bench, "stored_reply_ids", lambda url, sids: {sid: [int(sid[1:])] for sid in sids})
    expected = {i: [1] * len(s) for i, s in enumerate(bench.SCRIPTS)}
    level = asyncio.run(bench.run_level(["u0", "u1"], 2, expected, think=0.02, database_url="", ramp=0.0,
                                        conversations=3))
    seats: dict = {}
    for url, script, start_at, begun in started:
        seats.setdefault(url, []).append((script, start_at, begun))
    assert {url: [script for script, _, _ in seat] for url, seat in seats.items()} == {"u0": [0, 1, 2],
                                                                                      "u1": [1, 2, 3]}
    for seat in seats.values():  # each next conversation starts a think time after the last one
        for (_, _, previous_begun), (_, start_at, _) in zip(seat, seat[1:]):
            assert start_at >= previous_begun + 0.5 * 0.02
    assert level["conversations_per_customer"] == 3
    assert level["turns_planned"] == level["turns_ok"] == 6 * len(bench.SCRIPTS[0])
    assert level["lost_replies"] == level["duplicated_replies"] == level["misordered_conversations"] == 0


def test_tail_breakdown_names_the_turns_above_the_p95():
    """Each (script, turn) gets its own percentiles and its share of the turns slower than the
    run's p95; failed turns count nowhere."""
    from scripts import bench

    fast, slow = bench.CustomerResult("a", 0), bench.CustomerResult("b", 1)
    fast.turns = [bench.TurnResult(1.0, 50.0, 1, True) for _ in bench.SCRIPTS[0]]
    slow.turns = [bench.TurnResult(1.0, 60.0, 1, True) for _ in bench.SCRIPTS[1]]
    slow.turns[3] = bench.TurnResult(1.0, 900.0, 1, True)
    slow.turns[4] = bench.TurnResult(None, None, 0, False, "no reply")
    again = bench.CustomerResult("c", 1)
    again.turns = [bench.TurnResult(1.0, 60.0, 1, True) for _ in bench.SCRIPTS[1]]
    again.turns[3] = bench.TurnResult(1.0, 700.0, 1, True)
    rows = bench.turn_breakdown([fast, slow, again], p95=100.0)
    by_key = {(row["script"], row["turn"]): row for row in rows}
    assert len(rows) == 10 and (1, 4) in by_key and by_key[(1, 4)]["turns"] == 1
    heavy = by_key[(1, 3)]
    assert heavy["text"] == bench.SCRIPTS[1][3] and heavy["turns"] == 2
    assert (heavy["p50_ms"], heavy["p95_ms"], heavy["share_of_tail"]) == (700.0, 900.0, 1.0)
    assert sum(row["share_of_tail"] for row in rows) == 1.0
    assert by_key[(0, 0)]["share_of_tail"] == 0.0 and by_key[(0, 0)]["p95_ms"] == 50.0
