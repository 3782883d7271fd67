"""What every page shares: the selected checkpoint, and Streamlit's caches of models, data and maps.

Streamlit lives here and in the pages only; all the work is done by the `vae` package. torch is
imported where a model is first used, not here: the checkpoint (config, history) and a map read
from its cache need none, and the first page is drawn before torch is imported (BENCHMARKS.md, cold
start).
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from ui import state
from vae.analysis.projection import LatentMap, build_map, cached_map
from vae.data import has_split, read_split
from vae.datasets import FOLDER_PREFIX, RECORD_FILE, dataset_info, folder_dataset_dir
from vae.run_files import WEIGHTS
from vae.services.jobs import TrainingJobs
from vae.services.runs import DEFAULT_RUN, run_folder
from vae.training.checkpoint_files import Checkpoint, open_checkpoint, weights_hash

if TYPE_CHECKING:
    import torch

    from vae.models.model import VAE

CHECKPOINTS_DIR = Path(os.environ.get("VAE_CHECKPOINTS_DIR", "checkpoints"))
def selected_folder() -> Path:
    """The folder of the checkpoint picked in the sidebar (CheckpointError when it is gone)."""
    return run_folder(CHECKPOINTS_DIR, st.session_state.get(state.CHECKPOINT, DEFAULT_RUN))


@st.cache_resource(max_entries=4, show_spinner=False)
def _load(path: str, stamp: tuple) -> tuple[Checkpoint, str]:
    checkpoint = open_checkpoint(path, "auto")
    return dataclasses.replace(checkpoint, load=_with_spinner(checkpoint.load)), weights_hash(path)


def _with_spinner(load):
    """`load`, saying so on the page that waits for it (torch's import and the model: about 1.5 s)."""
    def shown():
        if get_script_run_ctx(suppress_warning=True) is None:  # the background build (warm_up): no page waits
            return load()
        with st.spinner("Loading the model"):
            return load()
    return shown


def current_model() -> tuple[Checkpoint, str]:
    """The selected checkpoint (its model, built when first used, on the GPU when there is one) and its
    weights' hash. Cached per weights file, so a new epoch's checkpoint is picked up on the next rerun.

    A conditional model comes as the plain VAE it is for the class picked in the sidebar
    (state.GIVEN_CLASS; VAE.given), that class in its hash: every page that encodes or decodes one
    thing at a time works on it as on any model. What the dataset's images get (the map's codes,
    per-image figures, encodings) the conditional model computes with each image's own class
    (whole_model)."""
    checkpoint, hash_ = model_in(selected_folder())
    if not checkpoint.config.conditional:
        return checkpoint, hash_
    label = min(state.GIVEN_CLASS.current(), checkpoint.config.classes - 1)  # the widget's, when just changed
    # A hash of its own (file names and keys take a hash's first characters): the weights it decodes with.
    given_hash = hashlib.sha256(f"{hash_} given class {label}".encode()).hexdigest()[:len(hash_)]
    return dataclasses.replace(checkpoint, load=lambda: _given(checkpoint.model, hash_, label),
                               given_class=label), given_hash


_WARM_UP: dict = {}  # the background build's thread, once per server (a module's state lasts the server)
_WARM_UP_LOCK = threading.Lock()


def warm_up(checkpoint: Checkpoint, hash_: str) -> threading.Event | None:
    """Build the selected model in a background thread, once per server, after the first page's run:
    that page needs no torch, and torch's 1.3 s of import then come before the user's first click
    rather than after it. Set the event returned when the run has drawn its page (the thread waits for
    it: a page that ends with st.stop() can call nothing of Streamlit's after); None once started."""
    with _WARM_UP_LOCK:
        if _WARM_UP:
            return None
        drawn = threading.Event()
        _WARM_UP["thread"] = threading.Thread(target=_build, args=(whole_checkpoint(checkpoint, hash_)[0], drawn),
                                              name="warm-up", daemon=True)
        _WARM_UP["thread"].start()
    return drawn


def _build(checkpoint: Checkpoint, drawn: threading.Event) -> None:
    drawn.wait()
    try:
        checkpoint.model  # noqa: B018  (built, and kept by the checkpoint)
        import vae.training.evaluate  # noqa: F401  (what a picked point's inspector imports next)
    except Exception:  # the page that uses the model says what is wrong; the log has the rest
        logging.getLogger(__name__).exception("building %s in the background failed", checkpoint.path)


@st.cache_resource(max_entries=16, show_spinner=False)
def _given(_model, hash_: str, label: int):
    return _model.given(label).eval()


def as_class(checkpoint: Checkpoint, hash_: str, label: int) -> VAE:
    """current_model()'s model, a conditional one given class `label` instead (an image's own, say)."""
    whole, whole_hash = whole_model(checkpoint, hash_)
    return _given(whole, whole_hash, int(label)) if whole.classes else checkpoint.model


def whole_model(checkpoint: Checkpoint, hash_: str) -> tuple[VAE, str]:
    """The model that encodes and scores a dataset, and its weights' hash: the checkpoint's, or for a
    conditional model given a class by current_model() the conditional model itself."""
    whole, whole_hash = whole_checkpoint(checkpoint, hash_)
    return whole.model, whole_hash


def whole_checkpoint(checkpoint: Checkpoint, hash_: str) -> tuple[Checkpoint, str]:
    """whole_model's checkpoint, its model not built yet."""
    return (checkpoint, hash_) if checkpoint.given_class is None else model_in(checkpoint.path)


def model_in(path: Path) -> tuple[Checkpoint, str]:
    """The checkpoint in a run folder and its weights' hash, cached as current_model()'s."""
    stat = (path / WEIGHTS).stat()
    return _load(str(path), (stat.st_mtime_ns, stat.st_size))


@st.cache_resource
def training_jobs() -> TrainingJobs:
    return TrainingJobs(CHECKPOINTS_DIR)


def dataset(name: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A split's uint8 images and int64 labels as tensors (dataset_arrays' memory)."""
    import torch

    images, labels = dataset_arrays(name, split)
    return torch.from_numpy(images), torch.from_numpy(labels)


def dataset_arrays(name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """A split's uint8 images and int64 labels, numpy, read once per server; an image folder's again
    after it was read into the data root again (its record's time)."""
    return _dataset(name, split, _read_at(name))


def _read_at(name: str) -> int:
    """When an image folder's dataset was last read into the data root (0 for the others)."""
    record = folder_dataset_dir(name) / RECORD_FILE if name.startswith(FOLDER_PREFIX) else None
    return record.stat().st_mtime_ns if record and record.exists() else 0


@st.cache_resource(show_spinner="Reading the dataset")
def _dataset(name: str, split: str, stamp: int) -> tuple[np.ndarray, np.ndarray]:
    return read_split(name, split, download=False)


@st.cache_resource(show_spinner=False)
def digit_classifier(dataset_name: str):
    """The bundled classifier of the dataset (vae/models/classifier.py), or None when there is none."""
    from vae.models.classifier import bundled_path, load_classifier

    return load_classifier(dataset_name) if bundled_path(dataset_name).exists() else None


def full_data_available(name: str) -> bool:
    return has_split(name, "train")


def map_images(dataset_name: str, scope: str) -> tuple[np.ndarray, np.ndarray]:
    """The images behind a map, numpy uint8, and their labels: the test set, or all 70k (train then test)."""
    test = dataset_arrays(dataset_name, "test")
    return test if scope == "test" else _all_images(dataset_name, _read_at(dataset_name))


@st.cache_resource(max_entries=2, show_spinner=False)
def _all_images(dataset_name: str, read_at: int) -> tuple[np.ndarray, np.ndarray]:
    train, test = dataset_arrays(dataset_name, "train"), dataset_arrays(dataset_name, "test")
    return np.concatenate([train[0], test[0]]), np.concatenate([train[1], test[1]])


@st.cache_resource(max_entries=6, show_spinner=False)
def _latent_map(_checkpoint: Checkpoint, path: str, hash_: str, dataset_name: str, scope: str,
                projection: str) -> LatentMap:
    images, labels = map_images(dataset_name, scope)
    cached = cached_map(path, hash_, f"{dataset_name}-{scope}", projection, len(labels))
    if cached is not None:  # no model needed
        return cached
    import torch

    bar = st.progress(0.0, text="Building the latent map")
    result = build_map(_checkpoint.model, hash_, torch.from_numpy(images), torch.from_numpy(labels), path,
                       f"{dataset_name}-{scope}", projection, progress=lambda text, frac: bar.progress(frac, text=text))
    bar.empty()
    return result


def latent_map(scope: str = "test", model: tuple[Checkpoint, str] | None = None) -> LatentMap:
    """Encodings and 2D coordinates of the selected model's dataset (cached on disk), in the
    projection the user chose (state.PROJECTION; t-SNE for the test set only: 70,000 points would
    take many minutes on a CPU). `model`: another (checkpoint, hash) than the selected one."""
    checkpoint, hash_ = model or current_model()
    whole, hash_ = whole_checkpoint(checkpoint, hash_)
    projection = state.PROJECTION.get()
    if projection == "tsne" and scope != "test":
        projection = "umap"
    return _latent_map(whole, str(checkpoint.path), hash_, checkpoint.config.dataset, scope, projection)


@st.cache_resource(max_entries=6, show_spinner=False)
def _image_figures(_model, path: str, hash_: str, dataset_name: str, scope: str, iwae_k: int) -> dict:
    import torch

    from vae.analysis.diagnostics import image_figures

    images, labels = (torch.from_numpy(a) for a in map_images(dataset_name, scope))
    text = f"{Path(path).name} scores {len(images):,} images" + (
        f" with {iwae_k} samples each" if iwae_k else ", once per checkpoint")
    bar = st.progress(0.0, text=text)
    figures = image_figures(_model, hash_, images, path, f"{dataset_name}-{scope}", iwae_k, labels=labels,
                            progress=lambda frac: bar.progress(frac, text=f"{text}: {frac:.0%}"))
    bar.empty()
    return figures


def image_figures(scope: str = "test", iwae_k: int = 0, model: tuple[Checkpoint, str] | None = None
                  ) -> dict[str, np.ndarray]:
    """What the selected model (or `model`) thinks of each image of a map's scope
    (vae.analysis.diagnostics.image_figures), cached on disk beside the map."""
    checkpoint, hash_ = model or current_model()
    model_, hash_ = whole_model(checkpoint, hash_)
    return _image_figures(model_, str(checkpoint.path), hash_, checkpoint.config.dataset, scope, iwae_k)


def image_figures_cached(scope: str, iwae_k: int) -> bool:
    """Whether image_figures(scope, iwae_k) is on disk already (no wait)."""
    from vae.files import read_npz
    from vae.run_files import figures_cache_path

    checkpoint, hash_ = current_model()
    whole_hash = whole_checkpoint(checkpoint, hash_)[1]
    path = figures_cache_path(checkpoint.path, whole_hash, f"{checkpoint.config.dataset}-{scope}")
    return (f"iwae_gap_k{iwae_k}" if iwae_k else "elbo") in read_npz(path)


def class_names() -> list[str]:
    checkpoint, _ = current_model()
    return list(dataset_info(checkpoint.config.dataset).class_names)


def nouns() -> tuple[str, str]:
    """What one of the current model's images shows, and many: ("digit", "digits") for MNIST,
    "garment" for Fashion-MNIST, "sprite", or "picture" for an image folder's (Framing.thing)."""
    checkpoint, _ = current_model()
    thing = dataset_info(checkpoint.config.dataset).framing.thing
    return thing, f"{thing}s"


@st.cache_data(max_entries=6, show_spinner="Encoding the images")
def encodings(_model, hash_: str, dataset_name: str, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """Posterior codes (mu, or the categorical variables' probabilities) of a split, and each latent
    unit's KL from the prior: (N, code_dim) and (N, units), numpy. `_model`: a whole_model (a
    conditional one reads each image's class)."""
    from vae.training.evaluate import encode_all

    images, labels = dataset(dataset_name, split)
    codes, kl = encode_all(_model, images, labels=labels)
    return codes.numpy(), kl.numpy()


def test_encodings(_model, hash_: str, dataset_name: str) -> tuple[np.ndarray, np.ndarray]:
    return encodings(_model, hash_, dataset_name, "test")


def kl_and_activity() -> tuple[np.ndarray, np.ndarray]:
    """Per-unit test KL and whether each unit is active (vae.training.evaluate.dimension_summary)."""
    import torch

    from vae.training.evaluate import dimension_summary

    checkpoint, hash_ = current_model()
    codes, kl_units = test_encodings(*whole_model(checkpoint, hash_), checkpoint.config.dataset)
    kl, active = dimension_summary(checkpoint.model, torch.from_numpy(codes), torch.from_numpy(kl_units))
    return kl.numpy(), active.numpy()
