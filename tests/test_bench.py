"""The benchmarks' --quick modes: each script runs and prints its table (CI runs only these;
the figures in BENCHMARKS.md come from full runs)."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.server_probes import training_pids
from vae.data import write_idx

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def run_bench(command, env=None):
    """`command`: a module of bench/ and its arguments, run with --quick."""
    module, *args = command.split()
    result = subprocess.run([sys.executable, "-m", f"bench.{module}", *args, "--quick"], cwd=ROOT, capture_output=True,
                            text=True, timeout=600, env={**os.environ, **(env or {})})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "machine:" in result.stdout and "|---" in result.stdout
    return result.stdout


def test_quality_quick():
    assert "IWAE NLL (k=10)" in run_bench("quality")


def test_ood_quick():
    out = run_bench("ood")
    assert "AUROC corrected" in out and "| fashion-mnist | fashion-mnist | mnist " in out


def test_amortization_quick():
    out = run_bench("amortization")
    assert "amortization gap" in out and "| mnist-conditional " in out


def test_disentanglement_quick():
    out = run_bench("disentanglement")
    assert "| checkpoints/sprites-beta4 | 4 " in out and "MIG" in out


def test_projection_quick():
    assert "2k test" in run_bench("projection")


def test_diagnostics_quick():
    out = run_bench("diagnostics")
    assert "IWAE bound and gap, k = 10" in out and "two aligned maps (PCA), nothing cached, again" in out
    assert "excess, points [95% interval]" in out


def training_set_of(tmp_path, mnist_test, n: int) -> dict:
    """A data root whose MNIST training set is the first n bundled test digits, and its test set the
    next 500 (each epoch's evaluation then takes a twentieth of the time): the env to run with."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    write_idx(raw / "train-images-idx3-ubyte", mnist_test.images[:n].numpy(), gz=True)
    write_idx(raw / "train-labels-idx1-ubyte", mnist_test.labels[:n].numpy(), gz=True)
    write_idx(raw / "t10k-images-idx3-ubyte", mnist_test.images[n:n + 500].numpy(), gz=True)
    write_idx(raw / "t10k-labels-idx1-ubyte", mnist_test.labels[n:n + 500].numpy(), gz=True)
    return {"VAE_DATA_DIR": str(tmp_path)}


def test_time_to_quality_quick(tmp_path, mnist_test):
    out = run_bench("time_to_quality", env=training_set_of(tmp_path, mnist_test, 500))
    for recipe in ("default", "examples", "article"):
        assert f"| {recipe}" in out


def test_denormals_quick(tmp_path, mnist_test):
    out = run_bench("denormals", env=training_set_of(tmp_path, mnist_test, 500))
    assert "| flushed (python -m vae train)" in out and "| not flushed" in out


def test_epoch_time_quick(tmp_path, mnist_test):
    assert "| default (mlp" in run_bench("epoch_time", env=training_set_of(tmp_path, mnist_test, 1000))


@pytest.mark.browser
# many_sessions runs in full in tests/test_many_sessions.py (its --probe mode, the same scenario with
# one session timed apart, is left out here for CI's time: about 100 s).
@pytest.mark.parametrize("script", ["interaction", "drawing", "cold_start", "training_contention", "map_canvas"])
def test_browser_benchmarks_quick(script):
    if not Path("/usr/bin/chromium").exists() and os.environ.get("CI") != "true":
        pytest.skip("needs Debian's chromium")
    out = run_bench(script)
    if script == "cold_start":
        assert "an app drawing only the map's points on a canvas" in out  # the canvas app drew every point


def test_a_training_jobs_forked_child_is_not_counted_as_another_job(tmp_path):
    """bench.server_probes.training_pids, which the many-sessions test counts jobs by: a child that a
    job forks carries the job's command line until it execs (torch's import runs `ldconfig -p` so),
    and once made the test see two jobs where there was one."""
    job = subprocess.Popen([sys.executable, "-c", "import os, time\nos.fork()\ntime.sleep(4)\n",
                            "vae", "train", "--out", str(tmp_path / "run")])
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not training_pids(tmp_path):
            time.sleep(0.05)
        time.sleep(0.5)  # the child forked too
        assert training_pids(tmp_path) == {job.pid}
    finally:
        job.wait(10)
