"""The map through training: training saves the test set's posterior codes after every epoch, and
these become one aligned map per epoch, so a user watches the latent space organize (issue #15).

    train(..., on_epoch=film_recorder(run_folder))            # saves each epoch's codes (the CLI does)
    epochs = read_film(run_folder, model.latent)              # {epoch: (N, code_dim) float32}
    film_stamps(run_folder)                                   # ((epoch, mtime), ...), without reading
    frames = film_frames(epochs, count=2000)                  # {epoch: (count, 2)}, aligned

Gaussian codes are kept as float16 (10,000 x 32: 0.6 MB an epoch); a categorical latent's as each
variable's most likely category (uint8: 0.3 MB for 30 variables), read back as one-hot codes. Runs
trained before this existed have no film and load as before.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from vae.analysis.projection import align_to, project_pca
from vae.data import Split
from vae.files import atomic_write_bytes
from vae.run_files import FILM, film_path
from vae.training.evaluate import encode_all

_NAME = re.compile(r"epoch-(\d{4,})\.safetensors")


def save_epoch_codes(model, test_split: Split, run_folder: str | Path, epoch: int) -> None:
    """The test set's posterior codes after `epoch`, written atomically."""
    codes = encode_all(model, test_split.images, labels=test_split.labels)[0]  # (N, code_dim) on the CPU
    atomic_write_bytes(film_path(run_folder, epoch), save_tensors(model.latent.pack_codes(codes)))


def film_recorder(run_folder: str | Path):
    """An on_epoch hook for vae.training.train.train that saves the test set's codes after every epoch. Its
    first call also drops the codes of later epochs that a killed run left (a resumed run trains
    them again)."""
    started = []

    def on_epoch(record: dict, model, test_split: Split) -> None:
        if not started:
            drop_epochs_after(run_folder, record["epoch"] - 1)
            started.append(True)
        save_epoch_codes(model, test_split, run_folder, record["epoch"])
    return on_epoch


def drop_epochs_after(run_folder: str | Path, epoch: int) -> None:
    """Forget the codes of epochs a resumed run will train again (and a killed write's leftovers)."""
    for tmp in (Path(run_folder) / FILM).glob(".epoch-*.tmp"):
        tmp.unlink(missing_ok=True)
    for path in (Path(run_folder) / FILM).glob("epoch-*.safetensors"):
        match = _NAME.fullmatch(path.name)
        if match and int(match.group(1)) > epoch:
            path.unlink(missing_ok=True)


def film_stamps(run_folder: str | Path) -> tuple[tuple[int, int], ...]:
    """The saved epochs and their files' modification times, from the folder listing alone (a
    cache key that changes when an epoch is added or written again): ((epoch, mtime_ns), ...)."""
    stamps = []
    for path in (Path(run_folder) / FILM).glob("epoch-*.safetensors"):
        match = _NAME.fullmatch(path.name)
        if match:
            try:
                stamps.append((int(match.group(1)), path.stat().st_mtime_ns))
            except OSError:  # removed meanwhile
                pass
    return tuple(sorted(stamps))


def read_film(run_folder: str | Path, latent) -> dict[int, np.ndarray]:
    """Every saved epoch's codes, (N, code_dim) float32 each, by epoch, as `latent` (vae.models.latents)
    packed them; damaged files are skipped."""
    out = {}
    for path in sorted((Path(run_folder) / FILM).glob("epoch-*.safetensors")):
        match = _NAME.fullmatch(path.name)
        if not match:
            continue
        try:
            tensors = load_tensors(path.read_bytes())
        except (OSError, SafetensorError, ValueError, RuntimeError):
            continue
        codes = latent.unpack_codes(tensors)
        if codes is not None:
            out[int(match.group(1))] = codes
    return out


def film_frames(epochs: dict[int, np.ndarray], count: int = 2000, seed: int = 0) -> tuple[np.ndarray, dict]:
    """The same `count` test digits (a seeded choice) on one map per epoch: each epoch's codes on
    their own two principal axes (vae.analysis.projection.project_pca), each frame aligned to the next one
    (from the last epoch backwards), so that between frames only the latent space moves, not the
    view. (count,) indices and {epoch: (count, 2)}."""
    n = len(next(iter(epochs.values())))
    pick = np.sort(np.random.default_rng(seed).choice(n, size=min(count, n), replace=False))
    frames, following = {}, None
    for epoch in sorted(epochs, reverse=True):
        xy = project_pca(epochs[epoch][pick])
        frames[epoch] = xy if following is None else align_to(xy, following)
        following = frames[epoch]
    return pick, dict(sorted(frames.items()))
