"""Plain config objects: what a model is (ModelConfig) and how it is trained (TrainConfig).

ModelConfig is everything needed to rebuild a model; it is saved as `config.json` beside
the weights of every checkpoint.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

ARCHITECTURES = ("mlp", "conv", "seed", "resnet")
LIKELIHOODS = ("bernoulli", "gaussian")
DATASETS = ("mnist", "fashion-mnist")

# The seed article's network has a fixed latent size; the others default to 32.
DEFAULT_LATENT_DIM = {"mlp": 32, "conv": 32, "seed": 100, "resnet": 32}


@dataclass
class ModelConfig:
    arch: str = "mlp"
    latent_dim: int = 32
    hidden_dims: list[int] = field(default_factory=lambda: [400])  # mlp only
    likelihood: str = "bernoulli"
    # Fixed standard deviation of the Gaussian likelihood p(x|z) = N(decoder(z), sigma^2 I).
    gaussian_sigma: float = 0.1
    beta: float = 1.0
    dataset: str = "mnist"
    # Trained on dynamically binarized pixels (x ~ Bernoulli(gray)); evaluated on a fixed binarization.
    binarize: bool = False
    version: str = ""  # package version that wrote it; filled in on save

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"arch must be one of {ARCHITECTURES}, got {self.arch!r}")
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {DATASETS}, got {self.dataset!r}")
        if not (isinstance(self.latent_dim, int) and self.latent_dim >= 1):
            raise ValueError(f"latent_dim must be a positive integer, got {self.latent_dim!r}")
        if self.beta < 0:
            raise ValueError(f"beta must be >= 0, got {self.beta}")
        if self.gaussian_sigma <= 0:
            raise ValueError(f"gaussian_sigma must be > 0, got {self.gaussian_sigma}")
        self.hidden_dims = [int(h) for h in self.hidden_dims]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown config keys: {unknown}")
        return cls(**d)


@dataclass
class TrainConfig:
    # Tuned for time to quality on a CPU (bench/time_to_quality.py): with the 784-400-32 MLP,
    # test -ELBO 105 in 7 epochs, the cosine schedule ending at 8.
    epochs: int = 8
    batch_size: int = 128
    lr: float = 3e-3
    seed: int = 0
    device: str = "auto"
    train_limit: int | None = None  # train on the first N training images (smoke runs)
    data_dir: str | None = None
    log_every: int = 50  # steps between lines of steps.jsonl
    amp: bool = False  # bfloat16 autocast on CUDA: faster convolutions, same loss to ~0.1 nat
