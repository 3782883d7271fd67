"""The amortization gap (Cremer, Li & Duvenaud 2018) of each bundled Gaussian model on the first test
digits: the encoder's ELBO, the ELBO of each digit's own fitted Gaussian q*, and the IWAE bound of
log p(x) with q* as the proposal; their differences are the amortization and approximation gaps.

    python -m bench.amortization            # 100 digits of each MLP model, 50 of each conv, 10 of the resnet
    python -m bench.amortization --quick    # 2 digits of two small models, 20 steps
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from bench.common import machine, table
from vae.analysis.amortization import EVAL_SAMPLES, OPTIMIZE_STEPS, amortization_gaps
from vae.data import load_split
from vae.training.checkpoint import load_checkpoint
from vae.training.evaluate import prepare

# Digits a model: fewer for the convolutional decoders, whose 300 fitting steps take seconds a digit on a CPU.
COUNTS = {"default": 50, "mnist-binarized-resnet": 10, "article-eps-gaussian": 100, "article-eps-uniform": 100,
          "fashion-mnist": 50, "mnist-conditional": 100}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    counts = {"article-eps-gaussian": 2, "mnist-conditional": 2} if args.quick else COUNTS
    steps = 20 if args.quick else OPTIMIZE_STEPS
    print(f"machine: {machine()}")
    rows = []
    for name, count in counts.items():
        started = time.perf_counter()
        checkpoint = load_checkpoint(Path("checkpoints") / name)
        test = load_split(checkpoint.config.dataset, "test")
        x = prepare(test.images[:count], checkpoint.config.binarize).to(checkpoint.model.device)
        gaps = amortization_gaps(checkpoint.model, x, steps=steps, labels=test.labels[:count])
        root = math.sqrt(count)
        gap = gaps.amortization_gap
        rows.append([name, count, f"{gaps.amortized_elbo.mean():.2f}", f"{gaps.optimized_elbo.mean():.2f}",
                     f"{gaps.log_px_bound.mean():.2f}", f"{gap.mean():.2f} ± {gap.std() / root:.2f}",
                     f"{gaps.approximation_gap.mean():.2f} ± {gaps.approximation_gap.std() / root:.2f}",
                     f"{int((gap > 0).sum())} of {count}", f"{time.perf_counter() - started:.0f}"])
        print(" | ".join(map(str, rows[-1])), flush=True)
    print(f"\nELBOs in nats per digit (means over the digits); q* fitted by {steps} Adam steps of 16 samples; "
          f"each ELBO from {EVAL_SAMPLES} samples, the same for both; gaps ± the standard error over the digits; "
          "a conditional model's figures are of log p(x | y)")
    print(table(["checkpoint", "digits", "ELBO, encoder", "ELBO, fitted q*", "IWAE bound, q*", "amortization gap",
                 "approximation gap (at least)", "q* better", "seconds"], rows))


if __name__ == "__main__":
    main()
