"""EM for a mixture of products of categoricals on a categorical latent's codes: the article's EM
with categorical components, whose samples are valid codes (one category per variable), where a
Gaussian mixture on probability vectors draws vectors with negative entries that are no codes.

    p(z) = sum_k pi_k prod_v Cat(z_v; theta_kv)        z: V variables, one-hot over C categories each

EM is fitted to codes: one exact one-hot sample of each posterior q(z|x) (drawn from the
probability vectors it is given, seeded), so that log p(X) is a log-likelihood of codes, and
log p(z | k) = sum_v log theta_{k, v, z_v}. Both steps are closed forms: the responsibilities,
then pi_k and theta_kvc as responsibility-weighted means (with a pseudo-count that keeps every
category possible). The decomposition log p(X) = ELBO(Q, theta) + KL(Q || P(Z|X)) and the
stepping are vae.models.gmm's.

    em = latent.mixture_em(codes, k=10)          # a MixtureEM or CategoricalMixtureEM, as the latent is
    em.run()
    em.mixture.sample(16, seed=0)               # (16, V * C) one-hot rows
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vae.models.gmm import MixtureDensity, MixtureEM

PSEUDO_COUNT = 1e-3  # added to every category's weighted count in the M-step: no probability is ever 0


@dataclass
class CategoricalMixture(MixtureDensity):
    weights: np.ndarray  # (K,)
    probs: np.ndarray  # (K, V, C): each component's probability of each variable's categories

    @property
    def k(self) -> int:
        return len(self.weights)

    @property
    def means(self) -> np.ndarray:
        """Each component's most likely code, (K, V * C) one-hot: each variable's most likely
        category (a valid code, as a decoder was trained on; its probability vectors are none)."""
        return np.eye(self.probs.shape[-1], dtype=np.float32)[self.probs.argmax(-1)].reshape(self.k, -1)

    def joint_log_density(self, x: np.ndarray) -> np.ndarray:
        """log pi_k + sum_v sum_c x_vc log theta_kvc: (N, K)."""
        x = np.asarray(x, np.float64).reshape(len(x), -1)  # (N, V * C)
        return np.log(self.weights)[None] + x @ np.log(self.probs).reshape(self.k, -1).T

    def sample(self, n: int, seed: int = 0, component: int | None = None) -> np.ndarray:
        """n draws of the mixture (or of one component): (n, V * C) float32, one-hot per variable."""
        rng = np.random.default_rng(seed)
        ks = np.full(n, component) if component is not None else rng.choice(self.k, n, p=self.weights)
        return _draw(self.probs[ks], rng).astype(np.float32)


def _draw(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One category of each variable, by its probabilities: (N, V, C) -> (N, V * C) one-hot."""
    u = rng.random(probs.shape[:2] + (1,))
    chosen = np.minimum((u > np.cumsum(probs, -1)).sum(-1), probs.shape[-1] - 1)  # (N, V)
    return np.eye(probs.shape[-1])[chosen].reshape(len(probs), -1)


def _categorical_m_step(codes: np.ndarray, q: np.ndarray, variables: int) -> CategoricalMixture:
    """pi and theta maximizing the ELBO for Q (N, K): responsibility-weighted means."""
    x = codes.reshape(len(codes), variables, -1)  # (N, V, C)
    counts = np.einsum("nk,nvc->kvc", q, x) + PSEUDO_COUNT
    weights = q.sum(0) + PSEUDO_COUNT  # an emptied component keeps a tiny weight: log 0 would make NaNs
    return CategoricalMixture(weights / weights.sum(), counts / counts.sum(-1, keepdims=True))


def one_hot_samples(probabilities: np.ndarray, variables: int, seed: int = 0) -> np.ndarray:
    """One exact sample of each row's categoricals: (N, V * C) probabilities -> (N, V * C) one-hot."""
    p = np.asarray(probabilities, np.float64).reshape(len(probabilities), variables, -1)
    return _draw(p, np.random.default_rng(seed))


@dataclass
class CategoricalMixtureEM(MixtureEM):
    """MixtureEM with categorical components; `variables` splits each code (N, V * C) into V."""
    variables: int = 1

    def _start(self, labels: np.ndarray) -> CategoricalMixture:
        return _categorical_m_step(self.codes, np.eye(self.k)[labels], self.variables)

    def _m_step(self, q: np.ndarray) -> CategoricalMixture:
        return _categorical_m_step(self.codes, q, self.variables)
