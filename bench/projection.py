"""Projection: how long the latent map takes with the bundled model.

  first build   encode + UMAP, nothing cached (10k test set; 70k with the training set)
  from cache    reading the map back from its .npz in the checkpoint folder
  place one     preparing one uploaded digit, encoding it and placing it on the map

    python -m bench.projection              # 10k and, when $VAE_DATA_DIR has it, 70k
    python -m bench.projection --quick      # 2,000 images, one repeat

Each figure is the median of --repeats runs. A first build in a fresh process also pays
numba's start-up (UMAP is compiled on first use); the first repeat shows it.
"""
from __future__ import annotations

import argparse
import io
import tempfile
import time

import torch
from PIL import Image

from bench.common import machine, median, table
from vae.analysis.projection import build_map, load_cached_map
from vae.data import has_split, load_split
from vae.images import mnist_style, read_upload
from vae.run_files import map_cache_path
from vae.training.checkpoint import load_checkpoint, weights_hash


def upload_bytes(images: torch.Tensor) -> bytes:
    """A digit as a user uploads it: a 400x400 dark-on-light PNG."""
    digit = 255 - images[0].numpy()
    buf = io.BytesIO()
    Image.fromarray(digit).resize((400, 400), Image.Resampling.BILINEAR).save(buf, format="PNG")
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="checkpoints/default")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2,000 test images, one repeat")
    args = parser.parse_args()
    checkpoint = load_checkpoint(args.checkpoint)
    hash_ = weights_hash(args.checkpoint)
    test = load_split(checkpoint.config.dataset, "test")
    sets = {"10k test": (test.images, test.labels)}
    if args.quick:
        args.repeats = 1
        sets = {"2k test": (test.images[:2000], test.labels[:2000])}
    elif has_split(checkpoint.config.dataset, "train"):
        train = load_split(checkpoint.config.dataset, "train")
        sets["70k train+test"] = (torch.cat([train.images, test.images]), torch.cat([train.labels, test.labels]))

    rows = []
    upload = upload_bytes(test.images)
    for name, (images, labels) in sets.items():
        builds, reads, places, first = [], [], [], None
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as cache:
                started = time.perf_counter()
                latent_map = build_map(checkpoint.model, hash_, images, labels, cache, "bench")
                builds.append(time.perf_counter() - started)
                first = first or builds[0]
                started = time.perf_counter()
                load_cached_map(map_cache_path(cache, hash_, "bench"))
                reads.append(time.perf_counter() - started)
            started = time.perf_counter()
            digit = mnist_style(read_upload(upload))
            with torch.no_grad():
                mu, _ = checkpoint.model.encode(torch.from_numpy(digit)[None, None])
            latent_map.place(mu.numpy())
            latent_map.nearest(mu.numpy(), 10)
            places.append(time.perf_counter() - started)
        rows.append([name, first, median(builds), median(reads), median(places) * 1000])
    print(f"machine: {machine()}\ncheckpoint: {args.checkpoint} ({checkpoint.config.arch}, "
          f"z={checkpoint.config.latent_dim}); "
          f"{args.repeats} repeat(s)\n")
    print(table(["images", "first build, first repeat (s)", "first build, median (s)", "from cache (s)",
                 "place one upload (ms)"], rows))


if __name__ == "__main__":
    main()
