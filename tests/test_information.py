"""The KL term taken apart (vae/training/information.py) on cases whose answer is known."""
import math

import pytest
import torch

from vae.models.latents import Categorical, CategoricalLatent, Gaussian, GaussianLatent
from vae.training.information import kl_decomposition


def test_a_linear_gaussian_encoder_has_the_mutual_information_of_its_signal_to_noise():
    """x_n ~ N(0, 1), q(z|x_n) = N(x_n, s^2): q(z) is N(0, 1 + s^2) and I = log(1 + 1 / s^2) / 2 (as N
    grows; here the N x's are evenly spaced quantiles, so the mixture is close to that Gaussian)."""
    n, s = 4000, 0.5
    x = torch.distributions.Normal(0.0, 1.0).icdf((torch.arange(n) + 0.5) / n)[:, None]  # (N, 1)
    q = Gaussian(x, torch.full_like(x, math.log(s * s)))
    parts = kl_decomposition(GaussianLatent(1), q, samples=4000)
    expected_i = 0.5 * math.log(1 + 1 / s**2)
    var = 1 + s**2  # KL(N(0, var) || N(0, 1))
    expected_marginal = 0.5 * (var - 1 - math.log(var))
    assert parts.average_kl == pytest.approx(expected_i + expected_marginal, abs=0.01)  # exact, up to the quantiles
    assert parts.mutual_information == pytest.approx(expected_i, abs=4 * parts.stderr + 0.01)
    assert parts.marginal_kl == pytest.approx(expected_marginal, abs=4 * parts.stderr + 0.01)
    assert parts.stderr < 0.03


def test_posteriors_equal_to_the_prior_carry_no_information():
    q = Gaussian(torch.zeros(500, 3), torch.zeros(500, 3))
    parts = kl_decomposition(GaussianLatent(3), q, samples=1000)
    assert parts.average_kl == 0
    assert abs(parts.mutual_information) < 1e-4 and abs(parts.marginal_kl) < 1e-4


def test_codes_that_name_their_digit_reach_the_bound_log_n():
    """Categorical posteriors, each certain of a code of its own: the code says which digit it was."""
    latent, n = CategoricalLatent(variables=3, categories=10), 200
    codes = torch.stack([torch.tensor([i % 10, (i // 10) % 10, i // 100]) for i in range(n)])  # distinct
    logits = torch.nn.functional.one_hot(codes, 10).float() * 30  # (N, 3, 10): all but certain
    parts = kl_decomposition(latent, Categorical(logits), samples=500)
    assert parts.mutual_information == pytest.approx(parts.information_bound, abs=1e-3)
    assert parts.marginal_kl == pytest.approx(3 * math.log(10) - math.log(n), abs=1e-3)


def test_one_posterior_is_not_an_aggregate():
    with pytest.raises(ValueError):
        kl_decomposition(GaussianLatent(2), Gaussian(torch.zeros(1, 2), torch.zeros(1, 2)))
