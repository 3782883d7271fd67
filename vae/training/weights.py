"""model.safetensors read with torch: its tensors, whether they are exactly what a config builds, and
the model built from them (vae/training/checkpoint_files.py asks for these when it needs torch).
"""
from __future__ import annotations

from pathlib import Path

import torch

from vae.config import ModelConfig
from vae.models.model import VAE, resolve_device
from vae.run_files import CONFIG, NOT_FINITE, WEIGHTS, CheckpointError, read_safetensors_file


def read_safetensors(path: Path, device: str | torch.device) -> tuple[dict, dict]:
    """A safetensors file's tensors (on `device`) and metadata."""
    return read_safetensors_file(path, lambda f: ({k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})),
                                 framework="pt", device=str(device))


def check_fit(shapes: dict[str, tuple[int, ...]], config: ModelConfig, weights: Path) -> None:
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


def tensors_finite(path: str | Path) -> bool:
    """Whether every float tensor of a safetensors file is finite (for float kinds numpy does not know)."""
    return _all_finite(read_safetensors(Path(path), "cpu")[0])


def _all_finite(tensors: dict[str, torch.Tensor]) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in tensors.values() if t.is_floating_point())


def load_model(folder: str | Path, config: ModelConfig, device: str | torch.device = "cpu") -> VAE:
    """The model of a checkpoint folder whose config is `config`, on `device` ("auto": CUDA when
    present), in eval mode; CheckpointError when the weights do not fit it or are not finite."""
    path = Path(folder) / WEIGHTS
    tensors, _ = read_safetensors(path, "cpu")
    check_fit({k: tuple(v.shape) for k, v in tensors.items()}, config, path)
    if not _all_finite(tensors):
        raise CheckpointError(NOT_FINITE.format(path=path))
    model = VAE(config)
    model.load_state_dict(tensors, strict=True)
    return model.to(resolve_device(device) if device == "auto" else device).eval()
