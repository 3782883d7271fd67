"""Out of distribution (issue #25): the AUROC, the complexity-corrected score, the outlier sets,
and the page, where the Fashion-MNIST model shows the paradox on MNIST digits."""
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from vae.analysis.ood import (
    TRANSFORMS,
    Scores,
    auroc,
    auroc_interval,
    ood_scores,
    other_dataset,
    png_bits,
    transformed,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("seed", range(5))
def test_the_auroc_is_scikit_learns(seed):
    rng = np.random.default_rng(seed)
    inliers = rng.normal(0, 1, 300).round(1)  # rounded: many ties, within and across the sets
    outliers = rng.normal(0.5 * seed, 1, 200).round(1)
    expected = roc_auc_score(np.r_[np.zeros(300), np.ones(200)], np.r_[inliers, outliers])
    assert auroc(inliers, outliers) == pytest.approx(expected, abs=1e-12)


def coverage(draw, truth: float, paired: bool, repeats: int = 400) -> int:
    """How many of `repeats` intervals from draw(rng) -> (inliers, outliers) hold `truth`; each also
    holds its own AUROC."""
    rng, covered = np.random.default_rng(0), 0
    for _ in range(repeats):
        inliers, outliers = draw(rng)
        low, high = auroc_interval(inliers, outliers, paired=paired)
        assert low <= auroc(inliers, outliers) <= high
        covered += low <= truth <= high
    return covered


# Of 400 intervals at 95%: 380 expected, with a binomial standard deviation of 4.4.
HOLDS = range(365, 396)


def test_delongs_interval_holds_the_true_auroc_as_often_as_it_says():
    """Monte Carlo: 400 inliers ~ N(0, 1) against 40 outliers ~ N(1, 3), whose AUROC is
    Phi(1 / sqrt(10)), rounded to 0.1 so that ties count too. Sets of unequal sizes and spreads
    tell each share's variance from the other's: divided by the wrong count, the intervals hold
    the truth about two times in three."""
    def draw(rng):
        return rng.normal(0, 1, 400).round(1), rng.normal(1, 3, 40).round(1)

    assert coverage(draw, 0.5 * (1 + math.erf(1 / math.sqrt(10) / math.sqrt(2))), paired=False) in HOLDS


@pytest.mark.parametrize("correlation", [-0.9, 0.9])
def test_a_paired_interval_holds_the_truth_where_the_unpaired_one_would_not(correlation):
    """Outlier k made from inlier k (inverted or rotated images): 300 pairs, the outlier
    correlation * inlier + noise + 0.5, so that an inlier and an outlier of different pairs are in
    the right order with chance Phi(0.5 / sqrt 2). Taken as independent sets, the intervals are too
    narrow for a negative correlation and too wide for a positive one."""
    def draw(rng):
        inliers = rng.normal(0, 1, 300)
        outliers = correlation * inliers + math.sqrt(1 - correlation ** 2) * rng.normal(0, 1, 300) + 0.5
        return inliers.round(1), outliers.round(1)

    truth = 0.5 * (1 + math.erf(0.25))
    assert coverage(draw, truth, paired=True) in HOLDS
    unpaired = coverage(draw, truth, paired=False)
    assert unpaired < 355 if correlation < 0 else unpaired > 397


def test_an_interval_with_no_pair_out_of_order_is_one_sided_and_one_outlier_says_nothing():
    assert auroc_interval([1, 2, 3], [4, 5]) == pytest.approx((0.05 ** 0.5, 1.0))  # m = 2 pairs all right
    assert auroc_interval([4, 5, 6, 7], [1, 2, 3, 0], paired=True) == pytest.approx((0.0, 1 - 0.05 ** 0.5))
    low, high = auroc_interval(np.arange(500.0), np.arange(500.0) + 1000)
    assert high == 1.0 and 0.99 < low < 0.995  # 500 pairs in order
    assert auroc_interval([1, 2, 3], [4]) == (0.0, 1.0)
    with pytest.raises(ValueError, match="as long as each other"):
        auroc_interval([1, 2, 3], [4, 5], paired=True)


def test_the_auroc_is_one_for_separated_sets_a_half_for_equal_ones_and_zero_reversed():
    assert auroc([1, 2, 3], [4, 5]) == 1.0
    assert auroc([4, 5], [1, 2, 3]) == 0.0
    assert auroc([2, 2], [2, 2, 2]) == 0.5


def test_an_images_png_length_follows_its_complexity(mnist_test):
    digit = mnist_test.images[0].numpy()
    blank = np.zeros((28, 28), np.uint8)
    noise = np.random.default_rng(0).integers(0, 256, (28, 28)).astype(np.uint8)
    assert png_bits(blank) < png_bits(digit) < png_bits(noise)
    assert png_bits(noise) > 28 * 28 * 8  # incompressible: more than its raw bytes


def test_the_outlier_sets(mnist_test):
    images = mnist_test.images[:10]
    for kind in TRANSFORMS:
        out = transformed(images, kind)
        assert out.shape == images.shape and out.dtype == torch.uint8, kind
    assert torch.equal(transformed(images, "inverted"), 255 - images)
    assert torch.equal(transformed(transformed(images, "rotated"), "rotated"), images.flip(1).flip(2))
    assert torch.equal(transformed(images, "noise", seed=3), transformed(images, "noise", seed=3))
    assert (transformed(images, "blank") < 64).all()
    with pytest.raises(ValueError, match="unknown outlier set 'sideways'"):
        transformed(images, "sideways")
    assert other_dataset("mnist") == "fashion-mnist" and other_dataset("fashion-mnist") == "mnist"


def test_the_corrected_score_is_bits_of_likelihood_less_bits_of_png():
    s = Scores(nll=np.array([math.log(2) * 100, math.log(2) * 50]), complexity=np.array([30.0, 80.0]))
    assert np.allclose(s.corrected, [70.0, -30.0])


def test_scores_of_a_model_are_its_per_image_elbo_and_iwae(mnist_test):
    from vae.analysis.diagnostics import per_image_figures
    from vae.training.checkpoint import load_checkpoint

    model = load_checkpoint(ROOT / "checkpoints" / "default").model
    images = mnist_test.images[:50]
    scores = ood_scores(model, images)
    assert np.allclose(scores.nll, per_image_figures(model, images, samples=1)["elbo"])
    iwae = ood_scores(model, images, iwae_k=20)
    assert iwae.nll.mean() < scores.nll.mean()  # the tighter bound, on average
    assert np.array_equal(scores.complexity, [png_bits(x) for x in images.numpy()])


@pytest.fixture
def checkpoints(tmp_path, monkeypatch):
    from tests.app_support import bundled_checkpoints

    return bundled_checkpoints(tmp_path, monkeypatch, "default", "fashion-mnist", "mnist-conditional")


@pytest.mark.slow
def test_the_page_shows_the_paradox_for_the_fashion_model_on_digits_and_its_correction(checkpoints):
    from tests.app_support import open_app

    at = open_app("views/ood.py", query_params={"checkpoint": "fashion-mnist", "ood_n": "500"})
    metrics = {m.label: m.value for m in at.metric}
    raw, corrected = float(metrics["AUROC of the −ELBO"]), float(metrics["AUROC, complexity-corrected"])
    assert raw < 0.5 < 0.9 < corrected  # measured on 2,000: 0.391 and 0.994
    assert any("The paradox" in w.value for w in at.warning)
    captions = " ".join(c.value for c in at.caption)
    interval = re.search(r"95% intervals \(DeLong's\), for 500 images of each drawn again from the same sources: "
                         r"(\S+) to (\S+), and corrected (\S+) to (\S+)\.", captions)
    low, high, corrected_low, corrected_high = map(float, interval.groups())
    assert low < raw < high and corrected_low < corrected < corrected_high and high - low < 0.1
    assert "the first 500 of the Fashion-MNIST test set, and the first 500 of the MNIST test set." in captions
    at = open_app("views/ood.py", query_params={"checkpoint": "default", "ood_n": "500", "outliers": "noise"})
    assert float({m.label: m.value for m in at.metric}["AUROC of the −ELBO"]) > 0.99 and not at.warning
    assert "uniform noise, each pixel 0 to 255 (500 generated)." in " ".join(c.value for c in at.caption)
    at = open_app("views/ood.py", query_params={"checkpoint": "default", "ood_n": "500", "outliers": "inverted"})
    captions = " ".join(c.value for c in at.caption)
    assert "(255 − x), made from those same 500." in captions and "taken as pairs" in captions
    at = open_app("views/ood.py", query_params={"checkpoint": "mnist-conditional"})
    assert any("This model is conditional" in i.value for i in at.info)
