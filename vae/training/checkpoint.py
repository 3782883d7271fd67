"""Checkpoints: a folder holding

  model.safetensors   the weights (never pickle), with the epoch and step in its metadata
  config.json         the ModelConfig: everything needed to rebuild the model
  history.jsonl       one JSON line per finished epoch (see vae.training.train)
  optimizer.safetensors  Adam's state, for --resume (absent from the bundled model)

    from vae.training.checkpoint import load_checkpoint
    model = load_checkpoint("checkpoints/default", device="cpu").model

Every file is written atomically (vae/files.py: a temporary file, then a rename), so a killed process
leaves either the old file or the new one, never half of one. The files are not written
together, though, so model.safetensors is the commit point of an epoch: it carries its epoch,
step and history line, and the others are checked against it (see `load_checkpoint`,
`load_optimizer_state` and vae.training.train).
"""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes

from vae import __version__
from vae.config import ModelConfig
from vae.files import atomic_write_bytes, atomic_write_json, read_jsonl, write_jsonl
from vae.models.model import VAE
from vae.run_files import CONFIG, HISTORY, OPTIMIZER, WEIGHTS
from vae.training.adam import Adam


class CheckpointError(Exception):
    """A checkpoint file is missing, unreadable, or does not fit the others."""


@dataclass
class Checkpoint:
    model: VAE
    config: ModelConfig
    path: Path
    epoch: int = 0
    step: int = 0
    history: list[dict] = field(default_factory=list)


def read_history(folder: str | Path) -> list[dict]:
    return read_jsonl(Path(folder) / HISTORY)


def save_checkpoint(model: VAE, folder: str | Path, epoch: int, step: int,
                    optimizer: Adam | None = None, dtype: torch.dtype | None = None,
                    record: dict | None = None) -> None:
    """Write weights (with epoch and step) and config.json; Adam's state too when given.
    `record` is the history line of `epoch`, kept in the weights' metadata: a process killed
    before it appended the line to history.jsonl loses nothing (see `checkpoint_history`).
    `dtype=torch.float16` halves the file; loading casts back to the model's float32."""
    folder = Path(folder)
    model.config.version = __version__
    meta = {"epoch": str(epoch), "step": str(step), "format": "vae-latent-explorer/1"}
    if record is not None:
        meta["record"] = json.dumps(record)
    weights = {k: v.detach().cpu().to(dtype or v.dtype).contiguous() for k, v in model.state_dict().items()}
    # Order matters for a kill between the renames: config first (it never changes within a
    # run), then the weights, which commit the epoch; the optimizer's step is checked on resume.
    atomic_write_json(folder / CONFIG, model.config.to_dict())
    atomic_write_bytes(folder / WEIGHTS, safetensors_bytes(weights, metadata=meta))
    if optimizer is not None:
        atomic_write_bytes(folder / OPTIMIZER, safetensors_bytes(optimizer.state_tensors(), metadata=meta))


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


def _read_safetensors(path: Path, device: str | torch.device) -> tuple[dict, dict]:
    if not path.is_file():
        raise CheckpointError(f"{path} is missing")
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path} is corrupt or truncated ({e})") from e


def _weights_header(path: Path) -> dict[str, tuple[int, ...]]:
    """Each tensor's shape, from the safetensors header alone (no tensor is read)."""
    if not path.is_file():
        raise CheckpointError(f"{path} is missing")
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path} is corrupt or truncated ({e})") from e


def _check_fit(shapes: dict[str, tuple[int, ...]], config: ModelConfig, weights: Path) -> None:
    """CheckpointError, in one short line, unless the weights are exactly what `config` builds."""
    with torch.device("meta"):  # shapes only: nothing is allocated
        expected = {k: tuple(v.shape) for k, v in VAE(config).state_dict().items()}
    missing = [k for k in expected if k not in shapes]
    extra = [k for k in shapes if k not in expected]
    reshaped = [k for k in expected if k in shapes and shapes[k] != expected[k]]
    parts = [f"{len(names)} tensor{'s' if len(names) > 1 else ''} {what}"
             for names, what in ((missing, "missing"), (extra, "unexpected"), (reshaped, "of another shape"))
             if names]
    if parts:
        raise CheckpointError(f"{weights} does not fit {CONFIG} (arch {config.arch}, z={config.latent_dim}): "
                              + ", ".join(parts))


def check_weights_file(folder: str | Path, config: ModelConfig | None = None) -> None:
    """CheckpointError unless model.safetensors is safetensors whose header fits the file, holds
    finite numbers only and, when `config` is given, exactly the tensors that config builds. For
    listing folders before anyone picks one: the header is read each time, the tensors once per
    version of the file."""
    path = Path(folder) / WEIGHTS
    shapes = _weights_header(path)
    if config is not None:
        _check_fit(shapes, config, path)
    stat = path.stat()
    if not _finite_file(str(path), stat.st_mtime_ns, stat.st_size):
        raise CheckpointError(NOT_FINITE.format(path=path))


NOT_FINITE = "{path} holds weights that are not finite numbers (NaN or inf): the run diverged"


@functools.lru_cache(maxsize=256)
def _finite_file(path: str, mtime_ns: int, size: int) -> bool:
    return _all_finite(_read_safetensors(Path(path), "cpu")[0])


def _all_finite(tensors: dict[str, torch.Tensor]) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in tensors.values() if t.is_floating_point())


def load_checkpoint(folder: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild the model from config.json and model.safetensors, on `device`, in eval mode."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is not a checkpoint folder")
    config = read_config(folder)
    tensors, meta = _read_safetensors(folder / WEIGHTS, "cpu")
    _check_fit({k: tuple(v.shape) for k, v in tensors.items()}, config, folder / WEIGHTS)
    if not _all_finite(tensors):
        raise CheckpointError(NOT_FINITE.format(path=folder / WEIGHTS))
    model = VAE(config)
    model.load_state_dict(tensors, strict=True)
    model.to(device).eval()
    epoch = int(meta.get("epoch", 0))
    return Checkpoint(model, config, folder, epoch, int(meta.get("step", 0)),
                      checkpoint_history(folder, epoch, meta))


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


def pack_checkpoint(source: str | Path, dest: str | Path) -> None:
    """A copy for sharing: float16 weights, config and history; no optimizer state."""
    checkpoint = load_checkpoint(source)
    dest = Path(dest)
    if (dest / WEIGHTS).exists():
        raise FileExistsError(f"{dest} already holds a checkpoint")
    save_checkpoint(checkpoint.model, dest, checkpoint.epoch, checkpoint.step, dtype=torch.float16)
    write_jsonl(dest / HISTORY, checkpoint.history)


def load_optimizer_state(folder: str | Path, optimizer: Adam,
                         step: int | None = None) -> bool:
    """Restore Adam's state saved beside the weights; False when there is none to restore, or
    when it was saved at another step than `step` (the weights' step): a process killed between
    writing the weights and the optimizer leaves the previous epoch's state, which does not
    belong to these weights."""
    path = Path(folder) / OPTIMIZER
    if not path.is_file():
        return False
    tensors, meta = _read_safetensors(path, "cpu")
    if step is not None and meta.get("step") != str(step):
        return False
    try:
        optimizer.load_state_tensors(tensors)
    except ValueError as e:
        raise CheckpointError(f"{path} does not fit the model's parameters: {e}") from e
    return True


def weights_hash(folder: str | Path) -> str:
    """sha256 of the weights file: a cache key that changes whenever the model does."""
    h = hashlib.sha256()
    with open(Path(folder) / WEIGHTS, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
