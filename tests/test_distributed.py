"""Data-parallel training through torchrun (issue #16): 2 CPU processes joined by gloo, each running
`python -m vae train` (tests/ddp_worker.py adds what the tests look at). Plus the pure parts of
vae/training/distributed.py: how the ranks share an epoch."""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from vae.config import ModelConfig
from vae.files import read_jsonl
from vae.models.model import VAE
from vae.run_files import STEPS
from vae.training.checkpoint import load_checkpoint, read_history
from vae.training.distributed import Ranks, check_batch_size, epoch_order, launcher, rank_share

ROOT = Path(__file__).resolve().parent.parent
WORKER = ROOT / "tests" / "ddp_worker.py"
MODEL = ["--latent-dim", "4", "--hidden", "32", "--device", "cpu", "--log-every", "4"]


def launch(args, data_dir, out: Path, processes: int = 2, report: Path | None = None, wait: bool = True, **env):
    """`torchrun --nproc-per-node N tests/ddp_worker.py train ...` (plain python for one process)."""
    cmd = [*launcher(processes), str(WORKER), "train", "--out", str(out), "--data-dir", str(data_dir), *MODEL,
           *map(str, args)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **env}
    if report:
        report.mkdir(parents=True, exist_ok=True)
        env["DDP_REPORT"] = str(report)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if not wait:
        return proc
    output, _ = proc.communicate(timeout=300)
    return proc.returncode, output


def weights(report: Path, rank: int) -> dict[str, torch.Tensor]:
    return load_file(report / f"rank-{rank}.safetensors")


# The pure parts

def test_the_ranks_share_every_batch_and_take_the_same_steps():
    perm = torch.randperm(103, generator=torch.Generator().manual_seed(0))
    for world in (2, 3, 4):
        order = epoch_order(perm, 12, Ranks(0, world))
        assert len(order) == 108 and torch.equal(order[:103], perm) and torch.equal(order[103:], perm[:5])
        for i in range(9):
            batch = order[i * 12:(i + 1) * 12]
            shares = [rank_share(batch, Ranks(r, world)) for r in range(world)]
            assert torch.equal(torch.cat(shares), batch) and {len(s) for s in shares} == {12 // world}
    assert torch.equal(epoch_order(perm, 12, Ranks()), perm)  # one process alone keeps its short batch


def test_a_batch_that_does_not_split_is_refused():
    check_batch_size(128, Ranks(0, 2))
    with pytest.raises(ValueError, match="--batch-size 100 does not split into 3 processes"):
        check_batch_size(100, Ranks(1, 3))


# Through torchrun


@pytest.mark.slow
def test_two_ranks_with_half_batches_step_like_one_process(tiny_data_dir, tmp_path):
    """One step: 2 ranks x 32 images against one process with 64 (q(z|x)'s mean as the noise), in
    float32: bfloat16's rounding (the default on a CPU with bfloat16 units) differs with the batch."""
    args = ["--train-limit", 64, "--batch-size", 64, "--epochs", 1, "--no-amp"]
    code, output = launch(args, tiny_data_dir, tmp_path / "one", 1, tmp_path / "r1", DDP_FIXED_NOISE="1")
    assert code == 0, output
    code, output = launch(args, tiny_data_dir, tmp_path / "two", 2, tmp_path / "r2", DDP_FIXED_NOISE="1")
    assert code == 0, output
    one, two = weights(tmp_path / "r1", 0), weights(tmp_path / "r2", 0)
    torch.manual_seed(0)  # the untrained weights, as the runs (seed 0) made them
    start = VAE(ModelConfig(latent_dim=4, hidden_dims=[32])).state_dict()
    assert max((one[k] - start[k]).abs().max().item() for k in one) > 1e-3  # the step changed them
    assert max((one[k] - two[k]).abs().max().item() for k in one) < 1e-6
    assert load_checkpoint(tmp_path / "two").step == 1


RUN = ["--train-limit", 600, "--batch-size", 50, "--epochs", 4]  # 12 global batches an epoch


@pytest.fixture(scope="module")
def ddp_run(tiny_data_dir, tmp_path_factory):
    """4 epochs of 600 images in global batches of 50 over 2 processes."""
    root = tmp_path_factory.mktemp("ddp")
    code, output = launch(RUN, tiny_data_dir, root / "run", report=root / "report")
    assert code == 0, output
    return root


@pytest.mark.slow
def test_after_training_the_ranks_hold_the_same_weights_and_only_rank_0_wrote(ddp_run):
    rank0, rank1 = weights(ddp_run / "report", 0), weights(ddp_run / "report", 1)
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    assert json.loads((ddp_run / "report" / "rank-1.json").read_text()) == []
    written = {Path(p).name for _, p in json.loads((ddp_run / "report" / "rank-0.json").read_text())}
    assert {"history.jsonl", "steps.jsonl", "train_config.json", "model.safetensors"} <= written
    checkpoint = load_checkpoint(ddp_run / "run")
    assert all(torch.equal(checkpoint.model.state_dict()[k], rank0[k]) for k in rank0)
    assert checkpoint.epoch == 4 and checkpoint.step == 48
    assert [h["epoch"] for h in read_history(ddp_run / "run")] == [1, 2, 3, 4]
    assert [s["step"] for s in read_jsonl(ddp_run / "run" / STEPS)] == list(range(4, 49, 4))
    assert json.loads((ddp_run / "run" / "train_config.json").read_text())["processes"] == 2


@pytest.mark.slow
def test_a_killed_rank_ends_the_job_and_resume_under_torchrun_finishes_it(ddp_run, tiny_data_dir, tmp_path):
    started = time.monotonic()
    code, output = launch(RUN, tiny_data_dir, tmp_path / "run", DDP_DIE_AT_STEP="16")  # rank 1, in epoch 2
    assert time.monotonic() - started < 120
    assert code != 0 and "Signal 9 (SIGKILL)" in output, output
    assert 1 <= load_checkpoint(tmp_path / "run").epoch < 4
    code, output = launch([*RUN, "--resume"], tiny_data_dir, tmp_path / "run")
    assert code == 0, output
    resumed, straight = load_checkpoint(tmp_path / "run"), load_checkpoint(ddp_run / "run")
    assert [h["epoch"] for h in read_history(tmp_path / "run")] == [1, 2, 3, 4]
    assert [s["step"] for s in read_jsonl(tmp_path / "run" / STEPS)] == list(range(4, 49, 4))
    assert all(torch.equal(resumed.model.state_dict()[k], v) for k, v in straight.model.state_dict().items())


@pytest.mark.slow
def test_a_stop_that_reaches_one_rank_stops_every_rank_after_the_same_step(tiny_data_dir, tmp_path):
    """Only rank 1 gets the SIGTERM, as it starts step 70 (epoch 2 of 60-step epochs): the stop flag,
    all-reduced after every step, stops both ranks after that step; rank 0 saves there, and every
    rank holds the saved weights. (SIGTERM to torchrun, which passes it on: tests/test_jobs.py.)"""
    code, output = launch(["--train-limit", 600, "--batch-size", 10, "--epochs", 50], tiny_data_dir,
                          tmp_path / "run", report=tmp_path / "report", DDP_STOP_AT_STEP="70")
    assert code == 0, output
    checkpoint = load_checkpoint(tmp_path / "run")
    assert (checkpoint.epoch, checkpoint.step) == (1, 70), output
    saved = checkpoint.model.state_dict()
    for rank in (0, 1):
        assert all(torch.equal(saved[name], value) for name, value in weights(tmp_path / "report", rank).items())
