"""Every file a run folder (a checkpoint) may hold, named in one place.

    run/model.safetensors      the weights, float32 or float16; metadata: epoch, step, last history line
    run/config.json            ModelConfig: what the model is
    run/optimizer.safetensors  Adam's state, for --resume
    run/history.jsonl          one line per epoch (vae.training.train.epoch_record)
    run/steps.jsonl            one line every log_every steps
    run/train_config.json      what the run was asked to do, written once its data is loaded
    run/train.log              a background job's output (vae/services/jobs.py)
    run/fit.json               that config.json builds exactly the weights' tensors, as checked once
                               (vae/training/checkpoint_files.py): a listing then needs no torch
    run/film/epoch-NNNN.safetensors                 the test codes after each epoch (vae/services/film.py)
    run/map-<scope>[-<projection>]-<hash16>.npz     a latent map's codes and 2D positions (vae/analysis/projection.py)
    run/figures-<scope>-<hash16>.npz                per-image figures (vae/analysis/diagnostics.py)

The caches are named by the first 16 hex digits of the weights' hash, so new weights never read
an old cache; writing one removes those of earlier weights (vae.files.write_npz_cache). A file that
is missing or broken raises CheckpointError (read_safetensors_file: one place for how it says so).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from safetensors import SafetensorError, safe_open

T = TypeVar("T")

WEIGHTS, CONFIG, HISTORY, OPTIMIZER, STEPS = (
    "model.safetensors", "config.json", "history.jsonl", "optimizer.safetensors", "steps.jsonl")
TRAIN_CONFIG = "train_config.json"
TRAIN_LOG = "train.log"
FIT = "fit.json"
FILM = "film"
NOT_FINITE = "{path} holds weights that are not finite numbers (NaN or inf): the run diverged"


class CheckpointError(Exception):
    """A checkpoint file is missing, unreadable, or does not fit the others."""


def read_safetensors_file(path: Path, read: Callable[[object], T], framework: str = "numpy", device: str = "cpu") -> T:
    """`read(f)` of a run's safetensors file opened with safe_open; CheckpointError, in one line, when the
    file is missing or is not safetensors (truncated, say)."""
    if not path.is_file():
        raise CheckpointError(f"{path} is missing")
    try:
        with safe_open(str(path), framework=framework, device=str(device)) as f:
            return read(f)
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path} is corrupt or truncated ({e})") from e


def film_path(run_folder: str | Path, epoch: int) -> Path:
    return Path(run_folder) / FILM / f"epoch-{epoch:04d}.safetensors"


def map_cache_path(cache_dir: str | Path, weights_hash: str, scope: str, projection: str = "umap") -> Path:
    """A latent map's cache; UMAP maps keep the name they always had (the bundled ones ship as such)."""
    suffix = "" if projection == "umap" else f"-{projection}"
    return Path(cache_dir) / f"map-{_file_safe(scope)}{suffix}-{weights_hash[:16]}.npz"


def figures_cache_path(cache_dir: str | Path, weights_hash: str, scope: str) -> Path:
    return Path(cache_dir) / f"figures-{_file_safe(scope)}-{weights_hash[:16]}.npz"


def _file_safe(scope: str) -> str:
    """A scope as part of a file name on any system: an image folder's dataset, "folder:toys-64-rgb",
    without its colon."""
    return scope.replace(":", "-")
