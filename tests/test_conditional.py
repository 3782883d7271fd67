"""The conditional VAE (issue #24): q(z|x, y) and p(x|z, y), its folded per-class twin, training,
the bundled `checkpoints/mnist-conditional`, and every page exploring it."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vae.analysis.diagnostics import per_image_figures
from vae.config import ModelConfig, TrainConfig
from vae.models.classifier import load_classifier
from vae.models.losses import log_importance_weights
from vae.models.model import VAE
from vae.training.checkpoint import load_checkpoint, save_checkpoint
from vae.training.evaluate import evaluate, posteriors
from vae.training.train import train

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "checkpoints" / "mnist-conditional"


def small(seed: int = 0) -> VAE:
    torch.manual_seed(seed)
    return VAE(ModelConfig(conditional=True, latent_dim=3, hidden_dims=[32])).eval()


# The model


def test_only_an_mlp_with_a_gaussian_latent_is_conditional():
    for kwargs in (dict(arch="conv"), dict(latent="categorical")):
        with pytest.raises(ValueError, match="a conditional model is an mlp with a Gaussian latent"):
            ModelConfig(conditional=True, **kwargs)


def test_a_conditional_model_asks_for_the_class_and_a_plain_one_needs_none(batch):
    model = small()
    with pytest.raises(ValueError, match="this model is conditional: give the images' classes"):
        model.posterior(batch)
    with pytest.raises(ValueError, match="this model is conditional"):
        model.decode(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="this one reads no class"):
        VAE(ModelConfig(latent_dim=3, hidden_dims=[32])).given(0)
    with pytest.raises(ValueError, match="class 10 is not one of this model's 10"):
        model.given(10)


def test_the_class_changes_the_code_and_the_image(batch):
    model = small()
    with torch.no_grad():
        assert not torch.allclose(model.posterior(batch, 1).mu, model.posterior(batch, 7).mu)
        z = torch.randn(4, 3)
        assert (model.decode(z, 1) - model.decode(z, 7)).abs().max() > 1e-3


def test_given_k_is_the_model_reading_class_k(batch):
    """W [x; e_k] + b = W_x x + (b + W[:, k]): the folded twin computes what the labelled model does."""
    model = small()
    z = torch.randn(16, 3, generator=torch.Generator().manual_seed(0))
    for k in (0, 4, 9):
        twin = model.given(k)
        assert twin.classes == 0 and twin.given_class == k
        with torch.no_grad():
            assert torch.allclose(twin.posterior(batch).mu, model.posterior(batch, k).mu, atol=1e-5)
            assert torch.allclose(twin.posterior(batch).logvar, model.posterior(batch, k).logvar, atol=1e-5)
            assert torch.allclose(twin.decode(z), model.decode(z, k), atol=1e-5)


def test_per_row_labels_are_each_rows_own_class(batch, mnist_test):
    model, labels = small(), mnist_test.labels[:16]
    with torch.no_grad():
        together = model.posterior(batch, labels).mu
        one_by_one = torch.cat([model.given(int(y)).posterior(x[None]).mu for x, y in zip(batch, labels)])
        z = torch.randn(16, 3)
        assert torch.allclose(model.decode(z, labels),
                              torch.cat([model.given(int(y)).decode(r[None]) for r, y in zip(z, labels)]), atol=1e-5)
    assert torch.allclose(together, one_by_one, atol=1e-5)


def test_the_dataset_figures_use_each_images_own_class(mnist_test):
    model = small()
    images, labels = mnist_test.images[:300], mnist_test.labels[:300]
    kl = per_image_figures(model, images, labels=labels)["kl"]
    for k in (2, 8):
        mine = (labels == k).numpy()
        assert np.allclose(kl[mine], per_image_figures(model.given(k), images[mine])["kl"], atol=1e-4)
    in_batches = per_image_figures(model, images, batch_size=64, labels=labels)["kl"]  # labels sliced with the images
    assert np.allclose(in_batches, kl, atol=1e-5)
    q = posteriors(model, images, batch_size=64, labels=labels)
    assert np.allclose(q.kl_per_unit().sum(-1).numpy(), kl, atol=1e-4)
    assert np.isfinite(evaluate(model, images, labels=labels)["elbo"])


def test_a_conditional_model_round_trips_save_and_load(tmp_path, batch, mnist_test):
    model = small()
    save_checkpoint(model, tmp_path, epoch=1, step=1)
    loaded = load_checkpoint(tmp_path).model.eval()
    assert loaded.config.conditional and loaded.classes == 10
    with torch.no_grad():
        assert torch.equal(loaded.posterior(batch, mnist_test.labels[:16]).mu,
                           model.posterior(batch, mnist_test.labels[:16]).mu)


def test_training_reads_the_labels_and_scores_log_p_x_given_y(tmp_path, tiny_data_dir):
    cfg = ModelConfig(conditional=True, latent_dim=2, hidden_dims=[64])
    history = train(cfg, TrainConfig(epochs=2, batch_size=64, train_limit=600, data_dir=str(tiny_data_dir)),
                    tmp_path, show_progress=False)
    assert [h["epoch"] for h in history] == [1, 2] and np.isfinite(history[-1]["test_elbo"])
    assert history[-1]["test_elbo"] < history[0]["test_elbo"]
    torch.manual_seed(0)  # as train() does before it builds the model
    start = VAE(cfg).decoder[0].weight[:, 2:]
    trained = load_checkpoint(tmp_path).model.decoder[0].weight[:, 2:]  # the one-hot's columns
    assert (trained - start).abs().max() > 1e-2  # the labels reached them: training moved them
    assert cfg.scored_as != ModelConfig(latent_dim=2, hidden_dims=[64]).scored_as  # p(x | y) is not p(x)
    assert cfg.likelihood_text == "Bernoulli pseudo-likelihood of gray pixels, given the class"


# The command line


def vae_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vae", *args], capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.mark.slow
def test_the_cli_trains_a_conditional_model_and_refuses_a_conv_one(tmp_path, tiny_data_dir):
    done = vae_cli("train", "--conditional", "--latent-dim", "2", "--epochs", "1", "--train-limit", "300",
                   "--data-dir", str(tiny_data_dir), "--out", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "run" / "config.json").read_text())["conditional"] is True
    refused = vae_cli("train", "--conditional", "--arch", "conv", "--out", str(tmp_path / "conv"))
    assert refused.returncode == 2 and "a conditional model is an mlp" in refused.stderr
    assert "Traceback" not in refused.stderr and not (tmp_path / "conv").exists()
    scored = vae_cli("eval", str(BUNDLED), "--limit", "500", "--json")
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["likelihood"] == "Bernoulli pseudo-likelihood of gray pixels, given the class"


# The bundled model


@pytest.fixture(scope="module")
def bundled():
    return load_checkpoint(BUNDLED)


def test_the_bundled_model_decodes_random_z_as_the_class_it_is_given(bundled):
    """Each class k: at least 90% of 1,000 prior samples decoded with label k read as k by the bundled
    classifier (the model's own figures: 94.9% for its weakest class, 6; 98.1% on average)."""
    classifier = load_classifier("mnist")
    z = torch.randn(1000, bundled.config.latent_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for k in range(10):
            read = classifier.probabilities(bundled.model.decode(z, k)[:, None]).argmax(1)
            assert (read == k).float().mean() >= 0.9, k


def test_the_bundled_models_codes_no_longer_cluster_by_class(bundled, mnist_test):
    """The label carries the class, z the style: a test code's nearest codes are of any class, where
    the plain default model's are of its own."""
    def neighbours_agree(model, labels=None) -> float:
        codes = posteriors(model, mnist_test.images[:2000], labels=labels).mu
        distances = torch.cdist(codes, codes).fill_diagonal_(float("inf"))
        nearest = distances.topk(5, largest=False).indices  # (N, 5)
        own = mnist_test.labels[:2000]
        return float((own[nearest] == own[:, None]).float().mean())

    conditional = neighbours_agree(bundled.model, mnist_test.labels[:2000])
    plain = neighbours_agree(load_checkpoint(ROOT / "checkpoints" / "default").model)
    assert plain > 0.8 and conditional < 0.3, (plain, conditional)  # measured: 0.86 and 0.18


@torch.no_grad()
def test_the_importance_weights_read_each_rows_class(bundled, mnist_test):
    """k samples of each row decoded with that row's class (its label repeated k times): the mean
    log weight of each row is the folded model's, within sampling error; another class's is far off."""
    model, rows = bundled.model, [0, 1, 2]  # a 7, a 2 and a 1
    x, labels = mnist_test.images[rows].float().div(255)[:, None], mnist_test.labels[rows]
    together = log_importance_weights(model, x, 400, generator=torch.Generator().manual_seed(0), labels=labels)
    for i in range(len(rows)):
        alone = log_importance_weights(model.given(int(labels[i])), x[i:i + 1], 400,
                                       generator=torch.Generator().manual_seed(1))
        wrong = log_importance_weights(model.given((int(labels[i]) + 5) % 10), x[i:i + 1], 400,
                                       generator=torch.Generator().manual_seed(1))
        assert abs(float(together[i].mean() - alone.mean())) < 2.0
        assert float(alone.mean() - wrong.mean()) > 20.0


def test_the_bundled_model_ships_float16_with_its_map_and_its_film(bundled):
    from safetensors import safe_open

    from vae.run_files import map_cache_path
    from vae.training.checkpoint import weights_hash

    with safe_open(BUNDLED / "model.safetensors", "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
    assert map_cache_path(BUNDLED, weights_hash(BUNDLED), "mnist-test").exists()  # UMAP's: the others on demand
    assert len(list((BUNDLED / "film").glob("epoch-*.safetensors"))) == bundled.epoch == 30
    assert bundled.config.conditional and bundled.history[-1]["test_elbo"] < 120


# The app


@pytest.fixture
def checkpoints(tmp_path, monkeypatch):
    from tests.app_support import bundled_checkpoints

    return bundled_checkpoints(tmp_path, monkeypatch, "default", "mnist-conditional")


@pytest.mark.slow
def test_every_page_explores_the_conditional_model_given_the_sidebars_class(checkpoints):
    from tests.app_support import VIEWS, latent_pad, open_app

    at = open_app("views/sliders.py", query_params={"checkpoint": "mnist-conditional", "given": "7"})
    picker = at.sidebar.selectbox(key="widget.given")
    assert picker.value == 7 and any("given the class" in c.value for c in at.sidebar.caption)
    _, data = latent_pad(at)
    assert data["styles"]["class_names"] == [str(k) for k in range(10)]
    assert data["styles"]["layers"][0]["in"] == 4 + 10 and data["layers"][0]["in"] == 4  # whole, and given 7
    assert any("decoded as a «7»" in c.value for c in at.caption)
    picker.set_value(2).run()
    assert not at.exception and any("decoded as a «2»" in c.value for c in at.caption)
    assert at.query_params["given"] == "2"
    for page in VIEWS:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])


@pytest.mark.slow
def test_reconstruct_restyles_a_drawing_as_every_class(checkpoints, mnist_test):
    from tests.app_support import open_app

    at = open_app(query_params={"checkpoint": "mnist-conditional", "given": "3"})
    at.session_state["reconstruct_drawn"] = mnist_test.images[30].float().div(255).numpy()  # a 3
    at.switch_page("views/reconstruct.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(h.value == "Your digit's style, as every class" for h in at.subheader)
    assert any("it encoded your digit as a «3»" in c.value for c in at.caption)


@pytest.mark.slow
def test_a_test_digit_is_scored_as_its_own_class_whatever_the_sidebars(checkpoints, bundled, mnist_test):
    """The tour's ELBO of test digit #0 (a 7) and Compare's reconstructions read its own class, with
    the sidebar at 0."""
    from tests.app_support import open_app
    from vae.analysis.diagnostics import per_image_figures

    own = per_image_figures(bundled.model, mnist_test.images[:1], labels=mnist_test.labels[:1])["elbo"][0]
    at = open_app("views/start.py", query_params={"checkpoint": "mnist-conditional", "given": "0", "step": "4"})
    elbo = next(m for m in at.metric if m.label == "−ELBO, nats")
    assert abs(float(elbo.value.split()[0]) - own) < 15, (elbo.value, own)  # 8 samples; as class 0 it is ~268
    shutil.copytree(checkpoints / "mnist-conditional", checkpoints / "another-conditional")
    at = open_app("views/compare.py", query_params={"checkpoint": "mnist-conditional", "other": "another-conditional"})
    assert not at.exception and not at.warning  # scored alike: ranked
    at = open_app("views/compare.py", query_params={"checkpoint": "default", "other": "mnist-conditional"})
    assert any("one bounds −log p(x | y)" in w.value for w in at.warning)
