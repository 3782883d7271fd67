"""Building models: shapes and gradients of every architecture, seeded determinism, and where a
fresh run's decoder starts."""
import pytest
import torch

from vae.config import ARCHITECTURES, ModelConfig, TrainConfig
from vae.data import load_split
from vae.models.losses import kl_per_dim, recon_nll
from vae.models.model import VAE
from vae.training.checkpoint import load_checkpoint
from vae.training.train import train


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


def _log_odds_of_mean(images: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
    """The expected start, in float64 the plain way: each pixel's mean over the images, in the order the
    decoder writes ((C, H, W) flattened), held within [0.001, 0.999]."""
    mean = images.double().mean(0) / 255  # (H, W) or (H, W, C)
    mean = mean.permute(2, 0, 1) if mean.dim() == 3 else mean
    return torch.logit(mean.flatten().clamp(1e-3, 1 - 1e-3))


@pytest.mark.parametrize("cfg", [ModelConfig(), ModelConfig(dataset="folder:my-pictures", side=8, channels=3),
                                 ModelConfig(arch="article")], ids=["mlp", "mlp of RGB pictures", "article"])
def test_a_fresh_decoder_starts_at_the_mean_image(cfg):
    """Its output bias is the log-odds of each pixel's mean over the images (more than one chunk of them,
    added up; some pixels always black, some always white), so the untrained decoder draws close to it."""
    gen = torch.Generator().manual_seed(0)
    stored = (cfg.side, cfg.side) if cfg.channels == 1 else (cfg.side, cfg.side, cfg.channels)  # as stored
    images = torch.randint(0, 256, (9000, *stored), generator=gen, dtype=torch.uint8)
    images[:, 0, 0] = 0
    images[:, 1, 1] = 255
    model = VAE(cfg)
    model.start_at_mean_image(images)
    expected = _log_odds_of_mean(images, cfg).float()
    # float32 means: near 0.999 the log-odds move 1000x as fast as the mean, so 1e-4 and not less
    torch.testing.assert_close(model.decoder[-1].bias.detach(), expected, rtol=0, atol=1e-4)
    assert expected.min() == pytest.approx(-6.9068, abs=1e-4) and expected.max() == pytest.approx(6.9068, abs=1e-4)


def test_a_convolutional_decoder_keeps_its_bias():
    """Its last bias is one per channel, not per pixel: nothing to start at the mean image."""
    model = VAE(ModelConfig(arch="conv"))
    before = [p.detach().clone() for p in model.parameters()]
    model.start_at_mean_image(torch.full((10, 28, 28), 200, dtype=torch.uint8))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_a_fresh_run_starts_there_and_a_resumed_one_keeps_its_own(tiny_data_dir, tmp_path):
    """train() starts a new run's decoder at its training images' mean (seen at a learning rate too small
    to move it), and a --resume does not start it again: the bias the checkpoint learnt goes on."""
    still = dict(data_dir=str(tiny_data_dir), device="cpu", lr=1e-30)
    train(ModelConfig(), TrainConfig(epochs=1, **still), tmp_path / "fresh", show_progress=False)
    cfg = ModelConfig()
    expected = _log_odds_of_mean(load_split("mnist", "train", tiny_data_dir).images, cfg).float()
    fresh = load_checkpoint(tmp_path / "fresh").model
    torch.testing.assert_close(fresh.decoder[-1].bias.detach(), expected, rtol=0, atol=1e-4)

    train(ModelConfig(), TrainConfig(epochs=1, data_dir=str(tiny_data_dir), device="cpu"), tmp_path / "run",
          show_progress=False)
    learnt = load_checkpoint(tmp_path / "run").model.decoder[-1].bias.detach()
    assert (learnt - expected).abs().max() > 1e-3  # training moved it
    train(ModelConfig(), TrainConfig(epochs=2, **still), tmp_path / "run", resume=True, show_progress=False)
    torch.testing.assert_close(load_checkpoint(tmp_path / "run").model.decoder[-1].bias.detach(), learnt,
                               rtol=0, atol=1e-6)
