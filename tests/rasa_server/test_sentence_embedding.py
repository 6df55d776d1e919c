"""The pre-trained sentence encoder: its weights read without torch, its numpy BERT, and the
featurizer that gives the linear vote a sentence vector."""
from __future__ import annotations

import io
import pickle
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.sentence_embedding import (
    DEFAULT_DIRECTORY,
    BertSentenceEncoder,
    SentenceEmbeddingFeaturizer,
    SentenceEncoderMissing,
)
from scripts.fetch_sentence_model import read_torch_checkpoint

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def encoder() -> BertSentenceEncoder:
    # scripts/setup.sh fetched it (make test runs the set-up first).
    return BertSentenceEncoder(ROOT / DEFAULT_DIRECTORY)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


# --- reading a torch checkpoint without torch ------------------------------------------------

def _fake_torch(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """Just enough of a ``torch`` module for pickle to write what ``torch.save`` writes."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:  # pickled by reference, as torch's storage types are
        pass

    FloatStorage.__module__ = "torch"
    FloatStorage.__qualname__ = "FloatStorage"

    def _rebuild_tensor_v2(*args):  # noqa: ANN002 - never called when writing
        raise AssertionError

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    torch.FloatStorage = FloatStorage  # type: ignore[attr-defined]
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    torch._utils = utils  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch


def _checkpoint(tensors: dict, monkeypatch: pytest.MonkeyPatch) -> bytes:
    import collections

    torch = _fake_torch(monkeypatch)
    storages = {}

    class Tensor:
        def __init__(self, key: str, shape: tuple) -> None:
            self.key, self.shape = key, shape

        def __reduce__(self):  # noqa: ANN204
            stride = tuple(int(np.prod(self.shape[i + 1:])) for i in range(len(self.shape)))
            return (sys.modules["torch._utils"]._rebuild_tensor_v2,
                    (("storage", self.key), 0, self.shape, stride, False, collections.OrderedDict()))

    class Writer(pickle.Pickler):
        def persistent_id(self, obj):  # noqa: ANN001, ANN201
            if isinstance(obj, tuple) and len(obj) == 2 and obj[0] == "storage":
                return ("storage", torch.FloatStorage, obj[1], "cpu", storages[obj[1]].size)
            return None

    state = collections.OrderedDict()
    for index, (name, array) in enumerate(tensors.items()):
        storages[str(index)] = np.ascontiguousarray(array, dtype=np.float32).ravel()
        state[name] = Tensor(str(index), array.shape)
    buffer = io.BytesIO()
    Writer(buffer, protocol=2).dump(state)
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as archive:
        archive.writestr("model/data.pkl", buffer.getvalue())
        for key, values in storages.items():
            archive.writestr(f"model/data/{key}", values.tobytes())
    return raw.getvalue()


def test_a_torch_checkpoint_is_read_into_numpy_arrays(monkeypatch):
    matrix = np.arange(6, dtype=np.float32).reshape(2, 3)
    bias = np.array([0.5, -1.5], dtype=np.float32)
    raw = _checkpoint({"layer.weight": matrix, "layer.bias": bias}, monkeypatch)
    monkeypatch.delitem(sys.modules, "torch")  # read back with no torch at all
    monkeypatch.delitem(sys.modules, "torch._utils")
    weights = read_torch_checkpoint(raw)
    assert list(weights) == ["layer.weight", "layer.bias"]
    np.testing.assert_array_equal(weights["layer.weight"], matrix)
    np.testing.assert_array_equal(weights["layer.bias"], bias)


def test_a_checkpoint_that_would_run_code_is_refused():
    class Exploit:
        def __reduce__(self):  # noqa: ANN204
            import os
            return (os.system, ("echo pwned",))

    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as archive:
        archive.writestr("model/data.pkl", pickle.dumps({"x": Exploit()}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        read_torch_checkpoint(raw.getvalue())


# --- the encoder -----------------------------------------------------------------------------

def test_sentences_that_mean_the_same_are_closer_than_other_requests(encoder):
    outage, dark, bill, praise = encoder.encode(["家里停电了", "我家突然没电了", "查一下这个月的电费", "表扬一下抢修师傅"])
    assert _cosine(outage, dark) > _cosine(outage, bill) + 0.05
    assert _cosine(outage, dark) > _cosine(outage, praise) + 0.05
    assert np.linalg.norm(outage) == pytest.approx(1.0, abs=1e-5)
    assert outage.shape == (512,)


def test_a_vector_does_not_depend_on_the_other_texts_of_its_batch(encoder):
    short = "停电了"
    alone = encoder.encode([short])[0]
    beside_long = encoder.encode([short, "我家从昨天晚上开始就一直没有电，邻居家也一样，请问是不是线路检修，什么时候能恢复"], batch_size=2)[0]
    np.testing.assert_allclose(alone, beside_long, atol=1e-5)  # padding is masked out


def test_a_missing_encoder_names_the_script_that_fetches_it(tmp_path):
    with pytest.raises(SentenceEncoderMissing, match="scripts.fetch_sentence_model"):
        BertSentenceEncoder(tmp_path)


# --- the featurizer --------------------------------------------------------------------------

def _featurizer(scale: float = 6.0) -> SentenceEmbeddingFeaturizer:
    config = {**SentenceEmbeddingFeaturizer.get_default_config(), "alias": "sentence_meaning", "scale": scale}
    return SentenceEmbeddingFeaturizer(config, "sentence_embedding")


def test_the_featurizer_adds_a_scaled_sentence_vector_and_no_sequence():
    message, empty = Message(data={"text": "家里停电了"}), Message(data={"intent": "greet"})
    _featurizer(6.0).process([message, empty])
    sequence, sentence = message.get_dense_features("text")
    assert sequence is None
    assert sentence is not None and sentence.features.shape == (1, 512)
    assert [feature.origin for feature in message.features] == ["sentence_meaning"]
    assert np.linalg.norm(sentence.features) == pytest.approx(6.0, rel=1e-4)
    assert empty.get_dense_features("text") == (None, None)


def test_training_examples_get_the_same_vector_as_messages_at_run_time():
    featurizer = _featurizer()
    example = Message(data={"text": "电费怎么这么高", "intent": "query_bill"})
    featurizer.process_training_data(TrainingData([example]))
    live = Message(data={"text": "电费怎么这么高"})
    featurizer.process([live])
    np.testing.assert_allclose(example.get_dense_features("text")[1].features,
                               live.get_dense_features("text")[1].features, atol=1e-5)


def test_a_scale_that_is_not_positive_is_refused():
    with pytest.raises(ValueError, match="scale"):
        SentenceEmbeddingFeaturizer.validate_config({"scale": 0})


def test_the_intent_classifiers_read_the_sentence_vector_and_the_answer_selector_does_not():
    pipeline = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))["pipeline"]
    by_name = {step["name"]: step for step in pipeline}
    aliases = [step.get("alias") for step in pipeline if "Featurizer" in step["name"]]
    assert "sentence_meaning" in aliases
    n_grams = [alias for alias in aliases if alias != "sentence_meaning"]
    assert sorted(by_name["DIETClassifier"]["featurizers"]) == sorted(aliases)
    assert sorted(by_name["nlu_components.faq_gate.FaqGatedResponseSelector"]["featurizers"]) == sorted(n_grams)
    # Rasa's logistic regression (the vote's base) reads every sentence feature there is.
    assert "featurizers" not in by_name["nlu_components.linear_vote.LinearIntentVote"]
