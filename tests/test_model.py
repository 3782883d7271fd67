"""Building models: shapes and gradients of every architecture, and seeded determinism."""
import pytest
import torch

from vae.config import ARCHITECTURES, ModelConfig, TrainConfig
from vae.models.losses import kl_per_dim, recon_nll
from vae.models.model import VAE


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_shapes(arch, batch):
    model = VAE(ModelConfig(arch=arch))
    z_dim = model.latent_dim
    out = model(batch)
    assert out.mu.shape == out.logvar.shape == out.z.shape == (16, z_dim)
    assert out.logits.shape == (16, 784)
    assert model.decode(out.z).shape == (16, 28, 28)
    assert model.encode(batch.squeeze(1))[0].shape == (16, z_dim)  # (B, 28, 28) works too


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_parameter_gets_a_gradient(arch, batch):
    model = VAE(ModelConfig(arch=arch))
    out = model(batch)
    loss = (recon_nll(out.logits, batch, model.config) + kl_per_dim(out.mu, out.logvar).sum(-1)).mean()
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_the_article_architecture_is_the_articles_network():
    model = VAE(ModelConfig(arch="article"))
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


def test_each_architecture_brings_its_latent_size():
    """From a notebook as from the command line: the article's network is z = 100 unless asked."""
    assert ModelConfig(arch="article").latent_dim == 100 and ModelConfig(arch="conv").latent_dim == 32
    assert ModelConfig(arch="article", latent_dim=8).latent_dim == 8
    assert ModelConfig(arch="seed") == ModelConfig(arch="article")  # the name it had before


def test_an_unknown_architecture_is_a_clear_error():
    cfg = ModelConfig()
    cfg.arch = "transformer"  # past the config's own check, as a hand-edited object would be
    with pytest.raises(ValueError, match="unknown architecture 'transformer'"):
        VAE(cfg)


def test_bad_config_is_refused():
    for bad in ({"arch": "transformer"}, {"likelihood": "poisson"}, {"latent_dim": 0}, {"beta": -1},
                {"dataset": "cifar"}, {"hidden_dims": [0]}):
        with pytest.raises(ValueError):
            ModelConfig(**bad)
    for bad in ({"epochs": 0}, {"batch_size": 0}, {"lr": 0.0}, {"train_limit": -5}, {"device": "tpu"},
                {"log_every": 0}):
        with pytest.raises(ValueError):
            TrainConfig(**bad)


def test_each_likelihood_is_named_for_what_it_is():
    """Issue #21: a Bernoulli of gray pixels is no density of the image (a pseudo-likelihood)."""
    from vae.config import ModelConfig

    assert ModelConfig().pseudo_likelihood
    assert ModelConfig().likelihood_text == "Bernoulli pseudo-likelihood of gray pixels"
    binarized = ModelConfig(binarize=True)
    assert not binarized.pseudo_likelihood and binarized.likelihood_text == "Bernoulli likelihood of binarized pixels"
    gaussian = ModelConfig(likelihood="gaussian")
    assert not gaussian.pseudo_likelihood and gaussian.likelihood_text == "Gaussian likelihood (σ = 0.1) of gray pixels"
