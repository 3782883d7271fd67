"""Plain config objects: what a model is (ModelConfig) and how it is trained (TrainConfig).

ModelConfig is everything needed to rebuild a model; it is saved as `config.json` beside the
weights of every checkpoint. Every default lives here once: the command line (vae/cli.py), the
app's Train page and notebooks read them from these classes.

    ModelConfig(arch="article")        # latent_dim 100: the article's own size
    ModelConfig(arch="conv")           # latent_dim 32
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from vae.datasets import NAMES, dataset_info, is_dataset_name

ARCHITECTURES = ("mlp", "conv", "article", "resnet")
LATENTS = ("gaussian", "categorical")
LIKELIHOODS = ("bernoulli", "gaussian")
DATASETS = NAMES  # vae/datasets.py
DEVICES = ("auto", "cpu", "cuda")
NOISES = ("gaussian", "uniform")  # eps of z = mu + sigma * eps while training (ModelConfig.eps)
MIN_LR_FRACTION = 0.05  # the learning rate's cosine ends at this fraction of it (TrainConfig.learning_rate)

# The article's network has a fixed latent size; the others default to 32. Categorical latents: 30
# variables (of `categories` each) whatever the network.
DEFAULT_LATENT_DIM = {"mlp": 32, "conv": 32, "article": 100, "resnet": 32}
DEFAULT_CATEGORICAL_VARIABLES = 30
# Names a config may carry from an earlier version of this project, and what they are now.
RENAMED_ARCHITECTURES = {"seed": "article"}


def default_latent_dim(arch: str, latent: str) -> int:
    """The latent size a model gets when none is given: per network, or for a categorical latent
    DEFAULT_CATEGORICAL_VARIABLES whatever the network."""
    return DEFAULT_CATEGORICAL_VARIABLES if latent == "categorical" else DEFAULT_LATENT_DIM[arch]


DEFAULT_LATENT_DIMS_TEXT = ("per architecture: " + ", ".join(f"{a} {z}" for a, z in DEFAULT_LATENT_DIM.items())
                            + f"; {DEFAULT_CATEGORICAL_VARIABLES} categorical variables")


@dataclass
class ModelConfig:
    arch: str = "mlp"
    latent: str = "gaussian"  # or "categorical" (vae/models/latents.py)
    latent_dim: int | None = None  # dimensions, or categorical variables; None: the default for the arch and latent
    categories: int = 10  # categories of each variable (categorical latents)
    # The Gumbel-softmax temperature of a categorical latent during training, after `step` steps:
    # max(temperature_min, temperature_start * exp(-temperature_decay * step)), about 1.0 -> 0.5 over
    # 23,000 steps (50 epochs in batches of 128, 61 of 160). `straight_through`: one-hot samples forward.
    temperature_start: float = 1.0
    temperature_min: float = 0.5
    temperature_decay: float = 3e-5
    straight_through: bool = False
    hidden_dims: list[int] = field(default_factory=lambda: [512])  # mlp only
    likelihood: str = "bernoulli"
    # Fixed standard deviation of the Gaussian likelihood p(x|z) = N(decoder(z), sigma^2 I).
    gaussian_sigma: float = 0.1
    beta: float = 1.0
    dataset: str = "mnist"
    # Trained on dynamically binarized pixels (x ~ Bernoulli(gray)); evaluated on a fixed binarization.
    binarize: bool = False
    # The noise of training's z = mu + sigma * eps: "gaussian", or "uniform", the article's bug
    # (eps drawn with rand_like, U[0, 1)), kept to measure it. Evaluation always draws Gaussian eps.
    eps: str = "gaussian"
    # Encoder and decoder both read the image's class, one-hot (Kingma et al. 2014, M2's generative
    # half; Sohn et al. 2015): q(z|x, y) and p(x|z, y), so its ELBO bounds log p(x | y). mlp only.
    conditional: bool = False
    # The images' shape: side x side pixels of `channels` (1 gray, 3 RGB); None: the dataset's. Kept
    # here so a model rebuilds without its data (an image folder's may be elsewhere).
    side: int | None = None
    channels: int | None = None
    version: str = ""  # package version that wrote it; filled in on save

    def __post_init__(self) -> None:
        self.arch = RENAMED_ARCHITECTURES.get(self.arch, self.arch)
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"arch must be one of {ARCHITECTURES}, got {self.arch!r}")
        if self.latent not in LATENTS:
            raise ValueError(f"latent must be one of {LATENTS}, got {self.latent!r}")
        if self.latent == "categorical" and self.arch not in ("mlp", "conv"):
            raise ValueError(f"categorical latents come with the mlp and conv networks, not {self.arch!r}")
        if self.latent_dim is None:
            self.latent_dim = default_latent_dim(self.arch, self.latent)
        if not (isinstance(self.categories, int) and self.categories >= 2):
            raise ValueError(f"categories must be an integer >= 2, got {self.categories!r}")
        if not 0 < self.temperature_min <= self.temperature_start or self.temperature_decay < 0:
            raise ValueError("the temperature must fall from temperature_start to temperature_min > 0, "
                             f"got {self.temperature_start} -> {self.temperature_min} at {self.temperature_decay}")
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        if self.eps not in NOISES:
            raise ValueError(f"eps must be one of {NOISES}, got {self.eps!r}")
        if self.eps == "uniform" and self.latent != "gaussian":
            raise ValueError("uniform eps (the article's bug) is a Gaussian latent's reparameterization")
        if self.conditional and (self.arch, self.latent) != ("mlp", "gaussian"):
            raise ValueError("a conditional model is an mlp with a Gaussian latent, "
                             f"not {self.arch!r} with a {self.latent} latent")
        if not is_dataset_name(self.dataset):
            raise ValueError(f"dataset must be one of {DATASETS} or an image folder's (folder:NAME), "
                             f"got {self.dataset!r}")
        if self.side is None or self.channels is None or self.dataset in DATASETS:
            info = dataset_info(self.dataset)
            self.side = info.side if self.side is None else self.side
            self.channels = info.channels if self.channels is None else self.channels
            if (self.side, self.channels) != (info.side, info.channels):
                raise ValueError(f"{info.title}'s images are {info.side}x{info.side} with {info.channels} "
                                 f"channel(s), not {self.side}x{self.side} with {self.channels}: only an "
                                 "image folder is read at the size and colour asked for")
        if self.channels not in (1, 3) or not (isinstance(self.side, int) and 8 <= self.side <= 256):
            raise ValueError(f"images are side x side pixels (8 to 256) of 1 or 3 channels, "
                             f"got side {self.side!r}, channels {self.channels!r}")
        if self.arch != "mlp" and self.side % 4:
            raise ValueError(f"the {self.arch} network halves the image twice: its side must be a multiple "
                             f"of 4, got {self.side}")
        if not (isinstance(self.latent_dim, int) and self.latent_dim >= 1):
            raise ValueError(f"latent_dim must be a positive integer, got {self.latent_dim!r}")
        _finite(self, ("temperature_start", "temperature_min", "temperature_decay", "gaussian_sigma", "beta"))
        if self.beta < 0:
            raise ValueError(f"beta must be >= 0, got {self.beta}")
        if self.gaussian_sigma <= 0:
            raise ValueError(f"gaussian_sigma must be > 0, got {self.gaussian_sigma}")
        self.hidden_dims = [int(h) for h in self.hidden_dims]
        if not self.hidden_dims or min(self.hidden_dims) < 1:
            raise ValueError(f"hidden_dims must be positive integers, got {self.hidden_dims}")

    @property
    def classes(self) -> int:
        """How many classes a conditional model reads beside the image (its dataset's), else 0."""
        return len(dataset_info(self.dataset).class_names) if self.conditional else 0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown config keys: {unknown}")
        if d.get("dataset") == "sprites" and "side" not in d:  # sprites were 28x28 before configs said
            d = {**d, "side": 28}
        return cls(**d)


    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(channels, side, side): what the encoder reads and the decoder writes, per image."""
        return self.channels, self.side, self.side

    @property
    def pixels(self) -> int:
        """Numbers per image (channels x side x side): 784 for MNIST."""
        return self.channels * self.side * self.side

    @property
    def pseudo_likelihood(self) -> bool:
        """Whether p(x|z) is a Bernoulli of gray [0, 1] pixels: no normalized density of the image,
        so its -log p(x) is a pseudo-likelihood, comparable only with others scored the same way
        (not with the literature's binarized-MNIST likelihoods)."""
        return self.likelihood == "bernoulli" and not self.binarize

    @property
    def train_objective(self) -> str:
        """What training optimizes, so what its logged train figures are the terms of: "elbo",
        "relaxed" (a categorical latent's Gumbel-softmax objective) or "uniform-eps" (the article's
        bug: its z are no samples of q(z|x), so its loss is no ELBO)."""
        return "relaxed" if self.latent == "categorical" else "uniform-eps" if self.eps == "uniform" else "elbo"

    @property
    def scored_as(self) -> tuple:
        """What this model's -ELBO is measured on: two models' nats compare only when these agree."""
        return (self.dataset, self.binarize, self.likelihood,
                self.gaussian_sigma if self.likelihood == "gaussian" else None, self.conditional)

    @property
    def likelihood_text(self) -> str:
        """How this model's nats are scored, in words: "Bernoulli pseudo-likelihood of gray pixels"
        (", given the class" for a conditional model: its bound is of log p(x | y), not log p(x))."""
        pixels = "binarized pixels" if self.binarize else "gray pixels" if self.channels == 1 else "RGB pixels"
        pixels += ", given the class" if self.conditional else ""
        if self.likelihood == "gaussian":
            return f"Gaussian likelihood (σ = {self.gaussian_sigma:g}) of {pixels}"
        return f"Bernoulli {'pseudo-' if self.pseudo_likelihood else ''}likelihood of {pixels}"

    def temperature(self, step: int) -> float:
        """The Gumbel-softmax temperature after `step` training steps (categorical latents)."""
        return max(self.temperature_min, self.temperature_start * math.exp(-self.temperature_decay * step))


# What a resumed run cannot change: all of the model (version aside, which is who wrote it).
FIXED_ON_RESUME = tuple(f.name for f in dataclasses.fields(ModelConfig) if f.name != "version")


class ResumeConflict(ValueError):
    """A resume asked for another model than its checkpoint's: `fields`, [(name, asked, saved)], the
    fields of FIXED_ON_RESUME that differ. The command line names them by their flags."""

    def __init__(self, out, fields: list[tuple[str, object, object]]):
        self.out, self.fields = out, fields
        super().__init__(f"cannot resume {out} with another model: " + ", ".join(
            f"{name} {asked!r} (the checkpoint has {saved!r})" for name, asked, saved in fields))


def check_resume(saved: ModelConfig, asked: ModelConfig, out) -> None:
    """ResumeConflict unless `asked` keeps every field of FIXED_ON_RESUME of `saved`, the
    checkpoint's model in folder `out`: the one check of what a resumed run may change."""
    fields = [(name, getattr(asked, name), getattr(saved, name)) for name in FIXED_ON_RESUME
              if getattr(saved, name) != getattr(asked, name)]
    if fields:
        raise ResumeConflict(out, fields)


@dataclass
class TrainConfig:
    # Tuned for time to quality on a CPU (bench/time_to_quality.py): with the 784-512-32 MLP, its
    # output starting at the mean image (VAE.start_at_mean_image), test -ELBO 105 in 4 epochs, the
    # schedule ending at 5. The learning rate rises linearly over the first lr_warmup epochs, then
    # falls along a cosine to MIN_LR_FRACTION of itself (learning_rate): with the warm-up Adam takes
    # 6e-3, where without it no rate above 3.4e-3 did better; that saves an epoch and ends about 0.5 nats
    # lower. Batches of 160, not 128: much of a step's cost does not grow with the batch (Adam
    # and the weights' casts among it), so an epoch takes 0.86x the time (BENCHMARKS.md).
    epochs: int = 5  # the total: a resumed run trains up to this many
    batch_size: int = 160
    lr: float = 6e-3
    lr_warmup: float = 0.3  # epochs
    seed: int = 0
    device: str = "auto"
    train_limit: int | None = None  # train on the first N training images (smoke runs)
    data_dir: str | None = None
    # A folder of the user's own pictures, read into a dataset under the data folder first (at the
    # model's side and channels, vae/image_folder.py); the model's dataset is then that one.
    image_folder: str | None = None
    log_every: int = 50  # steps between lines of steps.jsonl
    # bfloat16 products in the forward (autocast, or the bfloat16 products of the default model's
    # written-out step, vae/training/mlp_step.py). None: where it pays, a CPU with bfloat16 units (AVX-512
    # BF16 or AMX: 1.1x to 2.2x an epoch, the test -ELBO within 0.1 nats of float32's: BENCHMARKS.md);
    # float32 elsewhere (on CUDA it pays for resnet only: ask for it). A run records its choice.
    amp: bool | None = None
    # Against posterior collapse (vae/models/losses.training_loss): the KL's weight rises linearly from 0
    # to beta over the first kl_warmup epochs; free_bits: each latent unit's batch-mean KL counts as at
    # least this many nats. Either makes the training objective something other than the ELBO.
    kl_warmup: float = 0.0
    free_bits: float = 0.0

    def learning_rate(self, step: int, steps_per_epoch: int) -> float:
        """Adam's learning rate at step `step` (from 0): rising linearly to lr over the first lr_warmup
        epochs (whole steps, at least one: an epoch of a single step has no warm-up), then along a
        cosine to MIN_LR_FRACTION of lr at the end of `epochs`. A resume that asks for more epochs
        continues the cosine from where its step lies on the longer one."""
        warmup = math.ceil(round(self.lr_warmup * steps_per_epoch, 9))  # 1.1 * 100 is 110.00000000000001
        if step < warmup:
            return self.lr * (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, self.epochs * steps_per_epoch - warmup))
        low = self.lr * MIN_LR_FRACTION
        return low + 0.5 * (self.lr - low) * (1.0 + math.cos(math.pi * progress))

    def kl_weight(self, step: int, steps_per_epoch: int) -> float:
        """The KL's weight (times beta) after `step` steps: 1, or rising linearly over the warm-up."""
        ramp = self.kl_warmup * steps_per_epoch
        return 1.0 if ramp <= 0 else min(1.0, step / ramp)

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "log_every"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.train_limit is not None and not (isinstance(self.train_limit, int) and self.train_limit >= 1):
            raise ValueError(f"train_limit must be a positive integer or None, got {self.train_limit!r}")
        _finite(self, ("lr", "lr_warmup", "kl_warmup", "free_bits"))
        if self.lr_warmup < 0 or self.kl_warmup < 0 or self.free_bits < 0:
            raise ValueError(f"lr_warmup, kl_warmup and free_bits must be >= 0, got {self.lr_warmup}, "
                             f"{self.kl_warmup} and {self.free_bits}")
        if self.lr_warmup >= self.epochs:
            raise ValueError(f"lr_warmup ({self.lr_warmup:g} epochs) must be shorter than the run's {self.epochs} "
                             "epochs: the learning rate would never reach lr and decay")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")


def _finite(config, names: tuple[str, ...]) -> None:
    """ValueError unless each field in `names` is a finite number (inf or nan train nothing)."""
    for name in names:
        value = getattr(config, name)
        if not (isinstance(value, (int, float)) and math.isfinite(value)):
            raise ValueError(f"{name} must be a finite number, got {value!r}")


def default_of(cls, name: str):
    """The default value of a dataclass field (its factory's product for lists)."""
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
