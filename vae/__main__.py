"""Command line: train and evaluate VAEs.

    python -m vae train --out runs/mnist --epochs 10
    python -m vae train --out runs/mnist --epochs 20 --resume      # 10 more epochs
    python -m vae eval runs/mnist --iwae-k 1000 --json
    python -m vae pack runs/mnist checkpoints/mnist          # float16 copy for sharing
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import time

from .config import ARCHITECTURES, DATASETS, DEFAULT_LATENT_DIM, LIKELIHOODS, ModelConfig, TrainConfig


def _train_parser(sub) -> None:
    d = TrainConfig()
    p = sub.add_parser("train", help="train a VAE into a checkpoint folder",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", required=True, help="checkpoint folder to write")
    p.add_argument("--dataset", choices=DATASETS, default="mnist", help="training data")
    p.add_argument("--data-dir", default=None,
                   help="folder holding MNIST/raw/ (default: $VAE_DATA_DIR, else ./data)")
    p.add_argument("--arch", choices=ARCHITECTURES, default="mlp",
                   help="network: mlp or conv (both decode in the browser), the seed article's, "
                        "or resnet (strongest; decoded on the server)")
    p.add_argument("--latent-dim", type=int, default=None,
                   help=f"latent size (default per arch: {DEFAULT_LATENT_DIM})")
    p.add_argument("--hidden", type=int, nargs="+", default=ModelConfig().hidden_dims,
                   help="mlp hidden layer sizes")
    p.add_argument("--beta", type=float, default=1.0, help="weight of the KL term")
    p.add_argument("--likelihood", choices=LIKELIHOODS, default="bernoulli",
                   help="p(x|z): bernoulli (BCE) or fixed-variance gaussian")
    p.add_argument("--binarize", action="store_true",
                   help="dynamically binarized pixels (train) and a fixed binarization (test)")
    p.add_argument("--epochs", type=int, default=d.epochs, help="total epochs (also when resuming)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="images per step")
    p.add_argument("--lr", type=float, default=d.lr, help="Adam learning rate (cosine-decayed)")
    p.add_argument("--seed", type=int, default=d.seed, help="seed for weights, shuffling and eps")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=d.device,
                   help="auto takes CUDA when present")
    p.add_argument("--train-limit", type=int, default=None,
                   help="train on the first N training images only (smoke runs)")
    p.add_argument("--log-every", type=int, default=d.log_every, help="steps between steps.jsonl lines")
    p.add_argument("--amp", action="store_true", help="bfloat16 autocast on CUDA (ignored on the CPU)")
    p.add_argument("--resume", action="store_true", help="continue the checkpoint in --out")


def _eval_parser(sub) -> None:
    p = sub.add_parser("eval", help="test-set figures of a checkpoint",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("checkpoint", help="checkpoint folder")
    p.add_argument("--iwae-k", type=int, default=100,
                   help="importance samples for the NLL estimate (0 skips it)")
    p.add_argument("--limit", type=int, default=None, help="evaluate the first N test images only")
    p.add_argument("--data-dir", default=None, help="folder holding MNIST/raw/")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")


def _pack_parser(sub) -> None:
    p = sub.add_parser("pack", help="copy a checkpoint for sharing: float16 weights, no optimizer state")
    p.add_argument("checkpoint", help="checkpoint folder to copy")
    p.add_argument("dest", help="new folder to write")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vae", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    _train_parser(sub)
    _eval_parser(sub)
    _pack_parser(sub)
    return parser


def _sigterm_as_interrupt(signum, frame):
    raise KeyboardInterrupt


def run_train(args) -> int:
    from .train import train

    model_cfg = ModelConfig(
        arch=args.arch, latent_dim=args.latent_dim or DEFAULT_LATENT_DIM[args.arch],
        hidden_dims=args.hidden, likelihood=args.likelihood, beta=args.beta,
        dataset=args.dataset, binarize=args.binarize)
    train_cfg = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
        device=args.device, train_limit=args.train_limit, data_dir=args.data_dir,
        log_every=args.log_every, amp=args.amp)
    # The app stops a run with SIGTERM: save like Ctrl-C does.
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    train(model_cfg, train_cfg, args.out, resume=args.resume)
    return 0


def run_eval(args) -> int:
    from tqdm import tqdm

    from .checkpoint import load_checkpoint
    from .data import load_split
    from .evaluate import evaluate, evaluate_iwae
    from .model import resolve_device

    state = load_checkpoint(args.checkpoint, resolve_device(args.device))
    images = load_split(state.config.dataset, "test", args.data_dir).images[: args.limit]
    figures = evaluate(state.model, images)
    iwae = None
    if args.iwae_k > 0:
        started = time.perf_counter()
        with tqdm(total=len(images), desc=f"IWAE k={args.iwae_k}", disable=args.json) as bar:
            iwae = evaluate_iwae(state.model, images, args.iwae_k, progress=bar.update)
        figures["iwae_seconds"] = time.perf_counter() - started
    result = {"test_recon": figures["recon"], "test_kl": figures["kl"], "test_elbo": figures["elbo"],
              "active_units": figures["active_units"], "iwae_k": args.iwae_k, "iwae_nll": iwae}
    if args.json:
        print(json.dumps(result))
        return 0
    c = state.config
    print(f"checkpoint   {args.checkpoint} ({c.arch}, z={c.latent_dim}, {c.likelihood}, beta={c.beta}, "
          f"epoch {state.epoch})")
    print(f"test images  {len(images)} ({c.dataset}{', binarized' if c.binarize else ''})")
    print(f"recon        {result['test_recon']:.2f} nats/image")
    print(f"KL           {result['test_kl']:.2f} nats/image")
    print(f"-ELBO        {result['test_elbo']:.2f} nats/image")
    print(f"active units {result['active_units']} of {c.latent_dim}")
    if iwae is not None:
        print(f"IWAE NLL     {iwae:.2f} nats/image (k={args.iwae_k})")
    return 0


def main(argv: list[str] | None = None) -> int:
    from .checkpoint import CheckpointError
    from .data import DataMissingError

    args = build_parser().parse_args(argv)
    try:
        if args.command == "pack":
            from .checkpoint import pack_checkpoint

            pack_checkpoint(args.checkpoint, args.dest)
            return 0
        return run_train(args) if args.command == "train" else run_eval(args)
    except (FileExistsError, DataMissingError, CheckpointError, ValueError) as e:
        # Problems with the user's input: one clear line, no traceback.
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
