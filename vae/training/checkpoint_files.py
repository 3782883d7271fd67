"""A checkpoint folder read without torch: its config, history, the weights' header, whether the
weights are finite numbers, whether they fit the config, and the model itself only when asked for.

    checkpoint = open_checkpoint("checkpoints/default")   # config, epoch, history: no torch yet
    checkpoint.config.arch, checkpoint.epoch
    checkpoint.model                                        # now torch is imported and the model built

The app lists checkpoints and draws its first page from these files and the caches beside them,
before torch (1.3 s of import on 2 cores) is needed (BENCHMARKS.md, cold start). Whether a config
builds exactly the weights' tensors takes torch to answer (vae.training.weights.check_fit builds
the model on the meta device); the answer is kept in the folder's fit.json, keyed by the config and
the tensors' shapes, so a folder is checked with torch once. The folder's files and how they are
written: vae/training/checkpoint.py.
"""
from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vae import __version__
from vae.config import ModelConfig
from vae.files import atomic_write_json, read_json, read_jsonl
from vae.models.latent_kinds import kind_of
from vae.run_files import CONFIG, FIT, HISTORY, NOT_FINITE, WEIGHTS, CheckpointError, read_safetensors_file

# A float's bits are not a finite number when all its exponent bits are set (inf or NaN).
EXPONENT_BITS = {"F16": (np.uint16, 0x7C00), "BF16": (np.uint16, 0x7F80), "F32": (np.uint32, 0x7F80_0000),
                 "F64": (np.uint64, 0x7FF0_0000_0000_0000)}


@dataclass
class Checkpoint:
    """A checkpoint folder: what its files say, and its model, built when `model` is first read.
    `given_class`: for a conditional model, the class its `model` is given (VAE.given), else None."""
    config: ModelConfig
    path: Path
    epoch: int = 0
    step: int = 0
    history: list[dict] = field(default_factory=list)
    load: Callable[[], object] | None = field(default=None, repr=False, compare=False)
    given_class: int | None = None
    _model: object = field(default=None, init=False, repr=False, compare=False)
    _building: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    @property
    def model(self):
        """The VAE (vae.models.model), in eval mode; built on first use (torch is imported then), once:
        a second thread asking meanwhile waits for that build (another checkpoint's does not)."""
        with self._building:
            if self._model is None:
                self._model = self.load()
            return self._model

    @property
    def built(self) -> bool:
        """Whether `model` has been built."""
        return self._model is not None

    @property
    def latent(self):
        """The latent's kind, sizes and words (vae.models.latent_kinds), without building the model."""
        return kind_of(self.config)


def read_history(folder: str | Path) -> list[dict]:
    return read_jsonl(Path(folder) / HISTORY)


def read_config(folder: str | Path) -> ModelConfig:
    path = Path(folder) / CONFIG
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: a checkpoint needs config.json beside its weights")
    try:
        raw = json.loads(path.read_text())
        if not isinstance(raw, dict):
            raise ValueError("expected a JSON object")
        return ModelConfig.from_dict(raw)
    except (ValueError, TypeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path} is not a valid model config: {e}") from e


def weights_header(path: Path) -> tuple[dict[str, tuple[int, ...]], dict[str, str]]:
    """Each tensor's shape and the file's metadata, from the safetensors header alone (no tensor is read)."""
    return read_safetensors_file(path, lambda f: ({k: tuple(f.get_slice(k).get_shape()) for k in f.keys()},
                                                  dict(f.metadata() or {})))


@functools.lru_cache(maxsize=256)
def _finite_file(path: str, inode: int, mtime_ns: int, size: int) -> bool:
    """Whether every float in a safetensors file (header already checked) is a finite number."""
    raw = Path(path).read_bytes()
    length = int.from_bytes(raw[:8], "little")
    data = memoryview(raw)[8 + length:]
    for name, entry in json.loads(raw[8:8 + length]).items():
        if name == "__metadata__" or (entry["dtype"] not in EXPONENT_BITS and not entry["dtype"].startswith("F")):
            continue  # integers and booleans
        if entry["dtype"] not in EXPONENT_BITS:  # a float8: torch knows its bits
            from vae.training.weights import tensors_finite

            return tensors_finite(path)
        bits, exponent = EXPONENT_BITS[entry["dtype"]]
        start, end = entry["data_offsets"]
        values = np.frombuffer(data[start:end], dtype=np.dtype(bits).newbyteorder("<"))
        if np.any((values & exponent) == exponent):
            return False
    return True


def fit_key(config: ModelConfig, shapes: dict[str, tuple[int, ...]]) -> str:
    """What a fit check depends on: the config, the classes a conditional one reads (an image folder's
    can change), the tensors' names and shapes, and the version of the code that builds the model
    from a config (vae.__version__: a new one checks every folder again, once)."""
    text = json.dumps([config.to_dict(), config.classes, sorted((k, list(v)) for k, v in shapes.items()),
                       __version__], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def check_weights_file(folder: str | Path, config: ModelConfig | None = None) -> None:
    """CheckpointError unless model.safetensors is safetensors whose header fits the file, holds
    finite numbers only and, when `config` is given, exactly the tensors that config builds. For
    listing folders before anyone picks one: the header is read each time, the tensors once per
    version of the file, and whether they fit the config once per config and shapes (fit.json)."""
    folder = Path(folder)
    path = folder / WEIGHTS
    shapes, _ = weights_header(path)
    if config is not None and (read_json(folder / FIT) or {}).get("fit_key") != fit_key(config, shapes):
        from vae.training.weights import check_fit  # torch: the model is built on the meta device

        check_fit(shapes, config, path)
        try:  # a cache: a folder that cannot be written to is checked again next time
            atomic_write_json(folder / FIT, {"fit_key": fit_key(config, shapes)})
        except OSError:
            pass
    stat = path.stat()
    # Keyed by the inode too: an atomic write makes a new file, maybe within the clock's last tick.
    if not _finite_file(str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size):
        raise CheckpointError(NOT_FINITE.format(path=path))


def checkpoint_history(folder: str | Path, epoch: int, meta: dict) -> list[dict]:
    """history.jsonl as of the weights' epoch. The weights are saved before the history line is
    appended, so a killed run (or a reader between the two writes) may find the file one line
    short: that line is in the weights' metadata. Lines past the weights' epoch are dropped."""
    history = [h for h in read_history(folder) if h.get("epoch", 0) <= epoch]
    try:
        record = json.loads(meta["record"])
    except (KeyError, ValueError):
        return history
    if isinstance(record, dict) and record.get("epoch") == epoch \
            and not any(h.get("epoch") == epoch for h in history):
        history.append(record)
    return history


def open_checkpoint(folder: str | Path, device: str = "cpu") -> Checkpoint:
    """A checkpoint folder's config, epoch, step and history, from config.json and the weights' header;
    its model is built on `device` ("auto": CUDA when present) the first time `model` is read, and
    CheckpointError then if the weights do not fit the config (vae.training.weights.load_model)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is not a checkpoint folder")
    config = read_config(folder)
    _, meta = weights_header(folder / WEIGHTS)

    def load():
        from vae.training.weights import load_model

        try:
            return load_model(folder, config, device)
        except CheckpointError:
            raise
        except (RuntimeError, OSError, ValueError) as e:  # out of memory on the device, say: one line, no traceback
            raise CheckpointError(f"{folder}: the model cannot be built ({e})") from e

    epoch = int(meta.get("epoch", 0))
    return Checkpoint(config, folder, epoch, int(meta.get("step", 0)), checkpoint_history(folder, epoch, meta), load)


def weights_hash(folder: str | Path) -> str:
    """sha256 of the weights file: a cache key that changes whenever the model does."""
    h = hashlib.sha256()
    with open(Path(folder) / WEIGHTS, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
