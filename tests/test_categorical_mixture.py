"""The mixture of products of categoricals (vae/models/categorical_mixture.py, issue #21): EM never lowers
the log-likelihood and keeps the article's decomposition, and every sample is a valid code."""
import numpy as np
import pytest

from vae.models.categorical_mixture import CategoricalMixtureEM
from vae.models.gmm import MixtureEM
from vae.models.latents import CategoricalLatent, GaussianLatent

V, C = 6, 4


@pytest.fixture
def codes():
    """Soft codes from three clusters: each a distinct most likely category per variable."""
    rng = np.random.default_rng(0)
    centres = rng.integers(0, C, (3, V))
    out = []
    for n in range(600):
        logits = rng.normal(0, 0.5, (V, C))
        logits[np.arange(V), centres[n % 3]] += 3.0
        p = np.exp(logits)
        out.append((p / p.sum(-1, keepdims=True)).ravel())
    return np.array(out)


def test_em_never_lowers_the_log_likelihood_and_keeps_the_decomposition(codes):
    em = CategoricalLatent(V, C).mixture_em(codes, k=3)
    assert isinstance(em, CategoricalMixtureEM)
    for _ in range(15):
        em.step()
    ll = [r.log_likelihood for r in em.records]
    assert all(b >= a - 1e-6 for a, b in zip(ll, ll[1:])), ll
    for r in em.records:
        assert r.kl >= -1e-9 and abs(r.log_likelihood - r.elbo - r.kl) < 1e-9
        if r.half == "E":
            assert abs(r.kl) < 1e-9  # the E-step closes the gap


def test_every_mixture_sample_is_a_valid_code(codes):
    mixture = CategoricalLatent(V, C).fit_mixture(codes, k=3)
    z = mixture.sample(500, seed=1).reshape(500, V, C)
    assert set(np.unique(z)) == {0.0, 1.0} and (z.sum(-1) == 1).all()
    assert np.allclose(mixture.weights.sum(), 1) and np.allclose(mixture.probs.sum(-1), 1)
    one = mixture.sample(50, seed=2, component=0).reshape(50, V, C)
    assert (one.sum(-1) == 1).all()


def test_the_components_find_the_clusters(codes):
    from vae.models.gmm import agreement

    em = CategoricalLatent(V, C).mixture_em(codes, k=3)
    em.run()
    assert agreement(em.mixture.responsibilities(codes).argmax(1), np.arange(600) % 3)["purity"] == 1.0


def test_a_gaussian_latent_gets_a_gaussian_mixture():
    codes = np.random.default_rng(0).normal(size=(200, 2))
    assert type(GaussianLatent(2).mixture_em(codes, k=2)) is MixtureEM


def test_em_fits_one_hot_samples_and_its_means_are_codes(codes):
    """log p(X) is a likelihood of codes only for one-hot codes: EM fits exact samples of q(z|x)."""
    em = CategoricalLatent(V, C).mixture_em(codes, k=3)
    x = em.codes.reshape(len(codes), V, C)
    assert set(np.unique(x)) == {0.0, 1.0} and (x.sum(-1) == 1).all()
    means = em.mixture.means.reshape(3, V, C)
    assert (means.sum(-1) == 1).all() and set(np.unique(means)) == {0.0, 1.0}
