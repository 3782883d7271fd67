"""The two kinds of latent variable, behind one interface: what the encoder's output means, how a
code is sampled, its KL from the prior and its log-densities.

  gaussian      z in R^D; q(z|x) = N(mu, diag sigma^2) (the encoder gives mu and log sigma^2);
                prior N(0, I); z = mu + sigma * eps (Kingma & Welling)
  categorical   N variables of K categories each; q(z|x) = prod_i Cat(softmax(logits_i)); a uniform
                prior; relaxed by Gumbel-softmax (Concrete) samples at temperature tau during
                training (Jang, Gu & Poole 2016; Maddison, Mnih & Teh 2016), one-hot when evaluated

The decoder reads a code of `code_dim` numbers: z itself, or the N one-hot (or relaxed) vectors
side by side. `Posterior.code` is a deterministic code for maps and neighbours: the mean mu, or the
N probability vectors.

    latent = latent_of(cfg)
    posterior = latent.posterior(encoder_output)     # Gaussian or Categorical
    z = posterior.sample(generator, temperature)     # (B, code_dim), differentiable
    kl = posterior.kl_per_unit()                     # (B, units): per dimension or per variable

The rest of the project asks the latent, never its kind's name: its words (`letter`, `unit`,
`size_text`), whether its codes are `continuous` (sliders, slerp, covariances, z = mu + sigma * eps)
or pick categories, whether it trains on a `relaxed` stand-in of its ELBO, what the browser keeps
of a code (`kept_values`, `code_of`), how an epoch's codes are stored (`pack_codes`), and which
mixture fits its codes (`mixture_em`, `fit_mixture`, `bic_curve`). A new kind is one class here,
its words and sizes in vae/models/latent_kinds.py (which pages read without torch), and its control in
ui/components/latent_pad.js.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from vae.models.latent_kinds import SLIDER_RANGE, CategoricalKind, GaussianKind

LOG_2PI = math.log(2 * math.pi)
ACTIVE_THRESHOLD = 0.01  # Burda et al. 2015: a unit is active when its posterior varies across data


def log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag(exp(logvar))) summed over the last dim."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) / logvar.exp()).sum(-1)


class Gaussian:
    """q(z|x) = N(mu, diag exp(logvar)): mu, logvar (B, D)."""

    def __init__(self, mu: torch.Tensor, logvar: torch.Tensor):
        self.mu, self.logvar = mu, logvar

    @property
    def code(self) -> torch.Tensor:
        return self.mu

    def sample(self, generator: torch.Generator | None = None, temperature=None, hard: bool = False,
               samples: int | None = None) -> torch.Tensor:
        """z = mu + sigma * eps, eps ~ N(0, I): (B, D), or (B, samples, D); differentiable in mu and logvar."""
        shape = self.mu.shape if samples is None else (self.mu.shape[0], samples, self.mu.shape[1])
        return self.at(torch.randn(shape, generator=generator, device=self.mu.device, dtype=self.mu.dtype))

    def at(self, eps: torch.Tensor) -> torch.Tensor:
        """The reparameterization z = mu + sigma * eps, for noise eps (B, D) or (B, samples, D)."""
        mu, logvar = (self.mu, self.logvar) if eps.dim() == 2 else (self.mu[:, None], self.logvar[:, None])
        return mu + torch.exp(0.5 * logvar) * eps

    def kl_per_unit(self) -> torch.Tensor:
        """Closed-form KL(N(mu, sigma^2) || N(0, 1)) per dimension: (B, D). (The one place of this formula.)"""
        return 0.5 * (self.mu.pow(2) + self.logvar.exp() - 1.0 - self.logvar)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log q(z|x) for z (B, D) or (B, samples, D): (B,) or (B, samples)."""
        if z.dim() == 3:
            return log_normal(z, self.mu[:, None], self.logvar[:, None])
        return log_normal(z, self.mu, self.logvar)

    def log_prob_each(self, z: torch.Tensor) -> torch.Tensor:
        """log q(z_m | x_b) of every code z (M, D) under every posterior of the batch: (M, B)."""
        # One product: log q(z|x_b) = -1/2 sum_d [z_d^2 / var_bd - 2 z_d mu_bd / var_bd + mu_bd^2 / var_bd
        # + logvar_bd + log 2 pi] is linear in (z^2, z, 1). In float64: near a code's own narrow
        # posterior those terms reach 1e5 and cancel, and float32 lost up to 0.3 nats there.
        mu, logvar = self.mu.double(), self.logvar.double()
        inv_var = torch.exp(-logvar)  # (B, D)
        constant = mu.shape[1] * LOG_2PI + logvar.sum(-1) + (mu * mu * inv_var).sum(-1)  # (B,)
        per_posterior = torch.cat([-0.5 * inv_var, mu * inv_var, -0.5 * constant[:, None]], 1)  # (B, 2D + 1)
        z = z.double()
        features = torch.cat([z * z, z, torch.ones_like(z[:, :1])], 1)  # (M, 2D + 1)
        return (features @ per_posterior.T).to(self.mu.dtype)

    def uncertainty(self) -> torch.Tensor:
        """How unsure q(z|x) is, per unit: its standard deviation sigma. (B, D)."""
        return torch.exp(0.5 * self.logvar)

    def subset(self, index: torch.Tensor) -> Gaussian:
        return Gaussian(self.mu[index], self.logvar[index])

    @staticmethod
    def cat(parts: list[Gaussian]) -> Gaussian:
        """Batches of posteriors as one, on the CPU."""
        return Gaussian(torch.cat([q.mu for q in parts]).cpu(), torch.cat([q.logvar for q in parts]).cpu())


class Categorical:
    """q(z|x) = prod_i Cat(p_i), p_i = softmax(logits_i): logits (B, N, K)."""

    def __init__(self, logits: torch.Tensor):
        self.logits = logits
        self.log_probs = F.log_softmax(logits.float(), -1).to(logits.dtype)

    @property
    def probs(self) -> torch.Tensor:
        return self.log_probs.exp()  # (B, N, K)

    @property
    def code(self) -> torch.Tensor:
        return self.probs.flatten(1)  # (B, N * K)

    def sample(self, generator: torch.Generator | None = None, temperature: float | torch.Tensor | None = None,
               hard: bool = False, samples: int | None = None) -> torch.Tensor:
        """A Gumbel-softmax (Concrete) sample at `temperature`, one-hot rows when it is None (exact
        samples of q, as evaluation uses); `hard`: one-hot forward, the relaxed sample's gradient
        backward (straight-through). (B, N * K), or (B, samples, N * K)."""
        log_probs = self.log_probs if samples is None else self.log_probs[:, None]
        shape = log_probs.shape if samples is None else (self.logits.shape[0], samples, *self.logits.shape[1:])
        u = torch.rand(shape, generator=generator, device=self.logits.device,
                       dtype=self.logits.dtype).clamp_(1e-10, 1.0)
        perturbed = log_probs - torch.log(-torch.log(u))  # + Gumbel(0, 1) noise
        if temperature is None:
            return F.one_hot(perturbed.argmax(-1), self.logits.shape[-1]).to(self.logits.dtype).flatten(-2)
        relaxed = torch.softmax(perturbed / temperature, -1)
        if hard:
            one_hot = F.one_hot(relaxed.argmax(-1), self.logits.shape[-1]).to(relaxed.dtype)
            relaxed = one_hot - relaxed.detach() + relaxed
        return relaxed.flatten(-2)

    def kl_per_unit(self) -> torch.Tensor:
        """Closed-form KL(q_i || Uniform(K)) = sum_k p_ik log p_ik + log K, per variable: (B, N)."""
        k = self.logits.shape[-1]
        return (self.probs * self.log_probs).sum(-1) + math.log(k)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log q(z|x) for one-hot codes z (B, N * K) or (B, samples, N * K): (B,) or (B, samples)."""
        log_probs = self.log_probs if z.dim() == 2 else self.log_probs[:, None]
        return (z.unflatten(-1, self.logits.shape[-2:]) * log_probs).sum((-1, -2))

    def log_prob_each(self, z: torch.Tensor) -> torch.Tensor:
        """log q(z_m | x_b) of every one-hot code z (M, N * K) under every posterior of the batch: (M, B)."""
        return z @ self.log_probs.flatten(1).T

    def uncertainty(self) -> torch.Tensor:
        """How unsure q(z|x) is, per variable: its entropy in nats (0: certain; log K: uniform). (B, N)."""
        return -(self.probs * self.log_probs).sum(-1)

    def subset(self, index: torch.Tensor) -> Categorical:
        return Categorical(self.logits[index])

    @staticmethod
    def cat(parts: list[Categorical]) -> Categorical:
        """Batches of posteriors as one, on the CPU."""
        return Categorical(torch.cat([q.logits for q in parts]).cpu())


def aggregate_log_density(q: Gaussian | Categorical, z: torch.Tensor, leave_out: torch.Tensor | None = None,
                          chunk: int = 256) -> torch.Tensor:
    """log q(z) of the aggregate posterior q(z) = (1/N) sum_n q(z|x_n), for codes z (M, code_dim): (M,).
    `leave_out` (M,): for each code, the index of one posterior to leave out of the sum (the one it
    was drawn from), so that a code drawn from q(z) is not judged by its own component."""
    n = len(q.code)
    if leave_out is not None and n < 2:
        raise ValueError("leaving one posterior out needs at least two")
    out = []
    for start in range(0, len(z), chunk):
        each = q.log_prob_each(z[start:start + chunk].float())  # (m, N)
        if leave_out is not None:
            each[torch.arange(len(each)), leave_out[start:start + chunk]] = -math.inf
        # logsumexp, with every term more than 80 nats below its row's largest (a left-out one too)
        # counted as 80 below: 1.8e-35 of the largest, nothing at float32's precision even 10,000
        # times over. exp's slow path for results below float32's normal range (most of the N
        # posteriors are far from a code) took 16 of the 20 ms of torch.logsumexp over a
        # (256, 10,000) chunk on 2 CPU cores. A row whose largest is not finite is that, as in logsumexp.
        top = each.max(dim=1, keepdim=True).values  # (m, 1)
        finite = torch.isfinite(top)
        sums = each.sub_(torch.where(finite, top, 0.0)).clamp_min_(-80.0).exp_().sum(dim=1)  # (m,)
        log_sum = torch.where(finite.squeeze(1), sums.log_() + top.squeeze(1), top.squeeze(1))
        out.append(log_sum - math.log(n - (leave_out is not None)))
    return torch.cat(out)


class GaussianLatent(GaussianKind):
    """A Gaussian latent (vae/models/latent_kinds.py says what it is): its arithmetic."""

    def posterior(self, h: torch.Tensor) -> Gaussian:
        mu, logvar = h.chunk(2, dim=-1)
        return Gaussian(mu, logvar)

    def prior_sample(self, n: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        return torch.randn(n, self.code_dim, generator=generator, device=device)

    def prior_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return -0.5 * (LOG_2PI + z.pow(2)).sum(-1)

    def activity(self, codes: torch.Tensor) -> torch.Tensor:
        """Which dimensions are active: the posterior mean varies across the data (all of them, for
        fewer than two codes: one code cannot tell). (D,) bool."""
        if len(codes) < 2:
            return torch.ones(self.units, dtype=torch.bool, device=codes.device)
        return codes.var(dim=0) > ACTIVE_THRESHOLD

    def reconstruction_codes(self, q: Gaussian, generator: torch.Generator | None = None) -> torch.Tensor:
        """The codes reconstructions are decoded from: the means. (B, code_dim)."""
        return q.code

    def kept_values(self, code) -> list[float]:
        """What the sliders keep of a code (and the page address carries): z, clipped to their range."""
        return [float(v) for v in np.clip(np.asarray(code, np.float32), -SLIDER_RANGE, SLIDER_RANGE)]

    def code_of(self, values) -> np.ndarray:
        """The decoder's code for kept values: z itself. (code_dim,)."""
        return np.asarray(values, np.float32)

    def path_changes(self, path: torch.Tensor) -> dict[int, list[str]]:
        """Where a path of codes changes discretely: nowhere, for a continuous latent."""
        return {}

    def pack_codes(self, codes: torch.Tensor) -> dict[str, torch.Tensor]:
        """An epoch's codes (N, code_dim) as tensors to save: float16 (0.6 MB for 10,000 x 32)."""
        return {"codes": codes.half()}

    def unpack_codes(self, tensors: dict[str, torch.Tensor]) -> np.ndarray | None:
        return tensors["codes"].float().numpy() if "codes" in tensors else None

    def mixture_em(self, codes: np.ndarray, k: int = 10, covariance: str = "full", seed: int = 0):
        """EM for a Gaussian mixture of the codes (vae.models.gmm.MixtureEM), not yet run."""
        from vae.models.gmm import MixtureEM
        return MixtureEM(codes, k=k, covariance=covariance, seed=seed)

    def fit_mixture(self, codes: np.ndarray, k: int = 10, covariance: str = "full", seed: int = 0):
        from vae.models.gmm import fit_mixture
        return fit_mixture(codes, k, covariance, seed)

    def bic_curve(self, codes: np.ndarray, ks: list[int], covariance: str = "full", seed: int = 0,
                  progress=None) -> dict:
        from vae.models.gmm import bic_curve
        return bic_curve(codes, ks, covariance, seed, progress)

    def mixture_text(self, k: int, covariance: str) -> str:
        return f"{k} components, {covariance} covariances"


class CategoricalLatent(CategoricalKind):
    """A categorical latent (vae/models/latent_kinds.py says what it is): its arithmetic."""

    def posterior(self, h: torch.Tensor) -> Categorical:
        return Categorical(h.unflatten(-1, (self.units, self.categories)))

    def prior_sample(self, n: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        idx = torch.randint(self.categories, (n, self.units), generator=generator, device=device)
        return F.one_hot(idx, self.categories).float().flatten(1)

    def prior_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return torch.full(z.shape[:-1], -self.units * math.log(self.categories), device=z.device, dtype=z.dtype)

    def one_hot(self, categories) -> torch.Tensor:
        """The code of one category per variable: (N,) ints -> (N * K,)."""
        return F.one_hot(torch.as_tensor(categories, dtype=torch.long), self.categories).float().flatten()

    def categories_of(self, code) -> torch.Tensor:
        """Each variable's most likely category in a code (N * K,) (one-hot, or probabilities): (N,)."""
        return torch.as_tensor(code, dtype=torch.float32).unflatten(-1, (self.units, self.categories)).argmax(-1)

    def activity(self, codes: torch.Tensor) -> torch.Tensor:
        """Which variables are active: their probability vector varies across the data (summed over
        the categories, the same threshold as the Gaussian dimensions'; all of them for fewer than
        two codes). (N,) bool."""
        if len(codes) < 2:
            return torch.ones(self.units, dtype=torch.bool, device=codes.device)
        return codes.unflatten(-1, (self.units, self.categories)).var(dim=0).sum(-1) > ACTIVE_THRESHOLD

    def reconstruction_codes(self, q: Categorical, generator: torch.Generator | None = None) -> torch.Tensor:
        """The codes reconstructions are decoded from: one exact one-hot sample of q. (B, code_dim)."""
        return q.sample(generator)

    def kept_values(self, code) -> list[float]:
        """What the pickers keep of a code: each variable's category, from a code of one-hot vectors
        or probabilities (code_dim numbers), or of categories already (units numbers)."""
        code = np.asarray(code, np.float32)
        if len(code) == self.code_dim:
            code = self.categories_of(code).numpy()
        return [float(v) for v in np.clip(np.round(code), 0, self.categories - 1)]

    def code_of(self, values) -> np.ndarray:
        """The decoder's code for kept values: the categories' one-hot vectors. (code_dim,)."""
        return self.one_hot([int(v) for v in values]).numpy()

    def path_changes(self, path: torch.Tensor) -> dict[int, list[str]]:
        """Where a path of codes (steps, N * K) changes its most likely code: {step: ["v3: 2→7", ...]},
        the step counted from 0."""
        cats = self.categories_of(path)  # (steps, N)
        flips = {}
        for s in range(1, len(cats)):
            changed = torch.nonzero(cats[s] != cats[s - 1]).flatten().tolist()
            if changed:
                flips[s] = [f"{self.letter}{v}: {int(cats[s - 1, v])}→{int(cats[s, v])}" for v in changed]
        return flips

    def pack_codes(self, codes: torch.Tensor) -> dict[str, torch.Tensor]:
        """An epoch's codes (N, code_dim) as tensors to save: each variable's most likely category,
        one byte each, where the probabilities would be 300 floats an image."""
        return {"categories": self.categories_of(codes).to(torch.uint8)}  # (N, variables)

    def unpack_codes(self, tensors: dict[str, torch.Tensor]) -> np.ndarray | None:
        if "categories" not in tensors:
            return None
        return F.one_hot(tensors["categories"].long(), self.categories).flatten(1).float().numpy()

    def mixture_em(self, codes: np.ndarray, k: int = 10, covariance: str = "full", seed: int = 0):
        """EM for a mixture of products of categoricals (vae.models.categorical_mixture), fitted to one
        one-hot sample of each posterior; `covariance` means nothing here."""
        from vae.models.categorical_mixture import CategoricalMixtureEM, one_hot_samples
        return CategoricalMixtureEM(one_hot_samples(codes, self.units, seed), k=k, seed=seed, variables=self.units)

    def fit_mixture(self, codes: np.ndarray, k: int = 10, covariance: str = "full", seed: int = 0):
        return self._converged(codes, k, seed).mixture

    def _converged(self, codes: np.ndarray, k: int, seed: int):
        em = self.mixture_em(codes, k, seed=seed)
        em.run(tol=1e-4)
        return em

    def bic_curve(self, codes: np.ndarray, ks: list[int], covariance: str = "full", seed: int = 0,
                  progress=None) -> dict:
        """The Bayesian information criterion (lower is better) of the mixture fitted for each k:
        -2 log p(X) + (free parameters) log N, a product of categoricals having V (C - 1) of them,
        scored on the one-hot codes EM was fitted to."""
        out = {}
        for i, k in enumerate(ks):
            em = self._converged(codes, k, seed)
            free = (k - 1) + k * self.units * (self.categories - 1)
            out[k] = float(-2 * em.mixture.log_likelihood(em.codes).sum() + free * np.log(len(em.codes)))
            if progress:
                progress(i + 1, len(ks))
        return out

    def mixture_text(self, k: int, covariance: str) -> str:
        return f"{k} components, each a product of categoricals"


KINDS = {kind.kind: kind for kind in (GaussianLatent, CategoricalLatent)}


def latent_of(cfg) -> GaussianLatent | CategoricalLatent:
    """The latent a ModelConfig (or anything with its latent fields) describes."""
    return KINDS[cfg.latent].from_config(cfg)
