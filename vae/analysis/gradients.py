"""Why reparameterize: the gradient of the ELBO with respect to the encoder's parameters phi,
estimated three ways from L samples of q(z|x), as the article argues.

    ELBO(x) = E_q[f(z)],  f(z) = log p(x|z) + log p(z) - log q(z|x),  q = N(mu_phi(x), sigma_phi(x)^2)

  score function    mean_l f(z_l) grad log q(z_l|x)               (REINFORCE; z_l drawn, not differentiated)
  + baseline        mean_l (f(z_l) - b(x)) grad log q(z_l|x)      (b(x): the ELBO from separate draws, so
                                                                   the control variate keeps it unbiased)
  reparameterization  mean_l grad f(mu + sigma * eps_l)           (eps_l ~ N(0, I): the gradient flows through z)

All three are unbiased (E[grad log q] = 0 makes f's own dependence on phi, and any baseline,
vanish in expectation); their variances differ by orders of magnitude. `variance_study` measures
each estimator's variance and its error against a many-sample reference, for L from 1 to 1000,
per group of the encoder's parameters.

    study = variance_study(model, x, ls=(1, 10, 100, 1000))
    study.rows       # one per (estimator, L, group): variance, RMSE against the reference
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import torch

from vae.models.latents import log_normal
from vae.models.losses import recon_nll
from vae.models.model import VAE

ESTIMATORS = ("score function", "score function + baseline", "reparameterization")
BASELINE_SAMPLES = 64


def parameter_groups(model: VAE) -> dict[str, list[torch.Tensor]]:
    """The encoder's parameters by layer ("encoder.3 Linear"), in order."""
    groups: dict[str, list[torch.Tensor]] = {}
    for name, module in model.encoder.named_children():
        params = list(module.parameters())
        if params:
            groups[f"encoder.{name} {type(module).__name__}"] = params
    return groups


def _f(model: VAE, x: torch.Tensor, z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """f(z) = log p(x|z) + log p(z) - log q(z|x) for z (B, L, D): (B, L)."""
    b, draws, d = z.shape
    logits = model.decode_logits(z.reshape(b * draws, d))  # (B*L, 784)
    x_rep = x.reshape(b, 1, -1).expand(b, draws, x[0].numel()).reshape(b * draws, -1)
    log_px = -recon_nll(logits, x_rep, model.config).view(b, draws)
    log_pz = log_normal(z, torch.zeros_like(z), torch.zeros_like(z))
    return log_px + log_pz - log_normal(z, mu[:, None], logvar[:, None])


def estimate(model: VAE, x: torch.Tensor, samples: int, estimator: str, generator: torch.Generator,
             baseline: torch.Tensor | None = None) -> list[torch.Tensor]:
    """One estimate of the gradient of mean_x ELBO(x) over the batch x (B, 1, 28, 28), from `samples`
    draws per image: the encoder's parameter gradients, flattened, one tensor per parameter."""
    params = [p for group in parameter_groups(model).values() for p in group]
    mu, logvar = model.encode(x)  # (B, D)
    eps = torch.randn((len(x), samples, mu.shape[1]), generator=generator, dtype=mu.dtype, device=mu.device)
    if estimator == "reparameterization":
        z = mu[:, None] + torch.exp(0.5 * logvar)[:, None] * eps
        objective = _f(model, x, z, mu, logvar).mean()
    elif estimator in ESTIMATORS:
        z = (mu[:, None] + torch.exp(0.5 * logvar)[:, None] * eps).detach()
        with torch.no_grad():
            f = _f(model, x, z, mu.detach(), logvar.detach())  # (B, L)
        if estimator == "score function + baseline":
            f = f - baseline[:, None]
        objective = (f * log_normal(z, mu[:, None], logvar[:, None])).mean()
    else:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    return [g.flatten() for g in torch.autograd.grad(objective, params)]


@torch.no_grad()
def elbo_baseline(model: VAE, x: torch.Tensor, generator: torch.Generator, samples: int = BASELINE_SAMPLES):
    """b(x): each image's ELBO from its own draws (independent of the estimator's): (B,)."""
    mu, logvar = model.encode(x)
    eps = torch.randn((len(x), samples, mu.shape[1]), generator=generator, dtype=mu.dtype, device=mu.device)
    return _f(model, x, mu[:, None] + torch.exp(0.5 * logvar)[:, None] * eps, mu, logvar).mean(1)


def reference_gradient(model: VAE, x: torch.Tensor, samples: int, generator: torch.Generator,
                       chunk: int = 500) -> list[torch.Tensor]:
    """The reparameterization estimate from `samples` draws per image (in chunks): the reference."""
    total = None
    for start in range(0, samples, chunk):
        n = min(chunk, samples - start)
        part = estimate(model, x, n, "reparameterization", generator)
        total = [p * n for p in part] if total is None else [t + p * n for t, p in zip(total, part)]
    return [t / samples for t in total]


def repeats_for(samples: int, budget: int = 2000, least: int = 4, most: int = 50) -> int:
    """How many independent estimates with `samples` draws each measure its variance: many for cheap
    ones, a few for the expensive."""
    return max(least, min(most, budget // samples))


@dataclass
class Study:
    groups: list[str]
    rows: list[dict] = field(default_factory=list)  # estimator, samples, group, variance, variance_se, rmse, repeats

    def ratio_at_one(self, of: str = "score function", over: str = "reparameterization") -> float:
        """The article's point as one number: the score function's variance over the
        reparameterization's (or `of` one estimator's over another's), with one sample, over all the
        encoder's parameters."""
        total = {r["estimator"]: r["variance"] for r in self.rows if r["samples"] == 1 and r["group"] == "all"}
        return total[of] / total[over]

    def ratio_error_at_one(self, of: str = "score function", over: str = "reparameterization") -> float:
        """ratio_at_one's relative standard error: the two variances' relative errors added in
        quadrature (the delta method; the two come from independent estimates)."""
        ones = {r["estimator"]: r for r in self.rows if r["samples"] == 1 and r["group"] == "all"}
        return math.hypot(*(ones[e]["variance_se"] / ones[e]["variance"] for e in (of, over)))


def variance_study(model: VAE, x: torch.Tensor, ls=(1, 3, 10, 30, 100, 300, 1000), reference_samples: int = 10_000,
                   seed: int = 0, most_repeats: int = 50, progress=None) -> Study:
    """Each estimator's variance (the trace of its covariance: E|g - E g|^2) and root mean squared
    error against the reference, for each number of draws in `ls`, per parameter group and for all."""
    model.eval()
    groups = parameter_groups(model)
    sizes = [sum(p.numel() for p in params) for params in groups.values()]
    gen = torch.Generator(device=model.device).manual_seed(seed)
    reference = torch.cat(reference_gradient(model, x, reference_samples, gen)).double()
    baseline = elbo_baseline(model, x, gen)
    study = Study(list(groups))
    steps, done = len(ESTIMATORS) * len(ls), 0
    for estimator in ESTIMATORS:
        for samples in ls:
            repeats = repeats_for(samples, budget=40 * most_repeats, most=most_repeats)
            parts = [slice(start, start + size) for start, size in zip(itertools.accumulate([0, *sizes]), sizes)]
            parts.append(slice(0, sum(sizes)))  # "all"
            total, squares = 0.0, 0.0
            distances = []  # (repeats, groups + 1): each estimate's squared distance to the reference, per group
            for _ in range(repeats):
                g = torch.cat(estimate(model, x, samples, estimator, gen, baseline)).double()
                total, squares = total + g, squares + g * g
                squared_error = (g - reference) ** 2
                distances.append([float(squared_error[part].sum()) for part in parts])
            variance = (squares / repeats - (total / repeats) ** 2).clamp_min(0)
            variance = variance * repeats / (repeats - 1)  # unbiased
            distances = torch.tensor(distances, dtype=torch.float64)
            # The mean squared distance is the squared error; its spread over sqrt(repeats) is the variance's
            # standard error (the variance is that mean, up to the reference's own small error).
            mean_squared, spread = distances.mean(0).tolist(), (distances.std(0) / math.sqrt(repeats)).tolist()
            for name, part, error, se in zip(list(groups) + ["all"], parts, mean_squared, spread):
                study.rows.append({"estimator": estimator, "samples": samples, "group": name, "repeats": repeats,
                                   "variance": float(variance[part].sum()), "variance_se": se,
                                   "rmse": math.sqrt(error)})
            done += 1
            if progress:
                progress(done, steps)
    return study
