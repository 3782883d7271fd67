"""Disentanglement of models of the sprites (vae/sprites.py): each run's test rate and distortion,
active units, MIG (20-bin mutual information, all 10,000 test codes) and DCI (gradient-boosted
trees on the first 2,000), as `vae eval` reports them. A β sweep is trained with

    python -m vae train --dataset sprites --latent-dim 10 --beta B --epochs 30 --out runs/sprites-betaB

    python -m bench.disentanglement --runs checkpoints/sprites-beta4 runs/sprites-beta1 ...
    python -m bench.disentanglement --quick       # the bundled model, MIG only
"""
from __future__ import annotations

import argparse
import time

from bench.common import machine, table
from vae.analysis.disentanglement import dci, factor_report
from vae.data import load_factors, load_split
from vae.datasets import dataset_info
from vae.training.checkpoint import load_checkpoint
from vae.training.evaluate import encode_all, evaluate

DCI_CODES = 2000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", default=["checkpoints/sprites-beta4"], help="run folders of sprites")
    parser.add_argument("--quick", action="store_true", help="MIG only (DCI's trees take a minute a model)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    rows = []
    for folder in args.runs:
        started = time.perf_counter()
        checkpoint = load_checkpoint(folder)
        name = checkpoint.config.dataset
        test, factors = load_split(name, "test"), load_factors(name, "test")
        if factors is None:
            raise SystemExit(f"{folder}: {dataset_info(name).title} has no known factors")
        figures = evaluate(checkpoint.model, test.images)
        codes = encode_all(checkpoint.model, test.images)[0].numpy()
        report = factor_report(codes, factors, dataset_info(name).factors)
        best = ", ".join(f"{f} {report.normalized[:, k].max():.2f}" for k, f in enumerate(report.factor_names))
        scores = None if args.quick else dci(codes[:DCI_CODES], factors[:DCI_CODES])
        rows.append([folder, f"{checkpoint.config.beta:g}", f"{figures['kl']:.2f}", f"{figures['recon']:.2f}",
                     f"{figures['active_units']}/{checkpoint.config.latent_dim}",
                     f"{report.mig:.3f} ± {report.mig_se:.3f}",
                     "-" if scores is None else f"{scores.disentanglement:.3f}",
                     "-" if scores is None else f"{scores.completeness:.3f}",
                     "-" if scores is None else f"{scores.informativeness:.3f}", best,
                     f"{time.perf_counter() - started:.0f}"])
    print(table(["run", "β", "rate: KL", "distortion: recon", "active", "MIG", "DCI D", "DCI C", "DCI I",
                 "best share of each factor", "s"], rows))


if __name__ == "__main__":
    main()
