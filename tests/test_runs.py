"""The checkpoints folder as a library lists it (vae.services.runs): usable runs with their config and history, broken
ones with one line saying why, and names resolved only inside the folder."""
import json
import shutil
from pathlib import Path

import pytest

from vae.config import ModelConfig
from vae.models.model import VAE
from vae.run_files import CONFIG, TRAIN_CONFIG, WEIGHTS
from vae.services.runs import list_runs, run_folder
from vae.training.checkpoint import CheckpointError, save_checkpoint

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def root(tmp_path):
    shutil.copytree(ROOT / "checkpoints" / "default", tmp_path / "default")
    save_checkpoint(VAE(ModelConfig(latent_dim=3, hidden_dims=[16])), tmp_path / "a-small-one", 1, 10)
    misfit = tmp_path / "misfit"
    save_checkpoint(VAE(ModelConfig(latent_dim=3, hidden_dims=[16])), misfit, 1, 10)
    (misfit / CONFIG).write_text(json.dumps({**json.loads((misfit / CONFIG).read_text()), "latent_dim": 5}))
    (tmp_path / "empty").mkdir()
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / TRAIN_CONFIG).write_text("{}")
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / CONFIG).write_text("{nope")
    (tmp_path / ".hidden").mkdir()
    return tmp_path


def test_runs_are_listed_bundled_first_with_why_the_broken_ones_are_broken(root):
    runs = {r.name: r for r in list_runs(root)}
    assert list(runs) == ["default", "a-small-one", "empty", "garbage", "half", "misfit"]
    assert runs["default"].ok and round(runs["default"].history[-1]["test_elbo"], 2) == 96.92
    assert runs["a-small-one"].ok and runs["a-small-one"].history == []
    assert runs["garbage"].error.startswith("config.json is not a valid model config")
    assert runs["misfit"].error == ("model.safetensors does not fit config.json (arch mlp, z=5): "
                                    "3 tensors of another shape")
    assert runs["half"].error.startswith("no checkpoint yet")
    assert runs["empty"].error == "config.json is missing: a checkpoint needs config.json beside its weights"
    assert list_runs(root / "nowhere") == []


@pytest.mark.parametrize("name", ["..", "../x", "default/../..", "/etc", "nowhere", ".hidden/.."])
def test_names_that_leave_the_folder_or_lead_nowhere_are_refused(root, name):
    with pytest.raises(CheckpointError, match="is not a checkpoint in"):
        run_folder(root, name)


def test_a_link_out_of_the_folder_is_refused(root, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(CheckpointError):
        run_folder(root, "link")
    assert run_folder(root, "default") == (root / "default").resolve()
    assert (run_folder(root, "a-small-one") / WEIGHTS).is_file()
