"""EM for a Gaussian mixture (vae/models/gmm.py), the article's chapter: the log-likelihood never falls,
the decomposition log p(X) = ELBO + KL holds at every half-step, the KL is zero right after each
E-step, and the fit agrees with scikit-learn's own."""
import math

import numpy as np
import pytest

from vae.models.gmm import MixtureEM, agreement, bic_curve, fit_mixture


@pytest.fixture(scope="module")
def blobs():
    """Three Gaussian clusters in 2-D, 300 points each, with their labels."""
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    covs = [np.array([[1.0, 0.6], [0.6, 1.0]]), np.eye(2) * 0.5, np.array([[2.0, -0.3], [-0.3, 0.4]])]
    x = np.concatenate([rng.multivariate_normal(c, s, 300) for c, s in zip(centres, covs)])
    return x, np.repeat(np.arange(3), 300)


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_the_log_likelihood_never_falls_and_the_kl_closes_at_each_e_step(blobs, covariance):
    x, _ = blobs
    em = MixtureEM(x, k=4, covariance=covariance, seed=1)
    em.run(tol=1e-9, max_iterations=40)
    lls = [r.log_likelihood for r in em.records]
    assert all(b >= a - 1e-10 for a, b in zip(lls, lls[1:])), lls
    for r in em.records:
        assert math.isclose(r.log_likelihood, r.elbo + r.kl, abs_tol=1e-9)
        assert r.kl >= -1e-9
        if r.half == "E":
            assert abs(r.kl) < 1e-9  # Q is the posterior: the bound touches log p(X)
    assert any(r.half == "M" and r.kl > 1e-6 for r in em.records)  # and the M-step opens it again


def test_the_kl_is_the_kl_between_q_and_the_posterior(blobs):
    """After an M-step, log p(X) - ELBO(Q, theta) equals sum_i KL(q_i || P(Z | x_i, theta)), computed directly."""
    x, _ = blobs
    em = MixtureEM(x, k=3, seed=0)
    em.step()
    q_old = em.q
    posterior = em.mixture.responsibilities(x)
    direct = float((q_old * (np.log(q_old + 1e-300) - np.log(posterior + 1e-300))).sum(1).mean())
    assert math.isclose(em.records[-1].kl, direct, rel_tol=1e-6, abs_tol=1e-12)


def test_stepping_reaches_scikit_learns_fit(blobs):
    from sklearn.mixture import GaussianMixture

    x, labels = blobs
    em = MixtureEM(x, k=3, seed=0)
    em.run(tol=1e-10, max_iterations=200)
    reference = GaussianMixture(3, random_state=0, tol=1e-10, max_iter=500).fit(x)
    assert math.isclose(em.records[-1].log_likelihood, reference.score(x), abs_tol=1e-6)
    assert math.isclose(em.records[-1].log_likelihood, float(em.mixture.log_likelihood(x).mean()), abs_tol=1e-12)
    scores = agreement(em.q.argmax(1), labels)  # the clusters touch: a point or two goes astray
    assert scores["purity"] > 0.99 and scores["adjusted_rand_index"] > 0.99
    fitted = fit_mixture(x, 3)
    assert math.isclose(float(fitted.log_likelihood(x).mean()), reference.score(x), abs_tol=1e-6)


def test_samples_have_the_mixtures_moments(blobs):
    x, _ = blobs
    mixture = fit_mixture(x, 3)
    z = mixture.sample(60_000, seed=1)
    mean = (mixture.weights[:, None] * mixture.means).sum(0)
    assert np.allclose(z.mean(0), mean, atol=0.05)
    assert np.allclose(np.cov(z, rowvar=False), np.cov(x, rowvar=False), atol=0.3)
    one = mixture.sample(20_000, seed=2, component=1)
    assert np.allclose(one.mean(0), mixture.means[1], atol=0.05)
    assert np.array_equal(mixture.sample(5, seed=3), mixture.sample(5, seed=3))


def test_bic_prefers_the_true_number_of_components(blobs):
    x, _ = blobs
    curve = bic_curve(x, [1, 2, 3, 5, 8])
    assert min(curve, key=curve.get) == 3


def test_bad_settings_are_refused(blobs):
    x, _ = blobs
    with pytest.raises(ValueError, match="covariance"):
        MixtureEM(x, k=2, covariance="spherical-ish")
    with pytest.raises(ValueError, match="k must be"):
        MixtureEM(x, k=0)
