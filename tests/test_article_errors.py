"""The article's own errors (issue #21): listed on its pages with their corrections, and its
uniform eps trainable on purpose (`--eps uniform`), recorded, marked, and never used to evaluate."""
import shutil
from pathlib import Path

import pytest
import torch

import ui.caches
from tests.app_support import open_app
from ui.article_errors import ERRORS
from vae.config import ModelConfig, TrainConfig
from vae.models.model import VAE
from vae.training.checkpoint import read_config, save_checkpoint
from vae.training.train import train

ROOT = Path(__file__).resolve().parents[1]


def noise(model: VAE, x: torch.Tensor) -> torch.Tensor:
    """The eps of the z a forward pass drew: (z - mu) / sigma."""
    with torch.no_grad():
        out = model(x, generator=torch.Generator().manual_seed(0))
    return (out.z - out.posterior.mu) / torch.exp(0.5 * out.posterior.logvar)


def test_uniform_eps_is_drawn_only_while_training(batch):
    model = VAE(ModelConfig(latent_dim=8, hidden_dims=[32], eps="uniform"))
    model.train()
    eps = noise(model, batch)
    assert eps.min() >= 0 and eps.max() < 1  # the article's rand_like
    model.eval()  # evaluation: z as q(z|x) says
    eps = noise(model, batch)
    assert eps.min() < -1 and eps.max() > 1 and abs(float(eps.mean())) < 0.2


def test_uniform_eps_belongs_to_a_gaussian_latent():
    with pytest.raises(ValueError, match="uniform eps"):
        ModelConfig(latent="categorical", eps="uniform")
    with pytest.raises(ValueError, match="eps must be one of"):
        ModelConfig(eps="laplace")


def test_a_run_records_its_eps(tiny_data_dir, tmp_path):
    train(ModelConfig(latent_dim=4, hidden_dims=[32], eps="uniform"),
          TrainConfig(data_dir=str(tiny_data_dir), epochs=1, train_limit=200, batch_size=50), tmp_path / "run",
          show_progress=False)
    assert read_config(tmp_path / "run").eps == "uniform"


def test_the_articles_pages_list_its_errors_and_a_uniform_run_is_marked(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "checkpoints" / "default", tmp_path / "default")
    save_checkpoint(VAE(ModelConfig(latent_dim=4, hidden_dims=[32], eps="uniform")), tmp_path / "buggy", 1, 1)
    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", tmp_path)
    for page in ("views/em.py", "views/reparam.py"):
        at = open_app(page, query_params={"codes": "test", "k": "2"} if page.endswith("em.py") else None)
        items = [m.value for m in at.markdown if "**The article:**" in m.value]
        assert len(items) == len(ERRORS) and all(wrong in item for item, (wrong, _, _) in zip(items, ERRORS))
        assert "rand_like" in items[-1] and "`vae/models/latents.py: Gaussian.sample`" in items[-1]
    at = open_app(query_params={"checkpoint": "buggy", "projection": "pca"})  # no UMAP of a new model's codes
    assert any("the article's bug" in w.value for w in at.sidebar.warning)
    assert at.sidebar.selectbox(key="checkpoint").value == "buggy"  # marked below the picker, which lists names


def test_every_correction_names_code_that_exists():
    import importlib

    for _, _, where in ERRORS:
        for part in where.split("; "):
            path, _, name = part.partition(": ")
            thing = importlib.import_module(path.removesuffix(".py").replace("/", "."))
            for attribute in name.split()[0].split("."):
                thing = getattr(thing, attribute)  # AttributeError: the table names code that is not there


def test_the_readme_lists_the_same_errors():
    readme = (ROOT / "README.md").read_text()
    for row in ERRORS:
        assert f"| {' | '.join(row)} |" in readme, row[0]


def test_the_uniform_eps_is_shown_measured_beside_the_same_recipe(tmp_path, monkeypatch):
    for name in ("default", "article-eps-uniform", "article-eps-gaussian"):
        shutil.copytree(ROOT / "checkpoints" / name, tmp_path / name)
    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", tmp_path)
    at = open_app("views/reparam.py")
    figures = {m.label: float(m.value) for m in at.metric if "ε" in m.label}
    uniform_test = figures["uniform ε (the article): test −ELBO (Gaussian ε)"]
    gaussian_test = figures["Gaussian ε: test −ELBO (Gaussian ε)"]
    assert uniform_test > gaussian_test + 50  # far worse when used as the VAE it claims to be
    assert (figures["uniform ε (the article): training loss (as trained)"]
            < figures["Gaussian ε: training loss (as trained)"])
