"""Killed training with real processes (issue #5, Reliability): `python -m vae train` gets
SIGKILLed at 5 seeded random moments (mid-epoch, while a checkpoint is being written, just after
one), and once before the first checkpoint. After every kill the last complete checkpoint loads,
history.jsonl and steps.jsonl read, and `--resume` ends with the same history, steps and weights as
a run that was never killed. (tests/test_kill_windows.py hits every window in-process.)
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.killed_run_checks import (
    ROOT,
    assert_consistent,
    assert_same_run,
    listed,
    one_thread,  # noqa: F401 (an autouse fixture)
)
from vae.config import ModelConfig, TrainConfig
from vae.files import read_jsonl
from vae.options import train_args
from vae.run_files import HISTORY, STEPS, WEIGHTS
from vae.services.jobs import TrainingJobs
from vae.training.train import train

CLI_SPE = 120  # 600 images in batches of 5: epochs long enough to kill inside one
CLI_EPOCHS = 12


MODEL = ModelConfig(latent_dim=4, hidden_dims=[64])


def training(data_dir) -> TrainConfig:
    return TrainConfig(epochs=CLI_EPOCHS, batch_size=5, train_limit=600, log_every=10, seed=3, device="cpu",
                       data_dir=str(data_dir))


def cli_reference(data_dir, out: Path) -> Path:
    """What `python -m vae train` with these configs makes, trained here (on one thread, as there)."""
    torch.manual_seed(0)
    train(MODEL, training(data_dir), out, show_progress=False)
    return out


def resume_cli(out: Path, args: list[str], log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "vae", "train", "--out", str(out), *args, "--resume"]
    with open(log, "wb") as f:
        return subprocess.Popen(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def signature(path: Path):
    try:
        st = path.stat()
        return st.st_ino, st.st_size, st.st_mtime_ns
    except FileNotFoundError:
        return None


def alive(pid: int) -> bool:
    """Running, without reaping it (a zombie has ended): TrainingJobs reads the exit code itself."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def wait_for(pid: int, predicate, timeout: float, poll: float = 0.0005) -> bool:
    """Poll until `predicate()`; False once the process has ended or the time is up."""
    deadline = time.time() + timeout
    while time.time() < deadline and alive(pid):
        if predicate():
            return True
        time.sleep(poll)
    return False


def steps_since(out: Path, since: float) -> int:
    """Lines of steps.jsonl written after `since` (a resumed run first cuts the file back)."""
    return sum(s["time"] > since for s in read_jsonl(out / STEPS))


def kill_at(pid: int, out: Path, moment: str, rng: random.Random, since: float) -> str:
    """Wait for `moment` in the run's files, SIGKILL the run; returns what was waited for."""
    assert wait_for(pid, lambda: steps_since(out, since) > 0, 60, poll=0.01), "training never started"
    if moment == "after a random delay":
        delay = rng.uniform(0.0, 0.6)
        time.sleep(delay)
        what = f"{delay:.2f} s into training"
    elif moment == "mid-epoch":
        lines = rng.randint(2, 10)
        wait_for(pid, lambda: steps_since(out, since) >= lines, 10, poll=0.005)
        what = f"{lines} steps lines in"
    elif moment == "while a checkpoint is written":
        wait_for(pid, lambda: any(out.glob(".*.tmp")), 10, poll=0.0002)
        what = "a temporary file seen"
    else:
        name = {"just after the weights are renamed": WEIGHTS, "just after a history line": HISTORY}[moment]
        changes = rng.randint(1, 2)
        for _ in range(changes):
            before = signature(out / name)
            wait_for(pid, lambda before=before: signature(out / name) != before, 10, poll=0.0002)
        what = f"{name} changed {changes}x"
    assert alive(pid), f"the run ended before the kill ({moment})"
    os.kill(pid, signal.SIGKILL)
    return what


@pytest.fixture
def processes():
    """Every process a test starts; those still running at its end are killed."""
    started: list[int] = []
    yield started
    for pid in started:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume(tiny_data_dir, tmp_path, monkeypatch, processes):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the same arithmetic in every process, and no oversubscription
    args = train_args(MODEL, training(tiny_data_dir))

    # 0. Started by the app, killed before its first checkpoint: the picker says so, the job failed.
    jobs = TrainingJobs(tmp_path / "checkpoints")
    out = jobs.start(MODEL, training(tiny_data_dir), run_name="run")
    pid = json.loads(jobs.job_file.read_text())["pid"]
    processes.append(pid)
    assert wait_for(pid, lambda: (out / STEPS).exists(), 60), jobs.status().error or "no steps"
    os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 10
    while jobs.status().running and time.time() < deadline:
        time.sleep(0.01)
    assert not (out / WEIGHTS).exists(), "the first epoch ended before the kill: make it longer"
    assert assert_consistent(out, CLI_SPE)["epoch"] == 0
    status = jobs.status()
    assert status.state == "failed" and "SIGKILL" in status.error_line and "out of memory" in status.error_line

    # 1-5. Resumed, and killed again at seeded random moments, one of each kind.
    rng = random.Random(20261125)
    moments = rng.sample(["after a random delay", "mid-epoch", "while a checkpoint is written",
                          "just after the weights are renamed", "just after a history line"], 5)
    report, exact_epochs = [], None
    for i, moment in enumerate(moments, 1):
        since = time.time()
        proc = resume_cli(out, args, tmp_path / f"kill{i}.log")
        processes.append(proc.pid)
        what = kill_at(proc.pid, out, moment, rng, since)
        assert proc.wait(10) == -signal.SIGKILL
        left = assert_consistent(out, CLI_SPE)
        if not left["optimizer_matches"] and exact_epochs is None:
            exact_epochs = left["epoch"]  # Adam starts afresh from here: the figures part from the reference
        report.append(f"kill {i}, {moment} ({what}): {left}")
    print("\n".join(report))

    # Then --resume runs to the end: the same run as one that was never killed.
    final = subprocess.run([sys.executable, "-m", "vae", "train", "--out", str(out), *args, "--resume"], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    assert_same_run(out, cli_reference(tiny_data_dir, tmp_path / "reference"), exact_epochs)
    if exact_epochs is not None:  # a kill between weights and optimizer: resume said so
        logs = "".join(p.read_text() for p in tmp_path.glob("kill*.log")) + final.stderr
        assert "no optimizer state saved at step" in logs
    assert listed(out).ok
