"""Test-set figures of a trained VAE: recon, KL, -ELBO, active units, IWAE NLL.

    python -m vae eval checkpoints/default --iwae-k 1000 --json
"""
from __future__ import annotations

import torch

from .losses import iwae_nll, kl_per_dim, recon_nll
from .model import VAE, to_unit

ACTIVE_UNIT_THRESHOLD = 0.01  # Burda et al. 2015: Cov_x(E_q[z_u]) > 0.01


def prepare(images: torch.Tensor, binarize: bool, seed: int = 0) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28) in [0, 1]; a fixed binarization when asked."""
    x = to_unit(images)
    if binarize:
        g = torch.Generator(device=x.device).manual_seed(seed)
        x = torch.bernoulli(x, generator=g)
    return x


def active_dims(mu: torch.Tensor, threshold: float = ACTIVE_UNIT_THRESHOLD) -> torch.Tensor:
    """Which latent dims are active: their posterior mean varies across the data. mu (N, z_dim) ->
    (z_dim,) bool."""
    return mu.var(dim=0) > threshold


def active_units(mu: torch.Tensor) -> int:
    """How many latent dims are active (see active_dims)."""
    return int(active_dims(mu).sum())


def dimension_summary(mu: torch.Tensor, logvar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean KL from the prior of each latent dim, and whether it is active, over a dataset's
    posteriors: mu, logvar (N, z_dim) -> (z_dim,) float and (z_dim,) bool."""
    return kl_per_dim(mu, logvar).mean(0), active_dims(mu)


@torch.no_grad()
def encode_all(model: VAE, images: torch.Tensor, batch_size: int = 2000) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior means and log-variances of uint8 images (N, 28, 28), on the CPU: (N, z) each."""
    model.eval()
    mus, logvars = [], []
    for i in range(0, len(images), batch_size):
        x = prepare(images[i:i + batch_size].to(model.device), False)
        mu, logvar = model.encode(x)
        mus.append(mu.cpu())
        logvars.append(logvar.cpu())
    return torch.cat(mus), torch.cat(logvars)


@torch.no_grad()
def evaluate(model: VAE, images: torch.Tensor, batch_size: int = 1000, seed: int = 0) -> dict:
    """Mean test recon and KL (nats per image, one posterior sample), per-dim KL, active units."""
    model.eval()
    device = model.device
    x_all = prepare(images.to(device), model.config.binarize, seed)
    g = torch.Generator(device=device).manual_seed(seed)
    recon_sum, kl_sum, mus = 0.0, torch.zeros(model.latent_dim, device=device), []
    for i in range(0, len(x_all), batch_size):
        x = x_all[i:i + batch_size]
        out = model(x, generator=g)
        recon_sum += float(recon_nll(out.logits, x, model.config).sum())
        kl_sum += kl_per_dim(out.mu, out.logvar).sum(0)
        mus.append(out.mu)
    n = len(x_all)
    recon, kl_dims = recon_sum / n, (kl_sum / n).cpu()
    return {
        "recon": recon,
        "kl": float(kl_dims.sum()),
        "elbo": recon + float(kl_dims.sum()),  # -ELBO, nats per image
        "kl_per_dim": [round(float(v), 5) for v in kl_dims],
        "active_units": active_units(torch.cat(mus)),
    }


@torch.no_grad()
def bound_gap(model: VAE, x: torch.Tensor, ks=(1, 10, 100, 1000), repeats: int = 8, seed: int = 0) -> dict:
    """For one image x (1, 28, 28) or (1, 1, 28, 28): the importance-weighted lower bound on log p(x)
    with k samples, for each k, as (mean, standard deviation) over `repeats` estimates. k = 1 is the
    ELBO; the bound rises with k towards log p(x), and its rise measures KL(q(z|x) || p(z|x)), the
    gap that an exact E-step (q = the true posterior) would close."""
    model.eval()
    x = prepare(x.reshape(1, 28, 28).to(model.device), False) if x.dtype == torch.uint8 else x.reshape(1, 1, 28, 28)
    g = torch.Generator(device=model.device).manual_seed(seed)
    out = {}
    for k in ks:
        bounds = torch.stack([-iwae_nll(model, x, k, generator=g)[0] for _ in range(repeats)])
        out[k] = (float(bounds.mean()), float(bounds.std()) if repeats > 1 else 0.0)
    return out


@torch.no_grad()
def evaluate_iwae(model: VAE, images: torch.Tensor, k: int, batch_size: int | None = None,
                  seed: int = 0, progress=None) -> float:
    """Mean importance-weighted -log p(x) estimate over the images, k samples each."""
    model.eval()
    device = model.device
    batch_size = batch_size or max(1, 20000 // k)
    x_all = prepare(images.to(device), model.config.binarize, seed)
    g = torch.Generator(device=device).manual_seed(seed + 1)
    total = 0.0
    for i in range(0, len(x_all), batch_size):
        x = x_all[i:i + batch_size]
        total += float(iwae_nll(model, x, k, chunk=20000, generator=g).sum())
        if progress:
            progress(len(x))
    return total / len(x_all)
