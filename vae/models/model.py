"""The VAE (Kingma & Welling, arXiv:1312.6114): encoder q(z|x), prior p(z), decoder p(x|z).

The latent is Gaussian (q = N(mu, diag sigma^2), prior N(0, I), z = mu + sigma * eps) or
categorical (N variables of K categories, a uniform prior, Gumbel-softmax samples while training):
vae/models/latents.py. The networks below map images to the latent's parameters and codes to images.

Four architectures, picked by ModelConfig.arch:
  mlp      784 -> hidden... -> 2z ; z -> hidden... -> 784   (plain MLP decoder: a browser can run it)
  conv     two stride-2 convolutions each way (its decoder runs in the browser too)
  article  the network of the tutorial article this project started from (conv 1->20->20 k3,
           11520 -> 800 -> z; z -> 2000 -> 784), with Gaussian eps (the article drew eps
           uniformly, which is a bug)
  resnet   residual convolutions at 28, 14 and 7 pixels each way (SiLU): the strongest here, for
           binarized MNIST; its decoder runs on the server only

Images are 28x28 gray for the MNISTs (784 numbers, as the sizes above say) and any side x side of 1
or 3 channels otherwise (ModelConfig.image_shape): the networks read (B, C, H, W) floats in [0, 1] and
their decoders write (B, C * H * W) logits; `decode` gives images as they are stored and shown, (B, H, W)
gray or (B, H, W, 3) RGB.

A conditional model (ModelConfig.conditional, mlp only) reads the class too, one-hot beside the
pixels and beside z: q(z|x, y) and p(x|z, y). Its methods take `labels` (an int or (B,) ints);
`model.given(k)` is the plain VAE it is for class k (the one-hot folded into the first layers'
biases), which every function written for an unconditional model can take.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from vae.config import ModelConfig
from vae.models.latents import Categorical, Gaussian, GaussianLatent, latent_of


class VAEOutput(NamedTuple):
    posterior: Gaussian | Categorical  # q(z|x)
    z: torch.Tensor  # (B, code_dim): the sample decoded
    logits: torch.Tensor  # (B, C * H * W) decoder output before the sigmoid

    @property
    def mu(self) -> torch.Tensor:  # Gaussian latents: (B, z_dim)
        return self.posterior.mu

    @property
    def logvar(self) -> torch.Tensor:
        return self.posterior.logvar


def _mlp(sizes: list[int]) -> list[nn.Module]:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return layers


class ResBlock(nn.Module):
    """x + conv(act(conv(act(x)))), 3x3, same size."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.SiLU(), nn.Conv2d(channels, channels, 3, padding=1),
                                  nn.SiLU(), nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def build_encoder(cfg: ModelConfig, z2: int, classes: int = 0) -> nn.Sequential:
    """(B, C, H, W) in [0, 1] -> (B, z2): the latent's parameters (mu and log-variance side by
    side, or each categorical variable's logits). A conditional mlp reads (B, C * H * W + classes)."""
    c, side, quarter = cfg.channels, cfg.side, cfg.side // 4
    if cfg.arch == "mlp":
        return nn.Sequential(nn.Flatten(), *_mlp([cfg.pixels + classes, *cfg.hidden_dims, z2]))
    if cfg.arch == "conv":
        return nn.Sequential(
            nn.Conv2d(c, 32, 4, stride=2, padding=1), nn.ReLU(),  # (B, 32, 14, 14)
            nn.Conv2d(32, 64, 4, stride=2, padding=1), nn.ReLU(),  # (B, 64, 7, 7)
            nn.Flatten(), nn.Linear(64 * quarter * quarter, 512), nn.ReLU(), nn.Linear(512, z2),
        )
    if cfg.arch == "resnet":
        return nn.Sequential(
            nn.Conv2d(c, 32, 3, padding=1), ResBlock(32),  # (B, 32, 28, 28)
            nn.Conv2d(32, 64, 4, stride=2, padding=1), ResBlock(64),  # (B, 64, 14, 14)
            nn.Conv2d(64, 64, 4, stride=2, padding=1), ResBlock(64),  # (B, 64, 7, 7)
            nn.SiLU(), nn.Flatten(), nn.Linear(64 * quarter * quarter, 512), nn.SiLU(), nn.Linear(512, z2),
        )
    if cfg.arch == "article":
        return nn.Sequential(
            nn.Conv2d(c, 20, 3), nn.ReLU(),  # (B, 20, 26, 26)
            nn.Conv2d(20, 20, 3), nn.ReLU(),  # (B, 20, 24, 24)
            nn.Flatten(), nn.Linear(20 * (side - 4) ** 2, 800), nn.ReLU(),  # (B, 800)
            nn.Linear(800, z2),
        )
    raise ValueError(f"unknown architecture {cfg.arch!r}")


def build_decoder(cfg: ModelConfig, z: int) -> nn.Sequential:
    """(B, z) codes -> (B, C * H * W) logits. (Shapes in the comments: MNIST's.)"""
    c, quarter = cfg.channels, cfg.side // 4
    if cfg.arch == "mlp":
        return nn.Sequential(*_mlp([z, *reversed(cfg.hidden_dims), cfg.pixels]))
    if cfg.arch == "conv":
        return nn.Sequential(
            nn.Linear(z, 512), nn.ReLU(), nn.Linear(512, 64 * quarter * quarter), nn.ReLU(),
            nn.Unflatten(1, (64, quarter, quarter)),
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), nn.ReLU(),  # (B, 32, 14, 14)
            nn.ConvTranspose2d(32, c, 4, stride=2, padding=1),  # (B, 1, 28, 28)
            nn.Flatten(),
        )
    if cfg.arch == "resnet":
        return nn.Sequential(
            nn.Linear(z, 512), nn.SiLU(), nn.Linear(512, 64 * quarter * quarter),
            nn.Unflatten(1, (64, quarter, quarter)),
            ResBlock(64), nn.SiLU(), nn.ConvTranspose2d(64, 64, 4, stride=2, padding=1),  # (B, 64, 14, 14)
            ResBlock(64), nn.SiLU(), nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1),  # (B, 32, 28, 28)
            ResBlock(32), nn.SiLU(), nn.Conv2d(32, c, 3, padding=1),  # (B, 1, 28, 28)
            nn.Flatten(),
        )
    if cfg.arch == "article":
        return nn.Sequential(nn.Linear(z, 2000), nn.ReLU(), nn.Linear(2000, cfg.pixels))
    raise ValueError(f"unknown architecture {cfg.arch!r}")


class VAE(nn.Module):
    def __init__(self, config: ModelConfig, given_class: int | None = None):
        """`given_class`: the plain model a conditional one is for that class (see given())."""
        super().__init__()
        self.config = config
        self.given_class = given_class
        # Classes the networks read beside their input: 0 unless conditional and not given one.
        conditional = config.conditional and given_class is None
        self.classes = config.classes if conditional else 0
        self.latent = latent_of(config)
        self.encoder = build_encoder(config, self.latent.encoder_out, self.classes)
        self.decoder = build_decoder(config, self.latent.code_dim + self.classes)

    def given(self, label: int) -> VAE:
        """A conditional model for class `label` as a plain VAE (on the same device, a copy): its first
        layers' weights on the one-hot columns are folded into their biases, W [x; e_k] + b =
        W_x x + (b + W[:, k]). Not trained further by training this one."""
        if not self.classes:
            raise ValueError("given() folds a class into a conditional model's networks; this one reads no class")
        if not 0 <= int(label) < self.classes:
            raise ValueError(f"class {label} is not one of this model's {self.classes}")
        twin = VAE(self.config, given_class=int(label)).to(self.device)
        state = {k: v.detach().clone() for k, v in self.state_dict().items()}
        for net in ("encoder", "decoder"):
            first = next(i for i, m in enumerate(getattr(self, net)) if isinstance(m, nn.Linear))
            w, b = state[f"{net}.{first}.weight"], state[f"{net}.{first}.bias"]  # (out, in + classes), (out,)
            state[f"{net}.{first}.weight"] = w[:, :-self.classes].contiguous()
            state[f"{net}.{first}.bias"] = b + w[:, w.shape[1] - self.classes + int(label)]
        twin.load_state_dict(state)
        return twin.train(self.training)

    def _with_class(self, t: torch.Tensor, labels: int | torch.Tensor | None) -> torch.Tensor:
        """t (B, n) with the labels' one-hot after it, for a conditional model; t itself for another
        (which ignores labels)."""
        if not self.classes:
            return t
        if labels is None:
            raise ValueError("this model is conditional: give the images' classes (labels), or use model.given(k)")
        labels = torch.as_tensor(labels, device=t.device).long().expand(len(t))
        return torch.cat([t, F.one_hot(labels, self.classes).to(t.dtype)], dim=1)  # (B, n + classes)

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def code_dim(self) -> int:
        """Numbers the decoder reads: latent_dim, or variables x categories."""
        return self.latent.code_dim

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def posterior(self, x: torch.Tensor, labels: int | torch.Tensor | None = None) -> Gaussian | Categorical:
        """q(z|x) for x floats in [0, 1], (B, C, H, W) or as images are stored ((B, H, W) gray, (B, H, W, C)
        RGB) (q(z|x, y) for a conditional model)."""
        x = as_network_input(x, self.config.image_shape)  # (B, C, H, W)
        if self.classes:
            x = self._with_class(x.reshape(len(x), -1), labels)
        # In float32 even under bfloat16 autocast (a no-op otherwise): the variances, the sample, the
        # softmax and the KL are taken from these parameters, and bfloat16 keeps 8 bits of mantissa.
        return self.latent.posterior(self.encoder(x).float())

    def encode(self, x: torch.Tensor, labels: int | torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Gaussian latents: x (B, C, H, W) floats in [0, 1] (see posterior) -> mu, logvar, each (B, z_dim)."""
        if not isinstance(self.latent, GaussianLatent):
            raise ValueError("encode() gives a Gaussian's mu and logvar: use posterior() for a categorical latent")
        q = self.posterior(x, labels)
        return q.mu, q.logvar

    def code(self, x: torch.Tensor, labels: int | torch.Tensor | None = None) -> torch.Tensor:
        """A deterministic code of x for maps and neighbours: mu, or the variables' probabilities. (B, code_dim)."""
        return self.posterior(x, labels).code

    def decode_logits(self, z: torch.Tensor, labels: int | torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(self._with_class(z, labels))  # (B, C * H * W)

    def decode(self, z: torch.Tensor, labels: int | torch.Tensor | None = None) -> torch.Tensor:
        """z (B, code_dim) -> mean images in [0, 1] as images are stored and shown: (B, H, W) gray,
        (B, H, W, 3) RGB."""
        return to_images(torch.sigmoid(self.decode_logits(z, labels)), self.config.image_shape)

    @torch.no_grad()
    def start_at_mean_image(self, images: torch.Tensor) -> None:
        """Set the decoder's last bias to the log-odds of each pixel's mean over `images` (uint8, as
        stored), so that an untrained decoder draws close to the training set's mean image instead of
        flat gray: the first steps then go to the digits instead of the background, and the default
        reaches a test -ELBO of 105 in 5 epochs where it took 7 (BENCHMARKS.md section 1). The mean is held within
        [0.001, 0.999] (log-odds within +-6.9): a pixel never inked in training still costs an image
        inked there a bounded number of nats. With the Gaussian likelihood, whose mean is the sigmoid
        of the same outputs, it is the mean image too. Only where the last layer has a bias per pixel
        (mlp, article); the convolutional decoders keep theirs."""
        last = self.decoder[-1]
        if not isinstance(last, nn.Linear) or last.out_features != self.config.pixels:
            return
        # In chunks: float32 sums of 4096 bytes are exact, and no float copy of all the images is made
        # (an integer sum over the first dimension took 164 ms for MNIST's 60,000, these 18).
        pixel_sums = sum(chunk.float().sum(0).double() for chunk in images.split(4096))  # (H, W) or (H, W, C)
        mean = to_unit(pixel_sums[None] / len(images)).flatten()  # (C * H * W,) in the decoder's order
        last.bias.copy_(torch.logit(mean.clamp(1e-3, 1 - 1e-3)))

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """z = mu + sigma * eps, eps ~ N(0, I): a differentiable sample of q(z|x)."""
        return Gaussian(mu, logvar).sample(generator)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None,
                temperature: float | torch.Tensor | None = None, labels: torch.Tensor | None = None) -> VAEOutput:
        """A sample of q(z|x), decoded: relaxed at `temperature` (categorical latents; straight-through
        when the config says so), an exact one when it is None. `labels`: a conditional model's classes."""
        q = self.posterior(x, labels)
        if self.training and self.config.eps == "uniform":  # the article's bug, trained on purpose (ModelConfig.eps)
            z = q.at(torch.rand(q.mu.shape, generator=generator, device=q.mu.device, dtype=q.mu.dtype))  # U[0, 1)
        else:
            z = q.sample(generator, temperature, hard=self.config.straight_through)
        return VAEOutput(q, z, self.decode_logits(z, labels))


def has_bf16_units(device: torch.device) -> bool:
    """Whether `device` is a CPU with bfloat16 arithmetic (AVX-512 BF16 or AMX), where a bfloat16
    forward pays; read from /proc/cpuinfo (False where it cannot be read, and for other devices)."""
    if device.type != "cpu":
        return False
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def gpu_count() -> int:
    """CUDA devices on this machine (the Train page offers data-parallel runs over them)."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' takes CUDA when present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but torch sees no CUDA device")
    return torch.device(name)


def to_unit(images: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """uint8 images as stored, (B, H, W) gray or (B, H, W, C) -> float (B, C, H, W) in [0, 1]; into
    `out` (any float tensor of B * C * H * W numbers) when given."""
    x = images.unsqueeze(1) if images.dim() == 3 else images.permute(0, 3, 1, 2)
    if out is None:
        return x.float().div_(255.0)
    return out.view(x.shape).copy_(x).div_(255.0)


def as_network_input(x: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
    """Images of `shape` (C, H, W) as the networks read them, (B, C, H, W), from that or from the
    stored layout ((B, H, W) gray, (B, H, W, C) RGB)."""
    c, h, w = shape
    if x.dim() == 4 and c > 1 and tuple(x.shape[1:]) == (h, w, c):
        x = x.permute(0, 3, 1, 2)
    return x.reshape(len(x), c, h, w)


def to_images(flat: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
    """(B, C * H * W) network outputs -> images as stored and shown: (B, H, W) for one channel,
    (B, H, W, C) for more."""
    c, h, w = shape
    x = flat.reshape(-1, c, h, w)
    return x[:, 0] if c == 1 else x.permute(0, 2, 3, 1)
