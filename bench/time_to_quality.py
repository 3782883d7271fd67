"""Time to quality: training seconds until test -ELBO <= 105 nats per image (Bernoulli, gray pixels),
for three recipes run side by side, round-robin, in one process:

  default   this project's `python -m vae train` defaults (data resident, batches by index)
  examples  pytorch/examples' VAE recipe: 784-400-20 MLP, ReLU, Adam 1e-3, batch 128,
            torchvision MNIST through a DataLoader with ToTensor
  seed      the seed article's recipe: its network (with Gaussian eps), Adam 1e-3, batch 150,
            DataLoader

    python bench/time_to_quality.py --repeats 3        # needs the training set ($VAE_DATA_DIR)
    python bench/time_to_quality.py --quick            # a smoke run on 2,000 images

Clocks count training only; the test evaluation after every epoch is left out for every recipe.
"""
from __future__ import annotations

import argparse
import gzip
import tempfile
import time
from pathlib import Path

import common  # noqa: F401 (puts the project on sys.path)
import torch
from common import machine, median, table

from vae.config import ModelConfig, TrainConfig
from vae.data import default_root, file_names, load_split
from vae.evaluate import evaluate
from vae.losses import kl_per_dim, recon_nll
from vae.model import VAE
from vae.train import train


class Reached(Exception):
    pass


def run_default(target: float, max_epochs: int, limit: int | None, seed: int) -> tuple[float | None, int, float]:
    """Our own training loop with its defaults; stops at the first epoch at or under target."""
    seconds, best = [0.0], [float("inf")]

    def on_epoch(record):
        seconds[0] += record["seconds"]
        best[0] = min(best[0], record["test_elbo"])
        if record["test_elbo"] <= target:
            raise Reached(record["epoch"])

    defaults = TrainConfig()
    with tempfile.TemporaryDirectory() as out:
        try:
            train(ModelConfig(), TrainConfig(epochs=defaults.epochs, seed=seed, train_limit=limit), out,
                  show_progress=False, on_epoch=on_epoch)
        except Reached as r:
            return seconds[0], int(str(r)), best[0]
    return None, max_epochs, best[0]


def torchvision_root(tmp: Path) -> Path:
    """torchvision's MNIST wants uncompressed files and checks the md5 of downloads only; give it
    plain copies of whatever IDX files we have."""
    raw = tmp / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    src = default_root() / "MNIST" / "raw"
    for split in ("train", "test"):
        for name in file_names(split):
            for candidate in (src / name, src / f"{name}.gz", Path(__file__).resolve().parents[1] / "vae" / "bundled" / "MNIST" / "raw" / f"{name}.gz"):
                if candidate.exists():
                    data = candidate.read_bytes()
                    (raw / name).write_bytes(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
                    break
    return tmp


def run_dataloader_recipe(cfg: ModelConfig, batch_size: int, target: float, max_epochs: int,
                          limit: int | None, seed: int, root: Path, test_images) -> tuple[float | None, int, float]:
    """A textbook loop: torchvision dataset, DataLoader with ToTensor, Adam 1e-3, summed loss."""
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    torch.manual_seed(seed)
    dataset = datasets.MNIST(str(root), train=True, download=False, transform=transforms.ToTensor())
    if limit:
        dataset = Subset(dataset, range(limit))
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True)
    model = VAE(cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    seconds, best = 0.0, float("inf")
    for epoch in range(1, max_epochs + 1):
        model.train()
        started = time.perf_counter()
        for x, _ in loader:  # (B, 1, 28, 28)
            out = model(x)
            loss = (recon_nll(out.logits, x, cfg) + kl_per_dim(out.mu, out.logvar).sum(-1)).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        seconds += time.perf_counter() - started
        elbo = evaluate(model, test_images)["elbo"]
        best = min(best, elbo)
        if elbo <= target:
            return seconds, epoch, best
    return None, max_epochs, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", type=float, default=105.0, help="test -ELBO to reach, nats per image")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each recipe (medians are reported)")
    parser.add_argument("--max-epochs", type=int, default=30, help="give up after this many epochs")
    parser.add_argument("--recipes", nargs="+", default=["default", "examples", "seed"])
    parser.add_argument("--quick", action="store_true", help="smoke run: 2,000 images, target 250, 2 epochs")
    args = parser.parse_args()
    limit = None
    if args.quick:
        args.target, args.max_epochs, args.repeats, limit = 250.0, 2, 1, 2000

    test_images = load_split("mnist", "test").images
    results: dict[str, list] = {r: [] for r in args.recipes}
    with tempfile.TemporaryDirectory() as tmp:
        root = torchvision_root(Path(tmp))
        for repeat in range(args.repeats):
            for recipe in args.recipes:  # round-robin, so drifts in machine speed hit all alike
                if recipe == "default":
                    r = run_default(args.target, args.max_epochs, limit, seed=repeat)
                elif recipe == "examples":
                    r = run_dataloader_recipe(ModelConfig(latent_dim=20, hidden_dims=[400]), 128, args.target,
                                              args.max_epochs, limit, repeat, root, test_images)
                else:
                    r = run_dataloader_recipe(ModelConfig(arch="seed", latent_dim=100), 150, args.target,
                                              args.max_epochs, limit, repeat, root, test_images)
                results[recipe].append(r)
                print(f"# repeat {repeat + 1}: {recipe}: {r}", flush=True)

    base = median([r[0] for r in results.get("default", []) if r[0] is not None])
    rows = []
    for recipe, runs in results.items():
        times = [r[0] for r in runs if r[0] is not None]
        t = median(times) if len(times) == len(runs) else None
        rows.append([recipe, f"{t:.1f}" if t else f"not reached in {args.max_epochs} epochs",
                     f"{median([r[1] for r in runs]):g}", f"{min(r[2] for r in runs):.2f}",
                     f"{t / base:.1f}x" if t and base == base else "–"])
    print(f"\nmachine: {machine()}\ntarget: test -ELBO <= {args.target} nats; {args.repeats} repeat(s); "
          f"train images: {limit or 60000}\n")
    print(table(["recipe", "train seconds (median)", "epochs", "best test -ELBO", "time vs default"], rows))


if __name__ == "__main__":
    main()
