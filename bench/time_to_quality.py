"""Time to quality: training seconds until test -ELBO <= 105 nats per image (Bernoulli, gray pixels),
for three recipes run side by side, round-robin, in one process:

  default   this project's `python -m vae train` defaults (data resident, batches by index), its
            precision its own choice (bfloat16 autocast on a CPU with bfloat16 units)
  default-float32, default-bfloat16   the same in one precision
  default-autograd   the default with its gradient taken by autograd (vae/training/step.TrainStep),
            not written out (vae/training/mlp_step.MLPStep)
  examples  pytorch/examples' VAE recipe: 784-400-20 MLP, ReLU, Adam 1e-3, batch 128,
            torchvision MNIST through a DataLoader with ToTensor
  article   the recipe of the tutorial article this project started from: its network (with
            Gaussian eps), Adam 1e-3, batch 150, DataLoader

    python -m bench.time_to_quality --repeats 3        # needs the training set ($VAE_DATA_DIR)
    python -m bench.time_to_quality --device cuda      # the same three on a GPU
    python -m bench.time_to_quality --quick            # a smoke run on 500 images
    python -m bench.time_to_quality --recipes default-float32 default-bfloat16   # the precisions

The default recipes run their whole schedule (TrainConfig.epochs) and report their final test -ELBO too; the
others stop at the target.

Clocks count training only; the test evaluation after every epoch is left out for every recipe.
Denormals are flushed to zero in this process, as `python -m vae train` flushes them, so for every
recipe alike (pytorch/examples' does not do it itself; it took 52.8 s before and 53.6 s after).
"""
from __future__ import annotations

import argparse
import gzip
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F

from bench.common import first_at_or_under, machine, median, table, training_step
from vae.config import ModelConfig, TrainConfig
from vae.data import default_root, file_names, load_split
from vae.models.losses import kl_per_dim
from vae.models.model import VAE
from vae.training.evaluate import evaluate
from vae.training.step import flush_denormals
from vae.training.train import train


class Run(NamedTuple):
    to_target: float | None  # training seconds to the first epoch at or under the target; None: not reached
    epochs_to_target: int  # that epoch (or the last one run)
    best: float  # best test -ELBO
    seconds: float  # training seconds of every epoch run
    epochs: int  # epochs run
    final: float | None  # the last epoch's test -ELBO, for a recipe that runs its whole schedule


def run_default(target: float, limit: int | None, seed: int, device: str,
                amp: bool | None = None, epochs: int = TrainConfig.epochs, autograd: bool = False) -> Run:
    """Our own training loop with its defaults (`amp`: None is the default's own choice of
    precision; `autograd`: TrainStep even where MLPStep applies), its whole schedule: the seconds and
    epochs to the first epoch at or under target, and after the last epoch its best and final test
    -ELBO and training seconds."""
    history = []
    with tempfile.TemporaryDirectory() as out, training_step(autograd, out):
        train(ModelConfig(), TrainConfig(epochs=epochs, seed=seed, train_limit=limit, device=device, amp=amp),
              out, show_progress=False, on_epoch=lambda record, *_: history.append(record))
    to_target, epoch = first_at_or_under(history, target) or (None, history[-1]["epoch"])
    return Run(to_target, epoch, min(r["test_elbo"] for r in history), sum(r["seconds"] for r in history),
               len(history), history[-1]["test_elbo"])


def torchvision_root(tmp: Path) -> Path:
    """torchvision's MNIST wants uncompressed files and checks the md5 of downloads only; give it
    plain copies of whatever IDX files we have."""
    raw = tmp / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    src = default_root() / "MNIST" / "raw"
    for split in ("train", "test"):
        for name in file_names(split):
            bundled = Path(__file__).resolve().parents[1] / "vae" / "bundled" / "MNIST" / "raw" / f"{name}.gz"
            for candidate in (src / name, src / f"{name}.gz", bundled):
                if candidate.exists():
                    data = candidate.read_bytes()
                    (raw / name).write_bytes(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
                    break
    return tmp


def run_dataloader_recipe(cfg: ModelConfig, batch_size: int, target: float, max_epochs: int,
                          limit: int | None, seed: int, root: Path, test_images,
                          max_seconds: float, device: str) -> Run:
    """A textbook loop: torchvision dataset, DataLoader with ToTensor, Adam 1e-3, summed loss;
    each batch moved to the device as pytorch/examples does."""
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    torch.manual_seed(seed)
    dataset = datasets.MNIST(str(root), train=True, download=False, transform=transforms.ToTensor())
    if limit:
        dataset = Subset(dataset, range(limit))
    gpu = {"num_workers": 1, "pin_memory": True} if device == "cuda" else {}  # as pytorch/examples does
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, **gpu)
    model = VAE(cfg).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    seconds, best = 0.0, float("inf")
    for epoch in range(1, max_epochs + 1):
        model.train()
        started = time.perf_counter()
        for x, _ in loader:  # (B, 1, 28, 28)
            x = x.to(device)
            out = model(x)
            # The textbook loss (pytorch/examples' binary_cross_entropy of sigmoid outputs, here from
            # the logits; the article's too), not this project's faster recon_nll: the yardsticks stay theirs.
            recon = F.binary_cross_entropy_with_logits(out.logits, x.view(len(x), -1), reduction="none").sum(-1)
            loss = (recon + kl_per_dim(out.mu, out.logvar).sum(-1)).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()
        seconds += time.perf_counter() - started
        elbo = evaluate(model, test_images)["elbo"]
        best = min(best, elbo)
        if elbo <= target:
            return Run(seconds, epoch, best, seconds, epoch, None)
        if seconds >= max_seconds:
            return Run(None, epoch, best, seconds, epoch, None)
    return Run(None, max_epochs, best, seconds, max_epochs, None)


def main() -> None:
    flush_denormals()  # as `python -m vae train` does, before any tensor work (bench/denormals.py)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", type=float, default=105.0, help="test -ELBO to reach, nats per image")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each recipe (medians are reported)")
    parser.add_argument("--max-epochs", type=int, default=30, help="give up after this many epochs")
    parser.add_argument("--max-seconds", type=float, default=900,
                        help="give up on a recipe after this much training time (its time is then a lower bound)")
    parser.add_argument("--recipes", nargs="+", default=["default", "examples", "article"],
                        choices=["default", "default-float32", "default-bfloat16", "default-autograd", "examples",
                                 "article"])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where every recipe trains")
    parser.add_argument("--quick", action="store_true", help="smoke run: 500 images, target 250, 2 epochs")
    args = parser.parse_args()
    limit = None
    if args.quick:
        args.target, args.max_epochs, args.repeats, limit = 250.0, 2, 1, 500

    test_images = load_split("mnist", "test").images
    results: dict[str, list] = {r: [] for r in args.recipes}
    with tempfile.TemporaryDirectory() as tmp:
        root = torchvision_root(Path(tmp))
        for repeat in range(args.repeats):
            for recipe in args.recipes:  # round-robin, so drifts in machine speed hit all alike
                if recipe.startswith("default"):
                    amp = {"default-float32": False, "default-bfloat16": True}.get(recipe)
                    r = run_default(args.target, limit, repeat, args.device, amp,
                                    args.max_epochs if args.quick else TrainConfig.epochs,
                                    autograd=recipe == "default-autograd")
                elif recipe == "examples":
                    r = run_dataloader_recipe(ModelConfig(latent_dim=20, hidden_dims=[400]), 128, args.target,
                                              args.max_epochs, limit, repeat, root, test_images, args.max_seconds,
                                              args.device)
                else:
                    r = run_dataloader_recipe(ModelConfig(arch="article"), 150, args.target,
                                              args.max_epochs, limit, repeat, root, test_images, args.max_seconds,
                                              args.device)
                results[recipe].append(r)
                print(f"# repeat {repeat + 1}: {recipe}: {r}", flush=True)

    base = median([r.to_target for r in results.get("default", []) if r.to_target is not None])
    rows = []
    for recipe, runs in results.items():
        reached = all(r.to_target is not None for r in runs)
        t = median([r.to_target if reached else r.seconds for r in runs])
        ratio = t / base if base == base else float("nan")
        rows.append([recipe, f"{t:.1f} ({', '.join(f'{r.to_target:.1f}' for r in runs)})" if reached
                     else f"> {t:.0f} (not reached)",
                     f"{median([r.epochs_to_target for r in runs]):g}",
                     f"{median([r.seconds / r.epochs for r in runs]):.2f}", f"{min(r.best for r in runs):.2f}",
                     f"{median([r.final for r in runs]):.2f}" if runs[0].final is not None else "–",
                     (f"{ratio:.1f}x" if reached else f"> {ratio:.1f}x") if ratio == ratio else "–"])
    print(f"\nmachine: {machine()}; recipes on {args.device}\ntarget: test -ELBO <= {args.target} nats; "
          f"{args.repeats} repeat(s); "
          f"train images: {limit or 60000}\n")
    print(table(["recipe", "train seconds to target (median; the runs)", "epochs", "seconds per epoch",
                 "best test -ELBO", "final test -ELBO (median; the whole schedule)", "time vs default"], rows))


if __name__ == "__main__":
    main()
