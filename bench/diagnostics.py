"""Diagnose and compare (issue #15): how long the per-image figures, the IWAE gap, the prior holes
and two aligned maps take for the bundled models, nothing cached.

  per-image figures   recon (1, 2 (the app's) or 4 samples of q(z|x) each), KL, -ELBO, posterior uncertainty
  IWAE gap            the importance-weighted bound with k samples per image, and its gap to the ELBO
  prior holes         1,000 prior samples against the aggregate posterior of the test and the training
                      digits (2,000, 10,000 and all), two seeds each: the share in holes against the null
  two aligned maps    both models' test maps (encode + projection) and the Procrustes alignment

    python -m bench.diagnostics            # 10k test digits, IWAE k = 100, UMAP maps
    python -m bench.diagnostics --quick    # 1,000 digits, IWAE k = 10, PCA maps
    python -m bench.diagnostics --only maps   # one part (the IWAE gap alone takes minutes)
"""
from __future__ import annotations

import argparse
import tempfile
import time

from bench.common import machine, table
from vae.analysis.diagnostics import per_image_figures, per_image_iwae, prior_holes
from vae.analysis.projection import align_to, build_map
from vae.data import has_split, load_split
from vae.training.checkpoint import load_checkpoint, weights_hash
from vae.training.evaluate import posteriors

PARTS = ["figures", "iwae", "holes", "maps"]


def timed(work):
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="checkpoints/default", help="the model measured")
    parser.add_argument("--other", default="checkpoints/mnist-categorical", help="the model its map is aligned with")
    parser.add_argument("--iwae-k", type=int, default=100, help="samples per image for the IWAE gap")
    parser.add_argument("--quick", action="store_true", help="1,000 digits, k = 10, PCA maps")
    parser.add_argument("--only", nargs="+", choices=PARTS, default=PARTS, help="the parts measured (default: all)")
    args = parser.parse_args()
    a, b = load_checkpoint(args.checkpoint), load_checkpoint(args.other)
    test = load_split(a.config.dataset, "test")
    count, k, projection = (1000, 10, "pca") if args.quick else (len(test.images), args.iwae_k, "umap")
    images, labels = test.images[:count], test.labels[:count]
    rows = []
    for samples in (1, 2, 4) if "figures" in args.only else ():
        figures, seconds = timed(lambda samples=samples: per_image_figures(a.model, images, samples=samples))
        rows.append([f"per-image figures, {samples} sample(s) of q(z|x) per digit", f"{count:,}", seconds,
                     f"mean -ELBO {figures['elbo'].mean():.2f}"])
    for bf16 in (False, True) if "iwae" in args.only else ():  # the decoder in float32, then in bfloat16
        iwae, seconds = timed(lambda bf16=bf16: per_image_iwae(a.model, images, k, bf16=bf16))
        rows.append([f"IWAE bound and gap, k = {k}, decoder in {'bfloat16' if bf16 else 'float32'}", f"{count:,}",
                     seconds, f"mean -log p(x) {iwae['iwae'].mean():.3f}, mean gap {iwae['iwae_gap'].mean():.3f}"])
    holes_rows = []
    if "holes" in args.only:
        splits = ["test"] + (["train"] if has_split(a.config.dataset, "train") and not args.quick else [])
        for split in splits:
            digits = load_split(a.config.dataset, split).images
            sizes = [len(digits)] if split == "test" or args.quick else [2_000, 10_000, len(digits)]
            for size in sizes:
                q = posteriors(a.model, digits[:size])
                for seed in (0, 1):
                    holes, seconds = timed(lambda q=q, seed=seed: prior_holes(q, a.model.latent, n=1000, seed=seed))
                    excess, low, high = holes.excess()
                    holes_rows.append([split, f"{size:,}", f"{size // 2:,}", seed, f"{holes.fraction:.1%}",
                                       f"{holes.null_fraction:.1%}",
                                       f"{100 * excess:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}]", seconds])
    def two_maps():
        with tempfile.TemporaryDirectory() as cache:
            first = build_map(a.model, weights_hash(args.checkpoint), images, labels, cache, "a", projection)
            second = build_map(b.model, weights_hash(args.other), images, labels, cache, "b", projection)
            return first, align_to(second.xy, first.xy)
    # The first UMAP in a process also imports umap-learn and loads numba's compiled code of it
    # (compiles it, the first time on a machine); a running app pays that once.
    for when in ("in a fresh process", "again in the same process") if "maps" in args.only else ():
        _, seconds = timed(two_maps)
        rows.append([f"two aligned maps ({projection.upper()}), nothing cached, {when}", f"{count:,}", seconds,
                     f"{args.checkpoint} and {args.other}"])
    print(f"machine: {machine()}\nmodel: {args.checkpoint} ({a.config.arch}, {a.config.latent})\n")
    if rows:
        print(table(["what", "digits", "seconds", "result"], rows))
    if holes_rows:
        print("\nprior holes: 1,000 prior samples against the aggregate posterior of half the digits (the other "
              "half's posteriors give q(z)'s own samples: the threshold, and the null)\n")
        print(table(["digits of the", "digits", "in the density", "seed", "prior samples in holes",
                     "q(z)'s own samples flagged (null)", "excess, points [95% interval]", "seconds"], holes_rows))


if __name__ == "__main__":
    main()
