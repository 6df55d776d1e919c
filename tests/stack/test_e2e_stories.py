"""The e2e test stories (tests/e2e/*.yml) through the trained model: NLU and dialogue together.

`rasa test core --e2e` predicts every intent, entity and action of each story with the model that
matches the current data and config (trained here if `make test`'s set-up has not already);
any wrong prediction lands in failed_test_stories.yml and fails this test.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from scripts.train_if_needed import matching_model

ROOT = Path(__file__).resolve().parent.parent.parent
E2E = ROOT / "tests" / "e2e"


def _model() -> Path:
    model = matching_model()
    if model is None:
        subprocess.run([sys.executable, "-m", "scripts.train_if_needed"], cwd=ROOT, check=True, timeout=1800)
        model = matching_model()
    assert model is not None, "no model for the current data and config"
    return model


def test_there_are_at_least_forty_e2e_stories():
    stories = [story for path in E2E.glob("*.yml")
               for story in yaml.safe_load(path.read_text(encoding="utf-8"))["stories"]]
    assert len(stories) >= 40
    assert all(any("user" in step for step in story["steps"]) for story in stories)


def test_every_e2e_story_passes(tmp_path):
    model = _model()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "RASA_TELEMETRY_ENABLED": "false"}
    result = subprocess.run(
        [sys.executable, "-m", "rasa", "test", "core", "--stories", str(E2E), "--model", str(model),
         "--out", str(tmp_path), "--e2e", "--no-plot"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    failed = (tmp_path / "failed_test_stories.yml").read_text(encoding="utf-8")
    assert "- story:" not in failed, failed[:6000]
    report = yaml.safe_load((tmp_path / "story_report.json").read_text(encoding="utf-8"))
    assert report["conversation_accuracy"]["accuracy"] == 1.0
    assert report["conversation_accuracy"]["total"] >= 40
