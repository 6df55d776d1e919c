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
