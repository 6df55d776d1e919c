"""`make eval`: NLU quality on the held-out split, written to docs/nlu_evaluation.md.

1. Trains an NLU-only model (`rasa train nlu`) into var/nlu_eval/ unless one exists for the
   current config.yml, data/nlu/ and nlu_components/ (a fingerprint names the model).
2. Runs `rasa test nlu` on tests/nlu_test/ (never trained on) for Rasa's own reports
   (results/nlu_eval/: intent report, confusion matrix, per-extractor and response-selection
   reports). The test file is first passed through the same numeral normaliser as the
   pipeline so that annotation offsets line up with the pipeline's tokens.
3. Parses every test sentence, as the customer typed it, with the trained model and scores
   what the dialogue actually receives: the intent, and the final entity list (after all
   extractors, synonym mapping and de-duplication), entity by entity on (type, value).
4. Writes docs/nlu_evaluation.md and exits 1 if intent macro-F1 or entity F1 is below 0.95.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

from scripts.train_if_needed import training_env

ROOT = Path(__file__).resolve().parent.parent
TEST_DIR = ROOT / "tests" / "nlu_test"
MODEL_DIR = ROOT / "var" / "nlu_eval"
RESULTS_DIR = ROOT / "results" / "nlu_eval"
REPORT = ROOT / "docs" / "nlu_evaluation.md"
RASA = str(ROOT / ".venv" / "bin" / "rasa")
TARGET = 0.95
FINGERPRINT_INPUTS = ("config.yml", "data/nlu", "nlu_components")


def fingerprint() -> str:
    digest = hashlib.sha256()
    for name in FINGERPRINT_INPUTS:
        path = ROOT / name
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            if "__pycache__" in file.parts:
                continue
            digest.update(file.relative_to(ROOT).as_posix().encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:16]


def ensure_model(force: bool) -> Path:
    name = f"nlu-{fingerprint()}"
    model = MODEL_DIR / f"{name}.tar.gz"
    if model.exists() and not force:
        print(f"[eval] model for the current NLU data exists: {model.relative_to(ROOT)}")
        return model
    MODEL_DIR.mkdir(parents=True, exist_ok=True)
    print("[eval] training an NLU-only model (rasa train nlu)...", flush=True)
    started = time.monotonic()
    subprocess.run(
        [RASA, "train", "nlu", "--config", "config.yml", "--nlu", "data/nlu",
         "--out", str(MODEL_DIR), "--fixed-model-name", name],
        cwd=ROOT, check=True, timeout=3600, env=training_env(),
    )
    print(f"[eval] trained in {time.monotonic() - started:.0f} s")
    for old in MODEL_DIR.glob("nlu-*.tar.gz"):
        if old != model:
            old.unlink()
    return model


def load_test_data():
    from rasa.shared.nlu.training_data.loading import load_data

    return load_data(str(TEST_DIR))


def write_normalised_copy(path: Path) -> None:
    """The test split as the pipeline sees it (numerals rewritten, offsets moved)."""
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter

    from nlu_components.normaliser import normalise_message

    data = load_test_data()
    for message in data.training_examples:
        normalise_message(message)
    path.parent.mkdir(parents=True, exist_ok=True)
    RasaYAMLWriter().dump(str(path), data)


def run_rasa_test(model: Path) -> None:
    normalised = RESULTS_DIR / "test_data_normalised.yml"
    write_normalised_copy(normalised)
    print("[eval] rasa test nlu on the held-out split...", flush=True)
    subprocess.run(
        [RASA, "test", "nlu", "--model", str(model), "--nlu", str(normalised),
         "--out", str(RESULTS_DIR)],
        cwd=ROOT, check=True, timeout=1800,
    )


def target_entities(message) -> List[Tuple[str, str]]:
    from nlu_components.normaliser import normalise_message

    message = message.__class__(data=dict(message.data))
    normalise_message(message)  # annotated values as the pipeline's text spells them
    return [(e["entity"], str(e["value"])) for e in message.get("entities") or []]


async def parse_all(model: Path, messages) -> List[dict]:
    import logging

    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # no per-message debug lines
    logging.getLogger("rasa").setLevel(logging.WARNING)

    agent = Agent.load(str(model))
    return [await agent.parse_message(m.get("text")) for m in messages]


def prf(tp: int, fp: int, fn: int) -> Tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def score(messages, parses) -> dict:
    from sklearn.metrics import f1_score

    true_intents, pred_intents = [], []
    faq_total = faq_right = 0
    counts: Dict[str, List[int]] = collections.defaultdict(lambda: [0, 0, 0])  # tp fp fn
    confusions: collections.Counter = collections.Counter()
    entity_errors: List[str] = []
    intent_errors: List[str] = []
    for message, parse in zip(messages, parses):
        truth = message.get("intent")
        predicted = (parse.get("intent") or {}).get("name") or "None"
        true_intents.append(truth)
        pred_intents.append(predicted)
        if truth != predicted:
            confusions[(truth, predicted)] += 1
            intent_errors.append(f"`{message.get('text')}`: `{truth}` → `{predicted}` "
                                 f"({(parse.get('intent') or {}).get('confidence', 0):.2f})")
        if truth == "faq":
            faq_total += 1
            selected = (parse.get("response_selector", {}).get("faq", {})
                        .get("response", {}).get("intent_response_key"))
            faq_right += selected == message.get("intent_response_key")
        expected = collections.Counter(target_entities(message))
        found = collections.Counter((e["entity"], str(e["value"])) for e in parse.get("entities", []))
        for (entity, value), n in (expected | found).items():
            tp = min(expected[(entity, value)], found[(entity, value)])
            counts[entity][0] += tp
            counts[entity][1] += found[(entity, value)] - tp
            counts[entity][2] += expected[(entity, value)] - tp
        if expected != found:
            entity_errors.append(
                f"`{message.get('text')}`: expected {sorted(expected.elements())}, "
                f"got {sorted(found.elements())}"
            )
    labels = sorted(set(true_intents))
    per_intent = f1_score(true_intents, pred_intents, labels=labels, average=None, zero_division=0)
    total = [sum(c[i] for c in counts.values()) for i in range(3)]
    return {
        "examples": len(messages),
        "intent_macro_f1": float(sum(per_intent) / len(per_intent)),
        "intent_accuracy": sum(t == p for t, p in zip(true_intents, pred_intents)) / len(messages),
        "per_intent": dict(zip(labels, map(float, per_intent))),
        "support": collections.Counter(true_intents),
        "entity": prf(*total),
        "per_entity": {name: (prf(*c), c[0] + c[2]) for name, c in sorted(counts.items())},
        "faq": (faq_right, faq_total),
        "confusions": confusions.most_common(),
        "entity_errors": entity_errors,
        "intent_errors": intent_errors,
    }


def write_report(result: dict, model: Path, seconds: float) -> str:
    ok_intent = result["intent_macro_f1"] >= TARGET
    ok_entity = result["entity"][2] >= TARGET
    faq_right, faq_total = result["faq"]
    lines = [
        "# NLU evaluation (held-out split)",
        "",
        "Generated by `make eval` (`scripts/evaluate_nlu.py`); do not edit by hand.",
        f"Test data: `tests/nlu_test/` ({result['examples']} sentences, none of them in `data/`). "
        f"Model: NLU-only, `{model.name}`. Run time {seconds:.0f} s.",
        "",
        "| metric | value | target |",
        "| --- | --- | --- |",
        f"| intent macro-F1 | **{result['intent_macro_f1']:.3f}** | ≥ {TARGET} {'✅' if ok_intent else '❌'} |",
        f"| intent accuracy | {result['intent_accuracy']:.3f} | |",
        f"| entity F1 (micro, all types) | **{result['entity'][2]:.3f}** "
        f"(P {result['entity'][0]:.3f}, R {result['entity'][1]:.3f}) | ≥ {TARGET} {'✅' if ok_entity else '❌'} |",
        f"| FAQ answer selection accuracy | {faq_right}/{faq_total} = "
        f"{(faq_right / faq_total if faq_total else 0):.3f} | |",
        "",
        "Entities are scored as the dialogue receives them: the final entity list after the",
        "regex extractor, the gazetteer, DIET, synonym mapping and de-duplication; a hit needs",
        "the same type and the same value (canonical value for synonyms, e.g. `ev_charger`).",
        "Predictions below the FallbackClassifier threshold count as wrong (`nlu_fallback`).",
        "",
        "## Entities",
        "",
        "| entity | precision | recall | F1 | support |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, ((p, r, f), support) in result["per_entity"].items():
        lines.append(f"| `{name}` | {p:.3f} | {r:.3f} | {f:.3f} | {support} |")
    lines += ["", "## Intents", "", "| intent | F1 | support |", "| --- | --- | --- |"]
    for name, f in sorted(result["per_intent"].items()):
        lines.append(f"| `{name}` | {f:.3f} | {result['support'][name]} |")
    lines += ["", "## Confusions (true → predicted)", ""]
    if result["confusions"]:
        lines += [f"- `{t}` → `{p}`: {n}" for (t, p), n in result["confusions"]]
    else:
        lines.append("None.")
    lines += ["", "## Misclassified sentences (confidence)", ""]
    lines += [f"- {e}" for e in result["intent_errors"]] or ["None."]
    lines += ["", "## Entity differences", ""]
    lines += [f"- {e}" for e in result["entity_errors"]] or ["None."]
    lines += [
        "",
        "Rasa's own reports for the same split (`rasa test nlu`: intent report, confusion matrix,",
        "per-extractor entity reports, response selection) are in `results/nlu_eval/`.",
        "",
    ]
    text = "\n".join(lines)
    REPORT.write_text(text, encoding="utf-8")
    return text


def main(argv: Optional[Iterable[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retrain", action="store_true", help="train even if a model exists")
    parser.add_argument("--model", type=Path, help="score this model instead (no training)")
    parser.add_argument("--skip-rasa-test", action="store_true",
                        help="only the end-to-end scoring (faster while iterating on data)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    started = time.monotonic()
    model = args.model.resolve() if args.model else ensure_model(args.retrain)
    if not args.skip_rasa_test:
        run_rasa_test(model)
    messages = [m for m in load_test_data().training_examples if m.get("text")]
    parses = asyncio.run(parse_all(model, messages))
    result = score(messages, parses)
    write_report(result, model, time.monotonic() - started)
    print(f"[eval] intent macro-F1 {result['intent_macro_f1']:.3f}, "
          f"entity F1 {result['entity'][2]:.3f} -> {REPORT.relative_to(ROOT)}")
    met = result["intent_macro_f1"] >= TARGET and result["entity"][2] >= TARGET
    if not met:
        print(f"[eval] targets NOT met (both must be >= {TARGET})", file=sys.stderr)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
