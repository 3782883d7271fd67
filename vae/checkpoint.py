"""Checkpoints: a folder holding

  model.safetensors   the weights (never pickle), with the epoch and step in its metadata
  config.json         the ModelConfig: everything needed to rebuild the model
  history.jsonl       one JSON line per finished epoch (see vae.train)
  optimizer.safetensors  Adam's state, for --resume (absent from the bundled model)

    from vae.checkpoint import load_checkpoint
    model = load_checkpoint("checkpoints/default", device="cpu").model

Every file is written atomically (a temporary file, then a rename), so a killed process
leaves either the old file or the new one, never half of one. The files are not written
together, though, so model.safetensors is the commit point of an epoch: it carries its epoch,
step and history line, and the others are checked against it (see `load_checkpoint`,
`load_optimizer_state` and vae.train).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes

from . import __version__
from .config import ModelConfig
from .model import VAE

WEIGHTS, CONFIG, HISTORY, OPTIMIZER, STEPS = (
    "model.safetensors", "config.json", "history.jsonl", "optimizer.safetensors", "steps.jsonl")


_UMASK = os.umask(0)
os.umask(_UMASK)


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


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | Path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode())


def append_jsonl(path: str | Path, record: dict) -> None:
    """Append one line; a partial last line left by a killed writer is closed off first."""
    path = Path(path)
    prefix = ""
    if path.exists() and path.stat().st_size:
        with open(path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            prefix = "" if f.read(1) == b"\n" else "\n"
    with open(path, "a") as f:
        f.write(prefix + json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def write_jsonl(path: str | Path, records: list[dict]) -> None:
    atomic_write_bytes(path, "".join(json.dumps(r) + "\n" for r in records).encode())


def read_jsonl(path: str | Path) -> list[dict]:
    """Every complete JSON object line of the file; partial or garbled lines are skipped."""
    try:
        text = Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return []
    records = []
    for line in text.splitlines():
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            records.append(obj)
    return records


def read_history(folder: str | Path) -> list[dict]:
    return read_jsonl(Path(folder) / HISTORY)


def remove_temp_files(folder: str | Path, names=(WEIGHTS, CONFIG, HISTORY, OPTIMIZER, STEPS)) -> None:
    """Delete what killed atomic writes of these files left behind (`.<name>.*.tmp`); only the
    process that owns the folder may call this, or it could delete another writer's file."""
    for name in names:
        for tmp in Path(folder).glob(f".{name}.*.tmp"):
            tmp.unlink(missing_ok=True)


def save_checkpoint(model: VAE, folder: str | Path, epoch: int, step: int,
                    optimizer: torch.optim.Optimizer | None = None, dtype: torch.dtype | None = None,
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
        atomic_write_bytes(folder / OPTIMIZER, safetensors_bytes(_adam_tensors(optimizer), metadata=meta))


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


def check_weights_file(folder: str | Path) -> None:
    """CheckpointError unless model.safetensors is safetensors whose header fits the file: a
    cheap check (the header only) for listing folders before anyone picks one."""
    path = Path(folder) / WEIGHTS
    if not path.is_file():
        raise CheckpointError(f"{path} is missing")
    try:
        with safe_open(str(path), framework="pt"):
            pass
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path} is corrupt or truncated ({e})") from e


def load_checkpoint(folder: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild the model from config.json and model.safetensors, on `device`, in eval mode."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is not a checkpoint folder")
    config = read_config(folder)
    tensors, meta = _read_safetensors(folder / WEIGHTS, "cpu")
    model = VAE(config)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        raise CheckpointError(
            f"{folder / WEIGHTS} does not fit {folder / CONFIG} "
            f"(arch={config.arch}, latent_dim={config.latent_dim}): {' '.join(first[:3])}") from e
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
    state = load_checkpoint(source)
    dest = Path(dest)
    if (dest / WEIGHTS).exists():
        raise FileExistsError(f"{dest} already holds a checkpoint")
    save_checkpoint(state.model, dest, state.epoch, state.step, dtype=torch.float16)
    write_jsonl(dest / HISTORY, state.history)


def load_optimizer_state(folder: str | Path, optimizer: torch.optim.Optimizer,
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
    state = optimizer.state_dict()
    params = [p for g in state["param_groups"] for p in g["params"]]
    new_state = {}
    for p in params:
        keys = {k.split(".", 1)[1]: v for k, v in tensors.items() if k.split(".", 1)[0] == str(p)}
        if keys:
            new_state[p] = keys
    if len(new_state) != len(params):
        raise CheckpointError(f"{path} does not fit the model's parameters")
    optimizer.load_state_dict({"state": new_state, "param_groups": state["param_groups"]})
    return True


def _adam_tensors(optimizer: torch.optim.Optimizer) -> dict:
    """Adam's per-parameter state as flat "<param index>.<name>" tensors."""
    state = optimizer.state_dict()["state"]
    return {f"{i}.{name}": t.detach().cpu().contiguous()
            for i, s in state.items() for name, t in s.items() if torch.is_tensor(t)}


def weights_hash(folder: str | Path) -> str:
    """sha256 of the weights file: a cache key that changes whenever the model does."""
    h = hashlib.sha256()
    with open(Path(folder) / WEIGHTS, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
