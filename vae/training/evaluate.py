"""Test-set figures of a trained VAE: recon, KL, -ELBO, active units, IWAE NLL.

    python -m vae eval checkpoints/default --iwae-k 1000 --json
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch

from vae.models.latents import Categorical, Gaussian
from vae.models.losses import images_per_call, iwae_nll, recon_nll
from vae.models.model import VAE, to_unit


def prepare(images: torch.Tensor, binarize: bool, seed: int = 0) -> torch.Tensor:
    """uint8 images as stored (N, H, W) or (N, H, W, C) -> float (N, C, H, W) in [0, 1]; a fixed
    binarization when asked."""
    x = to_unit(images)
    if binarize:
        g = torch.Generator(device=x.device).manual_seed(seed)
        x = torch.bernoulli(x, generator=g)
    return x


def scored_batches(model: VAE, images: torch.Tensor, batch_size: int, seed: int = 0, noise_seed: int | None = None,
                   progress: Callable[[float], None] | None = None, labels: torch.Tensor | None = None
                   ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None, torch.Generator]]:
    """The one loop of every figure over a set of images: uint8 images (N, H, W[, C]) as the model
    scores them (a fixed binarization from `seed` for a binarized model), on its device, in
    batches (B, C, H, W), each with its labels (B,) (None without `labels`: a conditional model
    needs them) and the one generator of the run's samples of q (seeded with `noise_seed`, else
    `seed`); `progress` gets the share of images done after each batch."""
    model.eval()
    x_all = prepare(images.to(model.device), model.config.binarize, seed)
    y_all = None if labels is None else labels.to(model.device)
    g = torch.Generator(device=model.device).manual_seed(seed if noise_seed is None else noise_seed)
    for i in range(0, len(x_all), batch_size):
        yield x_all[i:i + batch_size], None if y_all is None else y_all[i:i + batch_size], g
        if progress:
            progress(min(i + batch_size, len(x_all)) / len(x_all))


def active_units(model: VAE, codes: torch.Tensor) -> int:
    """How many latent units (dimensions, or categorical variables) are active: their posterior
    varies across the data (Burda et al. 2015). codes (N, code_dim): posterior codes."""
    return int(model.latent.activity(codes).sum())


def dimension_summary(model: VAE, codes: torch.Tensor, kl_units: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean KL from the prior of each latent unit, and whether it is active, over a dataset's
    posteriors: codes (N, code_dim), kl_units (N, units) -> (units,) float and (units,) bool."""
    return kl_units.mean(0), model.latent.activity(codes)


# Not more: a conv encoder's first activations for 2,000 images (50 MB) outgrow the processor's
# caches, and encoding 60,000 took 4.8 s in batches of 2,000 against 2.1 s in batches of 500 (the
# same codes; an mlp's time does not change; BENCHMARKS.md section 5).
ENCODE_BATCH = 500


@torch.no_grad()
def posteriors(model: VAE, images: torch.Tensor, batch_size: int = ENCODE_BATCH, *,
               labels: torch.Tensor | None = None) -> Gaussian | Categorical:
    """q(z|x) of every uint8 image (N, H, W[, C]) (q(z|x, y) with `labels` (N,), for a conditional
    model), encoded in batches, as one batch on the CPU."""
    model.eval()
    parts = [model.posterior(prepare(images[i:i + batch_size].to(model.device), False),
                             None if labels is None else labels[i:i + batch_size].to(model.device))
             for i in range(0, len(images), batch_size)]
    return parts[0].cat(parts)


@torch.no_grad()
def scored_posteriors(model: VAE, images: torch.Tensor, batch_size: int = 1000,
                      seed: int = 0, *, labels: torch.Tensor | None = None) -> Gaussian | Categorical:
    """q(z|x) of every uint8 image as evaluate() scores it (binarized as in training when the model
    was), as one batch on the CPU: its mean KL is evaluate()'s."""
    model.eval()
    parts = [model.posterior(x, y) for x, y, _ in scored_batches(model, images, batch_size, seed, labels=labels)]
    return parts[0].cat(parts)


def encode_all(model: VAE, images: torch.Tensor, batch_size: int = ENCODE_BATCH, *,
               labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior codes (mu, or the variables' probabilities) and each unit's KL from the prior, of
    uint8 images (N, H, W[, C]) (with their labels (N,) for a conditional model), on the CPU:
    (N, code_dim) and (N, units)."""
    q = posteriors(model, images, batch_size, labels=labels)
    return q.code, q.kl_per_unit()


@torch.no_grad()
def evaluate(model: VAE, images: torch.Tensor, batch_size: int = 1000, seed: int = 0, *,
             labels: torch.Tensor | None = None) -> dict:
    """Mean test recon (one exact sample of q: one-hot for categorical latents) and KL (nats per
    image), KL per latent unit, active units. A conditional model reads `labels` (N,): its -ELBO
    bounds -log p(x | y)."""
    recon_sum, kl_sum, codes = 0.0, torch.zeros(model.latent.units, device=model.device), []
    for x, y, g in scored_batches(model, images, batch_size, seed, labels=labels):
        out = model(x, generator=g, labels=y)
        recon_sum += float(recon_nll(out.logits, x, model.config).sum())
        kl_sum += out.posterior.kl_per_unit().sum(0)
        codes.append(out.posterior.code)
    n = len(images)
    recon, kl_dims = recon_sum / n, (kl_sum / n).cpu()
    return {
        "recon": recon,
        "kl": float(kl_dims.sum()),
        "elbo": recon + float(kl_dims.sum()),  # -ELBO, nats per image
        "kl_per_dim": [round(float(v), 5) for v in kl_dims],
        "active_units": active_units(model, torch.cat(codes)),
    }


@torch.no_grad()
def bound_gap(model: VAE, x: torch.Tensor, ks=(1, 10, 100, 1000), draws: int = 1000, seed: int = 0,
              label: int | None = None) -> dict:
    """For one image x, uint8 as stored ((1, H, W) or (1, H, W, C)) or float (1, C, H, W): the
    importance-weighted lower bound on log p(x) with k samples, for each k, as (mean, standard
    error) over max(8, draws / k) independent estimates (so at least `draws` samples of q(z|x)
    each). k = 1 is the ELBO; the bound rises with k towards log p(x), and its rise measures
    KL(q(z|x) || p(z|x)), the gap that an exact E-step (q = the true posterior) would close. A
    uint8 image is scored as the model's pixels are: binarized (a fixed binarization, from `seed`)
    for a model trained on binarized digits."""
    model.eval()
    # Binarized on the CPU, whatever the model's device: the same bits as prepare() gives a page.
    c, h, w = model.config.image_shape
    if x.dtype == torch.uint8:
        stored = x.cpu().reshape(1, h, w) if c == 1 else x.cpu().reshape(1, h, w, c)
        x = prepare(stored, model.config.binarize, seed)
    x = x.reshape(1, c, h, w).to(model.device)
    g = torch.Generator(device=model.device).manual_seed(seed)
    out = {}
    for k in ks:
        repeats = max(8, math.ceil(draws / k))
        x_repeated = x.expand(repeats, -1, -1, -1)
        bounds = -iwae_nll(model, x_repeated, k, generator=g, labels=label)  # (repeats,)
        out[k] = (float(bounds.mean()), float(bounds.std() / math.sqrt(repeats)))
    return out


@torch.no_grad()
def evaluate_iwae(model: VAE, images: torch.Tensor, k: int, batch_size: int | None = None,
                  seed: int = 0, progress: Callable[[float], None] | None = None,
                  labels: torch.Tensor | None = None) -> float:
    """Mean importance-weighted -log p(x) estimate over the images, k samples each (-log p(x | y)
    for a conditional model, which reads `labels`); `progress` gets the share of images done."""
    total = 0.0
    batch_size = batch_size or images_per_call(k, model.device)
    for x, y, g in scored_batches(model, images, batch_size, seed, seed + 1, progress, labels):
        total += float(iwae_nll(model, x, k, generator=g, labels=y).sum())
    return total / len(images)
