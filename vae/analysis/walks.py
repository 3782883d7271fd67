"""Walking the latent space: interpolation paths, traversals, prior samples.

All functions take and return torch tensors on the CPU unless a model is involved.
"""
from __future__ import annotations

import torch

from vae.models.model import VAE


def lerp(z0: torch.Tensor, z1: torch.Tensor, steps: int) -> torch.Tensor:
    """Straight line from z0 to z1, both ends included: (steps, z_dim)."""
    t = torch.linspace(0, 1, steps, dtype=z0.dtype)[:, None]
    return (1 - t) * z0 + t * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, steps: int) -> torch.Tensor:
    """Spherical interpolation (White 2016): follows the shell where most prior mass lies,
    so mid-path codes have a typical norm instead of the shrunken norm of the chord."""
    t = torch.linspace(0, 1, steps, dtype=z0.dtype)[:, None]
    cos = torch.dot(z0, z1) / (z0.norm() * z1.norm()).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if omega.abs() < 1e-4:  # nearly parallel: the chord is the arc
        return lerp(z0, z1, steps)
    s = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / s) * z0 + (torch.sin(t * omega) / s) * z1


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int, method: str = "linear") -> torch.Tensor:
    if not 2 <= steps <= 256:
        raise ValueError(f"steps must be between 2 and 256, got {steps}")
    if method == "linear":
        return lerp(z0, z1, steps)
    if method == "slerp":
        return slerp(z0, z1, steps)
    raise ValueError(f"method must be 'linear' or 'slerp', got {method!r}")


def analogy(z_a: torch.Tensor, z_b: torch.Tensor, z_c: torch.Tensor) -> torch.Tensor:
    """a : b :: c : ?, as with word vectors: c moved by what takes a to b, z_c + (z_b - z_a).
    For Gaussian codes (a categorical latent's probability vectors would leave their simplex)."""
    return z_c + (z_b - z_a)


def traversal(base: torch.Tensor, dim: int, values: torch.Tensor) -> torch.Tensor:
    """Copies of `base` with dimension `dim` swept through `values`: (len(values), z_dim)."""
    z = base.repeat(len(values), 1)
    z[:, dim] = values
    return z


def prior_samples(model: VAE, n: int, seed: int) -> torch.Tensor:
    """n codes drawn from the model's prior: (n, code_dim)."""
    return model.latent.prior_sample(n, torch.Generator().manual_seed(seed))


@torch.no_grad()
def posterior_samples(model: VAE, image: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """n exact samples of q(z|x) of one uint8 image (28, 28): (n, code_dim), on the CPU."""
    from vae.training.evaluate import prepare

    q = model.posterior(prepare(image[None].to(model.device), False))
    return q.sample(torch.Generator(device=model.device).manual_seed(seed), samples=n)[0].cpu()


def dims_by_kl(kl_per_dim: list[float]) -> list[int]:
    """Latent dimensions, most informative (largest KL from the prior) first."""
    return sorted(range(len(kl_per_dim)), key=lambda d: -kl_per_dim[d])


def z_json(z, checkpoint: str) -> str:
    """A code as a downloadable file: {"checkpoint": name, "z": [...]}, three decimals (the latent
    pad's download, ui/components/latent_pad.js, writes the same)."""
    import json

    return json.dumps({"checkpoint": checkpoint, "z": [round(float(v), 3) for v in z]}) + "\n"


@torch.no_grad()
def decode_numpy(model: VAE, z: torch.Tensor):
    """Decode (N, z_dim) codes to float images in [0, 1] as numpy, (N, H, W) or (N, H, W, C) RGB."""
    return model.decode(z.to(model.device, torch.float32)).cpu().numpy()
