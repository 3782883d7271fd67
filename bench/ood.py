"""Out-of-distribution detection: the AUROC of each bundled model's per-image score as a detector of
images it never saw the like of, raw (the -ELBO) and complexity-corrected (Serrà et al. 2020: the
score in bits minus the image's PNG length in bits), both directions between MNIST and Fashion-MNIST.

    python -m bench.ood                  # every bundled unconditional model, 10,000 images of each set
    python -m bench.ood --quick          # the default and Fashion-MNIST models, 300 images of each
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from bench.common import machine, table
from vae.analysis.ood import PAIRED, TRANSFORMS, auroc, auroc_interval, ood_scores, other_dataset, transformed
from vae.data import load_split
from vae.training.checkpoint import load_checkpoint

BUNDLED = ("default", "mnist-binarized-resnet", "mnist-categorical", "article-eps-gaussian", "article-eps-uniform",
           "fashion-mnist")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000, help="images of each set (the first of the test sets)")
    parser.add_argument("--checkpoints", nargs="+", default=list(BUNDLED), help="bundled checkpoints to score")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    names = ("default", "fashion-mnist") if args.quick else args.checkpoints
    count = 300 if args.quick else args.count
    print(f"machine: {machine()}")
    rows = []
    for name in names:
        started = time.perf_counter()
        checkpoint = load_checkpoint(Path("checkpoints") / name)
        dataset = checkpoint.config.dataset
        own_images = load_split(dataset, "test").images[:count]
        own = ood_scores(checkpoint.model, own_images)
        sets = {other_dataset(dataset): load_split(other_dataset(dataset), "test").images[:count]}
        sets.update({kind: transformed(own_images, kind) for kind in TRANSFORMS})
        for kind, images in sets.items():
            other = ood_scores(checkpoint.model, images)
            cells = []
            for inliers, outliers in ((own.nll, other.nll), (own.corrected, other.corrected)):
                low, high = auroc_interval(inliers, outliers, paired=kind in PAIRED)
                cells.append(f"{auroc(inliers, outliers):.3f} ({low:.3f} to {high:.3f})")
            rows.append([name, dataset, kind, f"{np.median(own.nll):.1f}", f"{np.median(other.nll):,.1f}", *cells])
        print(f"{name}: {time.perf_counter() - started:.0f} s", flush=True)
    print(f"\n{count:,} images of each set; scores: the -ELBO (one sample of q), and S = -ELBO in bits - PNG bits; "
          "each AUROC with DeLong's 95% interval (paired for the sets made from the test images themselves, "
          "one-sided where no pair is out of order)")
    print(table(["checkpoint", "trained on", "outliers", "own -ELBO (median)", "outliers' (median)", "AUROC raw",
                 "AUROC corrected"], rows))


if __name__ == "__main__":
    main()
