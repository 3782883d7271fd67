"""The training command line's options, one per field of ModelConfig and TrainConfig, both ways:
parsed into configs (`python -m vae train`, vae/cli.py) and configs written back as arguments
(`train_args`: the app starts its runs with them, vae/services/jobs.py).

    add_config_options(parser, ModelConfig, MODEL_OPTIONS)
    model_given, train_cfg = configs_from_args(parser.parse_args(argv))
    train_args(model_cfg, train_cfg)        # ["--epochs", "20", ...]: the options not at their defaults
"""
from __future__ import annotations

import argparse
import math

from vae.config import (
    ARCHITECTURES,
    DATASETS,
    DEFAULT_LATENT_DIMS_TEXT,
    DEVICES,
    LATENTS,
    LIKELIHOODS,
    NOISES,
    ModelConfig,
    TrainConfig,
    default_latent_dim,
    default_of,
)


def _number(kind, low: float, strict: bool):
    """An argparse type: a number of `kind` above `low` (`strict`) or at least `low`."""
    what = "a whole number" if kind is int else "a number"
    bound = f">= {low + 1 if kind is int else low}" if strict and kind is int else f"{'>' if strict else '>='} {low}"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        if value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"must be {what} {bound}, got {text}")
        return value
    return parse


positive_int, nonnegative_int = _number(int, 0, True), _number(int, 0, False)
positive_float, nonnegative_float = _number(float, 0, True), _number(float, 0, False)

# The command line's one mapping onto the configs: (flag, config field, argparse keywords). Every
# option's argparse default is None, so that a run knows which options were given (a resume refuses
# model options that differ from its checkpoint's); the configs supply the defaults.
MODEL_OPTIONS = [
    ("--dataset", "dataset", dict(choices=DATASETS, help="training data")),
    ("--arch", "arch", dict(choices=ARCHITECTURES, help=(
        "network: mlp or conv (both decode in the browser), article (the tutorial article's "
        "network), or resnet (the strongest; decoded on the server)"))),
    ("--latent", "latent", dict(choices=LATENTS, help=(
        "gaussian, or categorical: N variables of K categories, Gumbel-softmax while training (mlp and conv)"))),
    ("--latent-dim", "latent_dim", dict(type=positive_int, help="latent size: dimensions, or categorical variables N")),
    ("--categories", "categories", dict(type=positive_int, help="categories K of each categorical variable")),
    ("--temperature-start", "temperature_start", dict(type=positive_float,
                                                      help="Gumbel-softmax temperature at the first step")),
    ("--temperature-min", "temperature_min", dict(type=positive_float, help="the temperature it anneals to")),
    ("--temperature-decay", "temperature_decay", dict(type=nonnegative_float, help=(
        "the temperature after t steps: max(min, start * exp(-decay * t))"))),
    ("--straight-through", "straight_through", dict(action=argparse.BooleanOptionalAction,
                                                    help="one-hot categorical samples forward, relaxed backward")),
    ("--hidden", "hidden_dims", dict(type=positive_int, nargs="+", help="mlp hidden layer sizes")),
    ("--beta", "beta", dict(type=nonnegative_float, help="weight of the KL term")),
    ("--likelihood", "likelihood", dict(choices=LIKELIHOODS,
                                        help="p(x|z): bernoulli (BCE) or fixed-variance gaussian")),
    ("--gaussian-sigma", "gaussian_sigma", dict(type=positive_float,
                                                help="standard deviation of the gaussian likelihood")),
    ("--binarize", "binarize", dict(action=argparse.BooleanOptionalAction, help=(
        "dynamically binarized pixels (train) and a fixed binarization (test)"))),
    ("--eps", "eps", dict(choices=NOISES, help=(
        "the noise of z = mu + sigma * eps while training: uniform is the article's bug (rand_like), for "
        "teaching; evaluation always draws Gaussian eps"))),
    ("--image-size", "side", dict(type=int, choices=(28, 32, 64), help=(
        "the side in pixels an --image-folder's pictures are read at (other datasets: their own)"))),
    ("--channels", "channels", dict(type=int, choices=(1, 3), help=(
        "an --image-folder's pictures read gray (1) or RGB (3) (other datasets: their own)"))),
    ("--conditional", "conditional", dict(action=argparse.BooleanOptionalAction, help=(
        "encoder and decoder read the class too (mlp, Gaussian latent): z keeps the style, the label the "
        "class; its -ELBO bounds -log p(x | y)"))),
]
TRAIN_OPTIONS = [
    ("--epochs", "epochs", dict(type=positive_int, help="total epochs (also when resuming)")),
    ("--batch-size", "batch_size", dict(type=positive_int, help="images per step")),
    ("--lr", "lr", dict(type=positive_float, help=(
        "Adam learning rate, reached after the warm-up, then cosine-decayed"))),
    ("--lr-warmup", "lr_warmup", dict(type=nonnegative_float, help=(
        "epochs over which the learning rate rises linearly from near 0 to --lr"))),
    ("--seed", "seed", dict(type=int, help="seed for weights, shuffling and eps")),
    ("--device", "device", dict(choices=DEVICES, help="auto takes CUDA when present")),
    ("--train-limit", "train_limit", dict(type=positive_int,
                                          help="train on the first N training images only (smoke runs)")),
    ("--data-dir", "data_dir", dict(help="folder holding MNIST/raw/ (default: $VAE_DATA_DIR, else ./data)")),
    ("--image-folder", "image_folder", dict(help=(
        "train on a folder of your own pictures (PNG, JPEG, WebP, BMP; class folders inside give labels), "
        "read into the data folder first; files that cannot be read are listed in its skipped.log"))),
    ("--log-every", "log_every", dict(type=positive_int, help="steps between steps.jsonl lines")),
    ("--amp", "amp", dict(action=argparse.BooleanOptionalAction,
                          help="bfloat16 matrix products in the forward (autocast, or the default model's written-out "
                               "step on a CPU) (default: on a CPU with bfloat16 units, AVX-512 BF16 or AMX; "
                               "off elsewhere: on CUDA it pays for resnet only)")),
    ("--kl-warmup", "kl_warmup", dict(type=nonnegative_float, help=(
        "epochs over which the KL's weight rises linearly from 0 to beta (against posterior collapse)"))),
    ("--free-bits", "free_bits", dict(type=nonnegative_float, help=(
        "nats: each latent unit's batch-mean KL counts as at least this much (Kingma et al. 2016)"))),
]


def _shown_default(cls, name: str) -> str:
    if (cls, name) == (ModelConfig, "latent_dim"):
        return DEFAULT_LATENT_DIMS_TEXT
    value = default_of(cls, name)
    if isinstance(value, bool):
        return "on" if value else "off"
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def add_config_options(parser: argparse.ArgumentParser, cls, options) -> None:
    for flag, name, kwargs in options:
        kwargs = dict(kwargs)
        if default_of(cls, name) is not None or (cls, name) == (ModelConfig, "latent_dim"):
            kwargs["help"] += f" (default: {_shown_default(cls, name)})"
        if "choices" not in kwargs and "action" not in kwargs:
            kwargs["metavar"] = flag[2:].replace("-", "_").upper()
        parser.add_argument(flag, dest=name, default=None, **kwargs)


def _given(args: argparse.Namespace, options) -> dict:
    """The options of `options` given on the command line, by config field."""
    return {name: getattr(args, name) for _, name, _ in options if getattr(args, name) is not None}


def train_args(model: ModelConfig, training: TrainConfig) -> list[str]:
    """`python -m vae train` options that make these configs (those at their defaults left out)."""
    args = []
    for cls, cfg, options in ((ModelConfig, model, MODEL_OPTIONS), (TrainConfig, training, TRAIN_OPTIONS)):
        for flag, name, _ in options:
            value = getattr(cfg, name)
            default = default_of(cls, name) if name != "latent_dim" else default_latent_dim(model.arch, model.latent)
            if value is None or value == default:
                continue
            # An image folder's dataset is named by --image-folder; another's size and colour by itself.
            if (name == "dataset" and training.image_folder) or (name in ("side", "channels")
                                                                  and not training.image_folder):
                continue
            if isinstance(value, bool):
                args.append(flag if value else "--no-" + flag[2:])
            else:
                args += [flag, *map(str, value if isinstance(value, list) else [value])]
    return args


def configs_from_args(args: argparse.Namespace) -> tuple[dict, TrainConfig]:
    """The model options given (by ModelConfig field) and the TrainConfig, from parsed `train` args."""
    return _given(args, MODEL_OPTIONS), TrainConfig(**_given(args, TRAIN_OPTIONS))


# Each model field's flag, for messages that name what a user typed.
MODEL_FLAGS = {name: flag for flag, name, _ in MODEL_OPTIONS}
