"""The latent map: UMAP build, the on-disk cache keyed by the weights, placing new codes, neighbours."""
import numpy as np
import pytest
import torch

from vae.config import ModelConfig
from vae.model import VAE
from vae.projection import LatentMap, build_map, cache_path

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
    assert cache_path(cache, "ab" * 32, "test").exists()
    again = build_map(model, "ab" * 32, images, labels, cache, "test")
    assert again.seconds == 0 and np.array_equal(again.xy, built.xy)


def test_new_weights_replace_the_old_map(small_map):
    model, cache, images, labels, _, _ = small_map
    build_map(model, "cd" * 32, images[:50], labels[:50], cache, "test")
    assert not cache_path(cache, "ab" * 32, "test").exists()
    assert cache_path(cache, "cd" * 32, "test").exists()


def test_a_damaged_cache_is_rebuilt(small_map):
    model, cache, images, labels, _, _ = small_map
    path = cache_path(cache, "ef" * 32, "test")
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
    from vae.projection import exact_knn

    x = np.random.default_rng(0).standard_normal((300, 5)).astype(np.float32)
    idx, dist = exact_knn(x, 4, chunk=64)
    brute = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    assert (idx[:, 0] == np.arange(300)).all()  # itself first
    assert np.array_equal(np.sort(idx, 1), np.sort(np.argsort(brute, 1)[:, :4], 1))
    assert np.allclose(dist, np.sort(brute, 1)[:, :4], atol=1e-3)
