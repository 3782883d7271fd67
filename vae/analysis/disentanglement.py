"""How well a model's latent dimensions separate the factors that generated its images, for data whose
factors are known (vae/sprites.py).

    mi = mutual_information_matrix(codes, factors)   # (dims, factors), nats
    mig(codes, factors)                             # Chen et al. 2018, in [0, 1]
    dci(codes, factors)                             # Eastwood & Williams 2018: disentanglement, completeness
    factor_report(codes, factors, names)            # all of the mutual information: the page's heatmap

The mutual information between a code dimension and a discrete factor is estimated, as in
disentanglement_lib (Locatello et al. 2019), by discretizing the dimension into 20 equal-width
bins and counting: the plug-in ("histogram") estimator, biased upwards for small samples.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

BINS = 20


def _discretize(codes: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Each column of codes (N, D) into `bins` equal-width bins over its range: (N, D) int."""
    lo, hi = codes.min(0), codes.max(0)
    width = np.where(hi > lo, (hi - lo) / bins, 1.0)
    return np.clip(((codes - lo) / width).astype(np.int64), 0, bins - 1)


def _entropy(labels: np.ndarray) -> float:
    """The plug-in entropy (nats) of discrete labels (N,)."""
    p = np.bincount(labels) / len(labels)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def _mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """The plug-in mutual information (nats) of two discrete label arrays (N,)."""
    joint = a * (b.max() + 1) + b
    return _entropy(a) + _entropy(b) - _entropy(joint)


def mutual_information_matrix(codes: np.ndarray, factors: np.ndarray, bins: int = BINS) -> np.ndarray:
    """I(z_j; v_k) for each code dimension j and factor k, nats: codes (N, D) float, factors (N, K) int."""
    discrete = _discretize(np.asarray(codes, np.float64), bins)
    factors = np.asarray(factors, np.int64)
    return np.array([[_mutual_information(discrete[:, j], factors[:, k]) for k in range(factors.shape[1])]
                     for j in range(discrete.shape[1])])


def factor_entropies(factors: np.ndarray) -> np.ndarray:
    """H(v_k) of each factor, nats: (K,)."""
    factors = np.asarray(factors, np.int64)
    return np.array([_entropy(factors[:, k]) for k in range(factors.shape[1])])


def mig(codes: np.ndarray, factors: np.ndarray, bins: int = BINS) -> float:
    """The mutual information gap (Chen et al. 2018): for each factor, the gap between the two code
    dimensions that know most about it, over its entropy, averaged over the factors; 1 when each
    factor lives in one dimension alone, 0 when none does."""
    return mig_of(mutual_information_matrix(codes, factors, bins), factors)


@dataclass
class DCI:
    disentanglement: float  # each dimension informs about one factor only (1) or all alike (0)
    completeness: float  # each factor is captured by one dimension only (1) or spread over all (0)
    informativeness: float  # the mean held-out accuracy of predicting each factor from the codes
    importance: np.ndarray  # (D, K): how much each dimension serves to predict each factor


def _normalized_entropy(p: np.ndarray, base: int) -> np.ndarray:
    """Entropy of each row of p (rows summing to 1), in units of log(base): in [0, 1]."""
    p = np.clip(p, 1e-12, 1.0)
    return -(p * np.log(p)).sum(1) / np.log(base)


def dci(codes: np.ndarray, factors: np.ndarray, seed: int = 0, train_share: float = 0.8,
        progress: Callable[[int, int], None] | None = None) -> DCI:
    """DCI (Eastwood & Williams 2018) with the importances of gradient-boosted trees, one classifier a
    factor, as disentanglement_lib computes it; informativeness is their accuracy on the held-out
    `1 - train_share` of the codes. `progress(k, K)` is called before each factor's classifier."""
    from sklearn.ensemble import GradientBoostingClassifier

    codes, factors = np.asarray(codes, np.float64), np.asarray(factors, np.int64)
    n = len(codes)
    order = np.random.default_rng(seed).permutation(n)
    train, test = order[:int(n * train_share)], order[int(n * train_share):]
    importance, accuracy = np.zeros((codes.shape[1], factors.shape[1])), []
    for k in range(factors.shape[1]):
        if progress:
            progress(k, factors.shape[1])
        model = GradientBoostingClassifier(n_estimators=50, max_depth=3, random_state=seed)
        model.fit(codes[train], factors[train, k])
        importance[:, k] = np.abs(model.feature_importances_)
        accuracy.append(model.score(codes[test], factors[test, k]))
    D, K = importance.shape
    per_dim = importance / np.maximum(importance.sum(1, keepdims=True), 1e-12)  # (D, K)
    weights = importance.sum(1) / max(importance.sum(), 1e-12)  # (D,)
    disentanglement = float(((1 - _normalized_entropy(per_dim, K)) * weights).sum()) if K > 1 else 1.0
    per_factor = (importance / np.maximum(importance.sum(0, keepdims=True), 1e-12)).T  # (K, D)
    completeness = float(np.mean(1 - _normalized_entropy(per_factor, D))) if D > 1 else 1.0
    return DCI(disentanglement, completeness, float(np.mean(accuracy)), importance)


@dataclass
class FactorReport:
    """What a model's test codes know of the factors that drew the images."""
    factor_names: tuple[str, ...]
    mi: np.ndarray  # (D, K): I(z_j; v_k), nats, the 20-bin plug-in estimate
    entropies: np.ndarray  # (K,): H(v_k), nats
    mig: float
    images: int  # codes the estimates come from
    mig_se: float  # MIG's standard error over the test images (a bootstrap), its sampling error alone

    @property
    def normalized(self) -> np.ndarray:
        """I(z_j; v_k) / H(v_k): the share of each factor's entropy each dimension knows, (D, K) in [0, 1]."""
        return self.mi / self.entropies

    def captured_by(self, dim: int, least: float = 0.1) -> str | None:
        """The factor dimension `dim` knows most of (as a share of its entropy), None under `least`."""
        k = int(np.argmax(self.normalized[dim]))
        return self.factor_names[k] if self.normalized[dim, k] >= least else None

    def best_dimension(self, factor: int, among: np.ndarray | None = None) -> int:
        """The dimension that knows most of factor `factor`, of the dimensions `among` (indices; all when
        None or empty). An inactive dimension's means vary on a tiny scale that this estimator, blind to
        scale, still counts, though the decoder reads only noise there: pass the active ones."""
        dims = np.arange(len(self.mi)) if among is None or len(among) == 0 else np.asarray(among)
        return int(dims[np.argmax(self.normalized[dims, factor])])


BOOTSTRAP = 100  # resamples of the test images for MIG's standard error (6 ms each for 10,000 sprites)


def factor_report(codes: np.ndarray, factors: np.ndarray, factor_names: tuple[str, ...],
                  resamples: int = BOOTSTRAP, seed: int = 0) -> FactorReport:
    """The mutual information of each code dimension with each factor and MIG, from codes (N, D) and
    the factors (N, K) of the same images; MIG's standard error from `resamples` bootstrap resamples of
    the images (seeded). That is the error of sampling the images; the plug-in estimator's upward bias
    on few images is another matter."""
    mi = mutual_information_matrix(codes, factors)
    rng = np.random.default_rng(seed)
    resampled = [mig(codes[i], factors[i]) for i in (rng.integers(0, len(codes), len(codes)) for _ in range(resamples))]
    se = float(np.std(resampled, ddof=1)) if resamples > 1 else float("nan")
    return FactorReport(tuple(factor_names), mi, factor_entropies(factors), mig_of(mi, factors), len(codes), se)


def mig_of(mi: np.ndarray, factors: np.ndarray) -> float:
    """MIG from a mutual information matrix (D, K) and the factors (N, K) it was estimated on."""
    top = np.sort(mi, axis=0)[::-1]  # each factor's dimensions, most informative first
    second = top[1] if len(top) > 1 else np.zeros(mi.shape[1])
    return float(np.mean((top[0] - second) / factor_entropies(factors)))
