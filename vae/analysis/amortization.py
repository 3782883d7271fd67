"""The amortization gap (Cremer, Li & Duvenaud 2018): how much of a digit's ELBO the encoder gives
away by computing q(z|x) with one network for every digit, rather than fitting q to this digit.

    log p(x) - ELBO(q_encoder) = [log p(x) - ELBO(q*)]  +  [ELBO(q*) - ELBO(q_encoder)]
                                  approximation gap         amortization gap

q* is the best Gaussian for x alone: its mean and log-variance optimized by gradient ascent on the
ELBO, starting from the encoder's output. Gaussian latents only.

    gaps = amortization_gaps(model, x)    # x (B, 1, 28, 28) in [0, 1]; see AmortizationGaps
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from vae.models.latents import Gaussian
from vae.models.losses import importance_weighted_bound, log_importance_weights
from vae.training.adam import Adam

OPTIMIZE_STEPS = 300
EVAL_SAMPLES = 2000  # samples of q per ELBO estimate; the IWAE bound takes as many
# Independent IWAE bounds of EVAL_SAMPLES each: their mean is the figure, their spread its error. (The
# delta method's error of one bound, from its own weights, came out 1.5 to 2.1 times too small: the
# rare large weights that make the bound's spread are the ones its samples miss.)
BOUND_REPEATS = 5


@dataclass
class AmortizationGaps:
    """Per image (B,) each, nats: ELBO estimates of the encoder's q and of the optimized q* (from the
    same samples of eps, so their difference is measured more precisely than either), their
    standard errors, and the IWAE bound with q* as the proposal (a lower bound of log p(x), so the
    approximation gap measured against it is a lower bound too)."""
    amortized_elbo: torch.Tensor
    optimized_elbo: torch.Tensor
    amortized_stderr: torch.Tensor
    optimized_stderr: torch.Tensor
    gap_stderr: torch.Tensor  # of optimized_elbo - amortized_elbo, from the paired samples
    log_px_bound: torch.Tensor  # the mean of BOUND_REPEATS independent bounds (the first on the ELBOs' samples)
    bound_stderr: torch.Tensor  # its standard error, from their spread
    amortized: Gaussian
    optimized: Gaussian
    samples: int

    @property
    def amortization_gap(self) -> torch.Tensor:
        return self.optimized_elbo - self.amortized_elbo

    @property
    def approximation_gap(self) -> torch.Tensor:
        """At least this (in expectation): the IWAE bound is itself below log p(x)."""
        return self.log_px_bound - self.optimized_elbo

    @property
    def approximation_stderr(self) -> torch.Tensor:
        """The two errors combined as if independent: an overestimate, as the bound's first repeat and
        the ELBO share their samples (and go up and down together)."""
        return (self.bound_stderr ** 2 + self.optimized_stderr ** 2).sqrt()


def optimize_posterior(model, x: torch.Tensor, steps: int = OPTIMIZE_STEPS, lr: float = 0.05, samples: int = 16,
                       seed: int = 0, labels=None) -> Gaussian:
    """q*(z|x) for each image of x (B, 1, 28, 28) in [0, 1]: N(mu, diag exp(logvar)) fitted by Adam to
    its own ELBO (estimated a step from `samples` fresh reparameterized samples, log p(z) - log q(z)
    included: the same estimate the evaluation makes), from the encoder's q(z|x). The model's
    weights stay as they are."""
    model.eval()
    with torch.no_grad():
        start = model.posterior(x, labels)
    if not isinstance(start, Gaussian):
        raise ValueError("the amortization gap is measured for Gaussian latents: this model's are categorical")
    mu, logvar = start.mu.clone().requires_grad_(), start.logvar.clone().requires_grad_()
    optimizer = Adam([mu, logvar], lr)
    g = torch.Generator(device=x.device).manual_seed(seed)
    for step in range(steps):
        # The step size falls to 0 along a cosine: the last steps average the samples' noise away, so
        # q* ends at the optimum rather than jittering around it.
        optimizer.set_lr(lr * 0.5 * (1 + math.cos(math.pi * step / steps)))
        elbo = log_importance_weights(model, x, samples, generator=g, labels=labels, q=Gaussian(mu, logvar)).mean(1)
        # The gradient of q's parameters only: the weights get none (and none is computed for them).
        mu.grad, logvar.grad = torch.autograd.grad(-elbo.sum(), [mu, logvar])  # elbo: (B,)
        optimizer.step()
    return Gaussian(mu.detach(), logvar.detach())


@torch.no_grad()
def amortization_gaps(model, x: torch.Tensor, steps: int = OPTIMIZE_STEPS, samples: int = EVAL_SAMPLES,
                      seed: int = 0, labels=None) -> AmortizationGaps:
    """The encoder's ELBO, the optimized posterior's, and the IWAE bound of log p(x), for each image
    of x (B, 1, 28, 28) in [0, 1]."""
    with torch.enable_grad():
        optimized = optimize_posterior(model, x, steps, seed=seed, labels=labels)
    amortized = model.posterior(x, labels)

    def log_weights(q: Gaussian) -> torch.Tensor:  # (B, samples), the same eps for either q
        g = torch.Generator(device=x.device).manual_seed(seed + 1)
        return log_importance_weights(model, x, samples, generator=g, labels=labels, q=q)

    a, o = log_weights(amortized), log_weights(optimized)
    more = log_importance_weights(model, x, samples * (BOUND_REPEATS - 1), labels=labels, q=optimized,
                                  generator=torch.Generator(device=x.device).manual_seed(seed + 2))
    bounds = importance_weighted_bound(torch.cat([o, more], 1).reshape(len(x) * BOUND_REPEATS, samples))
    bounds = bounds.view(len(x), BOUND_REPEATS)  # (B, repeats), each of its own samples of q*
    root = math.sqrt(samples)
    return AmortizationGaps(
        amortized_elbo=a.mean(1), optimized_elbo=o.mean(1), amortized_stderr=a.std(1) / root,
        optimized_stderr=o.std(1) / root, gap_stderr=(o - a).std(1) / root,
        log_px_bound=bounds.mean(1), bound_stderr=bounds.std(1) / math.sqrt(BOUND_REPEATS),
        amortized=amortized, optimized=optimized, samples=samples)
