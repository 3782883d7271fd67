"""The ELBO's KL term taken apart (Hoffman & Johnson 2016, "ELBO surgery"): over the N digits,

    mean_n KL(q(z|x_n) || p(z)) = I_q(n; z) + KL(q(z) || p(z)),

where q(z) = (1/N) sum_n q(z|x_n) is the aggregate posterior. I_q is the mutual information
between a digit's index and its code (how much the codes say about which digit it was; at most
log N), KL(q(z) || p(z)) how far the codes' overall spread is from the prior.

    parts = kl_decomposition(model.latent, q)   # q: the posteriors of N digits
    parts.average_kl, parts.mutual_information, parts.marginal_kl, parts.stderr

The average KL is exact (each term in closed form). The marginal KL is a Monte Carlo estimate:
codes drawn from q(z) (a digit at random, then its posterior), each scored by log q(z) - log p(z)
with q(z) summed over all N posteriors; its standard error is the mean's over the draws. The
mutual information is their difference, so it carries the same error.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from vae.models.latents import aggregate_log_density


@dataclass(frozen=True)
class KLDecomposition:
    average_kl: float  # nats per digit, exact
    mutual_information: float  # I_q(n; z), nats, estimated
    marginal_kl: float  # KL(q(z) || p(z)), nats, estimated
    stderr: float  # the standard error of both estimates (they differ by an exact constant)
    samples: int  # codes drawn from q(z)
    digits: int  # N, whose posteriors make q(z)

    @property
    def information_bound(self) -> float:
        """I_q(n; z) <= log N: a code cannot say more than which of N digits it came from."""
        return math.log(self.digits)


def kl_decomposition(latent, q, samples: int = 2000, seed: int = 0) -> KLDecomposition:
    """The decomposition for the posteriors `q` (N digits) of a model with this `latent`."""
    n = len(q.code)
    if n < 2:
        raise ValueError("the aggregate posterior needs at least two digits' posteriors")
    generator = torch.Generator().manual_seed(seed)
    average_kl = float(q.kl_per_unit().sum(-1).double().mean())
    which = torch.randint(n, (samples,), generator=generator)
    with torch.no_grad():
        z = q.subset(which).sample(generator=generator)  # (samples, code_dim): exact draws of q(z)
        terms = (aggregate_log_density(q, z) - latent.prior_log_prob(z)).double()  # (samples,)
    marginal = float(terms.mean())
    return KLDecomposition(average_kl, average_kl - marginal, marginal, float(terms.std() / math.sqrt(samples)),
                           samples, n)
