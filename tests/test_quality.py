"""The sample-quality yardstick (vae/analysis/quality.py, vae/models/classifier.py): the Fréchet distance against
its closed form for Gaussians, the label entropy's bounds, and the bundled classifier's size and
accuracy."""
import math

import numpy as np
import pytest
import torch

from vae.analysis.quality import frechet_distance, frechet_distance_se, label_entropy, label_entropy_se
from vae.models.classifier import accuracy, bundled_path, classifier_accuracy, load_classifier


def test_the_frechet_distance_of_two_gaussians_is_its_closed_form():
    rng = np.random.default_rng(0)
    d, m, s = 6, 0.7, 1.5
    a = rng.standard_normal((200_000, d))
    b = m + s * rng.standard_normal((200_000, d))
    # N(0, I) against N(m 1, s^2 I): d m^2 + d (1 + s^2 - 2 s)
    assert math.isclose(frechet_distance(a, b), d * m ** 2 + d * (1 + s ** 2 - 2 * s), rel_tol=0.02)
    assert abs(frechet_distance(a, a)) < 1e-6


def test_the_errors_of_the_frechet_distance_and_label_entropy_are_their_spread_over_fresh_samples():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(4000, 8))
    draws = [rng.normal(0.3, 1.2, size=(2000, 8)) for _ in range(20)]
    spread = np.std([frechet_distance(a, real) for a in draws], ddof=1)
    assert 0.6 < np.median([frechet_distance_se(a, real) for a in draws]) / spread < 1.7
    labels = [rng.dirichlet(np.full(10, 0.3), size=2000) for _ in range(20)]
    spread = np.std([label_entropy(p) for p in labels], ddof=1)
    assert 0.7 < np.median([label_entropy_se(p) for p in labels]) / spread < 1.4


def test_a_reconstructions_frechet_error_resamples_it_with_its_own_test_images():
    """Reconstructions are made from the test images: their distance moves with the choice of test
    images only, which resampling both sides together measures (resampling one side alone overstates it)."""
    rng = np.random.default_rng(1)
    sets = [rng.normal(size=(2000, 8)) for _ in range(20)]
    pairs = [(0.9 * b + rng.normal(0, 0.1, b.shape), b) for b in sets]
    spread = np.std([frechet_distance(a, b) for a, b in pairs], ddof=1)
    paired = np.median([frechet_distance_se(a, b, paired=True) for a, b in pairs])
    assert 0.6 < paired / spread < 1.7 and frechet_distance_se(*pairs[0]) > 2 * paired


def test_label_entropy_runs_from_zero_to_log_ten():
    assert label_entropy(np.eye(10)) == pytest.approx(0.0, abs=1e-9)
    assert label_entropy(np.full((3, 10), 0.1)) == pytest.approx(math.log(10))


def test_the_bundled_classifier_is_small_and_accurate(mnist_test):
    path = bundled_path("mnist")
    assert path.stat().st_size < 1_000_000
    assert classifier_accuracy(path) >= 0.99
    model = load_classifier("mnist")
    assert accuracy(model, mnist_test.images, mnist_test.labels) >= 0.99
    probs = model.probabilities(mnist_test.images[:8].unsqueeze(1).float() / 255)
    assert torch.allclose(probs.sum(-1), torch.ones(8), atol=1e-5)


def test_the_test_set_against_itself_is_at_zero_distance(mnist_test):
    from vae.analysis.quality import features_and_probabilities

    feats, probs = features_and_probabilities(load_classifier("mnist"), mnist_test.images[:3000])
    assert feats.shape == (3000, 128) and probs.shape == (3000, 10)
    assert frechet_distance(feats, feats) == pytest.approx(0.0, abs=1e-3)
    assert frechet_distance(feats[:1500], feats[1500:]) < 10  # two halves of the same set: near (finite-sample bias)


@pytest.mark.slow
def test_reconstructions_beat_mixture_samples_beat_prior_samples(mnist_test):
    from pathlib import Path

    from vae.analysis.quality import sample_quality
    from vae.models.gmm import fit_mixture
    from vae.training.checkpoint import load_checkpoint
    from vae.training.evaluate import encode_all

    model = load_checkpoint(Path(__file__).resolve().parents[1] / "checkpoints" / "default").model
    mixture = fit_mixture(encode_all(model, mnist_test.images)[0].numpy(), 10)
    report = sample_quality(model, mnist_test.images, n=10_000, mixture=mixture)
    fid = {name: figures["frechet_distance"] for name, figures in report.items()}
    assert fid["reconstruction"] < fid["mixture"] < fid["prior"], fid
    assert report["reconstruction"]["label_entropy"] < report["prior"]["label_entropy"]


def test_the_bundled_fashion_classifier_is_small_and_as_accurate_as_recorded():
    from vae.data import load_split

    path = bundled_path("fashion-mnist")
    assert path.stat().st_size < 1_000_000 and classifier_accuracy(path) >= 0.90  # a small CNN's usual ~91%
    test = load_split("fashion-mnist", "test", download=False)
    assert accuracy(load_classifier("fashion-mnist"), test.images, test.labels) == pytest.approx(
        classifier_accuracy(path), abs=2e-3)  # float16 weights: the recorded figure within 0.2 points
