"""Building models: shapes and gradients of every architecture, and seeded determinism."""
import pytest
import torch

from vae.config import ARCHITECTURES, DEFAULT_LATENT_DIM, ModelConfig
from vae.losses import kl_per_dim, recon_nll
from vae.model import VAE


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_shapes(arch, batch):
    z_dim = DEFAULT_LATENT_DIM[arch]
    model = VAE(ModelConfig(arch=arch, latent_dim=z_dim))
    out = model(batch)
    assert out.mu.shape == out.logvar.shape == out.z.shape == (16, z_dim)
    assert out.logits.shape == (16, 784)
    assert model.decode(out.z).shape == (16, 28, 28)
    assert model.encode(batch.squeeze(1))[0].shape == (16, z_dim)  # (B, 28, 28) works too


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_parameter_gets_a_gradient(arch, batch):
    model = VAE(ModelConfig(arch=arch, latent_dim=DEFAULT_LATENT_DIM[arch]))
    out = model(batch)
    loss = (recon_nll(out.logits, batch, model.config) + kl_per_dim(out.mu, out.logvar).sum(-1)).mean()
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_seed_architecture_is_the_articles_network():
    model = VAE(ModelConfig(arch="seed", latent_dim=100))
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (11520, 800), (800, 200), (100, 2000), (2000, 784)]
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(m.in_channels, m.out_channels, m.kernel_size) for m in convs] == [(1, 20, (3, 3)), (20, 20, (3, 3))]


def test_mlp_decoder_is_plain_linear_and_relu():
    model = VAE(ModelConfig(arch="mlp", latent_dim=8, hidden_dims=[64, 32]))
    kinds = {type(m).__name__ for m in model.decoder}
    assert kinds == {"Linear", "ReLU"}


def test_same_seed_same_model_and_samples(batch):
    def run(seed):
        torch.manual_seed(seed)
        model = VAE(ModelConfig(latent_dim=4, hidden_dims=[32]))
        return model(batch, generator=torch.Generator().manual_seed(seed)).z

    assert torch.equal(run(3), run(3))
    assert not torch.equal(run(3), run(4))


def test_bad_config_is_refused():
    for bad in ({"arch": "transformer"}, {"likelihood": "poisson"}, {"latent_dim": 0}, {"beta": -1},
                {"dataset": "cifar"}):
        with pytest.raises(ValueError):
            ModelConfig(**bad)
