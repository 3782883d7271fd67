"""What every page shares: the checkpoint picker's state, cached models, data and maps.

Streamlit lives here and in the pages only; all the work is done by the `vae` package.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from vae.checkpoint import (WEIGHTS, Checkpoint, CheckpointError, check_weights_file, load_checkpoint, read_config,
                            read_history, weights_hash)
from vae.data import CLASS_NAMES, has_split, load_split
from vae.images import png_bytes
from vae.jobs import TrainingJobs
from vae.model import resolve_device
from vae.projection import LatentMap, build_map

CHECKPOINTS_DIR = Path(os.environ.get("VAE_CHECKPOINTS_DIR", "checkpoints"))
DEFAULT_CHECKPOINT = "default"


@dataclass
class CheckpointEntry:
    name: str
    path: Path
    error: str = ""  # why it cannot be loaded; empty when fine
    summary: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def list_checkpoints() -> list[CheckpointEntry]:
    """Every folder under checkpoints/, the bundled one first; broken ones say why."""
    entries = []
    folders = sorted((p for p in CHECKPOINTS_DIR.iterdir() if p.is_dir() and not p.name.startswith(".")),
                     key=lambda p: (p.name != DEFAULT_CHECKPOINT, p.name)) if CHECKPOINTS_DIR.is_dir() else []
    for folder in folders:
        entry = CheckpointEntry(folder.name, folder)
        if not (folder / WEIGHTS).exists() and (folder / "train_config.json").exists():
            entry.error = "no checkpoint yet: training has not finished its first epoch (or was stopped before it)"
            entries.append(entry)
            continue
        try:
            cfg = read_config(folder)
            check_weights_file(folder)
            history = read_history(folder)
            elbo = f", -ELBO {history[-1]['test_elbo']:.1f}" if history else ""
            entry.summary = f"{cfg.arch}, z={cfg.latent_dim}{elbo}"
        except CheckpointError as e:
            entry.error = str(e).replace(str(folder) + "/", "")
        entries.append(entry)
    return entries


def checkpoint_by_name(name: str) -> Path:
    """The folder of a listed checkpoint; names that leave checkpoints/ are refused."""
    root = CHECKPOINTS_DIR.resolve()
    path = (root / name).resolve()
    if path.parent != root or not path.is_dir():
        raise CheckpointError(f"{name!r} is not a checkpoint in {CHECKPOINTS_DIR}/")
    return path


@st.cache_resource(max_entries=4, show_spinner="Loading model")
def _load(path: str, stamp: tuple) -> tuple[Checkpoint, str]:
    state = load_checkpoint(path, resolve_device("auto"))
    return state, weights_hash(path)


def current_model() -> tuple[Checkpoint, str]:
    """The selected checkpoint (model on the GPU when there is one) and its weights' hash.
    Cached per weights file, so a new epoch's checkpoint is picked up on the next rerun."""
    path = checkpoint_by_name(st.session_state.get("checkpoint", DEFAULT_CHECKPOINT))
    stat = (path / WEIGHTS).stat()
    return _load(str(path), (stat.st_mtime_ns, stat.st_size))


@st.cache_resource
def training_jobs() -> TrainingJobs:
    return TrainingJobs(CHECKPOINTS_DIR)


@st.cache_resource(show_spinner="Reading the dataset")
def dataset(name: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    s = load_split(name, split, download=False)
    return s.images, s.labels


def full_data_available(name: str) -> bool:
    return has_split(name, "train")


def map_images(dataset_name: str, scope: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The images behind a map: the test set, or all 70k (train then test)."""
    test = dataset(dataset_name, "test")
    if scope == "test":
        return test
    train = dataset(dataset_name, "train")
    return torch.cat([train[0], test[0]]), torch.cat([train[1], test[1]])


@st.cache_resource(max_entries=6, show_spinner=False)
def _latent_map(_model, path: str, hash_: str, dataset_name: str, scope: str) -> LatentMap:
    images, labels = map_images(dataset_name, scope)
    bar = st.progress(0.0, text="Building the latent map")
    result = build_map(_model, hash_, images, labels, path, f"{dataset_name}-{scope}",
                       progress=lambda text, frac: bar.progress(frac, text=text))
    bar.empty()
    return result


def latent_map(scope: str = "test") -> LatentMap:
    """Encodings and UMAP coordinates of the selected model's dataset (cached on disk)."""
    state, hash_ = current_model()
    return _latent_map(state.model, str(state.path), hash_, state.config.dataset, scope)


def class_names() -> list[str]:
    state, _ = current_model()
    return CLASS_NAMES[state.config.dataset]


def show_digit(image: np.ndarray, caption: str | None = None, scale: int = 6) -> None:
    """A 28x28 float image, scaled up with crisp square pixels."""
    st.image(png_bytes(image, scale), caption=caption)


def page_header(title: str, help_text: str) -> None:
    st.title(title)
    st.caption(help_text)


@st.cache_data(max_entries=6, show_spinner="Encoding the test set")
def test_encodings(_model, hash_: str, dataset_name: str) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and log-variances of the test set: (N, z) each, numpy."""
    from vae.evaluate import encode_all

    mu, logvar = encode_all(_model, dataset(dataset_name, "test")[0])
    return mu.numpy(), logvar.numpy()


def kl_and_activity() -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension test KL and whether each dimension is active (Var_x mu_d > 0.01)."""
    from vae.evaluate import ACTIVE_UNIT_THRESHOLD

    state, hash_ = current_model()
    mu, logvar = test_encodings(state.model, hash_, state.config.dataset)
    kl = 0.5 * (mu ** 2 + np.exp(logvar) - 1 - logvar).mean(0)
    return kl, mu.var(0) > ACTIVE_UNIT_THRESHOLD
