"""Data-parallel training on the CPU (issue #16): images per second of `python -m vae train` in one
process against the same run through torchrun in 2 processes joined by gloo, one thread each (so
that 2 processes use the 2 cores one process with one thread leaves idle), side by side.

    python -m bench.distributed [--arch mlp] [--images 20000] [--epochs 2] [--repeats 2]

Throughput is each epoch's (history.jsonl: the epoch's images over its training seconds, without
the test-set evaluation), the median over epochs and repeats.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import machine, median, table
from vae.checkpoint import read_history

ROOT = Path(__file__).resolve().parent.parent


def run(processes: int, args: argparse.Namespace, out: Path) -> list[float]:
    launcher = [sys.executable] if processes == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
    cmd = [*launcher, "-m", "vae", "train", "--out", str(out), "--arch", args.arch, "--device", "cpu",
           "--epochs", str(args.epochs), "--train-limit", str(args.images), "--batch-size", str(args.batch_size)]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return [h["images_per_second"] for h in read_history(out)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="mlp", help="architecture trained (default: mlp)")
    parser.add_argument("--images", type=int, default=20000, help="training images an epoch (default: 20000)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs a run (default: 2)")
    parser.add_argument("--batch-size", type=int, default=128, help="global batch (default: 128)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each (default: 2)")
    args = parser.parse_args()
    rates = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for processes in rates:  # alternated, so that a slow spell of the machine hits both
                rates[processes] += run(processes, args, Path(tmp) / f"{processes}-{r}")
    one = median(rates[1])
    rows = [[f"{p} process{'es' if p > 1 else ''} x 1 thread" + (" (torchrun, gloo)" if p > 1 else ""),
             f"{median(rates[p]):,.0f}", f"{median(rates[p]) / one:.2f}",
             ", ".join(f"{v:,.0f}" for v in rates[p])] for p in rates]
    print(f"machine: {machine()}\n{args.arch}, {args.images:,} images an epoch, global batch {args.batch_size}\n")
    print(table(["training", "images/s (median)", "ratio to 1 process", "every epoch"], rows))


if __name__ == "__main__":
    main()
