"""Per-image figures, the IWAE gap, the aggregate posterior and prior holes (vae/analysis/diagnostics.py)."""
import math

import numpy as np
import pytest
import torch

from vae.analysis.diagnostics import (
    image_figures,
    per_image_figures,
    per_image_iwae,
    prior_holes,
)
from vae.config import ModelConfig
from vae.models.latents import Categorical, CategoricalLatent, Gaussian, GaussianLatent, aggregate_log_density
from vae.models.model import VAE
from vae.run_files import figures_cache_path
from vae.training.evaluate import evaluate, posteriors


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return VAE(ModelConfig(arch="mlp", latent_dim=4, hidden_dims=(64,)))


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(1)
    return (torch.rand(300, 28, 28, generator=g) ** 3 * 255).to(torch.uint8)


# --- per-image figures ------------------------------------------------------------------------

def test_one_sample_figures_average_to_the_evaluation_and_add_up(model, images):
    figures = per_image_figures(model, images, samples=1, batch_size=100)
    overall = evaluate(model, images, batch_size=100)
    assert figures["elbo"].mean() == pytest.approx(overall["elbo"], rel=1e-5)
    assert figures["kl"].mean() == pytest.approx(overall["kl"], rel=1e-5)
    np.testing.assert_allclose(figures["elbo"], figures["recon"] + figures["kl"], rtol=1e-6)
    assert all(v.shape == (300,) for v in figures.values())


def test_figures_are_deterministic_with_a_seed_and_more_samples_agree_on_average(model, images):
    a, b = per_image_figures(model, images, samples=4), per_image_figures(model, images, samples=4)
    np.testing.assert_array_equal(a["elbo"], b["elbo"])
    one = per_image_figures(model, images, samples=1, seed=3)
    assert a["recon"].mean() == pytest.approx(one["recon"].mean(), rel=0.01)  # both unbiased
    np.testing.assert_allclose(a["kl"], one["kl"], rtol=1e-5)  # in closed form: no noise


def test_the_iwae_gap_is_never_negative_and_the_bound_is_tighter_than_the_elbo(model, images):
    out = per_image_iwae(model, images[:60], k=50)
    elbo = per_image_figures(model, images[:60], samples=16)["elbo"]
    assert (out["iwae_gap"] >= 0).all()  # Jensen: log-mean-exp >= mean
    assert out["iwae"].mean() < elbo.mean()
    # iwae + gap is the ELBO estimated from the same 50 samples: unbiased, so it agrees on average
    assert (out["iwae"] + out["iwae_gap"]).mean() == pytest.approx(elbo.mean(), rel=0.01)


def test_the_iwae_colouring_decoded_in_bfloat16_agrees_with_float32(mnist_test):
    """The map's IWAE colouring may decode in bfloat16 (where the processor has the units): the same
    samples of q, so what differs is the precision alone, a few hundredths of a nat a digit."""
    from pathlib import Path

    from vae.training.checkpoint import load_checkpoint

    bundled = load_checkpoint(Path(__file__).resolve().parent.parent / "checkpoints" / "default").model
    digits = mnist_test.images[:100]
    exact, fast = (per_image_iwae(bundled, digits, k=100, bf16=bf16) for bf16 in (False, True))
    for key in ("iwae", "iwae_gap"):
        diff = np.abs(fast[key] - exact[key])
        assert diff.mean() < 0.1 and diff.max() < 0.5, (key, diff.mean(), diff.max())
    assert np.corrcoef(exact["iwae_gap"], fast["iwae_gap"])[0, 1] > 0.999
    assert not np.array_equal(exact["iwae"], fast["iwae"])  # it did decode in the other precision


def test_uncertainty_is_sigma_or_entropy():
    q = Gaussian(torch.zeros(2, 3), torch.log(torch.tensor([[0.25, 1.0, 4.0]] * 2)))
    torch.testing.assert_close(q.uncertainty()[0], torch.tensor([0.5, 1.0, 2.0]))
    uniform = Categorical(torch.zeros(1, 5, 10))
    torch.testing.assert_close(uniform.uncertainty(), torch.full((1, 5), math.log(10)))
    certain = Categorical(torch.tensor([[[50.0, 0.0, 0.0]]]))
    assert float(certain.uncertainty()) < 1e-6


# --- the cache --------------------------------------------------------------------------------

def test_figures_are_cached_by_weights_and_extended_with_the_iwae(model, images, tmp_path, monkeypatch):
    import vae.analysis.diagnostics

    first = image_figures(model, "a" * 64, images[:50], tmp_path, "t")
    monkeypatch.setattr(vae.analysis.diagnostics, "per_image_figures", lambda *a, **k: pytest.fail("recomputed"))
    again = image_figures(model, "a" * 64, images[:50], tmp_path, "t")
    np.testing.assert_array_equal(first["elbo"], again["elbo"])
    with_iwae = image_figures(model, "a" * 64, images[:50], tmp_path, "t", iwae_k=10)
    assert with_iwae["iwae_gap"].shape == (50,) and "iwae" in with_iwae
    assert "iwae_gap" not in image_figures(model, "a" * 64, images[:50], tmp_path, "t")  # asked: k = 0
    monkeypatch.undo()
    image_figures(model, "b" * 64, images[:50], tmp_path, "t")  # new weights: the old cache goes
    assert [p.name for p in tmp_path.glob("figures-*")] == [figures_cache_path(tmp_path, "b" * 64, "t").name]


def test_a_damaged_or_pickled_cache_is_computed_again(model, images, tmp_path):
    path = figures_cache_path(tmp_path, "c" * 64, "t")
    path.write_bytes(b"not an npz")
    assert image_figures(model, "c" * 64, images[:20], tmp_path, "t")["elbo"].shape == (20,)
    np.savez(path, elbo=np.array([object()] * 20, dtype=object))  # needs pickle to read: never read
    assert image_figures(model, "c" * 64, images[:20], tmp_path, "t")["elbo"].dtype == np.float32


# --- the aggregate posterior and prior holes --------------------------------------------------

def test_log_prob_each_is_every_posteriors_log_prob():
    g = torch.Generator().manual_seed(0)
    q = Gaussian(torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g))
    z = torch.randn(7, 3, generator=g)
    brute = torch.stack([q.log_prob(z[m].expand(5, 3)) for m in range(7)])  # (M, B)
    torch.testing.assert_close(q.log_prob_each(z), brute, rtol=1e-4, atol=1e-4)
    c = Categorical(torch.randn(5, 4, 3, generator=g))
    one_hot = CategoricalLatent(4, 3).prior_sample(7, g)
    brute = torch.stack([c.log_prob(one_hot[m].expand(5, 12)) for m in range(7)])
    torch.testing.assert_close(c.log_prob_each(one_hot), brute)


def test_log_prob_each_is_exact_for_narrow_posteriors():
    """A trained encoder's posteriors are narrow (sigma 0.01 to 0.1 here) and far apart. Expanded,
    (z - mu)^2 / var is a difference of terms up to 1e5 that cancel near a code's own posterior:
    in float32 that lost up to 0.3 nats there. Against the direct form in float64."""
    g = torch.Generator().manual_seed(3)
    mu = torch.randn(300, 32, generator=g) * 3
    logvar = 2 * torch.empty(300, 32).uniform_(math.log(0.01), math.log(0.1), generator=g)
    q = Gaussian(mu, logvar)
    z = q.sample(generator=g)  # (300, 32): code m drawn from posterior m
    squared = ((z.double()[:, None] - mu.double()[None]) ** 2 / logvar.double().exp()[None]).sum(-1)  # (M, B)
    direct = -0.5 * (squared + logvar.double().sum(-1)[None] + 32 * math.log(2 * math.pi))
    torch.testing.assert_close(q.log_prob_each(z).double(), direct, rtol=1e-6, atol=1e-3)

def test_the_aggregate_density_is_the_mean_of_the_posteriors_densities_with_one_left_out():
    g = torch.Generator().manual_seed(1)
    q = Gaussian(torch.randn(6, 2, generator=g), torch.randn(6, 2, generator=g) * 0.3)
    z = torch.randn(4, 2, generator=g)
    each = torch.stack([q.log_prob(z[m].expand(6, 2)).exp() for m in range(4)])  # (M, N) densities
    torch.testing.assert_close(aggregate_log_density(q, z), each.mean(1).log(), rtol=1e-5, atol=1e-5)
    leave = torch.tensor([0, 5, 2, 2])
    expected = torch.stack([(each[m].sum() - each[m, leave[m]]) / 5 for m in range(4)]).log()
    torch.testing.assert_close(aggregate_log_density(q, z, leave_out=leave), expected, rtol=1e-5, atol=1e-5)


def test_the_aggregate_density_holds_where_most_posteriors_are_far():
    """Narrow posteriors spread wide, as a trained encoder's are: for most codes all but a few
    posteriors lie hundreds of nats below the nearest, and some codes are far from every one. Against
    torch.logsumexp in float64, over more codes than one chunk."""
    g = torch.Generator().manual_seed(2)
    q = Gaussian(torch.randn(3000, 4, generator=g) * 3, torch.full((3000, 4), math.log(0.05 ** 2)))
    z = torch.cat([q.subset(torch.arange(500)).sample(generator=g), torch.randn(100, 4, generator=g) * 8])  # (600, 4)
    each = q.subset(torch.arange(3000)).log_prob_each(z).double()  # (600, 3000)
    expected = (torch.logsumexp(each, dim=1) - math.log(3000)).float()
    assert (each.max(1, keepdim=True).values - each > 80).float().mean() > 0.9  # the regime asked for
    torch.testing.assert_close(aggregate_log_density(q, z), expected, rtol=1e-5, atol=1e-4)


def filled_prior(seed: int) -> Gaussian:
    """Posteriors whose aggregate is the prior N(0, I): mu ~ N(0, (1 - s^2) I), sigma = s."""
    g = torch.Generator().manual_seed(seed)
    s = 0.3
    return Gaussian(torch.randn(4000, 2, generator=g) * math.sqrt(1 - s * s), torch.full((4000, 2), 2 * math.log(s)))


def test_a_prior_that_the_posteriors_fill_has_few_holes_and_a_collapsed_one_many():
    filled = filled_prior(2)
    holes = prior_holes(filled, GaussianLatent(2), n=2000, quantile=0.05)
    assert 0.02 <= holes.fraction <= 0.10  # as many as the aggregate posterior's own 5% tail
    squeezed = Gaussian(filled.mu * 0.2 + 1.0, filled.logvar)  # all its mass in one corner
    assert prior_holes(squeezed, GaussianLatent(2), n=2000, quantile=0.05).fraction > 0.5


def test_when_q_is_the_prior_the_excess_over_the_null_holds_zero():
    """Issue #21: the criterion flags about 5% of samples even when q = p; the excess over that
    null must be 0 on average then, and its 95% bootstrap interval must hold 0 about 95% of the
    time (20 independent draws of the posteriors and of every sample set)."""
    results = [prior_holes(filled_prior(seed), GaussianLatent(2), n=1000, seed=seed) for seed in range(20)]
    excesses = [h.excess() for h in results]
    assert abs(np.mean([e for e, _, _ in excesses])) < 0.01
    assert sum(low <= 0 <= high for _, low, high in excesses) >= 17, excesses
    assert all(high - low < 0.06 for _, low, high in excesses)
    assert 0.035 <= np.mean([h.fraction for h in results]) <= 0.065  # the criterion's own 5% tail
    # The share's own interval (what the tour shows beside it) holds its mean over the draws as often
    truth = np.mean([h.fraction for h in results])
    assert sum(low <= truth <= high for low, high in (h.intervals()["fraction"] for h in results)) >= 17


def test_a_squeezed_aggregate_posterior_has_a_large_excess():
    filled = filled_prior(0)
    holes = prior_holes(Gaussian(filled.mu * 0.5, filled.logvar), GaussianLatent(2), n=1000)
    excess, low, high = holes.excess()
    assert low > 0.2 and low <= excess <= high


def test_holes_keep_the_aggregate_density_at_each_prior_sample():
    """log q(z) (what "densest" sorts by) and the ratio to the prior that a hole is judged by. With
    every posterior alike, q(z) is that one Gaussian, whichever half makes the density."""
    q = Gaussian(torch.full((300, 2), 0.5), torch.full((300, 2), -1.0))
    holes = prior_holes(q, GaussianLatent(2), n=50)
    one = Gaussian(q.mu[:1], q.logvar[:1])
    torch.testing.assert_close(torch.from_numpy(holes.log_q), one.log_prob(holes.prior_z), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(holes.log_ratio, holes.log_q - GaussianLatent(2).prior_log_prob(holes.prior_z).numpy(),
                               rtol=1e-5, atol=1e-5)


def test_holes_of_a_trained_model_work_for_both_latents(model, images):
    holes = prior_holes(posteriors(model, images), model.latent, n=200)
    assert holes.prior_z.shape == (200, 4) and holes.in_hole.shape == (200,)
    torch.manual_seed(0)
    categorical = VAE(ModelConfig(arch="mlp", latent="categorical", latent_dim=3, categories=4, hidden_dims=(32,)))
    holes = prior_holes(posteriors(categorical, images), categorical.latent, n=100)
    assert holes.prior_z.shape == (100, 12) and np.isfinite(holes.log_ratio).all()


def test_per_image_figures_report_their_progress(model, images):
    """Issue #20: the bar stood at 0% while a slow model scored its images."""
    seen = []
    figures = per_image_figures(model, images, batch_size=len(images) // 4, progress=seen.append)
    assert seen == sorted(seen) and len(seen) >= 4 and seen[-1] == 1.0
    assert np.array_equal(figures["elbo"], per_image_figures(model, images, batch_size=len(images) // 4)["elbo"])


def test_wilsons_interval_of_a_share():
    """Compare models' share of images one model models better: an interval that holds at 0 of N."""
    from vae.analysis.diagnostics import share_interval

    low, high = share_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-4) and high == pytest.approx(0.5962, abs=1e-4)
    low, high = share_interval(0, 10_000)
    assert low == 0 and high == pytest.approx(1.96 ** 2 / (10_000 + 1.96 ** 2), rel=1e-9)
    assert share_interval(10_000, 10_000)[1] == 1.0 and share_interval(0, 0) == (0.0, 1.0)
    assert all(share_interval(0, n)[0] == 0.0 for n in (3_000, 10_368))  # not 1e-19 or -2.7e-20
    from ui.text import share_text
    assert share_text(share_interval(10_000, 10_000)[1]) == "100.0%"  # not "> 99.9%"
    # about 95% coverage: draws of 200 at a share of 0.1
    rng = np.random.default_rng(0)
    hits = rng.binomial(200, 0.1, 2000)
    covered = np.mean([lo <= 0.1 <= hi for lo, hi in (share_interval(int(k), 200) for k in hits)])
    assert 0.93 <= covered <= 0.97


def test_a_label_in_a_sentence_keeps_its_acronyms():
    from ui.text import in_sentence
    assert [in_sentence(t) for t in ("Class", "−ELBO", "KL", "IWAE gap (k = 100)", "Projection on the direction",
                                     "σ of q(z|x)", "")] == ["class", "−ELBO", "KL", "IWAE gap (k = 100)",
                                                              "projection on the direction", "σ of q(z|x)", ""]
