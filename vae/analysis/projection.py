"""The 2D latent map: encode a dataset with a model, project the posterior means to 2D (UMAP,
PCA or t-SNE), and cache both on disk in the checkpoint's folder, keyed by the weights' hash (the
bundled models ship their UMAP maps, so a fresh clone shows them at once).

    latent_map = build_map(model, weights_hash, images, labels, cache_dir="checkpoints/default", name="test")
    latent_map.xy          # (N, 2) float32 map coordinates
    latent_map.place(mu)   # where new codes land on the map, (M, 2)
    build_map(..., projection="pca")   # instant and linear: distances on the map are honest

Caches are plain .npz arrays (no pickle), written atomically.
"""
from __future__ import annotations

import contextlib
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vae.files import read_npz, write_npz_cache
from vae.run_files import map_cache_path

if TYPE_CHECKING:
    import torch

PLACE_NEIGHBOURS = 10
UMAP_NEIGHBOURS = 15
# The projections a map can use, and what the app calls them.
PROJECTIONS = {"umap": "UMAP", "pca": "PCA", "tsne": "t-SNE"}


@dataclass
class LatentMap:
    mu: np.ndarray  # (N, z_dim) posterior means
    labels: np.ndarray  # (N,)
    xy: np.ndarray  # (N, 2) map coordinates
    seconds: float = 0.0  # time the build took (0 when read from the cache)
    projection: str = "umap"  # one of PROJECTIONS

    def nearest(self, mu: np.ndarray, k: int) -> np.ndarray:
        """Indices of the k dataset codes nearest to each row of mu: (M, k), closest first."""
        mu = np.atleast_2d(mu).astype(np.float32)
        d = (mu * mu).sum(1)[:, None] - 2 * mu @ self.mu.T + (self.mu * self.mu).sum(1)[None]
        k = min(k, len(self.mu))
        idx = np.argpartition(d, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(d, idx, 1).argsort(1)
        return np.take_along_axis(idx, order, 1)

    def place(self, mu: np.ndarray) -> np.ndarray:
        """Map coordinates for new codes: the distance-weighted mean of the map positions of
        their nearest dataset codes, as UMAP's own transform starts. (M, 2)."""
        mu = np.atleast_2d(mu).astype(np.float32)
        idx = self.nearest(mu, PLACE_NEIGHBOURS)  # (M, k)
        dist = np.sqrt(((self.mu[idx] - mu[:, None]) ** 2).sum(-1))  # (M, k)
        weights = 1.0 / (dist + 1e-6)
        weights /= weights.sum(1, keepdims=True)
        return (self.xy[idx] * weights[..., None]).sum(1).astype(np.float32)


def exact_knn(x: np.ndarray, k: int, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Each row's k nearest rows (itself first) and their distances: (N, k) each.
    Exact, by chunked matrix products: for latent codes this beats UMAP's own approximate
    search, whose numba code is compiled afresh in every process (about 30 s on 2 cores)."""
    import torch  # here and below, not at the top: a map read from its cache needs no torch (the first page)

    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    sq = (t * t).sum(1)
    # One buffer for every chunk's (chunk, N) distances: a fresh 280 MB block a chunk cost more in
    # page faults than the products themselves (24 s against 7 s for 70,000 codes on 2 cores).
    ranking = torch.empty(min(chunk, len(t)), len(t))
    indices, distances = [], []
    for start in range(0, len(t), chunk):
        rows = t[start:start + chunk]
        d = ranking[:len(rows)]
        torch.addmm(sq[None], rows, t.T, alpha=-2, out=d)  # |b|^2 - 2 a.b: |a - b|^2 less |a|^2, the row's constant
        d[torch.arange(len(rows)), torch.arange(start, start + len(rows))] = -torch.inf  # itself first
        values, idx = torch.topk(d, k, dim=1, largest=False)
        values = (values + sq[start:start + chunk, None]).clamp_min(0)
        values[:, 0] = 0.0
        indices.append(idx)
        distances.append(values.sqrt())
    return torch.cat(indices).numpy(), torch.cat(distances).numpy()


def _umap():
    """umap-learn, with numba's compiled code of its functions kept on disk.

    numba compiles UMAP's layout and graph functions afresh in every process (about 10 s on two
    cores: more than the layout of a 10k map itself) because umap-learn does not ask for numba's
    cache; enabling it here makes every process after the first load them in well under a second.
    numba keys the cache by the source file, so a new umap-learn compiles again."""
    import umap  # imported here: it takes seconds (numba) and only map builds need it
    from numba.core.registry import CPUDispatcher

    dispatchers = {function for module in (umap.umap_, umap.layouts, umap.spectral, umap.utils)
                   for function in vars(module).values() if isinstance(function, CPUDispatcher)}
    twins = Counter(function.py_func for function in dispatchers)
    for function in dispatchers:
        # Not the layouts' parallel twins: numba keys its cache by the Python function, which the
        # serial and parallel layouts share, and the maps use the serial (reproducible) one. The
        # graph's parallel functions have no twin (about 6 s of compiling a process, cached).
        if not (function.targetoptions.get("parallel") and twins[function.py_func] > 1):
            with contextlib.suppress(RuntimeError):  # nowhere writable for a cache: compile as before
                function.enable_caching()
    return umap


def project_umap(mu: np.ndarray, seed: int = 42) -> np.ndarray:
    """UMAP of the posterior means to 2D: (N, 2) float32."""
    umap = _umap()
    neighbours = min(UMAP_NEIGHBOURS, len(mu) - 1)  # an image folder's small test set has fewer points
    knn = exact_knn(mu, neighbours)
    # A fixed random_state makes the map the same on every build. 200 optimisation epochs (UMAP's
    # own choice above 10,000 points) look the same as 500 here and take half the time; above
    # 10,000 points 100 look the same as 200 (the 70,000-point map: BENCHMARKS.md).
    epochs = 200 if len(mu) <= 10_000 else 100
    reducer = umap.UMAP(n_neighbors=neighbours, min_dist=0.1, random_state=seed, n_epochs=epochs,
                        precomputed_knn=(*knn, None))
    with warnings.catch_warnings():  # "n_jobs overridden" and "transform unavailable": both intended
        warnings.simplefilter("ignore", UserWarning)
        return reducer.fit_transform(mu).astype(np.float32)


def project_pca(mu: np.ndarray) -> np.ndarray:
    """The posterior means on their two principal axes: (N, 2) float32. Linear, so distances and
    directions on the map are the latent space's (shrunk to two dimensions)."""
    import torch

    centred = torch.from_numpy(np.asarray(mu, np.float32)) - torch.from_numpy(np.asarray(mu, np.float32)).mean(0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    xy = (centred @ v[:2].T).numpy()
    if xy.shape[1] < 2:  # a one-dimensional latent: its axis, and zeros
        xy = np.column_stack([xy, np.zeros(len(xy), np.float32)])
    return (xy * np.sign(xy[np.abs(xy).argmax(0), [0, 1]])).astype(np.float32)  # the same signs on every build


def project_tsne(mu: np.ndarray, seed: int = 42) -> np.ndarray:
    """t-SNE (scikit-learn, PCA start, perplexity 30, less for fewer than 91 points) of the posterior
    means: (N, 2) float32."""
    from sklearn.manifold import TSNE

    perplexity = min(30.0, (len(mu) - 1) / 3)
    return TSNE(2, init="pca", learning_rate="auto", random_state=seed, perplexity=perplexity).fit_transform(
        np.asarray(mu, np.float32)).astype(np.float32)


def project(mu: np.ndarray, projection: str = "umap") -> np.ndarray:
    """The posterior means in 2D by one of PROJECTIONS: (N, 2) float32."""
    return {"umap": project_umap, "pca": project_pca, "tsne": project_tsne}[projection](mu)


def align_to(xy: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """`xy` (N, 2) moved onto `reference` (N, 2), the same images' coordinates on another map, by
    the similarity (rotation or reflection, one scale, a shift) that brings them closest in least
    squares (Procrustes): two maps of two models, or of one model at two epochs, then read alike."""
    xy, reference = np.asarray(xy, np.float64), np.asarray(reference, np.float64)
    moved, target = xy - xy.mean(0), reference - reference.mean(0)
    u, singular, vt = np.linalg.svd(moved.T @ target)
    rotation = u @ vt
    scale = singular.sum() / max((moved ** 2).sum(), 1e-12)
    return (scale * moved @ rotation + reference.mean(0)).astype(np.float32)


def load_cached_map(path: Path, projection: str = "umap") -> LatentMap | None:
    """A map cache's map; None when it is missing or damaged (then it is built again)."""
    arrays = read_npz(path)
    if not {"mu", "labels", "xy"} <= arrays.keys():
        return None
    return LatentMap(arrays["mu"].astype(np.float32), arrays["labels"], arrays["xy"], projection=projection)


def cached_map(cache_dir: str | Path, weights_hash: str, name: str, projection: str, count: int) -> LatentMap | None:
    """The map build_map would return from its cache, or None when it has to build one (no torch is needed
    to ask). `count`: how many images the map is of (a cache of another number is stale)."""
    cached = load_cached_map(map_cache_path(cache_dir, weights_hash, name, projection), projection)
    return cached if cached is not None and len(cached.labels) == count else None


def build_map(model, weights_hash: str, images: torch.Tensor, labels: torch.Tensor,
              cache_dir: str | Path, name: str, projection: str = "umap",
              progress: Callable[[str, float], None] | None = None) -> LatentMap:
    """Encode `images` and project them, or read both from the cache when present."""
    from vae.training.evaluate import encode_all

    cached = cached_map(cache_dir, weights_hash, name, projection, len(labels))
    if cached is not None:
        return cached
    path = map_cache_path(cache_dir, weights_hash, name, projection)
    started = time.perf_counter()
    if progress:
        progress(f"Encoding {len(images):,} images", 0.05)
    mu = encode_all(model, images, labels=labels)[0].numpy()  # a conditional model reads the labels
    if progress:
        progress(f"Projecting {len(images):,} codes with {PROJECTIONS[projection]} (first build only)", 0.25)
    xy = project(mu, projection)
    latent_map = LatentMap(mu, labels.numpy().astype(np.int64), xy, time.perf_counter() - started, projection)
    # The codes as float16 (the neighbours they give are the same; a 300-number categorical code
    # per image would make a 12 MB file in float32).
    write_npz_cache(path, {"mu": mu.astype(np.float16), "labels": latent_map.labels, "xy": xy})
    if progress:
        progress("Done", 1.0)
    return latent_map
