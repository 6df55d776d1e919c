"""``make bench``: measures NLU quality and speed, the whole stack under load, and training time.

Writes ``docs/benchmarks.md``, ``docs/benchmarks.png`` and the raw figures in
``docs/benchmarks.json``. Everything runs on this machine, on loopback:

1. NLU: intent and entity F1 on the held-out split (``tests/nlu_test/``, via
   ``scripts.evaluate_nlu`` when present, else ``rasa test nlu``) and the parse time per
   message (``POST /model/parse`` on a warmed Rasa server);
2. load: the production layout (``scripts.run_prod.ProdStack``: PostgreSQL, Redis, nginx,
   2 gateways, 2 Rasa servers, the action server) with N simultaneous simulated customers
   talking over socket.io; per-turn latency, turns/s, errors, lost/duplicated/misordered
   replies (checked against the store), peak memory of every process;
3. the training time of the full model (``rasa train --force``, cold cache, temp dir).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import aiohttp

from bot.supervisor import free_port
from scripts.run_prod import PYTHON, ROOT, Ports, ProdStack

RASA = [PYTHON, "-m", "rasa"]

# python-engineio's websocket *client* builds aiohttp.ClientWSTimeout (aiohttp >= 3.10); Rasa
# pins aiohttp 3.9, whose ws_connect takes the close timeout as a float. Client side only.
if not hasattr(aiohttp, "ClientWSTimeout"):
    aiohttp.ClientWSTimeout = lambda ws_close=10.0, ws_receive=None: ws_close  # type: ignore[attr-defined]

DOCS = ROOT / "docs"
NLU_TEST_DIR = ROOT / "tests" / "nlu_test"
TURN_TIMEOUT = 20.0  # a turn without its replies after this long counts as lost

# What simulated customers say: greeting, the bill flow (account number, then the last four
# digits of the registered phone: identity check through the REST API), FAQ answers, an
# outage question, a complaint that becomes a ticket, thanks. Customers take the scripts
# round robin; every script has the same number of turns.
SCRIPTS: list[list[str]] = [
    ["你好", "查电费", "3201000001", "0518", "谢谢"],
    ["您好", "怎么交电费", "最近会停电吗", "江苏省南京市玄武区中山路18号", "再见"],
    ["在吗", "我要查一下上个月的电费", "户号3201000002", "尾号2316", "好的谢谢"],
    ["你好", "我要投诉", "上周抄表员上门态度很差，还乱收费", "13812340001", "确认提交"],
    ["你好", "电费可以在哪里交", "峰谷电价是怎么算的", "阶梯电价怎么收费", "谢谢"],
]


def log(text: str) -> None:
    print(f"\033[1;36m[bench]\033[0m {text}", flush=True)


def rasa_env() -> dict[str, str]:
    """Rasa imports the project's NLU components and channel from the repository root."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
                RASA_TELEMETRY_ENABLED="false")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def latest_model() -> Path:
    models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise SystemExit("no trained model in models/ (run `make setup` first)")
    return models[-1]


# ---------------------------------------------------------------------------------------
# 1. NLU
# ---------------------------------------------------------------------------------------
def held_out_texts() -> list[str]:
    from rasa.shared.nlu.training_data.loading import load_data

    texts: list[str] = []
    for path in sorted(NLU_TEST_DIR.glob("**/*.yml")):
        data = load_data(str(path))
        texts += [ex.get("text") for ex in data.intent_examples if ex.get("text")]
    return texts


def _scores_from_rasa_reports(out_dir: Path) -> dict[str, Any]:
    """Intent and entity F1 from ``rasa test nlu``'s reports (the fallback)."""
    intent = json.loads((out_dir / "intent_report.json").read_text())
    result: dict[str, Any] = {
        "intent_macro_f1": intent["macro avg"]["f1-score"],
        "intent_accuracy": intent.get("accuracy"),
        "examples": intent["macro avg"]["support"],
        "per_entity": {},
    }
    for report in sorted(out_dir.glob("*_report.json")):
        data = json.loads(report.read_text())
        if report.name.startswith(("intent_", "response_selection")) or "micro avg" not in data:
            continue
        result["entity_f1"] = max(result.get("entity_f1", 0.0), data["micro avg"]["f1-score"])
        result["entity_precision"] = data["micro avg"]["precision"]
        result["entity_recall"] = data["micro avg"]["recall"]
    return result


def nlu_scores(model: Path) -> dict[str, Any]:
    """Intent/entity F1 on the held-out split.

    Reuses the NLU evaluation (``scripts.evaluate_nlu``: NLU-only model for the current
    data, every test sentence parsed, entities scored as the dialogue receives them); falls
    back to ``rasa test nlu`` with the full model when that module is missing or fails."""
    started = time.monotonic()
    try:
        from scripts import evaluate_nlu

        os.chdir(ROOT)
        nlu_model = evaluate_nlu.ensure_model(False)
        messages = [m for m in evaluate_nlu.load_test_data().training_examples if m.get("text")]
        parses = asyncio.run(evaluate_nlu.parse_all(nlu_model, messages))
        scored = evaluate_nlu.score(messages, parses)
        faq_right, faq_total = scored["faq"]
        return {
            "source": "scripts.evaluate_nlu (make eval), model " + nlu_model.name,
            "examples": scored["examples"],
            "intent_macro_f1": scored["intent_macro_f1"],
            "intent_accuracy": scored["intent_accuracy"],
            "entity_precision": scored["entity"][0],
            "entity_recall": scored["entity"][1],
            "entity_f1": scored["entity"][2],
            "per_entity": {name: {"f1": f, "support": support}
                           for name, ((_, _, f), support) in scored["per_entity"].items()},
            "faq_accuracy": faq_right / faq_total if faq_total else None,
            "evaluation_seconds": round(time.monotonic() - started, 1),
        }
    except Exception as exc:  # the evaluation module changed or failed: Rasa's own test
        log(f"scripts.evaluate_nlu unusable ({exc!r}); running rasa test nlu")
    out_dir = Path(tempfile.mkdtemp(prefix="bench-nlu-"))
    try:
        cmd = [*RASA, "test", "nlu", "--nlu", str(NLU_TEST_DIR), "--model", str(model), "--out", str(out_dir),
               "--no-plot", "--no-errors"]
        run = subprocess.run(cmd, cwd=ROOT, env=rasa_env(), capture_output=True, text=True, timeout=1800)
        if run.returncode != 0:
            raise RuntimeError(f"NLU evaluation failed:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
        scores = _scores_from_rasa_reports(out_dir)
        scores["source"] = f"rasa test nlu, model {model.name}"
        scores["evaluation_seconds"] = round(time.monotonic() - started, 1)
        return scores
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


async def parse_times(rasa_port: int, texts: list[str], warmup: int = 20, token: str = "") -> dict[str, Any]:
    """Wall time of ``POST /model/parse`` per message, one at a time, after a warm-up."""
    url = f"http://127.0.0.1:{rasa_port}/model/parse?token={token}"  # Rasa's API token (--auth-token)
    timeout = aiohttp.ClientTimeout(total=30)
    times: list[float] = []
    async with aiohttp.ClientSession(timeout=timeout) as http:
        for i in range(warmup):
            async with http.post(url, json={"text": texts[i % len(texts)]}) as resp:
                resp.raise_for_status()
                await resp.read()
        for text in texts:
            started = time.perf_counter()
            async with http.post(url, json={"text": text}) as resp:
                resp.raise_for_status()
                await resp.read()
            times.append((time.perf_counter() - started) * 1000)
    return {"messages": len(times), "p50_ms": percentile(times, 50), "p95_ms": percentile(times, 95),
            "mean_ms": statistics.fmean(times) if times else float("nan")}


# ---------------------------------------------------------------------------------------
# 2. Load
# ---------------------------------------------------------------------------------------
@dataclass
class TurnResult:
    first_ms: Optional[float]
    last_ms: Optional[float]
    replies: int
    ok: bool
    error: str = ""


@dataclass
class CustomerResult:
    session_id: str
    script: int
    turns: list[TurnResult] = field(default_factory=list)
    received_ids: list[int] = field(default_factory=list)
    error: str = ""


async def simulate_customer(url: str, script_index: int, expected: Optional[list[int]], think: float,
                            start_at: float, quiet: float = 0.6) -> CustomerResult:
    """One customer over socket.io (websocket transport). With ``expected`` reply counts a
    turn ends when they all arrived; without (calibration) after ``quiet`` s of silence."""
    import socketio

    session_id = "bench" + uuid.uuid4().hex[:20]
    result = CustomerResult(session_id, script_index)
    sio = socketio.AsyncClient(reconnection=False)
    received: list[tuple[float, dict]] = []
    arrived = asyncio.Event()
    confirmed = asyncio.Event()

    @sio.on("bot_uttered")
    async def on_bot(data):
        received.append((time.perf_counter(), data))
        arrived.set()

    @sio.on("session_confirm")
    async def on_confirm(data):
        confirmed.set()

    try:
        await sio.connect(url, transports=["websocket"], socketio_path="socket.io", wait_timeout=15)
        await sio.emit("session_request", {"session_id": session_id})
        await asyncio.wait_for(confirmed.wait(), 15)
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        for turn, text in enumerate(SCRIPTS[script_index]):
            if turn and think:
                await asyncio.sleep(random.uniform(0.5 * think, 1.5 * think))
            before = len(received)
            sent = time.perf_counter()
            arrived.clear()
            await sio.emit("user_uttered", {"message": text, "session_id": session_id,
                                            "message_id": f"{session_id}-{turn}"})
            want = expected[turn] if expected else None
            deadline = sent + TURN_TIMEOUT
            while True:
                got = len(received) - before
                if want is not None and got >= want:
                    break
                now = time.perf_counter()
                if now >= deadline:
                    break
                if want is None and got and now - received[-1][0] >= quiet:
                    break
                arrived.clear()
                wait = min(deadline - now, quiet if want is None and got else deadline - now)
                try:
                    await asyncio.wait_for(arrived.wait(), max(0.01, wait))
                except asyncio.TimeoutError:
                    pass
            replies = received[before:]
            got = len(replies)
            ok = got > 0 and (want is None or got == want)
            first = (replies[0][0] - sent) * 1000 if replies else None
            last_index = (want if want is not None else got) - 1
            last = (replies[min(last_index, got - 1)][0] - sent) * 1000 if replies else None
            error = "" if ok else (f"{got} of {want} replies after {TURN_TIMEOUT:.0f}s" if want else "no reply")
            result.turns.append(TurnResult(first, last, got, ok, error))
        await asyncio.sleep(0.3)  # late extra replies still count (as duplicates or misordered)
    except Exception as exc:  # connection refused, timeouts: counted as errors of this customer
        result.error = repr(exc)
    finally:
        result.received_ids = [int(d.get("metadata", {}).get("message_id") or 0) for _, d in received]
        try:
            await sio.disconnect()
        except Exception:
            pass
    return result


# One customer asking question after question in one conversation (issue 16 item 2): FAQ
# questions, one answer each, no form, so every turn does the same work for Rasa whatever
# the conversation's length.
LONG_TEXTS = ["怎么交电费", "峰谷电价是怎么算的", "阶梯电价怎么收费", "营业厅几点开门", "电费可以在哪里交",
              "怎么开电子发票"]
LONG_MARKS = (10, 100, 500)
LONG_WINDOW = 5  # the figure at turn N: the median of turns N-4..N


async def long_conversation(url: str, turns: int) -> dict[str, Any]:
    """Turn times (send to the last reply) of one conversation of ``turns`` turns over socket.io."""
    import socketio

    session_id = "benchlong" + uuid.uuid4().hex[:16]
    sio = socketio.AsyncClient(reconnection=False)
    received: list[float] = []
    arrived = asyncio.Event()
    confirmed = asyncio.Event()

    @sio.on("bot_uttered")
    async def on_bot(data):
        received.append(time.perf_counter())
        arrived.set()

    @sio.on("session_confirm")
    async def on_confirm(data):
        confirmed.set()

    times: list[Optional[float]] = []
    await sio.connect(url, transports=["websocket"], socketio_path="socket.io", wait_timeout=15)
    try:
        await sio.emit("session_request", {"session_id": session_id})
        await asyncio.wait_for(confirmed.wait(), 15)
        expected: dict[str, int] = {}
        for turn in range(1, turns + 1):
            text = LONG_TEXTS[turn % len(LONG_TEXTS)]
            before = len(received)
            sent = time.perf_counter()
            await sio.emit("user_uttered", {"message": text, "session_id": session_id,
                                            "message_id": f"{session_id}-{turn}"})
            want = expected.get(text)
            deadline = sent + TURN_TIMEOUT
            while time.perf_counter() < deadline:
                got = len(received) - before
                if want is not None and got >= want:
                    break
                if want is None and got and time.perf_counter() - received[-1] >= 1.0:
                    expected[text] = got  # first time this text: learn its reply count
                    break
                arrived.clear()
                try:
                    await asyncio.wait_for(arrived.wait(), 0.05 if want is None and got else 1.0)
                except asyncio.TimeoutError:
                    pass
            got = len(received) - before
            times.append((received[before + (want or got) - 1] - sent) * 1000 if got else None)
    finally:
        await sio.disconnect()
    figures: dict[str, Any] = {"turns": turns, "lost_turns": sum(t is None for t in times)}
    for mark in LONG_MARKS:
        window = [t for t in times[max(0, mark - LONG_WINDOW):mark] if t is not None]
        if mark <= turns and window:
            figures[f"turn_{mark}_ms"] = round(statistics.median(window), 1)
    first, last = figures.get(f"turn_{LONG_MARKS[0]}_ms"), figures.get(f"turn_{min(turns, LONG_MARKS[-1])}_ms")
    if first and last:
        figures["ratio_last_to_10th"] = round(last / first, 2)
    figures["turn_ms"] = [None if t is None else round(t, 1) for t in times]
    return figures


def stored_reply_ids(database_url: str, session_ids: list[str]) -> dict[str, list[int]]:
    """Ids of the messages the store holds for the customers (not their own), in order."""
    from sqlalchemy import create_engine, select

    from bot.store.models import Message

    engine = create_engine(database_url, future=True)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(Message.conversation_id, Message.id)
                                .where(Message.conversation_id.in_(session_ids), Message.sender != "customer")
                                .order_by(Message.id)).all()
    finally:
        engine.dispose()
    out: dict[str, list[int]] = {sid: [] for sid in session_ids}
    for conversation_id, message_id in rows:
        out[conversation_id].append(message_id)
    return out


def machine_cpu_times() -> list[int]:
    """The machine's CPU time counters (``/proc/stat`` line ``cpu``: user, nice, system,
    idle, iowait, irq, softirq, steal); empty where there is no /proc."""
    try:
        with open("/proc/stat") as stat:
            return [int(x) for x in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return []


def machine_load(before: list[int], after: list[int]) -> dict[str, float]:
    """Share of the machine's cores busy, and share taken by the hypervisor (steal: time a
    virtual machine's cores wanted to run but the host ran something else), in %."""
    if len(before) < 8 or len(after) < 8:
        return {}
    delta = [b - a for a, b in zip(before, after)]
    total = sum(delta)
    if total <= 0:
        return {}
    idle = delta[3] + delta[4]
    return {"busy_percent": round(100 * (total - idle) / total, 1), "steal_percent": round(100 * delta[7] / total, 1)}


class MemorySampler:
    """Peak RSS (MiB) of each stack process (summed over a process group: nginx, postgres)."""

    def __init__(self, procs: dict[str, int], interval: float = 0.25) -> None:
        self.procs = procs
        self.interval = interval
        self.peak: dict[str, float] = {name: 0.0 for name in procs}
        self.cpu_s: dict[str, float] = {name: 0.0 for name in procs}  # latest user+system CPU seconds
        self.cpu_at_start: Optional[dict[str, float]] = None
        self._names = {pgid: name for name, pgid in procs.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        """One pass over /proc: RSS and CPU of every process, summed per stack process with
        all its descendants (by process group, or by parent chain for servers that leave
        their group, such as PostgreSQL started through runuser)."""
        tick = os.sysconf("SC_CLK_TCK")
        page = os.sysconf("SC_PAGE_SIZE")
        seen: dict[int, tuple[int, int, float, int]] = {}  # pid -> (ppid, pgid, cpu s, rss bytes)
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as stat:
                    fields = stat.read().rsplit(b")", 1)[1].split()
                with open(f"/proc/{entry.name}/statm", "rb") as statm:
                    rss_pages = int(statm.read().split()[1])
                seen[int(entry.name)] = (int(fields[1]), int(fields[2]),
                                         (int(fields[11]) + int(fields[12])) / tick, rss_pages * page)
            except (OSError, ValueError, IndexError):
                continue  # the process ended meanwhile

        def owner(pid: int) -> Optional[int]:
            for _ in range(32):
                if pid in self._names:
                    return pid
                info = seen.get(pid)
                if info is None:
                    return None
                if info[1] in self._names:
                    return info[1]
                pid = info[0]
            return None

        by_group: dict[int, int] = {}
        cpu_by_group: dict[int, float] = {}
        for pid, (_ppid, _pgid, cpu, rss) in seen.items():
            group = owner(pid)
            if group is None:
                continue
            cpu_by_group[group] = cpu_by_group.get(group, 0.0) + cpu
            by_group[group] = by_group.get(group, 0) + rss
        for pgid, rss in by_group.items():
            name = self._names[pgid]
            self.peak[name] = max(self.peak[name], rss / 2**20)
        for pgid, cpu in cpu_by_group.items():
            self.cpu_s[self._names[pgid]] = cpu  # processes that ended drop out: a lower bound
        if self.cpu_at_start is None:
            self.cpu_at_start = dict(self.cpu_s)

    def cpu_used(self) -> dict[str, float]:
        """CPU seconds each process used since the sampler started."""
        start = self.cpu_at_start or {}
        return {name: round(max(0.0, cpu - start.get(name, 0.0)), 2) for name, cpu in self.cpu_s.items()}

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> "MemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)


async def conversations_in_a_row(url: str, first_script: int, expected: dict[int, list[int]], think: float,
                                  start_at: float, conversations: int) -> list[CustomerResult]:
    """One simulated customer seat: ``conversations`` conversations one after the other (the
    next script each time, a think time between them), as a busy service desk sees them."""
    results = []
    for k in range(conversations):
        script = (first_script + k) % len(SCRIPTS)
        if k:
            start_at = time.monotonic() + random.uniform(0.5 * think, 1.5 * think)
        results.append(await simulate_customer(url, script, expected.get(script), think, start_at))
    return results


async def run_level(urls: list[str], customers: int, expected: dict[int, list[int]], think: float,
                    database_url: str, ramp: float = 0.0, conversations: int = 1) -> dict[str, Any]:
    # Everyone connects, then all start together (ramp 0: a burst of simultaneous first
    # turns, the worst case) or their first turns are spread evenly over ``ramp`` seconds.
    start_at = time.monotonic() + 2.0 + customers * 0.03
    tasks = [conversations_in_a_row(urls[i % len(urls)], i % len(SCRIPTS), expected, think,
                                    start_at + ramp * i / max(1, customers), conversations)
             for i in range(customers)]
    began = time.monotonic()
    results: list[CustomerResult] = [r for seat in await asyncio.gather(*tasks) for r in seat]
    elapsed = time.monotonic() - max(began, start_at)
    stored = stored_reply_ids(database_url, [r.session_id for r in results])
    latencies = [t.last_ms for r in results for t in r.turns if t.ok and t.last_ms is not None]
    firsts = [t.first_ms for r in results for t in r.turns if t.ok and t.first_ms is not None]
    turns_ok = sum(1 for r in results for t in r.turns if t.ok)
    turns_planned = sum(len(SCRIPTS[r.script]) for r in results)
    lost = duplicated = misordered = 0
    for r in results:
        want = stored[r.session_id]
        got = [i for i in r.received_ids if i]
        lost += len(set(want) - set(got))
        duplicated += len(got) - len(set(got))
        seen: list[int] = []
        for i in got:
            if i not in seen:
                seen.append(i)
        if seen != [i for i in want if i in seen]:
            misordered += 1
    errors = [t.error for r in results for t in r.turns if not t.ok] + [r.error for r in results if r.error]
    p95 = percentile(latencies, 95)
    return {
        "customers": customers,
        "conversations_per_customer": conversations,
        "turns_planned": turns_planned,
        "turns_ok": turns_ok,
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:5],
        "lost_replies": lost,
        "duplicated_replies": duplicated,
        "misordered_conversations": misordered,
        "stored_replies": sum(len(v) for v in stored.values()),
        "seconds": round(elapsed, 2),
        "turns_per_s": round(turns_ok / elapsed, 2) if elapsed > 0 else 0.0,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "first_reply_p50_ms": percentile(firsts, 50),
        "first_reply_p95_ms": percentile(firsts, 95),
        "by_turn": turn_breakdown(results, p95),
    }


def turn_breakdown(results: list[CustomerResult], p95: float) -> list[dict[str, Any]]:
    """Latency of each (script, turn) and its share of the turns slower than the run's p95:
    which kinds of turn make up the tail."""
    by_key: dict[tuple[int, int], list[float]] = {}
    for r in results:
        for index, t in enumerate(r.turns):
            if t.ok and t.last_ms is not None:
                by_key.setdefault((r.script, index), []).append(t.last_ms)
    slow_total = sum(1 for values in by_key.values() for v in values if v > p95)
    rows = []
    for (script, index), values in sorted(by_key.items()):
        slow = sum(1 for v in values if v > p95)
        rows.append({"script": script, "turn": index, "text": SCRIPTS[script][index], "turns": len(values),
                     "p50_ms": percentile(values, 50), "p95_ms": percentile(values, 95),
                     "share_of_tail": round(slow / slow_total, 3) if slow_total else 0.0})
    return rows


async def calibrate(urls: list[str]) -> dict[int, list[int]]:
    """Reply counts per turn of each script, from one quiet customer per script."""
    expected: dict[int, list[int]] = {}
    for index in range(len(SCRIPTS)):
        result = await simulate_customer(urls[index % len(urls)], index, None, 0.0, time.monotonic())
        if result.error or not all(t.ok for t in result.turns):
            raise RuntimeError(f"calibration of script {index} failed: {result.error or result.turns}")
        expected[index] = [t.replies for t in result.turns]
    return expected


# ---------------------------------------------------------------------------------------
# 3. Training
# ---------------------------------------------------------------------------------------
def training_time() -> dict[str, Any]:
    out = Path(tempfile.mkdtemp(prefix="bench-train-"))
    # a cold cache: the full training, with the fixed hash seed of scripts/train_if_needed.py
    env = dict(rasa_env(), RASA_CACHE_DIRECTORY=str(out / "cache"), PYTHONHASHSEED="0")
    try:
        started = time.monotonic()
        run = subprocess.run([*RASA, "train", "--force", "--out", str(out / "models"), "--fixed-model-name", "bench"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
        seconds = time.monotonic() - started
        if run.returncode != 0:
            raise RuntimeError(f"rasa train failed:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
        size = (out / "models" / "bench.tar.gz").stat().st_size
        return {"seconds": round(seconds, 1), "model_mib": round(size / 2**20, 1)}
    finally:
        shutil.rmtree(out, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------
def fmt(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def write_plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = results["load"]["levels"]
    n = [lv["customers"] for lv in levels]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for key, label in (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99")):
        axes[0].plot(n, [lv[key] for lv in levels], marker="o", label=label)
    for key, marker, label in (("staggered", "s", "p95, first messages spread"), ("steady", "D", "p95, steady state")):
        extra = results["load"].get(key) or []
        if extra:
            axes[0].scatter([lv["customers"] for lv in extra], [lv["p95_ms"] for lv in extra], marker=marker,
                            zorder=3, label=label)
    axes[0].axhline(300, color="grey", linestyle="--", linewidth=1, label="target p95 300 ms")
    axes[0].set(xscale="log", xlabel="simultaneous customers", ylabel="turn latency (ms)",
                title="Turn latency (all replies of a turn)")
    axes[0].legend()
    axes[1].plot(n, [lv["turns_per_s"] for lv in levels], marker="o", label="with think time")
    saturation = results["load"].get("saturation")
    if saturation:
        axes[1].scatter([saturation["customers"]], [saturation["turns_per_s"]], color="red", zorder=3,
                        label=f"no think time ({saturation['customers']} customers)")
    axes[1].axhline(30, color="grey", linestyle="--", linewidth=1, label="target 30 turns/s")
    axes[1].set(xscale="log", xlabel="simultaneous customers", ylabel="turns per second", title="Throughput")
    axes[1].legend()
    memory = results["load"]["peak_rss_mib"]
    names = list(memory)
    axes[2].barh(names, [memory[k] for k in names], color="tab:green")
    axes[2].set(xlabel="peak RSS (MiB)", title="Peak memory per process")
    fig.suptitle(f"Electricity customer service on {results['machine']['cpus']} CPU cores, loopback")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_markdown(results: dict[str, Any], path: Path, findings: str) -> None:
    m = results["machine"]
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `make bench` (`scripts/bench.py`) on {m['date']}: {m['cpus']} CPU cores "
        f"({m['cpu_model']}), {m['memory_gib']} GiB RAM, Python {m['python']}, everything on loopback. "
        "Raw figures: `docs/benchmarks.json`; plot: `docs/benchmarks.png`.",
        "",
        "![benchmarks](benchmarks.png)",
        "",
    ]
    nlu = results.get("nlu")
    if nlu:
        lines += ["## 1. NLU (held-out split `tests/nlu_test/`)", "",
                  "| measure | value |", "| --- | --- |",
                  f"| intent macro-F1 | **{fmt(nlu['intent_macro_f1'], 3)}** |",
                  f"| intent accuracy | {fmt(nlu.get('intent_accuracy'), 3)} |",
                  f"| entity F1 (micro, all types) | **{fmt(nlu.get('entity_f1'), 3)}** "
                  f"(P {fmt(nlu.get('entity_precision'), 3)}, R {fmt(nlu.get('entity_recall'), 3)}) |"]
        if nlu.get("faq_accuracy") is not None:
            lines.append(f"| FAQ answer selection accuracy | {fmt(nlu['faq_accuracy'], 3)} |")
        lines.append(f"| test sentences | {fmt(nlu['examples'])} |")
        parse = results.get("parse")
        if parse:
            lines.append(f"| parse time per message, p50 / p95 (`POST /model/parse`, warmed server, "
                         f"{parse['messages']} messages, one at a time) | "
                         f"{fmt(parse['p50_ms'], 1)} ms / {fmt(parse['p95_ms'], 1)} ms |")
        if nlu.get("carried_over_from"):
            lines.append(f"| (F1 and accuracy above: not re-measured in this run, figures of "
                         f"{nlu['carried_over_from']}) | |")
        lines += ["", f"Source: {nlu['source']}; per-intent and per-entity detail in "
                      "`docs/nlu_evaluation.md` (`make eval`).", ""]
    load = results.get("load")
    if load:
        setup = load["setup"]
        lines += ["## 2. The whole stack under load", "",
                  f"Layout: {setup}. Each simulated customer opens a socket.io connection (websocket), "
                  f"asks for a session and says {load['turns_per_customer']} things in turn (greeting, the bill "
                  "flow with identity check, FAQ, outage question, a complaint that becomes a ticket, thanks: "
                  f"{len(SCRIPTS)} scripts round robin), waiting for all replies of a turn "
                  f"(counted in a calibration run) and then a think time of {load['think_s']} s ± 50 % before the next. "
                  "Latency is from sending a message to the last reply of that turn arriving. Lost, duplicated "
                  "and misordered replies are checked against the messages the store holds for each conversation. "
                  "The all-at-once runs put every customer's first message in one instant, so that all of them "
                  "also reach the heavy turn of their script (the identity check with the bill, the outage "
                  "lookup, the complaint's contact) together; the steady-state run keeps the customers busy "
                  "with several conversations in a row (a new session and the next script each time) and "
                  "spreads their first messages over one conversation's length, so that at any moment they "
                  "are at every point of their conversations, as a service desk's customers are.",
                  "",
                  "| customers | turns ok / planned | errors | lost | dup. | misordered | turns/s | p50 ms | p95 ms | p99 ms | first reply p95 ms | load generator CPU s | cores busy / stolen % |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        rows = list(load["levels"]) + list(load.get("staggered") or []) + list(load.get("steady") or []) + (
            [load["saturation"]] if load.get("saturation") else [])
        for lv in rows:
            label = str(lv["customers"]) + (" (no think time)" if lv is load.get("saturation") else "")
            if lv.get("conversations_per_customer", 1) > 1:
                label += (f" (steady state: {lv['conversations_per_customer']} conversations each in a row, "
                          f"first messages spread over one conversation's {fmt(lv['ramp_s'], 0)} s)")
            elif lv.get("ramp_s") and lv is not load.get("saturation"):
                label += f" (first messages spread over {fmt(lv['ramp_s'], 1)} s)"
            elif lv is not load.get("saturation"):
                label += " (all at once)" if lv["customers"] > 1 else ""
            lines.append(f"| {label} | {lv['turns_ok']} / {lv['turns_planned']} | {lv['errors']} | "
                         f"{lv['lost_replies']} | {lv['duplicated_replies']} | {lv['misordered_conversations']} | "
                         f"{fmt(lv['turns_per_s'], 1)} | {fmt(lv['p50_ms'])} | {fmt(lv['p95_ms'])} | "
                         f"{fmt(lv['p99_ms'])} | {fmt(lv['first_reply_p95_ms'])} | "
                         f"{fmt(lv.get('load_generator_cpu_s'), 1)} | "
                         f"{fmt(lv.get('busy_percent'))} / {fmt(lv.get('steal_percent'), 1)} |")
        lines += ["", "Peak resident memory during the load runs (MiB; nginx and PostgreSQL summed over "
                      "their worker processes, which counts shared pages more than once):", "",
                  "| process | peak RSS MiB |", "| --- | ---: |"]
        lines += [f"| {name} | {fmt(rss)} |" for name, rss in load["peak_rss_mib"].items()]
        lines.append("")
        cpu = load.get("cpu_s_during_load")
        if cpu and load.get("turns_total"):
            cpu = dict(cpu, **{"load generator (bench)": load.get("load_generator_cpu_s", 0.0)})
            lines += [f"CPU used during all load runs ({load['turns_total']} turns; process groups, from /proc):", "",
                      "| process | CPU s | CPU ms per turn |", "| --- | ---: | ---: |"]
            lines += [f"| {name} | {fmt(sec, 1)} | {fmt(sec * 1000 / load['turns_total'], 1)} |"
                      for name, sec in cpu.items()]
            lines.append("")
        tail_run = next((lv for lv in (load.get("steady") or []) if lv.get("by_turn")), None)
        if tail_run:
            rows = sorted(tail_run["by_turn"], key=lambda row: (-row["share_of_tail"], -row["p95_ms"]))[:8]
            lines += [f"Which turns make up the slowest 5 % (turns above the run's p95 of "
                      f"{fmt(tail_run['p95_ms'])} ms), steady state with {tail_run['customers']} customers; "
                      "the eight largest shares:", "",
                      "| script, turn | customer says | turns | p50 ms | p95 ms | share of the slowest 5 % |",
                      "| --- | --- | ---: | ---: | ---: | ---: |"]
            lines += [f"| {row['script'] + 1}, {row['turn'] + 1} | {row['text']} | {row['turns']} | "
                      f"{fmt(row['p50_ms'])} | {fmt(row['p95_ms'])} | {fmt(100 * row['share_of_tail'])} % |"
                      for row in rows]
            lines.append("")
        targets = load.get("targets")
        if targets:
            lines += ["Targets: " + "; ".join(f"{k}: **{'met' if v else 'not met'}**" for k, v in targets.items()), ""]
            runs50 = [(name, lv) for name, group in (("all at once", load["levels"]),
                                                     ("arrivals spread", load.get("staggered") or []),
                                                     ("steady state", load.get("steady") or []))
                      for lv in group if lv["customers"] == 50 and lv.get("steal_percent") is not None]
            if runs50:
                # The tail follows the host's steal on a shared VM (docs/benchmark-findings.md).
                lines += ["Cores' time taken by the host (steal) during the 50-customer runs: " + "; ".join(
                    f"{name} {fmt(lv['steal_percent'], 1)} % (p95 {fmt(lv['p95_ms'])} ms)" for name, lv in runs50) + ".", ""]
    long = results.get("long_conversation")
    if long:
        marks = [m for m in LONG_MARKS if f"turn_{m}_ms" in long]
        lines += ["## 2b. One long conversation", "",
                  f"One customer asks {long['turns']} FAQ questions in one conversation, one after the other "
                  "(the production layout above, the rate limit off for this customer). Turn time, send to "
                  f"answer, median of the {LONG_WINDOW} turns up to the one named:", "",
                  "| turn | " + " | ".join(str(m) for m in marks) + " |",
                  "| --- | " + " | ".join("---" for _ in marks) + " |",
                  "| ms | " + " | ".join(fmt(long[f"turn_{m}_ms"], 1) for m in marks) + " |", ""]
        if long.get("ratio_last_to_10th") is not None:
            lines += [f"Last to 10th: **{fmt(long['ratio_last_to_10th'], 2)}×** (target ≤ 1.5×); "
                      f"turns lost: {long['lost_turns']}. Rasa's session is compacted once it holds more than "
                      f"{long.get('compact_after_events')} events (`TRACKER_COMPACT_AFTER`, `rasa_server/tracker_store.py`).", ""]
        if long.get("before"):
            b = long["before"]
            lines += ["Before the compaction (same harness, `TRACKER_COMPACT_AFTER=0`): " + ", ".join(
                f"turn {m}: {fmt(b.get(f'turn_{m}_ms'), 1)} ms" for m in LONG_MARKS if b.get(f"turn_{m}_ms"))
                + (f" ({fmt(b.get('ratio_last_to_10th'), 2)}×)." if b.get("ratio_last_to_10th") else "."), ""]
    train = results.get("training")
    if train:
        lines += ["## 3. Training", "",
                  f"`rasa train --force` of the full model (NLU + dialogue) with a cold cache into a temp "
                  f"directory: **{fmt(train['seconds'], 1)} s**, model {fmt(train['model_mib'], 1)} MiB"
                  + (f" (measured {train['carried_over_from']}, not re-measured in this run)."
                     if train.get("carried_over_from") else "."), ""]
    if findings:
        lines += ["## Where the time goes", "", findings.strip(), ""]
    text = "\n".join(lines)
    # The dashboard's section (scripts/bench_dashboard.py) is kept when this part is rewritten.
    from scripts.bench_dashboard import keep_section

    path.write_text(keep_section(path, text))


def machine_info() -> dict[str, Any]:
    cpu_model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpus": os.cpu_count(), "cpu_model": cpu_model, "memory_gib": round(mem, 1),
            "python": sys.version.split()[0], "date": time.strftime("%Y-%m-%d")}


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,10,50,100", help="simultaneous customers per load run")
    parser.add_argument("--think", type=float, default=2.0, help="mean think time between turns (s)")
    parser.add_argument("--ramp", type=float, default=0.0,
                        help="spread the customers' first turns over this many seconds (0: all at once)")
    parser.add_argument("--staggered", default="50",
                        help="customer counts run again with their first messages spread over one "
                             "think time (arrivals as in real use), reported beside the all-at-once runs")
    parser.add_argument("--steady", default="50",
                        help="customer counts run again in a steady state: each customer has several "
                             "conversations in a row and the first messages are spread over one "
                             "conversation's length, so customers are at different points of their "
                             "conversations (as in real use) rather than in step")
    parser.add_argument("--steady-conversations", type=int, default=3,
                        help="conversations in a row per customer in the steady-state runs")
    parser.add_argument("--saturation", type=int, default=40,
                        help="customers of the run without think time (0: skip)")
    parser.add_argument("--long-turns", type=int, default=500,
                        help="turns of the one long conversation measured at turns 10, 100 and 500 (0: skip)")
    parser.add_argument("--model", default="", help="model file or directory (default: newest in models/)")
    parser.add_argument("--rasa-servers", type=int, default=2)
    parser.add_argument("--gateways", type=int, default=2)
    parser.add_argument("--skip-nlu", action="store_true")
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--profile", action="store_true",
                        help="run gateway-1 under pyinstrument; report in var/bench/profile-gateway.txt")
    parser.add_argument("--out", default=str(DOCS), help="directory of benchmarks.md/.png/.json")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite benchmarks.md/.png from benchmarks.json (e.g. after editing the findings)")
    parser.add_argument("--keep-previous", action="store_true",
                        help="with --skip-nlu/--skip-train: carry those sections over from the existing "
                             "benchmarks.json (marked as carried over in the report)")
    parser.add_argument("--findings", default=str(DOCS / "benchmark-findings.md"),
                        help="profiling notes included in the report")
    args = parser.parse_args(argv)

    out_dir = Path(args.out)
    findings_path = Path(args.findings)
    findings = findings_path.read_text() if findings_path.exists() else ""
    results: dict[str, Any]
    if args.report_only:
        results = json.loads((out_dir / "benchmarks.json").read_text())
        if "load" in results:
            write_plot(results, out_dir / "benchmarks.png")
        write_markdown(results, out_dir / "benchmarks.md", findings)
        return 0
    model = Path(args.model) if args.model and Path(args.model).is_file() else latest_model()
    results = {"machine": machine_info(), "model": model.name}
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    if not args.skip_nlu and NLU_TEST_DIR.exists():
        results["nlu"] = nlu_scores(model)
        log(f"NLU: intent macro-F1 {results['nlu']['intent_macro_f1']:.3f}, entity F1 {results['nlu'].get('entity_f1', float('nan')):.3f}")

    if not args.skip_load:
        run_dir = ROOT / "var" / "bench"
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True)
        ports = Ports.free(gateways=args.gateways, rasa=args.rasa_servers)
        ports.postgres, ports.redis = free_port(), free_port()
        gateway_command = None
        if args.profile:
            gateway_command = [PYTHON, "-m", "pyinstrument", "-r", "text", "-o",
                               str(run_dir / "profile-gateway.txt"), "-m", "bot", "serve"]
        # A simulated customer types at machine speed: the per-conversation rate limit (a person's
        # pace, bot.conversations.TurnGate) would refuse the long conversation's turns.
        stack = ProdStack(run_dir, ports=ports, model=str(model), enable_rasa_api=True, gateway_command=None,
                          extra_env={"CHAT_RATE_PER_MINUTE": "0"})
        log("starting the production layout (PostgreSQL, Redis, nginx, gateways, Rasa servers, actions)")
        stack.start()
        try:
            if gateway_command:
                # Only the first gateway is profiled: restart it under pyinstrument.
                stack.supervisor.stop(stack.by_name("gateway-1"))
                stack.gateway_command = gateway_command
                profiled = stack.start_gateway(0)
                profiled.wait_for_port(timeout=60)
            texts = held_out_texts() if NLU_TEST_DIR.exists() else [t for s in SCRIPTS for t in s]
            results["parse"] = asyncio.run(parse_times(ports.rasa[0], texts, token=stack.secrets["RASA_TOKEN"]))
            log(f"parse p50 {results['parse']['p50_ms']:.1f} ms, p95 {results['parse']['p95_ms']:.1f} ms")
            urls = [f"http://127.0.0.1:{p}" for p in ports.gateways]
            expected = asyncio.run(calibrate(urls))
            log(f"calibrated reply counts per turn: {expected}")
            pgids = {p.name: p.pid for p in stack.procs}

            def measured(customers: int, think: float, ramp: float, conversations: int = 1) -> dict[str, Any]:
                cpu_before, machine_before = time.process_time(), machine_cpu_times()
                level = asyncio.run(run_level(urls, customers, expected, think, stack.database_url, ramp,
                                              conversations))
                level["ramp_s"] = ramp
                # Run-to-run spread on a shared virtual machine: how busy the cores were and
                # how much of their time the host took (steal).
                level.update(machine_load(machine_before, machine_cpu_times()))
                # The load generator shares the cores with the stack: report what it used.
                level["load_generator_cpu_s"] = round(time.process_time() - cpu_before, 2)
                return level

            def counts(text: str) -> list[int]:
                return [int(x) for x in text.split(",") if x.strip()]

            with MemorySampler(pgids) as sampler:
                levels = []
                for n in counts(args.levels):
                    levels.append(measured(n, args.think, args.ramp))
                    log(f"{n} customers: {json.dumps(levels[-1], ensure_ascii=False)}")
                staggered = []
                for n in counts(args.staggered):
                    staggered.append(measured(n, args.think, args.think))
                    log(f"{n} customers, arrivals over {args.think} s: {json.dumps(staggered[-1], ensure_ascii=False)}")
                steady = []
                # One conversation lasts (turns - 1) think times: spreading the first messages
                # over it puts the customers at every point of their conversations.
                conversation_s = (len(SCRIPTS[0]) - 1) * args.think
                for n in counts(args.steady):
                    steady.append(measured(n, args.think, conversation_s, args.steady_conversations))
                    log(f"{n} customers, steady state: {json.dumps(steady[-1], ensure_ascii=False)}")
                saturation = None
                if args.saturation:
                    saturation = measured(args.saturation, 0.0, 0.0)
                    log(f"saturation ({args.saturation} customers, no think time): {json.dumps(saturation)}")
            if args.long_turns:
                log(f"one conversation of {args.long_turns} turns")
                long = asyncio.run(long_conversation(urls[0], args.long_turns))
                long["compact_after_events"] = int(os.environ.get("TRACKER_COMPACT_AFTER") or 80)
                results["long_conversation"] = long
                log("long conversation: " + json.dumps({k: v for k, v in long.items() if k != "turn_ms"}))
            at50 = next((lv for lv in levels if lv["customers"] == 50 and not lv.get("ramp_s")), None)
            at50_staggered = next((lv for lv in staggered if lv["customers"] == 50), None)
            at50_steady = next((lv for lv in steady if lv["customers"] == 50), None)
            runs50 = [lv for lv in levels + staggered + steady if lv["customers"] == 50]
            best = max([lv["turns_per_s"] for lv in levels] + ([saturation["turns_per_s"]] if saturation else []), default=0.0)
            results["load"] = {
                "setup": (f"nginx + {args.gateways} gateways + {args.rasa_servers} Rasa servers + 1 action server, "
                          "store and Rasa trackers in PostgreSQL, Rasa locks and socket.io fan-out in Redis; "
                          "customers spread over the gateways"),
                "turns_per_customer": len(SCRIPTS[0]),
                "think_s": args.think,
                "expected_replies": expected,
                "levels": levels,
                "staggered": staggered,
                "steady": steady,
                "saturation": saturation,
                "peak_rss_mib": {k: round(v, 1) for k, v in sampler.peak.items()},
                "cpu_s_during_load": sampler.cpu_used(),
                "load_generator_cpu_s": round(sum(lv.get("load_generator_cpu_s", 0.0) for lv in levels + staggered + steady)
                                              + (saturation or {}).get("load_generator_cpu_s", 0.0), 1),
                "turns_total": sum(lv["turns_ok"] for lv in levels + staggered + steady) + (saturation or {}).get("turns_ok", 0),
                "targets": {
                    "p95 < 300 ms at 50 customers (all starting in the same instant)": bool(at50 and at50["p95_ms"] < 300),
                    "p95 < 300 ms at 50 customers (arrivals spread over one think time)":
                        bool(at50_staggered and at50_staggered["p95_ms"] < 300),
                    "p95 < 300 ms at 50 customers (steady state)": bool(at50_steady and at50_steady["p95_ms"] < 300),
                    "no reply lost at 50 customers": bool(runs50) and all(
                        lv["lost_replies"] == 0 and lv["errors"] == 0 for lv in runs50),
                    "> 30 turns/s at saturation": best > 30,
                },
            }
        finally:
            stack.stop()

    previous_path = out_dir / "benchmarks.json"
    if args.keep_previous and previous_path.exists():
        previous = json.loads(previous_path.read_text())
        for key, skipped in (("nlu", args.skip_nlu), ("parse", args.skip_load), ("training", args.skip_train)):
            if skipped and key in previous and key not in results:
                results[key] = dict(previous[key], carried_over_from=previous["machine"].get("date", "?"))

    if not args.skip_train:
        log("timing rasa train --force (cold cache)")
        results["training"] = training_time()
        log(f"training: {results['training']['seconds']} s")

    (out_dir / "benchmarks.json").write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str))
    if "load" in results and results["load"]["levels"]:
        write_plot(results, out_dir / "benchmarks.png")
    write_markdown(results, out_dir / "benchmarks.md", findings)
    log(f"wrote {out_dir / 'benchmarks.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
