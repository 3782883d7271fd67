"""EM for a Gaussian mixture on a VAE's latent codes, one step at a time: the article's chapter on
EM and the Gaussian mixture model, on the codes of whichever model is loaded.

The mixture p(x) = sum_k pi_k N(x; mu_k, Sigma_k) is fitted to the posterior means of a dataset
by scikit-learn's GaussianMixture (k-means start, then EM). Each step here is one EM iteration,
and records the article's decomposition of the log-likelihood for any distribution Q(Z) over the
components:

    log p(X) = ELBO(Q, theta) + KL(Q(Z) || P(Z | X, theta))

The E-step sets Q to the posterior under the current theta (responsibilities): then KL = 0 and
the ELBO touches log p(X). The M-step maximizes the ELBO over theta with Q held: log p(X) rises
by at least as much as the ELBO did, and the KL opens again until the next E-step.

    em = MixtureEM(codes, k=10, covariance="full")
    em.step()                 # one E-step and one M-step; em.records has both halves
    em.run()                  # until the log-likelihood stops rising
    em.mixture.sample(16, seed=0)
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

COVARIANCES = ("full", "diag")
LOG_2PI = math.log(2 * math.pi)


class MixtureDensity:
    """What every mixture here derives from its joint_log_density(x) = log pi_k + log p(x_i | k):
    log p(x), the responsibilities, and the ELBO of any Q over the components."""

    def joint_log_density(self, x: np.ndarray) -> np.ndarray:  # (N, K)
        raise NotImplementedError

    def log_likelihood(self, x: np.ndarray) -> np.ndarray:
        """log p(x_i): (N,)."""
        return _logsumexp(self.joint_log_density(x))

    def responsibilities(self, x: np.ndarray) -> np.ndarray:
        """P(Z = k | x_i): (N, K), rows summing to 1."""
        joint = self.joint_log_density(x)
        return np.exp(joint - _logsumexp(joint)[:, None])

    def elbo(self, x: np.ndarray, q: np.ndarray, joint: np.ndarray | None = None) -> float:
        """sum_i sum_k q_ik (log pi_k + log p(x_i | k) - log q_ik), for any Q (N, K)
        (`joint`: this mixture's joint_log_density(x), when already at hand)."""
        joint = self.joint_log_density(x) if joint is None else joint
        entropy = -np.where(q > 0, q * np.log(np.where(q > 0, q, 1.0)), 0.0).sum()
        return float((q * joint).sum() + entropy)


@dataclass
class Mixture(MixtureDensity):
    weights: np.ndarray  # (K,)
    means: np.ndarray  # (K, D)
    covariances: np.ndarray  # (K, D, D) full, or (K, D) diagonal

    @property
    def k(self) -> int:
        return len(self.weights)

    @property
    def diagonal(self) -> bool:
        return self.covariances.ndim == 2

    def joint_log_density(self, x: np.ndarray) -> np.ndarray:
        """log pi_k + log N(x_i; mu_k, Sigma_k): (N, K)."""
        x = np.asarray(x, np.float64)
        out = np.empty((len(x), self.k))
        for k in range(self.k):
            diff = x - self.means[k]  # (N, D)
            if self.diagonal:
                var = self.covariances[k]
                maha, logdet = (diff ** 2 / var).sum(1), np.log(var).sum()
            else:  # with L L^T = Sigma^-1: (x - mu)^T Sigma^-1 (x - mu) = |(x - mu) L|^2
                chol = np.linalg.cholesky(np.linalg.inv(self.covariances[k]))
                maha, logdet = ((diff @ chol) ** 2).sum(1), -2 * np.log(np.diag(chol)).sum()
            out[:, k] = math.log(self.weights[k]) - 0.5 * (x.shape[1] * LOG_2PI + logdet + maha)
        return out

    def sample(self, n: int, seed: int = 0, component: int | None = None) -> np.ndarray:
        """n draws of the mixture (or of one component): (n, D) float32."""
        rng = np.random.default_rng(seed)
        ks = np.full(n, component) if component is not None else rng.choice(self.k, n, p=self.weights)
        eps = rng.standard_normal((n, self.means.shape[1]))
        if self.diagonal:
            z = self.means[ks] + eps * np.sqrt(self.covariances[ks])
        else:
            chol = np.linalg.cholesky(self.covariances)
            z = self.means[ks] + np.einsum("nij,nj->ni", chol[ks], eps)
        return z.astype(np.float32)


def _logsumexp(a: np.ndarray) -> np.ndarray:
    top = a.max(1, keepdims=True)
    return (top + np.log(np.exp(a - top).sum(1, keepdims=True)))[:, 0]


REG_COVAR = 1e-6  # added to every variance, as scikit-learn does: no component collapses onto one code


def _hard_assignment_mixture(codes: np.ndarray, labels: np.ndarray, k: int, covariance: str) -> Mixture:
    """Each cluster's share, mean and covariance."""
    weights, means, covs = np.empty(k), np.empty((k, codes.shape[1])), []
    for c in range(k):
        members = codes[labels == c]
        weights[c], means[c] = len(members) / len(codes), members.mean(0)
        diff = members - means[c]
        if covariance == "diag":
            covs.append((diff ** 2).mean(0) + REG_COVAR)
        else:
            covs.append(diff.T @ diff / len(members) + REG_COVAR * np.eye(codes.shape[1]))
    return Mixture(weights, means, np.array(covs))


def _from_sklearn(model) -> Mixture:
    return Mixture(model.weights_.copy(), model.means_.copy(), model.covariances_.copy())


@dataclass
class EMRecord:
    """One half-step of EM; every figure in nats per code (summed over the codes, divided by N)."""
    iteration: int
    half: str  # "start", "E" or "M"
    log_likelihood: float  # log p(X | theta) / N, theta as after this half-step
    elbo: float  # ELBO(Q, theta) / N, Q and theta as after this half-step
    kl: float  # KL(Q || P(Z | X, theta)) / N = log p(X) - ELBO >= 0


@dataclass
class MixtureEM:
    """EM for a k-component Gaussian mixture on `codes` (N, D), stepped by the caller."""
    codes: np.ndarray
    k: int = 10
    covariance: str = "full"
    seed: int = 0
    records: list[EMRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        from sklearn.cluster import KMeans

        if self.covariance not in COVARIANCES:
            raise ValueError(f"covariance must be one of {COVARIANCES}, got {self.covariance!r}")
        if not 1 <= self.k <= len(self.codes):
            raise ValueError(f"k must be from 1 to the number of codes, got {self.k}")
        self.codes = np.asarray(self.codes, np.float64)
        # The start sklearn makes (k-means, then each cluster's share and its component), made
        # here so that theta_0 is known and shown.
        labels = KMeans(self.k, n_init=1, random_state=self.seed).fit(self.codes).labels_
        self.mixture = self._start(labels)
        self.q = self.mixture.responsibilities(self.codes)
        ll = float(self.mixture.log_likelihood(self.codes).mean())
        self.records.append(EMRecord(0, "start", ll, ll, 0.0))

    @property
    def iteration(self) -> int:
        return self.records[-1].iteration

    def step(self) -> None:
        """One EM iteration: the E-step (Q = the posterior under theta) and the M-step (theta
        maximizing the ELBO with Q held; scikit-learn's GaussianMixture makes it)."""
        n, t = len(self.codes), self.iteration + 1
        joint = self.mixture.joint_log_density(self.codes)
        log_px = _logsumexp(joint)
        q = np.exp(joint - log_px[:, None])
        ll, elbo = float(log_px.mean()), self.mixture.elbo(self.codes, q, joint) / n
        e_record = EMRecord(t, "E", ll, elbo, ll - elbo)
        mixture = self._m_step(q)
        joint = mixture.joint_log_density(self.codes)
        ll, elbo = float(_logsumexp(joint).mean()), mixture.elbo(self.codes, q, joint) / n
        # Changed together at the end: a step cut short (an app's rerun stops a script anywhere)
        # leaves the run as it was.
        self.mixture, self.q = mixture, q
        self.records += [e_record, EMRecord(t, "M", ll, elbo, ll - elbo)]

    def _start(self, labels: np.ndarray) -> MixtureDensity:
        return _hard_assignment_mixture(self.codes, labels, self.k, self.covariance)

    def _m_step(self, q: np.ndarray) -> MixtureDensity:
        """theta maximizing ELBO(Q, theta) for Q (N, K), the posterior under the current theta:
        scikit-learn's GaussianMixture started at the current theta and run for one iteration (its
        own E-step gives the same Q)."""
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.mixture import GaussianMixture

        covs = self.mixture.covariances
        model = GaussianMixture(self.k, covariance_type=self.covariance, max_iter=1, tol=0.0, reg_covar=REG_COVAR,
                                weights_init=self.mixture.weights, means_init=self.mixture.means,
                                precisions_init=1 / covs if self.mixture.diagonal else np.linalg.inv(covs))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return _from_sklearn(model.fit(self.codes))

    def run(self, tol: float = 1e-3, max_iterations: int = 300, progress=None) -> None:
        """Step until the log-likelihood per code rises by less than `tol` (or max_iterations)."""
        for _ in range(max_iterations):
            before = self.records[-1].log_likelihood
            self.step()
            if progress:
                progress(self.iteration)
            if self.records[-1].log_likelihood - before < tol:
                break


def purity(clusters: np.ndarray, labels: np.ndarray) -> float:
    """The share of codes whose cluster's most common label is their own."""
    total = 0
    for c in np.unique(clusters):
        total += np.bincount(labels[clusters == c]).max()
    return total / len(labels)


def agreement(clusters: np.ndarray, labels: np.ndarray) -> dict:
    """How the mixture's components match the dataset's labels: purity and adjusted Rand index."""
    from sklearn.metrics import adjusted_rand_score

    return {"purity": purity(clusters, labels), "adjusted_rand_index": float(adjusted_rand_score(labels, clusters))}


def fit_mixture(codes: np.ndarray, k: int = 10, covariance: str = "full", seed: int = 0) -> Mixture:
    """A mixture fitted to convergence by scikit-learn's GaussianMixture (k-means start)."""
    from sklearn.mixture import GaussianMixture

    model = GaussianMixture(k, covariance_type=covariance, random_state=seed, max_iter=500)
    return _from_sklearn(model.fit(np.asarray(codes, np.float64)))


def bic_curve(codes: np.ndarray, ks: list[int], covariance: str = "full", seed: int = 0, progress=None) -> dict:
    """The Bayesian information criterion of a mixture fitted for each k (lower is better)."""
    from sklearn.mixture import GaussianMixture

    codes = np.asarray(codes, np.float64)
    out = {}
    for i, k in enumerate(ks):
        out[k] = float(GaussianMixture(k, covariance_type=covariance, random_state=seed, max_iter=300)
                       .fit(codes).bic(codes))
        if progress:
            progress(i + 1, len(ks))
    return out
