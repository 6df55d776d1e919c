"""`make run`'s helpers: model fingerprint, endpoints for the chosen port, crash reporting, stop by group."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from scripts import train_if_needed
from scripts.run_all import Ports, Stack, StackError, write_endpoints


def make_project(root: Path) -> None:
    (root / "data" / "nlu").mkdir(parents=True)
    (root / "nlu_components").mkdir()
    (root / "rasa_server").mkdir()
    (root / "rasa_server" / "policies.py").write_text("X = 1\n", encoding="utf-8")
    (root / "rasa_server" / "channel.py").write_text("X = 1\n", encoding="utf-8")
    (root / "config.yml").write_text("language: zh\n", encoding="utf-8")
    (root / "domain.yml").write_text("intents: [greet]\n", encoding="utf-8")
    (root / "data" / "nlu" / "greet.yml").write_text("nlu: []\n", encoding="utf-8")
    (root / "nlu_components" / "norm.py").write_text("X = 1\n", encoding="utf-8")
    (root / "credentials.yml").write_text("rest:\n", encoding="utf-8")


def test_fingerprint_follows_data_config_and_components_but_not_credentials(tmp_path):
    make_project(tmp_path)
    first = train_if_needed.fingerprint(tmp_path)
    (tmp_path / "credentials.yml").write_text("rest:\nsocketio:\n", encoding="utf-8")
    (tmp_path / "rasa_server" / "channel.py").write_text("X = 2\n", encoding="utf-8")  # not named by a model
    (tmp_path / "endpoints.yml").write_text("action_endpoint: {url: x}\n", encoding="utf-8")
    assert train_if_needed.fingerprint(tmp_path) == first
    for path, text in [("data/nlu/greet.yml", "nlu: [x]\n"), ("config.yml", "language: en\n"),
                       ("nlu_components/norm.py", "X = 2\n"), ("data/rules.yml", "rules: []\n"),
                       ("rasa_server/policies.py", "X = 2\n")]:
        (tmp_path / path).write_text(text, encoding="utf-8")
        changed = train_if_needed.fingerprint(tmp_path)
        assert changed != first, path
        first = changed


def test_matching_model_needs_the_same_fingerprint_and_the_model_file(tmp_path):
    make_project(tmp_path)
    models = tmp_path / "models"
    models.mkdir()
    wanted = train_if_needed.fingerprint(tmp_path)
    (models / "model-old.fingerprint").write_text("0" * 64 + "\n")
    (models / "model-old.tar.gz").write_bytes(b"old")
    assert train_if_needed.matching_model(models, tmp_path) is None
    (models / "model-new.fingerprint").write_text(wanted + "\n")
    assert train_if_needed.matching_model(models, tmp_path) is None  # stamp without a model
    (models / "model-new.tar.gz").write_bytes(b"new")
    assert train_if_needed.matching_model(models, tmp_path) == models / "model-new.tar.gz"


def test_endpoints_point_at_the_chosen_action_port_and_keep_the_rest(tmp_path):
    source = tmp_path / "endpoints.yml"
    source.write_text("action_endpoint:\n  url: http://127.0.0.1:5055/webhook\n  timeout: 30\n"
                      "lock_store:\n  type: in_memory\n", encoding="utf-8")
    written = yaml.safe_load(write_endpoints(tmp_path / "out" / "e.yml", 6123, source).read_text(encoding="utf-8"))
    assert written["action_endpoint"] == {"url": "http://127.0.0.1:6123/webhook", "timeout": 30}
    assert written["lock_store"] == {"type": "in_memory"}


def test_a_crashed_process_is_reported_with_its_output_and_the_rest_stop(tmp_path):
    stack = Stack(ports=Ports(1, 2, 3), model=tmp_path / "m.tar.gz", env={}, log_dir=tmp_path, say=lambda t: None)
    env = dict(os.environ)
    stack.spawn("rasa", [sys.executable, "-c", "print('model file is broken'); raise SystemExit(3)"], env)
    stack.spawn("gateway", [sys.executable, "-c", "import time; time.sleep(60)"], env)
    deadline = time.monotonic() + 10
    while stack.crashed() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(StackError, match=r"rasa exited with code 3(.|\n)*model file is broken"):
        stack._raise_if_crashed()
    sleeper = stack.processes[1].popen
    stack.stop(timeout=5)
    assert sleeper.poll() is not None  # stopped through its process group


def test_rasa_servers_get_one_tensorflow_thread_unless_the_operator_says_otherwise(tmp_path, monkeypatch):
    from scripts.run_prod import Ports, ProdStack

    def rasa_env():
        stack = ProdStack(tmp_path, ports=Ports.free(), tracker_url="postgresql://bot:pw@127.0.0.1:5432/rasa",
                          redis_url="redis://127.0.0.1:6379/0")
        return stack.rasa_env()

    monkeypatch.delenv("TF_INTRA_OP_PARALLELISM_THREADS", raising=False)
    monkeypatch.delenv("TF_INTER_OP_PARALLELISM_THREADS", raising=False)
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    env = rasa_env()
    assert (env["TF_INTRA_OP_PARALLELISM_THREADS"], env["TF_INTER_OP_PARALLELISM_THREADS"]) == ("1", "1")
    assert env["OPENBLAS_NUM_THREADS"] == "1"  # the sentence encoder's numpy, likewise
    assert env["REDIS_LOCK_DB"] == "1" and env["TRACKER_DB_NAME"] == "rasa"
    monkeypatch.setenv("TF_INTRA_OP_PARALLELISM_THREADS", "4")
    assert rasa_env()["TF_INTRA_OP_PARALLELISM_THREADS"] == "4"


def test_training_runs_with_a_fixed_hash_seed(tmp_path, monkeypatch):
    # Without it two trainings of the same data gave different models (Python salts str hashes).
    make_project(tmp_path)
    monkeypatch.setenv("PYTHONHASHSEED", "random")
    monkeypatch.setattr(train_if_needed, "ROOT", tmp_path)
    monkeypatch.setattr(train_if_needed, "MODELS", tmp_path / "models")
    seen = {}

    def fake_run(command, cwd, env):
        seen.update(command=command, cwd=cwd, env=env)
        return subprocess.CompletedProcess(command, 3)

    monkeypatch.setattr(train_if_needed.subprocess, "run", fake_run)
    assert train_if_needed.main(["--force"]) == 3  # the failed training's exit code
    assert seen["env"]["PYTHONHASHSEED"] == "0"
    assert seen["command"][1:4] == ["-m", "rasa", "train"] and seen["cwd"] == tmp_path
    assert str(train_if_needed.ROOT) in seen["env"]["PYTHONPATH"].split(os.pathsep)
    assert list((tmp_path / "models").glob("*.fingerprint")) == []  # no stamp for a failed training


def test_the_training_cache_follows_the_code_of_our_components(tmp_path, monkeypatch):
    # A component restored from a cache filled under older code gave a model a clean clone did not.
    make_project(tmp_path)
    monkeypatch.setattr(train_if_needed, "ROOT", tmp_path)
    first = train_if_needed.cache_directory()
    assert first.parent == tmp_path / ".rasa" and train_if_needed.training_env()["RASA_CACHE_DIRECTORY"] == str(first)
    (tmp_path / "data" / "nlu" / "greet.yml").write_text("nlu: [x]\n", encoding="utf-8")
    (tmp_path / "config.yml").write_text("language: en\n", encoding="utf-8")
    assert train_if_needed.cache_directory() == first  # Rasa's own keys cover data and config
    (tmp_path / "nlu_components" / "norm.py").write_text("X = 2\n", encoding="utf-8")
    second = train_if_needed.cache_directory()
    assert second != first
    (first / "x").mkdir(parents=True)
    (tmp_path / ".rasa" / "cache").mkdir()
    second.mkdir()
    train_if_needed._prune_caches(second)
    assert [d.name for d in (tmp_path / ".rasa").iterdir()] == [second.name]
