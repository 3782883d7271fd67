"""Seconds per training epoch (60k images, `vae.training.train`, data resident on the device) for each
architecture, in float32 and with bfloat16 products (`--amp`: autocast, or the written-out step's
bfloat16 products where it trains), and for the default model with autograd's step too:

    python -m bench.epoch_time --device cuda          # the GPU figures in BENCHMARKS.md
    python -m bench.epoch_time --device cpu --train-limit 6400 --epochs 3   # the CPU's, 6,400 images an epoch
    python -m bench.epoch_time --quick                # a smoke run on 1,000 images

Each configuration trains `--epochs` epochs; the first is a warm-up (cuDNN autotuning, allocator),
the table gives the median of the rest. The per-epoch test evaluation and checkpoint writing are
not in these figures (train.py's own clock stops before them).
"""
from __future__ import annotations

import argparse
import tempfile

import torch

from bench.common import machine, median, table, training_step
from vae.config import ModelConfig, TrainConfig
from vae.training.step import flush_denormals
from vae.training.train import train

CONFIGS = {  # name -> (ModelConfig, batch size, autograd's step even where the written-out one applies)
    # The default's model and batch (ModelConfig, TrainConfig): BENCHMARKS.md's older rows ran earlier defaults
    "default (mlp)": (ModelConfig(), TrainConfig.batch_size, False),
    "default, autograd's step": (ModelConfig(), TrainConfig.batch_size, True),
    "examples net (mlp 784-400-20)": (ModelConfig(latent_dim=20, hidden_dims=[400]), 128, False),
    "article net": (ModelConfig(arch="article"), 150, False),
    "conv": (ModelConfig(arch="conv"), 128, False),
    "resnet, binarized": (ModelConfig(arch="resnet", binarize=True), 128, False),
}


def epoch_seconds(cfg: ModelConfig, batch_size: int, amp: bool, epochs: int, limit: int | None,
                  device: str, autograd: bool = False) -> tuple[float, float]:
    """(median seconds per epoch after the first, images per second)."""
    with tempfile.TemporaryDirectory() as out, training_step(autograd, out):
        history = train(cfg, TrainConfig(epochs=epochs, batch_size=batch_size, train_limit=limit, device=device,
                                         amp=amp), out, show_progress=False)
    seconds = median([h["seconds"] for h in history[1:]] or [history[0]["seconds"]])
    return seconds, history[-1]["images_per_second"]


def main() -> None:
    flush_denormals()  # as `python -m vae train` does, before any tensor work (bench/denormals.py)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per configuration (the first is a warm-up)")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), help="which rows to run")
    parser.add_argument("--train-limit", type=int, help="train on this many images an epoch (default: all 60,000)")
    parser.add_argument("--quick", action="store_true", help="1,000 images, 2 epochs, the default row only")
    args = parser.parse_args()
    limit = args.train_limit
    if args.quick:
        limit, args.epochs, args.configs = 1000, 2, [next(iter(CONFIGS))]
    rows = []
    for name in args.configs:
        cfg, batch, autograd = CONFIGS[name]
        for amp in (False, True):
            seconds, rate = epoch_seconds(cfg, batch, amp, args.epochs, limit, args.device, autograd)
            rows.append([name, batch, "bfloat16" if amp else "float32", f"{seconds:.3f}", f"{rate:,.0f}"])
            print(f"# {rows[-1]}", flush=True)
    print(f"\nmachine: {machine()}; device {args.device}; {limit or 60000} train images\n")
    print(table(["configuration", "batch", "precision", "seconds per epoch", "images per second"], rows))


if __name__ == "__main__":
    main()
