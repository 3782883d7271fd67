"""The discrete VAE (issue #13): categorical latents through the Gumbel-softmax relaxation. The KL in
closed form against Monte Carlo, Gumbel-softmax samples' argmax against the probabilities, samples
nearing one-hot as the temperature falls, gradients reaching the encoder, the temperature schedule
in the logs, and the importance-weighted bound."""
import math

import pytest
import torch

from vae.config import ModelConfig, TrainConfig
from vae.models.latents import Categorical, CategoricalLatent
from vae.models.losses import iwae_nll, recon_nll
from vae.models.model import VAE


@pytest.fixture
def posterior():
    g = torch.Generator().manual_seed(0)
    return Categorical(torch.randn(3, 4, 5, generator=g) * 1.5)  # B = 3 images, N = 4 variables, K = 5


def test_closed_form_kl_matches_monte_carlo(posterior):
    latent = CategoricalLatent(4, 5)
    z = posterior.sample(torch.Generator().manual_seed(1), samples=200_000)  # exact one-hot samples
    log_ratio = posterior.log_prob(z) - latent.prior_log_prob(z)  # (B, samples)
    estimate, stderr = log_ratio.double().mean(1), log_ratio.double().std(1) / math.sqrt(200_000)
    exact = posterior.kl_per_unit().sum(-1).double()
    assert ((estimate - exact).abs() < 5 * stderr + 1e-6).all()
    assert (posterior.kl_per_unit() >= 0).all()
    uniform = Categorical(torch.zeros(2, 4, 5))
    assert torch.allclose(uniform.kl_per_unit(), torch.zeros(2, 4), atol=1e-6)


@pytest.mark.parametrize("temperature", [None, 1.0, 0.5])
def test_the_argmax_of_gumbel_softmax_samples_follows_the_probabilities(posterior, temperature):
    n = 100_000
    z = posterior.sample(torch.Generator().manual_seed(2), temperature, samples=n).unflatten(-1, (4, 5))
    counts = torch.nn.functional.one_hot(z.argmax(-1), 5).float().mean(1)  # (B, N, K)
    p = posterior.probs
    assert (counts - p).abs().max() < 5 * (p * (1 - p) / n).sqrt().max() + 1e-3


def test_samples_near_one_hot_as_the_temperature_falls(posterior):
    g = torch.Generator().manual_seed(3)
    peaks = [posterior.sample(g, t, samples=5000).unflatten(-1, (4, 5)).max(-1).values.mean().item()
             for t in (2.0, 1.0, 0.5, 0.1, 0.01)]
    assert peaks == sorted(peaks) and peaks[-1] > 0.99
    hard = posterior.sample(g, 0.5, hard=True).unflatten(-1, (4, 5))
    assert torch.equal(hard.sum(-1), torch.ones(3, 4)) and set(hard.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("straight_through", [False, True])
@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_gradients_reach_the_encoder(arch, straight_through, batch):
    model = VAE(ModelConfig(arch=arch, latent="categorical", latent_dim=6, categories=4,
                            straight_through=straight_through))
    out = model(batch, generator=torch.Generator().manual_seed(0), temperature=0.7)
    loss = (recon_nll(out.logits, batch, model.config) + out.posterior.kl_per_unit().sum(-1)).mean()
    loss.backward()
    for name, p in model.encoder.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0 and torch.isfinite(p.grad).all(), name
    assert out.z.shape == (16, 24) and model.decode(out.z).shape == (16, 28, 28)


def test_the_temperature_anneals_as_configured():
    cfg = ModelConfig(latent="categorical")
    assert cfg.latent_dim == 30 and cfg.categories == 10
    assert cfg.temperature(0) == 1.0 and cfg.temperature(10**6) == 0.5
    taus = [cfg.temperature(s) for s in range(0, 40_000, 1000)]
    assert taus == sorted(taus, reverse=True) and 0.6 < cfg.temperature(15_000) < 0.7
    with pytest.raises(ValueError, match="categorical latents come with the mlp and conv"):
        ModelConfig(arch="resnet", latent="categorical")


def test_training_logs_the_temperature_and_the_bound_tightens_with_k(tiny_data_dir, tmp_path, mnist_test):
    from vae.files import read_jsonl
    from vae.training.checkpoint import load_checkpoint
    from vae.training.train import train

    cfg = ModelConfig(latent="categorical", latent_dim=8, categories=4, hidden_dims=[64], binarize=True,
                      temperature_decay=1e-2)
    history = train(cfg, TrainConfig(epochs=2, batch_size=50, log_every=3, data_dir=str(tiny_data_dir)), tmp_path,
                    show_progress=False)
    assert [round(h["temperature"], 6) for h in history] == [round(cfg.temperature(h["step"]), 6) for h in history]
    steps = read_jsonl(tmp_path / "steps.jsonl")
    assert all("temperature" in s for s in steps) and steps[-1]["temperature"] < steps[0]["temperature"]
    assert len(history[-1]["kl_per_dim"]) == 8  # one KL per variable
    model = load_checkpoint(tmp_path).model
    # 1,000 digits: this barely trained model's bound gains only hundredths of a nat from k = 10 to 100,
    # within the sampling noise of a few dozen digits' mean
    x = torch.bernoulli(mnist_test.images[:1000].unsqueeze(1).float() / 255, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(0)
    bounds = [float(iwae_nll(model, x, k, generator=g).mean()) for k in (1, 10, 100)]
    assert bounds[2] < bounds[1] < bounds[0]




@pytest.fixture
def categorical_app(tmp_path, monkeypatch):
    import shutil
    from pathlib import Path

    import ui.caches

    root = Path(__file__).resolve().parents[1] / "checkpoints"
    for name in ("default", "mnist-categorical"):
        shutil.copytree(root / name, tmp_path / name)
    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", tmp_path)
    return tmp_path


def test_every_page_explores_the_bundled_categorical_model(categorical_app):

    from tests.app_support import VIEWS, latent_pad, open_app

    at = open_app(query_params={"checkpoint": "mnist-categorical", "codes": "test"})
    for page in VIEWS:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
    at.switch_page("views/sliders.py").run()
    data = latent_pad(at)[1]
    assert data["latent"] == "categorical" and data["categories"] == 10 and data["z_dim"] == 300
    assert sorted({round(v, 3) for v in data["z"]}) == [0.0, 1.0] and sum(data["z"]) == 30  # one-hot per variable
    assert all(d["label"].startswith("v") for d in data["dims"])
    next(b for b in at.button if b.label.startswith("Start from #")).click().run()
    assert not at.exception and len(at.query_params["z"].split(",")) == 30
    at.switch_page("views/interpolate.py").run()
    assert any("simplex" in c.value for c in at.caption)
    at.switch_page("views/reparam.py").run()
    assert any("categorical" in i.value for i in at.info)


def test_a_categorical_run_logs_its_exact_train_elbo_beside_the_relaxed_objective(tiny_data_dir, tmp_path):
    """Issue #21: the logged train figures of a Gumbel-softmax run are the relaxed objective; the
    exact train -ELBO (one-hot samples, on a fixed subset) is what compares with the test's."""
    from ui.charts import loss_curves
    from vae.config import TrainConfig
    from vae.data import load_split
    from vae.services.runs import read_run_log
    from vae.training.checkpoint import load_checkpoint, read_history
    from vae.training.evaluate import evaluate
    from vae.training.train import EXACT_TRAIN_IMAGES, train

    out = tmp_path / "run"
    train(ModelConfig(latent="categorical", latent_dim=4, categories=5, hidden_dims=[32]),
          TrainConfig(data_dir=str(tiny_data_dir), epochs=1, batch_size=50, log_every=4), out, show_progress=False)
    (record,) = read_history(out)
    images = load_split("mnist", "train", str(tiny_data_dir)).images[:EXACT_TRAIN_IMAGES]
    assert record["train_exact_images"] == len(images) == 600  # the tiny set has fewer than 5,000
    assert record["train_objective"] == "relaxed"
    expected = evaluate(load_checkpoint(out).model, images)
    assert record["train_exact_elbo"] == pytest.approx(expected["elbo"], abs=1e-4)
    names = [trace.name for trace in loss_curves([read_run_log(out)])[0].data]
    assert "train, relaxed objective (epoch)" in names and "train, exact one-hot samples<br>(600 images)" in names
