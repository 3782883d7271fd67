"""Model quality: a checkpoint's test -ELBO and importance-weighted NLL, beside the literature.

    python -m bench.quality                          # bundled model, IWAE k=1000, all 10k test images
    python -m bench.quality --checkpoint runs/bin --iwae-k 5000
    python -m bench.quality --quick                  # k=10 on 200 images

Literature, dynamically binarized MNIST, IWAE estimate: fully connected VAE 86.76 (Burda et al.
2015, k=5000), convolutional VAE 81.0 (reported for comparable conv VAEs). Gray-pixel Bernoulli
figures (the bundled model) are not comparable with binarized ones.
"""
from __future__ import annotations

import argparse
import time

from bench.common import machine, table
from vae.data import load_split
from vae.training.checkpoint import load_checkpoint
from vae.training.evaluate import evaluate, evaluate_iwae


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="checkpoints/default")
    parser.add_argument("--iwae-k", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=None, help="first N test images only")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.iwae_k, args.limit = 10, 200
    checkpoint = load_checkpoint(args.checkpoint)
    images = load_split(checkpoint.config.dataset, "test").images[: args.limit]
    started = time.perf_counter()
    figures = evaluate(checkpoint.model, images)
    iwae = evaluate_iwae(checkpoint.model, images, args.iwae_k)
    seconds = time.perf_counter() - started
    c = checkpoint.config
    print(f"machine: {machine()}\ncheckpoint: {args.checkpoint} ({c.arch}, z={c.latent_dim}, "
          f"{'binarized' if c.binarize else 'gray'} pixels, epoch {checkpoint.epoch}); {len(images)} test images; "
          f"{seconds:.0f} s\n")
    print(table(["measure", "nats per image"], [
        ["test recon", figures["recon"]], ["test KL", figures["kl"]], ["test -ELBO (1 sample)", figures["elbo"]],
        [f"IWAE NLL (k={args.iwae_k})", iwae], ["active units", f"{figures['active_units']} of {c.latent_dim}"]]))


if __name__ == "__main__":
    main()
