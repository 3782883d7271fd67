"""Training and evaluating from the command line, as a user would: `python -m vae ...`. Training
runs, Ctrl-C, eval's JSON and whatever must start in a fresh interpreter are processes of their own;
the refusals, the help and a one-epoch run that a resume starts afresh run in this process through
cli.main, which is what `python -m vae` runs (test_python_m_vae_is_cli_main): a process each would
spend most of its time importing torch."""
import json
import math
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from vae.cli import build_parser
from vae.config import ModelConfig, TrainConfig
from vae.files import read_jsonl
from vae.models.model import VAE
from vae.options import configs_from_args, train_args
from vae.training.checkpoint import load_checkpoint, read_history, save_checkpoint

ROOT = Path(__file__).resolve().parents[1]
HISTORY_KEYS = {"epoch", "step", "train_recon", "train_kl", "test_recon", "test_kl", "test_elbo",
                "kl_per_dim", "active_units", "seconds", "images_per_second", "test_mutual_information",
                "test_marginal_kl", "test_kl_parts_stderr"}


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "vae", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


@pytest.fixture
def cli(capsys):
    """`python -m vae` in this process: cli(*args) -> what run_cli gives (returncode, stdout, stderr).
    SIGTERM's handler, which a training run sets, is put back."""
    from vae.cli import main

    def run(*args):
        handler = signal.getsignal(signal.SIGTERM)
        capsys.readouterr()
        try:
            code = main(list(map(str, args)))
        except SystemExit as exited:  # argparse: --help, a bad option
            code = exited.code
        finally:
            signal.signal(signal.SIGTERM, handler)
        printed = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, printed.out, printed.err)
    return run


@pytest.fixture(scope="module")
def trained_run(tiny_data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = run_cli("train", "--out", out, "--data-dir", tiny_data_dir, "--epochs", 2,
                     "--train-limit", 500, "--latent-dim", 6, "--hidden", 64, "--batch-size", 100,
                     "--log-every", 2)
    assert result.returncode == 0, result.stderr
    return out


def test_training_makes_a_loadable_checkpoint_and_a_valid_history(trained_run):
    checkpoint = load_checkpoint(trained_run)
    assert checkpoint.config.latent_dim == 6 and checkpoint.epoch == 2 and checkpoint.step == 10
    history = read_history(trained_run)
    assert [h["epoch"] for h in history] == [1, 2]
    for h in history:
        assert HISTORY_KEYS <= set(h)
        assert len(h["kl_per_dim"]) == 6
        assert abs(sum(h["kl_per_dim"]) - h["test_kl"]) < 1e-3
        assert abs(h["test_recon"] + h["test_kl"] - h["test_elbo"]) < 1e-6
        assert abs(h["test_mutual_information"] + h["test_marginal_kl"] - h["test_kl"]) < 1e-6  # issue #25
        assert h["test_mutual_information"] <= math.log(200) + 3 * h["test_kl_parts_stderr"]  # 200 test digits
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


def test_training_and_a_resume_never_import_dynamo(tiny_data_dir, tmp_path):
    """torch._dynamo's import took 1.05 s of every run when torch.optim made the optimizer
    (vae/training/adam.py); Python's import log of a run and of its resume names no module of it."""
    for args in ([], ["--epochs", 2, "--resume"]):
        result = run_cli("train", "--out", tmp_path, "--data-dir", tiny_data_dir, "--epochs", 1,
                         "--train-limit", 200, "--hidden", 32, "--batch-size", 100, *args,
                         env={"PYTHONPROFILEIMPORTTIME": "1"})
        assert result.returncode == 0, result.stderr[-2000:]
        assert re.search(r"\|\s+vae\.training\.adam$", result.stderr, re.M)  # the log is there
        assert "torch._dynamo" not in result.stderr
    assert load_checkpoint(tmp_path).epoch == 2


def test_training_refuses_to_overwrite_without_resume(cli, trained_run, tiny_data_dir):
    result = cli("train", "--out", trained_run, "--data-dir", tiny_data_dir, "--epochs", 1)
    assert result.returncode == 2 and "--resume" in result.stderr and "Traceback" not in result.stderr


def test_eval_json_prints_exactly_one_object(trained_run):
    result = run_cli("eval", trained_run, "--iwae-k", 5, "--limit", 200, "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert set(figures) == {"test_recon", "test_kl", "test_elbo", "active_units", "iwae_k", "iwae_nll",
                            "likelihood", "pseudo_likelihood", "mutual_information", "marginal_kl", "kl_parts_stderr"}
    assert figures["iwae_k"] == 5
    # Issue #25: the KL term is I_q(n; z) + KL(q(z) || p(z)), the mutual information at most log N.
    assert figures["mutual_information"] + figures["marginal_kl"] == pytest.approx(figures["test_kl"], abs=1e-6)
    assert -3 * figures["kl_parts_stderr"] <= figures["mutual_information"] <= math.log(200) + 3 * figures[
        "kl_parts_stderr"]
    assert figures["marginal_kl"] >= -3 * figures["kl_parts_stderr"]
    # Issue #21: a Bernoulli of gray pixels is named a pseudo-likelihood.
    assert figures["pseudo_likelihood"] is True
    assert figures["likelihood"] == "Bernoulli pseudo-likelihood of gray pixels"
    assert figures["iwae_nll"] <= figures["test_elbo"] + 1.0
    assert abs(figures["test_recon"] + figures["test_kl"] - figures["test_elbo"]) < 1e-6


def test_eval_of_a_broken_checkpoint_is_one_clear_line(cli, tmp_path):
    result = cli("eval", tmp_path, "--json")
    assert result.returncode == 2
    assert "config.json is missing" in result.stderr and "Traceback" not in result.stderr


def test_train_without_data_says_where_to_put_it_and_makes_no_folder(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_DATA_DIR", "")
    result = cli("train", "--out", tmp_path / "run", "--data-dir", tmp_path / "empty", "--epochs", 1)
    assert result.returncode == 2
    assert "train-images-idx3-ubyte" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


def test_help_shows_each_default_once_from_the_configs(cli):
    text = " ".join(cli("train", "--help").stdout.split())
    assert "(default: 160)" in text and "(default: 0.006)" in text and "--resume" in text
    assert "(default: per architecture: mlp 32, conv 32, article 100, resnet 32; 30 categorical variables)" in text
    assert "(default: None)" not in text and "(default: $VAE_DATA_DIR, else ./data)" in text
    for name in ("train", "eval"):
        help_text = " ".join(cli(name, "--help").stdout.split())
        for option in re.findall(r"(--[a-z-]+) [A-Z_{]", help_text):
            section = help_text.split(f" {option} ", 1)[-1].split(" --", 1)[0]
            assert section.count("(default:") <= 1, (option, section)


@pytest.mark.parametrize("args,message", [
    (["--batch-size", "0"], "argument --batch-size: must be a whole number >= 1, got 0"),
    (["--epochs", "0"], "argument --epochs: must be a whole number >= 1, got 0"),
    (["--epochs", "-1"], "argument --epochs: must be a whole number >= 1, got -1"),
    (["--train-limit", "-5"], "argument --train-limit: must be a whole number >= 1, got -5"),
    (["--lr", "-1"], "argument --lr: must be a number > 0, got -1"),
    (["--lr-warmup", "-0.3"], "argument --lr-warmup: must be a number >= 0, got -0.3"),
    (["--lr", "fast"], "argument --lr: expected a number, got 'fast'"),
    (["--latent-dim", "0"], "argument --latent-dim: must be a whole number >= 1, got 0"),
    (["--beta", "-0.5"], "argument --beta: must be a number >= 0, got -0.5"),
    (["--hidden", "64", "0"], "argument --hidden: must be a whole number >= 1, got 0"),
    (["--log-every", "0"], "argument --log-every: must be a whole number >= 1, got 0"),
    (["--arch", "transformer"],
     "argument --arch: invalid choice: 'transformer' (choose from 'mlp', 'conv', 'article', 'resnet')"),
    (["--lr", "inf"], "argument --lr: must be a finite number, got inf"),
    (["--lr", "nan"], "argument --lr: must be a finite number, got nan"),
    (["--beta", "inf"], "argument --beta: must be a finite number, got inf"),
    (["--gaussian-sigma=-inf"], "argument --gaussian-sigma: must be a finite number, got -inf"),
])
def test_bad_training_options_are_one_argparse_line_and_make_no_folder(cli, tmp_path, args, message):
    out = tmp_path / "run"
    result = cli("train", "--out", out, *args)
    assert result.returncode == 2
    assert not result.stdout
    # One line, no usage block before it.
    assert result.stderr == f"python -m vae train: error: {message} (see python -m vae train --help)\n"
    assert not out.exists()


def test_python_m_vae_is_cli_main():
    """The in-process tests above hold for the command: one refusal through a real process."""
    result = run_cli("train", "--out", "unused", "--lr", "inf")
    assert result.returncode == 2
    assert result.stderr == ("python -m vae train: error: argument --lr: must be a finite number, got inf "
                             "(see python -m vae train --help)\n")


@pytest.mark.parametrize("where,message", [
    ("file/run", r"cannot be made: Not a directory \(.*file/run\)$"),
    ("file", r"is a file, not a folder$"),
    ("/proc/no-such-process/run", r"cannot be made: .*\(/proc/no-such-process\)$"),
])
def test_an_unusable_out_folder_is_one_line_and_leaves_nothing(cli, tmp_path, tiny_data_dir, where, message):
    (tmp_path / "file").write_text("not a folder")
    out = tmp_path / where
    result = cli("train", "--out", out, "--data-dir", tiny_data_dir, "--epochs", 1)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert re.search(r"^error: --out .*" + message, result.stderr.strip()), result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_the_out_probe_leaves_no_folder_when_the_data_is_missing(cli, tmp_path):
    out = tmp_path / "a" / "b" / "run"
    result = cli("train", "--out", out, "--data-dir", tmp_path / "no-data", "--epochs", 1)
    assert result.returncode == 2 and not (tmp_path / "a").exists()


def test_the_top_level_help_is_for_users(cli):
    text = cli("--help").stdout
    assert "python -m vae train --out" in text and "train_args" not in text and "ModelConfig" not in text


@pytest.mark.parametrize("args,message", [(["--iwae-k", "-3"], "argument --iwae-k: must be a whole number >= 0"),
                                          (["--limit", "0"], "argument --limit: must be a whole number >= 1")])
def test_bad_eval_options_are_one_argparse_line(cli, args, message):
    result = cli("eval", ROOT / "checkpoints" / "default", *args)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1 and message in result.stderr


def test_resume_refuses_other_model_options_naming_each(cli, trained_run, tiny_data_dir):
    before = {p.name: p.stat().st_mtime_ns for p in trained_run.iterdir()}
    result = cli("train", "--out", trained_run, "--data-dir", tiny_data_dir, "--epochs", 9, "--resume",
                     "--arch", "conv", "--latent-dim", 8, "--beta", 2, "--likelihood", "gaussian",
                     "--dataset", "fashion-mnist", "--hidden", 64)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith(f"error: cannot --resume {trained_run} with other model options")
    for named in ("--arch conv (the checkpoint has mlp)", "--latent-dim 8 (the checkpoint has 6)",
                  "--beta 2.0 (the checkpoint has 1.0)", "--likelihood gaussian (the checkpoint has bernoulli)",
                  "--dataset fashion-mnist (the checkpoint has mnist)"):
        assert named in line, named
    assert "--hidden" not in line  # the same as the checkpoint's
    assert {p.name: p.stat().st_mtime_ns for p in trained_run.iterdir()} == before  # nothing written


def test_resume_with_the_epochs_already_reached_says_so_and_writes_nothing(cli, trained_run, tiny_data_dir):
    epoch = load_checkpoint(trained_run).epoch
    before = {p.name: p.stat().st_mtime_ns for p in trained_run.iterdir()}
    result = cli("train", "--out", trained_run, "--data-dir", tiny_data_dir, "--epochs", epoch, "--resume")
    assert result.returncode == 0
    assert f"already at epoch {epoch}, and {epoch} were asked for: nothing to train" in result.stderr
    assert {p.name: p.stat().st_mtime_ns for p in trained_run.iterdir()} == before


def test_resume_of_a_folder_without_a_checkpoint_says_it_starts_afresh(cli, tiny_data_dir, tmp_path):
    result = cli("train", "--out", tmp_path / "new", "--data-dir", tiny_data_dir, "--epochs", 1,
                     "--train-limit", 100, "--hidden", 16, "--latent-dim", 2, "--resume")
    assert result.returncode == 0, result.stderr
    assert "holds no checkpoint yet: --resume starts a fresh run there" in result.stderr
    assert load_checkpoint(tmp_path / "new").epoch == 1


def test_train_args_give_back_the_same_configs():
    """The Train page and vae.services.jobs start runs with train_args: parsed back, the same configs."""
    cases = [(ModelConfig(), TrainConfig()),
             (ModelConfig(arch="article", beta=0.5, likelihood="gaussian", gaussian_sigma=0.2, binarize=True,
                          dataset="fashion-mnist"),
              TrainConfig(epochs=3, batch_size=64, lr=1e-4, seed=7, device="cpu", train_limit=1000,
                          data_dir="/data", log_every=5, amp=True)),
             (ModelConfig(arch="mlp", latent_dim=8, hidden_dims=[256, 128], eps="uniform"),
              TrainConfig(lr=0.00123456789))]
    for model, training in cases:
        args = build_parser().parse_args(["train", "--out", "x", *train_args(model, training)])
        given, parsed_training = configs_from_args(args)
        assert ModelConfig(**given) == model and parsed_training == training
    assert train_args(ModelConfig(), TrainConfig()) == []


def test_the_articles_network_under_its_earlier_name_still_loads(tmp_path):
    model = VAE(ModelConfig(arch="article"))
    save_checkpoint(model, tmp_path, epoch=1, step=1)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "arch": "seed"}))
    assert load_checkpoint(tmp_path).config.arch == "article"


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
