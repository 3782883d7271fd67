"""A run that diverges (issue #20): a learning rate far too high makes the loss NaN. Training stops
there with one line and a non-zero exit, writes nothing non-finite, keeps its last finite
checkpoint; the Train page says why; a checkpoint whose weights or figures are not finite is listed
as unusable with the reason, and no page meets it."""
from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import time

import pytest
import torch

import ui.caches
from tests.app_support import VIEWS, open_app
from tests.killed_run_checks import ROOT, listed
from vae.config import ModelConfig, TrainConfig
from vae.files import read_jsonl
from vae.models.model import VAE
from vae.services.jobs import TrainingJobs
from vae.training.checkpoint import CheckpointError, load_checkpoint, read_history, save_checkpoint
from vae.training.train import TrainingDiverged, train

TINY = ModelConfig(latent_dim=4, hidden_dims=[32])


def tiny_training(data_dir, **kwargs) -> TrainConfig:
    return TrainConfig(data_dir=str(data_dir), train_limit=600, batch_size=50, log_every=2, **kwargs)


def all_finite(value) -> bool:
    if isinstance(value, dict):
        return all(all_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(all_finite(v) for v in value)
    return not isinstance(value, float) or math.isfinite(value)


@pytest.fixture(scope="module")
def diverged(tiny_data_dir, tmp_path_factory):
    """A run of one good epoch, resumed at a learning rate of 1000: the error it raised, and its folder."""
    out = tmp_path_factory.mktemp("diverged") / "run"
    train(TINY, tiny_training(tiny_data_dir, epochs=1), out, show_progress=False)
    with pytest.raises(TrainingDiverged) as raised:
        train(None, tiny_training(tiny_data_dir, epochs=3, lr=1000.0), out, resume=True, show_progress=False)
    return raised.value, out


def test_training_stops_at_the_first_non_finite_loss_and_keeps_the_last_finite_checkpoint(diverged):
    error, out = diverged
    message = str(error)
    assert "\n" not in message and "diverged in epoch 2" in message and "epoch 1 is kept" in message
    assert "lower learning rate than 1000" in message
    checkpoint = load_checkpoint(out)  # loads: its weights are finite
    assert checkpoint.epoch == 1
    assert [h["epoch"] for h in read_history(out)] == [1]
    assert all(all_finite(line) for line in read_history(out) + read_jsonl(out / "steps.jsonl"))
    assert listed(out).ok


def test_a_diverging_job_fails_with_its_reason_and_the_app_carries_on(tiny_data_dir, tmp_path, monkeypatch):
    root = tmp_path / "checkpoints"
    root.mkdir()
    shutil.copytree(ROOT / "checkpoints" / "default", root / "default")
    jobs = TrainingJobs(root)
    run_dir = jobs.start(TINY, tiny_training(tiny_data_dir, epochs=3, lr=1000.0), run_name="too-fast")
    deadline = time.time() + 120
    while jobs.status().running and time.time() < deadline:
        time.sleep(0.2)
    status = jobs.status()
    assert status.state == "failed", status
    assert status.error_line.startswith("error: training diverged in epoch 1"), status.error
    assert "no checkpoint was saved" in status.error_line
    assert not listed(run_dir).ok  # nothing to explore: it never finished an epoch

    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", root)
    monkeypatch.setattr(ui.caches, "training_jobs", lambda: jobs)
    at = open_app("views/train.py")
    assert any("training diverged" in e.value for e in at.main.error), [e.value for e in at.main.error]


def test_the_cli_says_so_in_one_line_and_exits_non_zero(tiny_data_dir, tmp_path):
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "vae", "train", "--out", str(out), "--data-dir", str(tiny_data_dir),
                             "--epochs", "2", "--train-limit", "600", "--latent-dim", "4", "--hidden", "32",
                             "--batch-size", "50", "--log-every", "2", "--lr", "1000"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: training diverged in epoch 1")
    assert "Traceback" not in result.stderr


@pytest.fixture
def broken_runs(tmp_path):
    """checkpoints/ with the bundled model, one run with a NaN weight, one with a NaN test -ELBO."""
    root = tmp_path / "checkpoints"
    shutil.copytree(ROOT / "checkpoints" / "default", root / "default")
    model = VAE(TINY)
    with torch.no_grad():
        next(model.parameters())[0, 0] = float("nan")
    save_checkpoint(model, root / "nan-weights", 1, 10)
    good = VAE(TINY)
    save_checkpoint(good, root / "nan-figures", 1, 10)
    (root / "nan-figures" / "history.jsonl").write_text(
        json.dumps({"epoch": 1, "step": 10, "test_elbo": math.nan}) + "\n")
    return root


def test_non_finite_weights_or_figures_are_listed_as_unusable_with_the_reason(broken_runs):
    weights, figures = listed(broken_runs / "nan-weights"), listed(broken_runs / "nan-figures")
    assert not weights.ok and "not finite numbers (NaN or inf): the run diverged" in weights.error
    assert not figures.ok and "not a finite number: the run diverged" in figures.error
    with pytest.raises(CheckpointError, match="not finite"):
        load_checkpoint(broken_runs / "nan-weights")


@pytest.mark.slow
@pytest.mark.parametrize("view", VIEWS)
def test_no_page_meets_a_diverged_checkpoint(broken_runs, monkeypatch, tmp_path, view):
    """Asked for by a link, it is refused with its reason and the bundled model is shown instead."""
    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", broken_runs)
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path))  # no training set: EM and the holes on the test codes, quickly
    at = open_app(view, query_params={"checkpoint": "nan-weights"})
    assert any("nan-weights" in w.value and "diverged" in w.value for w in at.sidebar.warning)
    assert at.sidebar.selectbox(key="checkpoint").value == "default"
