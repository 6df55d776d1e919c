"""``make bench`` (Rasa part): what the FAQ gate, the remembered rule matches and each patch save.

``python -m scripts.bench_rasa_seams [--model models/model-X.tar.gz] [--rounds 3] [--out docs]``

In one process, the trained model loaded as the Rasa server loads it (``rasa_server.install()``
first, then Rasa's agent), each measured with and without, interleaved round by round (each
figure the mean over the rounds; a server loads the tracker at a turn's start and extends it
with each predicted action, and so does the replay here):

1. **FAQ gate** (``nlu_components.faq_gate.FaqGatedResponseSelector``, ``gate``): every
   held-out sentence of ``tests/nlu_test/`` parsed (``Agent.parse_message``): time per
   message, the ResponseSelector's own time in it (Rasa's ``ResponseSelector.process``,
   timed) and on how many messages it ran.
2. **Remembered rule matches** (``rasa_server.policies.CachedRulePolicy``): every action of
   the training stories (``data/stories``) and the e2e test stories (``tests/e2e``) predicted
   from the conversation before it (``MessageProcessor._predict_next_with_tracker``, every
   policy, as a turn does): time per prediction and RulePolicy's rule matching in it
   (``_get_possible_keys``, timed), with Rasa's matching, with an empty memory (first pass)
   and with the memory the first pass left (second pass: the same states met again, as in a
   server where every conversation walks the same forms).

3. **Each patch** of ``rasa_server/patches/`` on its own (``patches.bypassed([name])``, every
   other shortcut on): the parse and prediction figures above without each patch that works
   there, a stored conversation read back (``Event.from_parameters``, ``event_lookup``), the
   action server's answers checked (``action_result_validation``) and a full garbage
   collection before and after ``gc.freeze()`` (``heap_freeze``).

Writes its section (between the markers below) into ``docs/benchmarks.md`` and the raw figures
into ``docs/benchmarks-rasa-seams.json``. ``--as-installed`` measures only what the model and
the installed patches do (no toggling: for comparing two processes, e.g. a code version whose
shortcuts were patches).
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any, Callable, ContextManager, Dict, Iterator, List, Optional

from scripts.bench_sections import replace_marked

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
START = "<!-- rasa-seams-bench:start -->"
END = "<!-- rasa-seams-bench:end -->"


class Timer:
    """Accumulates the time spent in one method of a class (wrapped while ``timing``)."""

    def __init__(self, cls: type, name: str) -> None:
        self.owner = next(c for c in cls.__mro__ if name in c.__dict__)  # where the method is defined
        self.name, self.seconds, self.calls = name, 0.0, 0

    @contextlib.contextmanager
    def timing(self) -> Iterator["Timer"]:
        original = self.owner.__dict__[self.name]
        timer = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                timer.seconds += time.perf_counter() - started
                timer.calls += 1

        setattr(self.owner, self.name, timed)
        try:
            yield self
        finally:
            setattr(self.owner, self.name, original)

    def take(self) -> tuple[float, int]:
        taken = (self.seconds, self.calls)
        self.seconds, self.calls = 0.0, 0
        return taken


def _components(agent: Any, cls: type) -> List[Any]:
    return [node._component for node in agent.processor.graph_runner._instantiated_nodes.values()
            if isinstance(getattr(node, "_component", None), cls)]


def held_out_texts() -> List[str]:
    from rasa.shared.nlu.training_data.loading import load_data

    texts: List[str] = []
    for path in sorted((ROOT / "tests" / "nlu_test").glob("**/*.yml")):
        texts += [example.get("text") for example in load_data(str(path)).intent_examples]
    return texts


Mode = Callable[[], ContextManager[Any]]  # entered around each measured pass


def switched(switch: Callable[[], None]) -> Mode:
    """A mode that flips a switch before its pass (and leaves it: the next mode flips its own)."""
    @contextlib.contextmanager
    def mode() -> Iterator[None]:
        switch()
        yield
    return mode


def story_turns(agent: Any) -> List[tuple]:
    """Each turn of the training and e2e stories as a server runs it: (the events up to and
    with the user's message, the events of the turn after it). A server loads the tracker at
    the start of a turn and extends it with each predicted action."""
    from rasa.core.test import _create_data_generator
    from rasa.shared.core.events import UserUttered

    turns = []
    for resource in ("data/stories", "tests/e2e"):
        generator = _create_data_generator(str(ROOT / resource), agent, use_conversation_test_files=resource == "tests/e2e")
        for story in generator.generate_story_trackers():
            events = list(story.events)
            starts = [i + 1 for i, event in enumerate(events) if isinstance(event, UserUttered)]
            for begin, end in zip([1] + starts, starts + [len(events)]):
                turns.append((story.sender_id, events[:begin], events[begin:end]))
    return turns


def _summary(per_item: List[float], inner: float, count: int, extra: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    return {"items": count, "mean_ms": 1000 * statistics.fmean(per_item), "p50_ms": 1000 * statistics.median(per_item),
            "inner_ms": 1000 * inner / count, **(extra or {})}


def measure_nlu(agent: Any, texts: List[str], modes: Dict[str, Mode], rounds: int) -> Dict[str, Any]:
    from rasa.nlu.selectors.response_selector import ResponseSelector

    selector_time = Timer(ResponseSelector, "process")  # Rasa's own selection (what the gate skips)
    samples: Dict[str, List[float]] = {mode: [] for mode in modes}
    inner: Dict[str, float] = {mode: 0.0 for mode in modes}
    ran: Dict[str, int] = {mode: 0 for mode in modes}

    async def run() -> None:
        for text in texts[:20]:  # warm-up: TensorFlow's first calls trace
            await agent.parse_message(text)
        for _ in range(rounds):
            for mode, context in modes.items():
                with context():
                    selector_time.take()
                    for text in texts:
                        started = time.perf_counter()
                        parsed = await agent.parse_message(text)
                        samples[mode].append(time.perf_counter() - started)
                        ran[mode] += "response_selector" in parsed
                    inner[mode] += selector_time.take()[0]

    with selector_time.timing():
        asyncio.run(run())
    count = len(texts) * rounds
    return {mode: _summary(samples[mode], inner[mode], count, {"selector_ran": ran[mode] // rounds,
                                                                "messages": len(texts)})
            for mode in modes}


def measure_predictions(agent: Any, turns: List[tuple], modes: Dict[str, Mode], rounds: int) -> Dict[str, Any]:
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.shared.core.events import ActionExecuted
    from rasa.shared.core.trackers import DialogueStateTracker

    policy_class = next(iter(type(p) for p in _components(agent, RulePolicy)), RulePolicy)
    matching = Timer(policy_class, "_get_possible_keys")  # as the policy matches (remembered or not)
    samples: Dict[str, List[float]] = {mode: [] for mode in modes}
    inner: Dict[str, float] = {mode: 0.0 for mode in modes}
    slots = agent.domain.slots

    def replay(timed: Optional[List[float]]) -> None:
        for sender, before, during in turns:
            tracker = DialogueStateTracker.from_events(sender, before, slots)  # loaded at the turn's start
            for event in during:
                if isinstance(event, ActionExecuted):
                    started = time.perf_counter()
                    agent.processor._predict_next_with_tracker(tracker)
                    if timed is not None:
                        timed.append(time.perf_counter() - started)
                tracker.update(event)

    replay(None)  # warm-up: TensorFlow's first calls
    with matching.timing():
        for _ in range(rounds):
            for mode, context in modes.items():
                with context():
                    matching.take()
                    replay(samples[mode])
                    inner[mode] += matching.take()[0]
    return {mode: _summary(samples[mode], inner[mode], len(samples[mode])) for mode in modes}


NLU_PATCHES = ("direct_graph_runner", "direct_tf_call", "sparse_feature_stacking", "empty_domain_check")
PREDICTION_PATCHES = ("ted_gate", "prior_states_cache", "direct_graph_runner", "direct_tf_call")


def _bypassing(names: tuple) -> Mode:
    from rasa_server.patches import bypassed

    return lambda: bypassed(names)


def measure_event_lookup(turns: List[tuple], rounds: int) -> Dict[str, Any]:
    """``Event.from_parameters`` over every event of the stories as stored (a tracker store's
    replay of a conversation)."""
    from rasa.shared.core.events import Event

    stored = [event.as_dict() for _, before, during in turns for event in before + during]
    figures: Dict[str, List[float]] = {"all patches": [], "without event_lookup": []}
    for _ in range(rounds):
        for mode, context in (("all patches", contextlib.nullcontext), ("without event_lookup", _bypassing(("event_lookup",)))):
            with context():
                started = time.perf_counter()
                for data in stored:
                    Event.from_parameters(data)
                figures[mode].append((time.perf_counter() - started) / len(stored))
    return {mode: {"us_per_event": 1e6 * min(values), "events": len(stored)} for mode, values in figures.items()}


def measure_action_results(turns: List[tuple], rounds: int) -> Dict[str, Any]:
    """``RemoteAction._validate_action_result`` on an action server's answer for each custom
    action of the stories: the events after it up to the next action, and a reply."""
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.utils.endpoints import EndpointConfig

    results = []
    for _, _, during in turns:
        for index, event in enumerate(during):
            if isinstance(event, ActionExecuted) and (event.action_name or "").startswith(("action_", "validate_")) \
                    and event.action_name != "action_listen":
                following = []
                for later in during[index + 1:]:
                    if isinstance(later, (ActionExecuted, UserUttered)):
                        break
                    following.append(later.as_dict())
                results.append({"events": following, "responses": [{"text": "好的，已为您记录。", "buttons": []}]})
    action = RemoteAction("action_bench", EndpointConfig("http://127.0.0.1:9/webhook"))

    def valid(result: Dict[str, Any]) -> bool:  # as Rasa's own validation judges it
        with _bypassing(("action_result_validation",))():
            try:
                return bool(action._validate_action_result(result))
            except Exception:
                return False

    results = [result for result in results if valid(result)]
    figures: Dict[str, List[float]] = {"all patches": [], "without action_result_validation": []}
    for _ in range(rounds):
        for mode, context in (("all patches", contextlib.nullcontext),
                              ("without action_result_validation", _bypassing(("action_result_validation",)))):
            with context():
                started = time.perf_counter()
                for result in results:
                    action._validate_action_result(result)
                figures[mode].append((time.perf_counter() - started) / max(1, len(results)))
    return {mode: {"ms_per_result": 1000 * min(values), "results": len(results)} for mode, values in figures.items()}


def measure_heap_freeze(rounds: int) -> Dict[str, Any]:
    """A full garbage collection of this process (the model loaded, after parses and
    predictions), as it is and after ``gc.freeze()``."""
    import gc

    def full() -> float:
        started = time.perf_counter()
        gc.collect()
        return time.perf_counter() - started

    before = min(full() for _ in range(rounds))
    objects = len(gc.get_objects())
    gc.freeze()
    try:
        after = min(full() for _ in range(rounds))
    finally:
        gc.unfreeze()
    return {"without heap_freeze": {"ms": 1000 * before, "objects": objects}, "all patches": {"ms": 1000 * after}}


def load(model: Path, leave_out: tuple) -> Any:
    import logging

    import rasa_server
    from rasa.core.agent import load_agent
    from rasa.utils.log_utils import configure_structlog
    from rasa_server import patches

    # As `rasa run` logs by default (INFO): no per-message debug lines in the timed work.
    configure_structlog(logging.INFO)
    logging.getLogger("rasa").setLevel(logging.INFO)

    # as `python -m rasa_server run` does first
    installed = rasa_server.install([name for name in patches.ALL if name not in leave_out])
    agent = asyncio.run(load_agent(model_path=str(model)))
    return agent, installed


def run(model: Path, rounds: int, as_installed: bool, leave_out: tuple = (), per_patch: bool = True) -> Dict[str, Any]:
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.nlu.selectors.response_selector import ResponseSelector

    agent, installed = load(model, leave_out)
    selectors, policies = _components(agent, ResponseSelector), _components(agent, RulePolicy)
    gated = [s for s in selectors if "gate" in s.component_config]
    cached = [p for p in policies if hasattr(p, "remember_matches")]
    nlu_modes: Dict[str, Mode]
    prediction_modes: Dict[str, Mode]
    if as_installed or not gated:
        nlu_modes = {"as installed": contextlib.nullcontext}
    else:
        def gate(on: bool) -> Callable[[], None]:
            def switch() -> None:
                for selector in gated:
                    selector.component_config["gate"] = on
            return switch
        nlu_modes = {"Rasa's (gate off)": switched(gate(False)), "gated": switched(gate(True))}
    if as_installed or not cached:
        prediction_modes = {"as installed": contextlib.nullcontext}
    else:
        def matches(on: bool) -> Callable[[], None]:
            def switch() -> None:
                for policy in cached:
                    policy.remember_matches(on)  # a fresh, empty memory when on
            return switch
        prediction_modes = {"Rasa's matching": switched(matches(False)), "remembered, empty at start": switched(matches(True)),
                            "remembered, second pass": contextlib.nullcontext}
    texts, turns = held_out_texts(), story_turns(agent)
    started = time.perf_counter()
    results: Dict[str, Any] = {"nlu": measure_nlu(agent, texts, nlu_modes, rounds),
                               "predictions": measure_predictions(agent, turns, prediction_modes, rounds)}
    if per_patch and not as_installed:
        for policy in cached:
            policy.remember_matches(True)
        for selector in gated:
            selector.component_config["gate"] = True
        patch_nlu = {"all patches": contextlib.nullcontext,
                     **{f"without {name}": _bypassing((name,)) for name in NLU_PATCHES}}
        patch_predictions = {"all patches": contextlib.nullcontext,
                             **{f"without {name}": _bypassing((name,)) for name in PREDICTION_PATCHES}}
        results["patches"] = {"nlu": measure_nlu(agent, texts, patch_nlu, rounds),
                              "predictions": measure_predictions(agent, turns, patch_predictions, rounds),
                              "event_lookup": measure_event_lookup(turns, rounds),
                              "action_result_validation": measure_action_results(turns, rounds),
                              "heap_freeze": measure_heap_freeze(rounds)}
    return {"machine": {"date": date.today().isoformat(), "cpus": os.cpu_count(), "python": platform.python_version(),
                        "load": ", ".join(f"{x:.1f}" for x in os.getloadavg())},
            "model": model.name, "rounds": rounds, "seconds": round(time.perf_counter() - started, 1),
            "selector": type(selectors[0]).__name__ if selectors else None,
            "rule_policy": type(policies[0]).__name__ if policies else None,
            "patches_installed": sorted(name for name, ok in installed.items() if ok and name.startswith("patches.")),
            **results}


def markdown(results: Dict[str, Any]) -> str:
    m = results["machine"]
    lines = ["## Inside the Rasa server: the seams of config.yml and each patch (`scripts/bench_rasa_seams.py`)", "",
             f"In one process, model `{results['model']}` loaded as the Rasa server loads it (every patch of "
             f"`rasa_server/patches` installed), each figure with and without, interleaved over {results['rounds']} "
             f"rounds; {m['cpus']} cores (load average after the run {m['load']}: the machine is shared), "
             f"Python {m['python']}, {m['date']}.", "",
             f"**FAQ gate** (`{results['selector']}`, `nlu_components/faq_gate.py`): the "
             f"{next(iter(results['nlu'].values()))['messages']} held-out sentences of `tests/nlu_test/` parsed "
             "(`Agent.parse_message`, the whole NLU pipeline).", "",
             "| ResponseSelector | ms per message (mean / p50) | of which the selector | selector ran on |",
             "| --- | ---: | ---: | ---: |"]
    for mode, f in results["nlu"].items():
        lines.append(f"| {mode} | {f['mean_ms']:.2f} / {f['p50_ms']:.2f} | {f['inner_ms']:.2f} | "
                     f"{f['selector_ran']} of {f['messages']} |")
    lines += ["", f"**Remembered rule matches** (`{results['rule_policy']}`, `rasa_server/policies.py`): every action "
              "of the training and e2e stories predicted from the conversation before it "
              f"({next(iter(results['predictions'].values()))['items'] // results['rounds']} predictions, every policy, "
              "as in a turn).", "",
              "| RulePolicy's rule matching | ms per prediction (mean / p50) | of which rule matching |",
              "| --- | ---: | ---: |"]
    for mode, f in results["predictions"].items():
        lines.append(f"| {mode} | {f['mean_ms']:.2f} / {f['p50_ms']:.2f} | {f['inner_ms']:.3f} |")
    patches = results.get("patches")
    if patches:
        lines += ["", "**Each patch of `rasa_server/patches/`** (the same process, every other shortcut on; "
                  "`patches.bypassed([name])` runs Rasa's own code for that one): what it saves where it works.", "",
                  "| patch | measured | all on | without it | saved |", "| --- | --- | ---: | ---: | ---: |"]

        def row(name: str, what: str, on: float, off: float, unit: str) -> None:
            share = f" ({100 * (off - on) / off:.0f} %)" if off else ""
            lines.append(f"| `{name}` | {what} | {on:.3f} {unit} | {off:.3f} {unit} | {off - on:.3f} {unit}{share} |")

        nlu, predictions = patches["nlu"], patches["predictions"]
        for name in NLU_PATCHES:
            row(name, "parse, per message (mean)", nlu["all patches"]["mean_ms"], nlu[f"without {name}"]["mean_ms"], "ms")
        for name in PREDICTION_PATCHES:
            row(name, "prediction, per action (mean)", predictions["all patches"]["mean_ms"],
                predictions[f"without {name}"]["mean_ms"], "ms")
        lookup = patches["event_lookup"]
        row("event_lookup", f"stored event read back, per event ({lookup['all patches']['events']} events)",
            lookup["all patches"]["us_per_event"], lookup["without event_lookup"]["us_per_event"], "µs")
        checks = patches["action_result_validation"]
        row("action_result_validation", f"action server answer checked ({checks['all patches']['results']} answers)",
            checks["all patches"]["ms_per_result"], checks["without action_result_validation"]["ms_per_result"], "ms")
        heap = patches["heap_freeze"]
        row("heap_freeze", f"full garbage collection ({heap['without heap_freeze']['objects']:,} objects)",
            heap["all patches"]["ms"], heap["without heap_freeze"]["ms"], "ms")
    if results.get("notes"):
        lines += ["", results["notes"]]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="", help="a trained model (default: the one matching the data and config)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(DOCS))
    parser.add_argument("--as-installed", action="store_true", help="no toggling: measure what is installed")
    parser.add_argument("--leave-out", default="", help="patches not to install (comma-separated)")
    parser.add_argument("--no-write", action="store_true", help="print the figures only")
    parser.add_argument("--notes", default="", help="a paragraph added under the tables")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the section of benchmarks.md from benchmarks-rasa-seams.json")
    args = parser.parse_args(argv)
    out = Path(args.out)
    raw = out / "benchmarks-rasa-seams.json"
    if args.report_only:
        results = json.loads(raw.read_text(encoding="utf-8"))
        results["notes"] = args.notes or results.get("notes", "")
        raw.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
        replace_marked(out / "benchmarks.md", markdown(results), START, END)
        return 0
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from scripts.train_if_needed import matching_model

    model = Path(args.model) if args.model else matching_model()
    if model is None:
        print("no trained model for the current data and config: python -m scripts.train_if_needed", file=sys.stderr)
        return 2
    results = run(model, args.rounds, args.as_installed, tuple(n for n in args.leave_out.split(",") if n))
    results["notes"] = args.notes
    print(json.dumps(results, ensure_ascii=False, indent=2))
    if not args.no_write:
        raw.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
        replace_marked(out / "benchmarks.md", markdown(results), START, END)
        print(f"wrote {out / 'benchmarks.md'} (Rasa section) and {raw.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
