"""Killed training, in-process (issue #5, Reliability): each window between two of a run's writes
is hit deterministically by a `Killed` exception raised where a kill would land (SIGKILL runs no
handler, nor does this); resume then ends with the same run as one never killed. Ctrl-C mid-epoch
saves, and resume skips the batches already trained.
"""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
import torch

import vae.training.checkpoint
import vae.training.train
from tests.killed_run_checks import assert_consistent, assert_same_run, one_thread  # noqa: F401 (an autouse fixture)
from vae.config import ModelConfig, TrainConfig
from vae.run_files import HISTORY, OPTIMIZER, STEPS, WEIGHTS
from vae.training.checkpoint import load_checkpoint
from vae.training.distributed import Ranks
from vae.training.train import _StopRequests, train

MODEL = ModelConfig(latent_dim=4, hidden_dims=[32])
EPOCHS, BATCH = 3, 50
SPE = 600 // BATCH  # steps per epoch on the 600-image tiny training set


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, and not the KeyboardInterrupt that makes train() save."""


def train_cfg(data_dir) -> TrainConfig:
    return TrainConfig(epochs=EPOCHS, batch_size=BATCH, log_every=2, data_dir=str(data_dir), device="cpu")


@pytest.fixture(scope="module")
def reference(tiny_data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    torch.manual_seed(0)
    train(MODEL, train_cfg(tiny_data_dir), out, show_progress=False)
    return out


# Where each write is called from: the checkpoint's files, and the training loop's logs.
WRITERS = {"atomic_write_bytes": vae.training.checkpoint, "append_jsonl": vae.training.train}


def kill_when(monkeypatch, name: str, when, partial: bool = False):
    """Raise Killed when <name>(path, ...) is called and `when(path, *args)` holds; with
    `partial`, append half of the line first (a write cut short)."""
    module = WRITERS[name]
    original = getattr(module, name)

    def wrapper(path, *args, **kwargs):
        if when(Path(path), *args):
            if partial:
                with open(path, "a") as f:
                    f.write(json.dumps(args[0])[:25])
            raise Killed
        return original(path, *args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)


def nth_call(n: int, match):
    calls = []

    def when(path, *args):
        if match(path, *args):
            calls.append(path)
            return len(calls) == n
        return False

    return when


WINDOWS = {
    # config.json written, the first weights not yet: no checkpoint at all
    "before the first weights": ("atomic_write_bytes", nth_call(1, lambda p, *a: p.name == WEIGHTS), False),
    # weights of epoch 2 saved, its optimizer state not: the optimizer file is still epoch 1's
    "between weights and optimizer": ("atomic_write_bytes", nth_call(2, lambda p, *a: p.name == OPTIMIZER), False),
    # checkpoint of epoch 2 complete, its history line not appended
    "before the history line": ("append_jsonl", lambda p, r: p.name == HISTORY and r["epoch"] == 2, False),
    # the history line of epoch 2 cut short
    "in the history line": ("append_jsonl", lambda p, r: p.name == HISTORY and r["epoch"] == 2, True),
    # mid-epoch 2, a steps line cut short: steps past the checkpoint must not repeat after resume
    "in a steps line mid-epoch": ("append_jsonl", lambda p, r: p.name == STEPS and r["step"] == SPE + 6, True),
}


@pytest.mark.parametrize("window", WINDOWS)
def test_a_kill_in_each_window_resumes_to_the_same_run(window, tiny_data_dir, reference, tmp_path, monkeypatch,
                                                       capsys):
    out = tmp_path / "run"
    name, when, partial = WINDOWS[window]
    with monkeypatch.context() as m:
        kill_when(m, name, when, partial)
        torch.manual_seed(0)
        with pytest.raises(Killed):
            train(MODEL, train_cfg(tiny_data_dir), out, show_progress=False)
    left = assert_consistent(out, SPE)
    assert left["epoch"] == {"before the first weights": 0, "in a steps line mid-epoch": 1}.get(window, 2)
    if window == "before the first weights":
        assert (out / "config.json").exists()  # written first; the picker still says "no checkpoint yet"
    (out / f".{WEIGHTS}.x1y2.tmp").write_bytes(b"half a file")  # what a kill during a write leaves

    train(MODEL, train_cfg(tiny_data_dir), out, resume=True, show_progress=False)
    matched = window != "between weights and optimizer"
    assert left["optimizer_matches"] == matched
    # Epoch 1's Adam moments do not belong to epoch 2's weights: resume says so and starts them afresh.
    assert ("no optimizer state saved at step" in capsys.readouterr().err) == (not matched)
    assert_same_run(out, reference, exact_epochs=None if matched else left["epoch"])


@pytest.mark.parametrize("stop", ["signal", "interrupt"])
def test_ctrl_c_mid_epoch_saves_and_resume_skips_the_batches_already_trained(tiny_data_dir, reference, tmp_path,
                                                                             monkeypatch, stop):
    """A real Ctrl-C is noted and stops the run after its step; a KeyboardInterrupt from anywhere
    in the loop (a second Ctrl-C) stops it at once. Both save where they stopped."""
    out = tmp_path / "run"
    original = vae.training.train.append_jsonl

    def interrupt_at_step(path, record):
        original(path, record)
        if Path(path).name == STEPS and record["step"] == SPE + 6:
            if stop == "interrupt":
                raise KeyboardInterrupt
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # delivered by now: noted, not raised

    with monkeypatch.context() as m:
        m.setattr(vae.training.train, "append_jsonl", interrupt_at_step)
        assert len(train(MODEL, train_cfg(tiny_data_dir), out, show_progress=False)) == 1
    saved = load_checkpoint(out)
    assert (saved.epoch, saved.step) == (1, SPE + 6) and len(saved.history) == 1
    history = train(MODEL, train_cfg(tiny_data_dir), out, resume=True, show_progress=False)
    assert [(h["epoch"], h["step"]) for h in history] == [(e, e * SPE) for e in range(1, EPOCHS + 1)]
    assert_same_run(out, reference, exact_epochs=1)  # other eps draws after the stop: close, not equal


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_is_noted_until_the_step_ends_and_a_second_one_interrupts(signum):
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with _StopRequests() as stops:
        assert not stops.requested(Ranks(), torch.device("cpu"))
        os.kill(os.getpid(), signum)
        time.sleep(0.05)  # the usual handler would have raised by now
        assert stops.requested(Ranks(), torch.device("cpu"))
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signum)
            time.sleep(0.05)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers
