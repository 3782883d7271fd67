"""The VAE's loss terms, all in nats per image.

  -ELBO(x) = recon(x) + KL(q(z|x) || p(z)),   training loss = recon + beta * KL
  recon    = -log p(x|z), z ~ q(z|x), one sample
  KL       = sum_d 0.5 * (mu_d^2 + sigma_d^2 - 1 - log sigma_d^2)   (closed form, per dim)

plus the importance-weighted bound (Burda et al. 2015) used to estimate -log p(x).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .config import ModelConfig

LOG_2PI = math.log(2 * math.pi)


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Closed-form KL(N(mu, sigma^2) || N(0, 1)) for each dimension: (B, z_dim)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def recon_nll(logits: torch.Tensor, x: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
    """-log p(x|z) summed over pixels: (B,). logits (B, 784); x in [0, 1], any shape (B, ...)."""
    x = x.reshape(len(x), -1)
    if cfg.likelihood == "bernoulli":
        return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
    sigma = cfg.gaussian_sigma
    mean = torch.sigmoid(logits)
    squared = ((x - mean) / sigma).pow(2)
    return 0.5 * squared.sum(-1) + x.shape[1] * (math.log(sigma) + 0.5 * LOG_2PI)


def log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag(exp(logvar))) summed over the last dim."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) / logvar.exp()).sum(-1)


@torch.no_grad()
def iwae_nll(model, x: torch.Tensor, k: int, chunk: int = 1000,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Importance-weighted estimate of -log p(x) with k samples of q(z|x): (B,).

    -log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x); equals the one-sample -ELBO in
    expectation at k = 1 and falls towards -log p(x) as k grows.
    """
    mu, logvar = model.encode(x)  # (B, z)
    B = len(x)
    flat_x = x.reshape(B, -1)
    per_chunk = max(1, chunk // max(B, 1))
    log_w_parts = []
    for start in range(0, k, per_chunk):
        n = min(per_chunk, k - start)
        eps = torch.randn((B, n, mu.shape[1]), generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu[:, None] + torch.exp(0.5 * logvar)[:, None] * eps  # (B, n, z)
        logits = model.decode_logits(z.reshape(B * n, -1))  # (B*n, 784)
        x_rep = flat_x[:, None].expand(B, n, flat_x.shape[1]).reshape(B * n, -1)
        log_px_z = -recon_nll(logits, x_rep, model.config).view(B, n)
        log_pz = log_normal(z, torch.zeros_like(z), torch.zeros_like(z))
        log_qz = log_normal(z, mu[:, None], logvar[:, None])
        log_w_parts.append(log_px_z + log_pz - log_qz)  # (B, n)
    log_w = torch.cat(log_w_parts, dim=1)  # (B, k)
    return -(torch.logsumexp(log_w, dim=1) - math.log(k))
