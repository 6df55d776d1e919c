"""Rasa component: a pre-trained Chinese sentence vector for every message (m3e-small).

The other featurizers see which words and characters a message has; customers who never read our
training data say the same things with other words ("家里黑了" for 停电, "表那里咔哒一声" for a trip).
m3e-small was trained on 22 million Chinese sentence pairs to put sentences that mean the same
close together, so its vector carries what our n-grams cannot. It is a dense *sentence* feature
(no sequence features: the tokens of jieba and of BERT's characters do not line up, and the
classifiers that use it read sentence features only).

The encoder is a 4-layer BERT run in numpy (about 25 MFLOP a character; a message of 7–61 characters takes
11–26 ms on an idle machine, the whole training data about two minutes), from the weights that
``scripts/fetch_sentence_model.py`` fetched, hash-checked, into ``var/sentence_model/m3e-small``.
The vector is the mean of the last layer over the tokens (as m3e was trained), L2-normalised and
multiplied by ``scale``: the logistic regression's one regularisation strength then weighs the 512
dense values against the thousands of sparse counts.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Dict, List, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.exceptions import RasaException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.special import erf
from tokenizers import Tokenizer

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIRECTORY = "var/sentence_model/m3e-small"


class SentenceEncoderMissing(RasaException):
    """The encoder's files are not where the configuration says."""


def _layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * gain + bias


class BertSentenceEncoder:
    """A BERT encoder (Hugging Face layout of weights) with mean pooling, in numpy."""

    def __init__(self, directory: Path, max_tokens: int = 64) -> None:
        missing = [name for name in ("config.json", "tokenizer.json", "weights.npz") if not (directory / name).exists()]
        if missing:
            raise SentenceEncoderMissing(
                f"The sentence encoder is missing {missing} in {directory}: run "
                f"`python -m scripts.fetch_sentence_model` (scripts/setup.sh does).")
        self.config = json.loads((directory / "config.json").read_text())
        with np.load(directory / "weights.npz") as archive:
            self.weights = {name: archive[name].astype(np.float32) for name in archive.files}
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_tokens)
        self.dimension = int(self.config["hidden_size"])

    def encode(self, texts: List[Text], batch_size: int = 64) -> np.ndarray:
        """One L2-normalised vector per text. Texts are batched by length (less padding)."""
        vectors = np.zeros((len(texts), self.dimension), np.float32)
        encodings = self.tokenizer.encode_batch([text or " " for text in texts])
        order = sorted(range(len(texts)), key=lambda index: len(encodings[index].ids))
        for start in range(0, len(order), batch_size):
            chosen = order[start:start + batch_size]
            length = max(len(encodings[index].ids) for index in chosen)
            ids = np.zeros((len(chosen), length), np.int64)
            mask = np.zeros((len(chosen), length), np.float32)
            for row, index in enumerate(chosen):
                token_ids = encodings[index].ids
                ids[row, :len(token_ids)] = token_ids
                mask[row, :len(token_ids)] = 1.0
            vectors[chosen] = self._forward(ids, mask)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-9)

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w, config = self.weights, self.config
        eps = float(config.get("layer_norm_eps", 1e-12))
        heads = int(config["num_attention_heads"])
        batch, length = ids.shape
        width = self.dimension // heads

        def dense(x: np.ndarray, name: Text) -> np.ndarray:
            flat = x.reshape(-1, x.shape[-1]) @ w[name + ".weight"].T + w[name + ".bias"]
            return flat.reshape(x.shape[:-1] + (-1,))

        def split_heads(x: np.ndarray) -> np.ndarray:
            return x.reshape(batch, length, heads, width).transpose(0, 2, 1, 3)

        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length][None]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        padding = ((1.0 - mask) * -1e9)[:, None, None, :]
        for layer in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{layer}."
            query = split_heads(dense(x, p + "attention.self.query"))
            key = split_heads(dense(x, p + "attention.self.key"))
            value = split_heads(dense(x, p + "attention.self.value"))
            scores = query @ key.transpose(0, 1, 3, 2) / np.sqrt(width) + padding
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            attended = (scores @ value).transpose(0, 2, 1, 3).reshape(batch, length, self.dimension)
            x = _layer_norm(dense(attended, p + "attention.output.dense") + x,
                            w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps)
            hidden = dense(x, p + "intermediate.dense")
            hidden = 0.5 * hidden * (1.0 + erf(hidden / np.float32(np.sqrt(2.0))))  # exact GELU, as trained
            x = _layer_norm(dense(hidden, p + "output.dense") + x,
                            w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
        return (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds m3e-small's sentence vector of the text as a dense sentence feature."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            # Relative to the project's root unless absolute.
            "model_directory": DEFAULT_DIRECTORY,
            # Length of the vector (it is L2-normalised first); see the module's docstring.
            "scale": 3.0,
            "max_tokens": 64,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["tokenizers", "scipy"]

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)
        directory = Path(self._config["model_directory"])
        self.encoder = BertSentenceEncoder(directory if directory.is_absolute() else ROOT / directory,
                                           int(self._config["max_tokens"]))

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> SentenceEmbeddingFeaturizer:
        return cls(config, execution_context.node_name)

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        if float(config.get("scale", 1.0)) <= 0:
            raise ValueError("SentenceEmbeddingFeaturizer: scale must be positive")

    def _featurize(self, messages: List[Message]) -> None:
        with_text = [message for message in messages if message.get(TEXT)]
        if not with_text:
            return
        vectors = self.encoder.encode([str(message.get(TEXT)) for message in with_text]) * float(self._config["scale"])
        for message, vector in zip(with_text, vectors):
            self.add_features_to_message(sequence=None, sentence=vector[None, :], attribute=TEXT, message=message)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize(messages)
        return messages
