"""Command line: train, evaluate and pack VAEs (`python -m vae --help`).

    python -m vae train --out runs/mnist --epochs 10
    python -m vae train --out runs/mnist --epochs 20 --resume      # 10 more epochs
    python -m vae eval runs/mnist --iwae-k 1000 --json
    python -m vae pack runs/mnist checkpoints/mnist                # float16 copy for sharing

The training options map one to one onto the fields of ModelConfig and TrainConfig, whose
defaults they show (vae/options.py, which also turns configs back into this command line for the
app). HELP, not this docstring, is what `--help` shows.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
from pathlib import Path

from vae.config import DATASETS, DEVICES, ModelConfig, ResumeConflict, TrainConfig
from vae.datasets import data_root, dataset_info
from vae.options import (
    MODEL_FLAGS,
    MODEL_OPTIONS,
    TRAIN_OPTIONS,
    add_config_options,
    configs_from_args,
    nonnegative_int,
    positive_int,
)


def _train_parser(sub) -> None:
    p = sub.add_parser("train", help="train a VAE into a checkpoint folder")
    p.add_argument("--out", required=True, help="checkpoint folder to write")
    add_config_options(p, ModelConfig, MODEL_OPTIONS)
    add_config_options(p, TrainConfig, TRAIN_OPTIONS)
    p.add_argument("--resume", action="store_true",
                   help="continue the checkpoint in --out, with its model (model options must match it)")


def _eval_parser(sub) -> None:
    p = sub.add_parser("eval", help="test-set figures of a checkpoint")
    p.add_argument("checkpoint", help="checkpoint folder")
    p.add_argument("--iwae-k", type=nonnegative_int, default=100,
                   help="importance samples for the NLL estimate, 0 skips it (default: 100)")
    p.add_argument("--limit", type=positive_int, default=None, help="evaluate the first N test images only")
    p.add_argument("--data-dir", default=None, help="folder holding MNIST/raw/ (default: $VAE_DATA_DIR, else ./data)")
    p.add_argument("--device", choices=DEVICES, default="auto", help="auto takes CUDA when present (default: auto)")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    p.add_argument("--fid", action="store_true",
                   help="sample quality too: the Fréchet distance (in the bundled classifier's features) to the test "
                        "images, and the mean label entropy, of prior samples, of samples of a mixture fitted to "
                        "the codes (Gaussian components, or products of categoricals for a categorical latent), and "
                        "of the reconstructions")
    p.add_argument("--fid-samples", type=positive_int, default=10_000,
                   help="decoded images per set (default: 10000)")
    p.add_argument("--mixture-k", type=positive_int, default=10,
                   help="components of the mixture fitted to the training set's codes, or the test set's when the "
                        "training set is absent (default: 10)")


def _pack_parser(sub) -> None:
    p = sub.add_parser("pack", help="copy a checkpoint for sharing: float16 weights, no optimizer state")
    p.add_argument("checkpoint", help="checkpoint folder to copy")
    p.add_argument("dest", help="new folder to write")


def _classifier_parser(sub) -> None:
    p = sub.add_parser("train-classifier", help="train the digit classifier that scores decoded samples "
                                                "(the bundled one is vae/bundled/classifier-<dataset>.safetensors)")
    p.add_argument("--dataset", choices=DATASETS, default="mnist", help="training data (default: mnist)")
    p.add_argument("--out", default=None, help="file to write (default: the bundled file of the dataset)")
    p.add_argument("--epochs", type=positive_int, default=12, help="epochs (default: 12)")
    p.add_argument("--data-dir", default=None, help="folder holding MNIST/raw/ (default: $VAE_DATA_DIR, else ./data)")


def run_train_classifier(args) -> int:
    from vae.models.classifier import bundled_path, save_classifier, train_classifier

    model, accuracy = train_classifier(args.dataset, args.epochs, data_dir=args.data_dir)
    out = Path(args.out) if args.out else bundled_path(args.dataset)
    save_classifier(model, out, accuracy)
    print(f"test accuracy {accuracy:.4f}; wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


HELP = """Train, evaluate and pack VAEs.

    python -m vae train --out runs/mnist --epochs 10
    python -m vae train --out runs/mnist --epochs 20 --resume      # 10 more epochs
    python -m vae eval runs/mnist --iwae-k 1000 --json
    python -m vae pack runs/mnist checkpoints/mnist                # float16 copy for sharing

`python -m vae COMMAND --help` lists a command's options and their defaults."""


class _Parser(argparse.ArgumentParser):
    """A bad argument is one line (and where to read more), not the whole usage block first."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m vae", description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    _train_parser(sub)
    _eval_parser(sub)
    _pack_parser(sub)
    _classifier_parser(sub)
    return parser


def _sigterm_as_interrupt(signum, frame):
    raise KeyboardInterrupt


def run_train(args) -> int:
    from vae.run_files import WEIGHTS
    from vae.services.film import film_recorder
    from vae.training.checkpoint import read_config
    from vae.training.distributed import ranks_from_env
    from vae.training.train import train

    model_given, train_cfg = configs_from_args(args)
    out = Path(args.out)
    if ranks_from_env().writer:  # one process probes: others making and removing it too would race
        _check_out_folder(out)
    if train_cfg.image_folder:
        model_given["dataset"] = _import_folder(model_given, train_cfg)
    # A resume takes the checkpoint's model with the options given; train() refuses a change.
    resumed = args.resume and (out / WEIGHTS).exists()
    model_cfg = dataclasses.replace(read_config(out), **model_given) if resumed else ModelConfig(**model_given)
    # The app stops a run with SIGTERM: save like Ctrl-C does.
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    try:
        train(model_cfg, train_cfg, out, resume=args.resume, on_epoch=film_recorder(out))
    except ResumeConflict as conflict:
        raise ValueError(f"cannot --resume {out} with other model options: " + ", ".join(
            f"{MODEL_FLAGS[name]} {' '.join(map(str, asked)) if isinstance(asked, list) else asked} "
            f"(the checkpoint has {saved})" for name, asked, saved in conflict.fields)
            + "; leave them out to continue the run, or train into a new --out") from None
    return 0


def _import_folder(model_given: dict, train_cfg: TrainConfig) -> str:
    """Read --image-folder into the data folder (saying what was read and skipped); its dataset's name."""
    from vae.image_folder import SKIPPED_LOG, import_folder

    if "dataset" in model_given:
        raise ValueError("--dataset and --image-folder each name the training data: give one")
    imported = import_folder(train_cfg.image_folder, model_given.setdefault("side", 28),
                             model_given.setdefault("channels", 1), train_cfg.data_dir)
    skipped = (f"; {len(imported.skipped)} files skipped, one line each in {imported.folder / SKIPPED_LOG}"
               if imported.skipped else "")
    how = "read as" if imported.reread else "as when last read, in"
    print(f"{train_cfg.image_folder}: {imported.counts['train']} training and {imported.counts['test']} test "
          f"pictures, {how} {imported.name}{skipped}", flush=True)
    return imported.name


def _check_out_folder(out: Path) -> None:
    """ValueError unless `out` is a writable folder or can be made one. The folders it would make
    are made and removed again: a run that fails before training (no data, say) leaves nothing."""
    if out.exists():
        if not out.is_dir():
            raise ValueError(f"--out {out} is a file, not a folder")
        if not os.access(out, os.W_OK | os.X_OK):
            raise ValueError(f"--out {out} is a folder this user cannot write to")
        return
    made = []
    try:
        for folder in [*reversed(out.parents), out]:
            if not folder.exists():
                folder.mkdir()
                made.append(folder)
    except OSError as e:
        raise ValueError(f"--out {out} cannot be made: {e.strerror or e} ({e.filename or folder})") from None
    finally:
        for folder in reversed(made):
            folder.rmdir()


def run_eval(args) -> int:
    from tqdm import tqdm

    from vae.data import load_split
    from vae.models.model import resolve_device
    from vae.training.checkpoint import load_checkpoint
    from vae.training.evaluate import evaluate, evaluate_iwae, scored_posteriors
    from vae.training.information import kl_decomposition

    checkpoint = load_checkpoint(args.checkpoint, resolve_device(args.device))
    test = load_split(checkpoint.config.dataset, "test", args.data_dir)
    images, labels = test.images[: args.limit], test.labels[: args.limit]  # the labels: a conditional model's y
    figures = evaluate(checkpoint.model, images, labels=labels)
    parts = kl_decomposition(checkpoint.model.latent, scored_posteriors(checkpoint.model, images, labels=labels))
    iwae = None
    if args.iwae_k > 0:
        with tqdm(total=len(images), desc=f"IWAE k={args.iwae_k}", disable=args.json) as bar:
            iwae = evaluate_iwae(checkpoint.model, images, args.iwae_k, labels=labels,
                                 progress=lambda share: bar.update(round(share * len(images)) - bar.n))
    # A Bernoulli of gray pixels is a pseudo-likelihood: its "NLL" is not a density's (see ModelConfig).
    result = {"test_recon": figures["recon"], "test_kl": figures["kl"], "test_elbo": figures["elbo"],
              "active_units": figures["active_units"], "iwae_k": args.iwae_k, "iwae_nll": iwae,
              # The KL term = I_q(n; z) + KL(q(z) || p(z)) (Hoffman & Johnson 2016), the two estimated
              # from parts.samples draws of the aggregate posterior, with one standard error.
              "mutual_information": parts.mutual_information, "marginal_kl": parts.marginal_kl,
              "kl_parts_stderr": parts.stderr,
              "likelihood": checkpoint.config.likelihood_text,
              "pseudo_likelihood": checkpoint.config.pseudo_likelihood}
    if args.fid:
        result.update(_sample_quality(checkpoint, images, labels, args))
    result.update(_disentanglement(checkpoint, images, labels, args))
    if args.json:
        print(json.dumps(result))
        return 0
    c = checkpoint.config
    print(f"checkpoint   {args.checkpoint} ({c.arch}, z={c.latent_dim}, {c.likelihood}, beta={c.beta}, "
          f"epoch {checkpoint.epoch})")
    print(f"test images  {len(images)} ({c.dataset}{', binarized' if c.binarize else ''})")
    nll = "-log p(x | y)" if c.conditional else "-log p(x)"  # a conditional model's bound is of x given its class
    print(f"scored by    {c.likelihood_text}" + (f": its {nll} is a pseudo-likelihood, comparable only with "
                                                  "models scored the same way" if c.pseudo_likelihood else ""))
    print(f"recon        {result['test_recon']:.2f} nats/image")
    print(f"KL           {result['test_kl']:.2f} nats/image = I_q(n; z) {parts.mutual_information:.2f} (at most "
          f"log N = {parts.information_bound:.2f}) + KL(q(z) || p(z)) {parts.marginal_kl:.2f}, each "
          f"± {parts.stderr:.2f} (from {parts.samples} draws of q(z))")
    print(f"-ELBO        {result['test_elbo']:.2f} nats/image")
    print(f"active units {result['active_units']} of {c.latent_dim}")
    if iwae is not None:
        print(f"IWAE NLL     {iwae:.2f} nats/image (k={args.iwae_k}; an estimate of {nll}, "
              "an upper bound in expectation"
              + (", of a pseudo-likelihood)" if c.pseudo_likelihood else ")"))
    if "mig" in result:
        print(f"MIG          {result['mig']:.3f} ± {result['mig_se']:.3f} (Chen et al. 2018; 20-bin mutual "
              f"information, {len(images)} test images; ± one standard error, a bootstrap over them)")
        print(f"DCI          disentanglement {result['dci']:.3f}, completeness {result['dci_completeness']:.3f}, "
              f"informativeness {result['dci_informativeness']:.3f} (Eastwood & Williams 2018; gradient-boosted "
              f"trees on the first {result['dci_images']} codes)")
    if args.fid:
        for name in ("prior", "mixture", "reconstruction"):
            print(f"FID {name:<15}{result[f'fid_{name}']:8.2f} ± {result[f'fid_se_{name}']:.2f}   "
                  f"label entropy {result[f'label_entropy_{name}']:.3f} "
                  f"± {result[f'label_entropy_se_{name}']:.3f} nats")
        print(f"(mixture: {args.mixture_k} components fitted to the {result['mixture_codes']} set's codes; "
              f"{args.fid_samples} images each; ± one standard error over them)")
    return 0


DCI_IMAGES = 2000  # codes DCI's classifiers see (four fifths to fit, the rest to score): the trees are slow


def _disentanglement(checkpoint, test_images, test_labels, args) -> dict:
    """mig and dci of a model whose data has known factors (vae/sprites.py), from the test codes;
    nothing for another."""
    from vae.analysis.disentanglement import dci, factor_report
    from vae.data import load_factors
    from vae.training.evaluate import posteriors

    factors = load_factors(checkpoint.config.dataset, "test", args.data_dir)
    if factors is None:
        return {}
    factors = factors[: len(test_images)]
    codes = posteriors(checkpoint.model, test_images, labels=test_labels).code.numpy()
    scores = dci(codes[:DCI_IMAGES], factors[:DCI_IMAGES])
    report = factor_report(codes, factors, dataset_info(checkpoint.config.dataset).factors)
    return {"mig": report.mig, "mig_se": report.mig_se, "dci": scores.disentanglement,
            "dci_completeness": scores.completeness, "dci_informativeness": scores.informativeness,
            "dci_images": min(DCI_IMAGES, len(codes))}


def _sample_quality(checkpoint, test_images, test_labels, args) -> dict:
    """The --fid figures: keys fid_<set>, label_entropy_<set> and their fid_se_<set>, label_entropy_se_<set>
    for prior, mixture, reconstruction."""
    from vae.analysis.quality import sample_quality
    from vae.data import has_split, load_split
    from vae.training.evaluate import encode_all

    source = "train" if has_split(checkpoint.config.dataset, "train", args.data_dir) else "test"
    split = load_split(checkpoint.config.dataset, source, args.data_dir, download=False)
    codes = encode_all(checkpoint.model, split.images, labels=split.labels)[0].numpy()
    mixture = checkpoint.model.latent.fit_mixture(codes, args.mixture_k)
    report = sample_quality(checkpoint.model, test_images, args.fid_samples, mixture, test_labels=test_labels)
    out = {"mixture_codes": source, "mixture_k": args.mixture_k, "fid_samples": args.fid_samples}
    for name, figures in report.items():
        out[f"fid_{name}"], out[f"fid_se_{name}"] = figures["frechet_distance"], figures["frechet_distance_se"]
        out[f"label_entropy_{name}"], out[f"label_entropy_se_{name}"] = figures["label_entropy"], figures[
            "label_entropy_se"]
    return out


def main(argv: list[str] | None = None) -> int:
    from vae.data import DataMissingError
    from vae.training.checkpoint import CheckpointError, pack_checkpoint
    from vae.training.train import TrainingDiverged

    args = build_parser().parse_args(argv)
    try:
        with data_root(getattr(args, "data_dir", None)):  # an image folder's record is under --data-dir
            if args.command == "pack":
                pack_checkpoint(args.checkpoint, args.dest)
                return 0
            if args.command == "train-classifier":
                return run_train_classifier(args)
            return run_train(args) if args.command == "train" else run_eval(args)
    except (FileExistsError, DataMissingError, CheckpointError, ValueError) as e:
        # Problems with the user's input: one clear line, no traceback.
        print(f"error: {e}", file=sys.stderr)
        return 2
    except TrainingDiverged as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
