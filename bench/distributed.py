"""Data-parallel training (issue #16): images per second of `python -m vae train` in one process
against the same run through torchrun, side by side.

On the CPU: 2 processes joined by gloo, one thread each (so that 2 processes use the 2 cores one
process with one thread leaves idle). With --device cuda: one GPU alone, one GPU under DDP
(torchrun with one process: DDP's overhead), and every GPU of the machine when it has several.

    python -m bench.distributed [--arch mlp] [--images 20000] [--epochs 2] [--repeats 2] [--device cuda]

Throughput is each epoch's (history.jsonl: the epoch's images over its training seconds, without
the test-set evaluation), the median over epochs and repeats.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from pathlib import Path

from bench.common import ROOT, machine, median, table
from vae.training.checkpoint import read_history
from vae.training.distributed import launcher


def run(setup: tuple[str, int, bool], args: argparse.Namespace, out: Path) -> list[float]:
    """A run's images per second, each epoch's; setup: (name, processes, through torchrun)."""
    _, processes, torchrun = setup
    start = launcher(processes, torchrun)
    cmd = [*start, "-m", "vae", "train", "--out", str(out), "--arch", args.arch, "--device", args.device,
           "--epochs", str(args.epochs), "--train-limit", str(args.images), "--batch-size", str(args.batch_size)]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return [h["images_per_second"] for h in read_history(out)]


def setups(device: str) -> list[tuple[str, int, bool]]:
    if device == "cpu":
        return [("1 process x 1 thread", 1, False), ("2 processes x 1 thread (torchrun, gloo)", 2, True)]
    import torch

    gpus = torch.cuda.device_count()
    return [("1 GPU alone", 1, False), ("1 GPU under DDP (torchrun, 1 process)", 1, True),
            *([(f"{gpus} GPUs (torchrun, NCCL)", gpus, True)] if gpus > 1 else [])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="mlp", help="architecture trained (default: mlp)")
    parser.add_argument("--images", type=int, default=20000, help="training images an epoch (default: 20000)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs a run (default: 2)")
    parser.add_argument("--batch-size", type=int, default=128, help="global batch (default: 128)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each (default: 2)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="(default: cpu)")
    args = parser.parse_args()
    rates = {setup: [] for setup in setups(args.device)}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for i, setup in enumerate(rates):  # alternated, so that a slow spell of the machine hits all
                rates[setup] += run(setup, args, Path(tmp) / f"{i}-{r}")
    first = median(next(iter(rates.values())))
    rows = [[setup[0], f"{median(v):,.0f}", f"{median(v) / first:.2f}", ", ".join(f"{x:,.0f}" for x in v)]
            for setup, v in rates.items()]
    print(f"machine: {machine()}\n{args.arch}, {args.images:,} images an epoch, global batch {args.batch_size}\n")
    print(table(["training", "images/s (median)", "ratio to the first", "every epoch"], rows))


if __name__ == "__main__":
    main()
