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

Reading a folder without torch (its config, history, the weights' header; the model built when first
used): vae/training/checkpoint_files.py; the weights read with torch: vae/training/weights.py.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save as safetensors_bytes

from vae import __version__
from vae.files import atomic_write_bytes, atomic_write_json, write_jsonl
from vae.models.model import VAE
from vae.run_files import CONFIG, HISTORY, OPTIMIZER, WEIGHTS, CheckpointError
from vae.training.adam import Adam
from vae.training.checkpoint_files import (  # noqa: F401  (re-exported: this module's API before the split)
    Checkpoint,
    open_checkpoint,
    read_config,
    read_history,
    weights_hash,
)
from vae.training.weights import read_safetensors


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


def load_checkpoint(folder: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild the model from config.json and model.safetensors, on `device`, in eval mode (now:
    open_checkpoint builds it when first used)."""
    checkpoint = open_checkpoint(folder, device)
    checkpoint.model  # noqa: B018  (built now: a file that does not fit raises here)
    return checkpoint


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
    tensors, meta = read_safetensors(path, "cpu")
    if step is not None and meta.get("step") != str(step):
        return False
    try:
        optimizer.load_state_tensors(tensors)
    except ValueError as e:
        raise CheckpointError(f"{path} does not fit the model's parameters: {e}") from e
    return True
