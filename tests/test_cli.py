"""Training and evaluating from the command line, as a user would: `python -m vae ...`."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vae.checkpoint import load_checkpoint, read_history
from vae.files import read_jsonl

ROOT = Path(__file__).resolve().parents[1]
HISTORY_KEYS = {"epoch", "step", "train_recon", "train_kl", "test_recon", "test_kl", "test_elbo",
                "kl_per_dim", "active_units", "seconds", "images_per_second"}


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "vae", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def trained_run(tiny_data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = run_cli("train", "--out", out, "--data-dir", tiny_data_dir, "--epochs", 2,
                     "--train-limit", 500, "--latent-dim", 6, "--hidden", 64, "--batch-size", 100,
                     "--log-every", 2)
    assert result.returncode == 0, result.stderr
    return out


def test_training_makes_a_loadable_checkpoint_and_a_valid_history(trained_run):
    state = load_checkpoint(trained_run)
    assert state.config.latent_dim == 6 and state.epoch == 2 and state.step == 10
    history = read_history(trained_run)
    assert [h["epoch"] for h in history] == [1, 2]
    for h in history:
        assert HISTORY_KEYS <= set(h)
        assert len(h["kl_per_dim"]) == 6
        assert abs(sum(h["kl_per_dim"]) - h["test_kl"]) < 1e-3
        assert abs(h["test_recon"] + h["test_kl"] - h["test_elbo"]) < 1e-6
        assert 0 < h["test_recon"] < 600 and h["images_per_second"] > 0
    assert history[1]["test_elbo"] < history[0]["test_elbo"] + 5
    steps = read_jsonl(trained_run / "steps.jsonl")
    assert [s["step"] for s in steps] == [2, 4, 6, 8, 10]


def test_resume_continues_the_epoch_count_and_the_history(trained_run, tiny_data_dir):
    result = run_cli("train", "--out", trained_run, "--data-dir", tiny_data_dir, "--epochs", 3,
                     "--train-limit", 500, "--batch-size", 100, "--resume")
    assert result.returncode == 0, result.stderr
    assert [h["epoch"] for h in read_history(trained_run)] == [1, 2, 3]
    assert load_checkpoint(trained_run).epoch == 3


def test_training_refuses_to_overwrite_without_resume(trained_run, tiny_data_dir):
    result = run_cli("train", "--out", trained_run, "--data-dir", tiny_data_dir, "--epochs", 1)
    assert result.returncode == 2 and "--resume" in result.stderr and "Traceback" not in result.stderr


def test_eval_json_prints_exactly_one_object(trained_run):
    result = run_cli("eval", trained_run, "--iwae-k", 5, "--limit", 200, "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert set(figures) == {"test_recon", "test_kl", "test_elbo", "active_units", "iwae_k", "iwae_nll"}
    assert figures["iwae_k"] == 5
    assert figures["iwae_nll"] <= figures["test_elbo"] + 1.0
    assert abs(figures["test_recon"] + figures["test_kl"] - figures["test_elbo"]) < 1e-6


def test_eval_of_a_broken_checkpoint_is_one_clear_line(tmp_path):
    result = run_cli("eval", tmp_path, "--json")
    assert result.returncode == 2
    assert "config.json is missing" in result.stderr and "Traceback" not in result.stderr


def test_train_without_data_says_where_to_put_it(tmp_path):
    result = run_cli("train", "--out", tmp_path / "run", "--data-dir", tmp_path / "empty", "--epochs", 1,
                     env={"VAE_DATA_DIR": ""})
    assert result.returncode == 2
    assert "train-images-idx3-ubyte" in result.stderr and "Traceback" not in result.stderr


def test_help_shows_defaults():
    result = run_cli("train", "--help")
    text = " ".join(result.stdout.split())
    assert "(default: 128)" in text and "(default: 0.003)" in text and "--resume" in text


def test_ctrl_c_saves_and_exits_cleanly(tiny_data_dir, tmp_path):
    import signal
    import time

    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "vae", "train", "--out", str(out), "--data-dir",
                             str(tiny_data_dir), "--epochs", "1000", "--train-limit", "500", "--latent-dim", "4",
                             "--hidden", "32", "--batch-size", "50"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not read_history(out) and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "Traceback" not in stderr
    assert "interrupted: saved" in stdout
    assert load_checkpoint(out).epoch >= 1
