"""The VAE's math: closed-form KL, the reparameterization, the loss terms and the IWAE bound."""
import math

import pytest
import torch

from vae.config import ModelConfig
from vae.models.latents import log_normal
from vae.models.losses import bernoulli_nll, iwae_nll, kl_per_dim, recon_nll
from vae.models.model import VAE


def test_closed_form_kl_matches_monte_carlo():
    g = torch.Generator().manual_seed(1)
    mu = torch.randn(4, 6, generator=g)
    logvar = torch.randn(4, 6, generator=g) * 0.8
    exact = kl_per_dim(mu, logvar)  # (4, 6)
    n = 400_000
    eps = torch.randn(n, 4, 6, generator=g, dtype=torch.float64)
    z = mu.double() + torch.exp(0.5 * logvar.double()) * eps
    log_q = -0.5 * (math.log(2 * math.pi) + logvar.double() + (z - mu.double()) ** 2 / logvar.double().exp())
    log_p = -0.5 * (math.log(2 * math.pi) + z ** 2)
    estimate = (log_q - log_p).mean(0)
    stderr = (log_q - log_p).std(0) / math.sqrt(n)
    assert torch.all((estimate - exact.double()).abs() < 5 * stderr + 1e-4)


def test_kl_is_zero_at_the_prior_and_positive_elsewhere():
    assert torch.allclose(kl_per_dim(torch.zeros(3, 5), torch.zeros(3, 5)), torch.zeros(3, 5))
    assert (kl_per_dim(torch.randn(3, 5), torch.randn(3, 5)) > 0).all()


def test_reparameterized_samples_have_the_posterior_mean_and_variance():
    mu = torch.tensor([[1.5, -2.0, 0.0]]).expand(200_000, 3)
    logvar = torch.tensor([[0.0, math.log(0.25), math.log(4.0)]]).expand(200_000, 3)
    z = VAE.reparameterize(mu, logvar, torch.Generator().manual_seed(0))
    assert torch.allclose(z.mean(0), mu[0], atol=0.02)
    assert torch.allclose(z.var(0), logvar[0].exp(), rtol=0.02)
    # Gaussian, not uniform: about 68% of draws within one sigma of the mean.
    within = ((z - mu).abs() < logvar.exp().sqrt()).float().mean(0)
    assert torch.allclose(within, torch.full((3,), 0.6827), atol=0.01)


def test_reparameterization_passes_gradients_to_mu_and_logvar():
    mu = torch.zeros(8, 4, requires_grad=True)
    logvar = torch.zeros(8, 4, requires_grad=True)
    VAE.reparameterize(mu, logvar).pow(2).sum().backward()
    assert mu.grad.abs().sum() > 0 and logvar.grad.abs().sum() > 0


def test_bernoulli_recon_is_bce_summed_over_pixels():
    logits = torch.randn(2, 784)
    x = torch.rand(2, 784)
    p = torch.sigmoid(logits)
    expected = -(x * p.log() + (1 - x) * (1 - p).log()).sum(-1)
    assert torch.allclose(recon_nll(logits, x, ModelConfig()), expected, rtol=1e-4)


@pytest.mark.parametrize("pixels", ["black", "white", "gray"])
def test_bernoulli_nll_is_within_two_roundings_of_float64(pixels):
    """The fast form against softplus(l) - x * l in float64, for logits from -100 to 100 (0 included):
    every value within two float32 roundings of the exact one (6e-8 of it, plus 6e-8 each), also
    where the exact value is tiny (a white pixel under a confident positive logit)."""
    logits = torch.cat([torch.linspace(-100, 100, 20001), torch.zeros(1), torch.randn(2000) * 8])
    x = {"black": torch.zeros, "white": torch.ones, "gray": torch.rand}[pixels](len(logits))
    l64, x64 = logits.double(), x.double()
    exact = l64.clamp(min=0) - x64 * l64 + torch.log1p(torch.exp(-l64.abs()))
    fast = bernoulli_nll(logits, x)
    assert fast.dtype == torch.float32
    error = (fast.double() - exact).abs()
    assert (error <= 2 * (6e-8 * exact.abs() + 6e-8)).all(), error.max()
    assert bernoulli_nll(logits.bfloat16(), x).dtype == torch.float32  # bfloat16 logits, float32 loss
    with pytest.raises(ValueError, match="differ in shape"):
        bernoulli_nll(logits[None], x)


def test_bernoulli_nll_gradient_is_sigmoid_minus_x_also_at_zero():
    logits = torch.cat([torch.zeros(3), torch.randn(50) * 5]).requires_grad_()
    x = torch.rand(len(logits)).requires_grad_()
    weights = torch.randn(len(logits))
    (bernoulli_nll(logits, x) * weights).sum().backward()
    assert torch.allclose(logits.grad, weights * (torch.sigmoid(logits.detach()) - x.detach()), atol=1e-6)
    assert torch.allclose(x.grad, -weights * logits.detach(), atol=1e-6)
    assert torch.autograd.gradcheck(bernoulli_nll, (torch.randn(20, dtype=torch.double, requires_grad=True),
                                                    torch.rand(20, dtype=torch.double, requires_grad=True)))


def test_gaussian_recon_is_the_fixed_variance_gaussian_nll():
    cfg = ModelConfig(likelihood="gaussian", gaussian_sigma=0.2)
    logits = torch.randn(2, 784)
    x = torch.rand(2, 784)
    dist = torch.distributions.Normal(torch.sigmoid(logits), 0.2)
    assert torch.allclose(recon_nll(logits, x, cfg), -dist.log_prob(x).sum(-1), rtol=1e-4)


def test_log_normal_matches_torch_distributions():
    z, mu, logvar = torch.randn(5, 3), torch.randn(5, 3), torch.randn(5, 3)
    dist = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    assert torch.allclose(log_normal(z, mu, logvar), dist.log_prob(z).sum(-1), atol=1e-5)


@pytest.fixture(scope="module")
def briefly_trained(tiny_data_dir):
    import tempfile

    from vae.config import TrainConfig
    from vae.training.checkpoint import load_checkpoint
    from vae.training.train import train
    out = tempfile.mkdtemp()
    train(ModelConfig(latent_dim=8, hidden_dims=[128]), TrainConfig(epochs=3, batch_size=64,
          data_dir=str(tiny_data_dir)), out, show_progress=False)
    return load_checkpoint(out).model


def test_iwae_falls_as_k_grows_and_stays_below_the_elbo(briefly_trained, mnist_test):
    model = briefly_trained
    x = mnist_test.images[:64].unsqueeze(1).float() / 255.0
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        elbo = torch.stack([
            (recon_nll(out.logits, x, model.config) + kl_per_dim(out.mu, out.logvar).sum(-1))
            for out in (model(x, generator=g) for _ in range(50))]).mean()
    estimates = [float(iwae_nll(model, x, k, generator=g).mean()) for k in (1, 10, 100, 1000)]
    assert abs(estimates[0] - float(elbo)) < 2.0  # k = 1 is the one-sample -ELBO
    assert estimates[1] < estimates[0] and estimates[2] < estimates[1] and estimates[3] < estimates[2]
    assert estimates[3] <= float(elbo)


def test_the_bound_rises_with_k_towards_log_p_for_one_digit(briefly_trained, mnist_test):
    from vae.training.evaluate import bound_gap

    gap = bound_gap(briefly_trained, mnist_test.images[5], ks=(1, 10, 100, 1000))
    means = [gap[k][0] for k in (1, 10, 100, 1000)]
    assert means == sorted(means) and means[-1] - means[0] > 0  # the gap to log p(x) closes as k grows
    assert gap[1][1] < 0.5  # the ELBO from 1,000 draws: its standard error well under a nat
    x = mnist_test.images[5:6].unsqueeze(1).float() / 255
    elbo = -iwae_nll(briefly_trained, x.expand(4000, -1, -1, -1), 1, generator=torch.Generator().manual_seed(9))
    # k = 1: the ELBO
    assert abs(float(elbo.mean()) - gap[1][0]) < 4 * (gap[1][1] ** 2 + float(elbo.var()) / 4000) ** 0.5


def test_the_bound_gap_of_a_binarized_model_scores_a_binarized_digit(mnist_test):
    """Issue #21: a model of binarized pixels gets the digit binarized, as its test set is."""
    from vae.models.model import VAE
    from vae.training.evaluate import bound_gap, prepare

    model = VAE(ModelConfig(latent_dim=4, hidden_dims=[32], binarize=True))
    digit = mnist_test.images[5]
    binarized = prepare(digit[None], True, seed=0)
    assert set(binarized.unique().tolist()) == {0.0, 1.0}
    assert bound_gap(model, digit, ks=(1, 10)) == bound_gap(model, binarized, ks=(1, 10))
