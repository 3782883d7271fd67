"""The latent map: UMAP build, the on-disk cache keyed by the weights, placing new codes, neighbours."""
from pathlib import Path

import numpy as np
import pytest
import torch

from vae.analysis.projection import LatentMap, build_map
from vae.config import ModelConfig
from vae.models.model import VAE
from vae.run_files import map_cache_path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_map(tmp_path_factory, mnist_test):
    torch.manual_seed(0)
    model = VAE(ModelConfig(latent_dim=8, hidden_dims=[64])).eval()
    cache = tmp_path_factory.mktemp("cache")
    images, labels = mnist_test.images[:400], mnist_test.labels[:400]
    messages = []
    built = build_map(model, "ab" * 32, images, labels, cache, "test", progress=lambda m, f: messages.append(f))
    return model, cache, images, labels, built, messages


def test_build_projects_every_image_and_reports_progress(small_map):
    _, _, images, labels, built, messages = small_map
    assert built.xy.shape == (400, 2) and built.mu.shape == (400, 8)
    assert np.isfinite(built.xy).all() and (built.labels == labels.numpy()).all()
    assert messages[0] < messages[-1] == 1.0 and built.seconds > 0


def test_second_build_comes_from_the_cache(small_map):
    model, cache, images, labels, built, _ = small_map
    assert map_cache_path(cache, "ab" * 32, "test").exists()
    again = build_map(model, "ab" * 32, images, labels, cache, "test")
    assert again.seconds == 0 and np.array_equal(again.xy, built.xy)


def test_new_weights_replace_the_old_map(small_map):
    model, cache, images, labels, _, _ = small_map
    build_map(model, "cd" * 32, images[:50], labels[:50], cache, "test")
    assert not map_cache_path(cache, "ab" * 32, "test").exists()
    assert map_cache_path(cache, "cd" * 32, "test").exists()


def test_a_damaged_cache_is_rebuilt(small_map):
    model, cache, images, labels, _, _ = small_map
    path = map_cache_path(cache, "ef" * 32, "test")
    path.write_bytes(b"garbage")
    rebuilt = build_map(model, "ef" * 32, images[:50], labels[:50], cache, "test")
    assert rebuilt.xy.shape == (50, 2)


def test_nearest_and_place():
    mu = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0]], np.float32)
    xy = np.array([[0.0, 0.0], [10.0, 0.0], [50.0, 50.0]], np.float32)
    latent_map = LatentMap(mu, np.zeros(3, np.int64), xy)
    assert latent_map.nearest(np.array([0.9, 0.0]), 2).tolist() == [[1, 0]]
    placed = latent_map.place(mu[:1])  # a code on top of a dataset code lands on its position
    assert np.allclose(placed, [[0.0, 0.0]], atol=1e-3)
    middle = latent_map.place(np.array([[0.5, 0.0]]))[0]
    assert 0 < middle[0] < 50


def test_exact_knn_matches_brute_force():
    from vae.analysis.projection import exact_knn

    x = np.random.default_rng(0).standard_normal((300, 5)).astype(np.float32)
    x[1] = x[0]  # a duplicate: each is still its own first neighbour, the other its second
    idx, dist = exact_knn(x, 4, chunk=64)
    assert idx[0, 1] == 1 and idx[1, 1] == 0 and dist[0, 1] < 1e-2
    brute = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    assert (idx[:, 0] == np.arange(300)).all()  # itself first
    assert np.array_equal(np.sort(idx, 1), np.sort(np.argsort(brute, 1)[:, :4], 1))
    assert np.allclose(dist, np.sort(brute, 1)[:, :4], atol=1e-3)


def test_pca_is_the_two_principal_axes_with_stable_signs():
    g = np.random.default_rng(0)
    mu = (g.normal(size=(500, 6)) * [5, 2, 0.5, 0.1, 0.1, 0.1]).astype(np.float32) @ np.linalg.qr(
        g.normal(size=(6, 6)))[0].astype(np.float32)
    from vae.analysis.projection import project

    xy = project(mu, "pca")
    centred = mu - mu.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    np.testing.assert_allclose(np.abs(xy), np.abs(centred @ vt[:2].T), atol=1e-3)
    assert xy[:, 0].var() > xy[:, 1].var() > 0
    np.testing.assert_array_equal(project(-mu, "pca"), project(-mu, "pca"))
    np.testing.assert_allclose(project(mu[::-1].copy(), "pca")[::-1], xy, atol=1e-3)  # not the rows' order


def test_every_projection_has_its_own_cache_and_keeps_the_others(small_map):
    model, cache, images, labels, _, _ = small_map
    umap_map = build_map(model, "12" * 32, images[:120], labels[:120], cache, "p")
    pca = build_map(model, "12" * 32, images[:120], labels[:120], cache, "p", projection="pca")
    tsne = build_map(model, "12" * 32, images[:120], labels[:120], cache, "p", projection="tsne")
    for projection in ("umap", "pca", "tsne"):
        assert map_cache_path(cache, "12" * 32, "p", projection).exists()
    assert not np.allclose(pca.xy, umap_map.xy) and not np.allclose(tsne.xy, pca.xy)
    np.testing.assert_array_equal(pca.mu, tsne.mu)
    # t-SNE keeps neighbours: most codes' nearest neighbour on the map is one of their 10 nearest in latent space
    latent_nearest = LatentMap(tsne.mu, tsne.labels, tsne.xy).nearest(tsne.mu, 11)[:, 1:]
    map_nearest = LatentMap(tsne.xy, tsne.labels, tsne.xy).nearest(tsne.xy, 2)[:, 1]
    assert np.mean([m in row for m, row in zip(map_nearest, latent_nearest)]) > 0.6
    build_map(model, "34" * 32, images[:120], labels[:120], cache, "p", projection="pca")  # new weights
    assert not map_cache_path(cache, "12" * 32, "p", "pca").exists() and map_cache_path(cache, "12" * 32, "p").exists()


def test_alignment_undoes_a_rotation_reflection_scale_and_shift():
    from vae.analysis.projection import align_to

    g = np.random.default_rng(1)
    reference = g.normal(size=(300, 2)).astype(np.float32)
    angle = 1.1
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ np.diag([1, -1])
    moved = 3.5 * reference @ rotation + [10.0, -4.0]
    np.testing.assert_allclose(align_to(moved, reference), reference, atol=1e-4)
    noisy = moved + g.normal(scale=0.05, size=moved.shape)
    assert np.abs(align_to(noisy, reference) - reference).mean() < 0.03


def test_pca_of_a_one_dimensional_latent_is_its_axis():
    from vae.analysis.projection import project

    mu = np.arange(10, dtype=np.float32)[:, None]
    xy = project(mu, "pca")
    assert xy.shape == (10, 2) and (xy[:, 1] == 0).all() and np.allclose(np.abs(xy[:, 0]), np.abs(mu[:, 0] - 4.5))


def test_umaps_compiled_code_is_kept_on_disk(small_map):
    """numba's cache for UMAP's layout (about 10 s of compiling in every fresh process otherwise),
    written by the map built above."""
    from numba.core.caching import NullCache

    from vae.analysis.projection import _umap

    umap = _umap()
    layout = umap.layouts._nb_optimize_layout_euclidean_single_epoch
    assert not isinstance(layout._cache, NullCache)
    assert any(Path(layout._cache.cache_path).glob("layouts._optimize_layout_euclidean_single_epoch*.nbi"))
    # The graph's parallel functions too (6 s a process), not the layout's parallel twin, which
    # would share the serial one's cache files.
    for graph in (umap.umap_.smooth_knn_dist, umap.umap_.compute_membership_strengths):
        assert any(Path(graph._cache.cache_path).glob(f"umap_.{graph.py_func.__name__}*.nbi")), graph
    assert isinstance(umap.layouts._nb_optimize_layout_euclidean_single_epoch_parallel._cache, NullCache)
