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
