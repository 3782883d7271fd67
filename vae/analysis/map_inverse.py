"""From a point of the 2D latent map back to a latent code: what the empty space between the
clusters stands for, so that it can be decoded.

    inverse = map_inverse(latent_map, linear=model.latent.continuous)
    z = inverse.codes(points)            # (M, z_dim) for map points (M, 2)
    gaps = inverse.gaps(points)          # (M,) how far each is from the nearest real code, in map gaps

- PCA is linear, so its inverse is exact: a map point stands for the code on the plane of the two
  principal axes through the codes' mean (`LinearInverse`). Projecting that code again gives the
  same map point.
- UMAP and t-SNE have no inverse. A map point stands for an inverse-distance-weighted mean of the
  codes of its nearest map points (at a map point itself, that point's own code). A mean of
  codes stays on the categorical simplex, so this is also the inverse for categorical codes on any
  map (their PCA plane leaves the simplex).

How honest a decode is depends on how far the point is from any real code: `gaps` gives that
distance in units of the map's typical gap (the median distance from a map point to its nearest
neighbour). The browser does the same arithmetic on every pointer event (ui/components/map_decode.js).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from vae.analysis.projection import LatentMap

if TYPE_CHECKING:
    from scipy.spatial import cKDTree as KDTree

NEIGHBOURS = 8  # map points whose codes a UMAP or t-SNE position mixes
POWER = 2  # weights 1 / distance**POWER
COINCIDENT = 1e-9  # closer than this (in map units) is the point itself
BRUTE_FORCE = 20_000  # map_gap: up to this many points, without scipy


@dataclass(frozen=True)
class LinearInverse:
    mean: np.ndarray  # (z_dim,)
    basis: np.ndarray  # (2, z_dim): a map step of 1 along x, then y, in latent space

    def codes(self, points: np.ndarray) -> np.ndarray:
        return (self.mean + np.asarray(points, np.float64) @ self.basis).astype(np.float32)


@dataclass
class MapInverse:
    xy: np.ndarray  # (N, 2) map points
    mu: np.ndarray  # (N, z_dim) their codes
    gap: float  # the median distance from a map point to its nearest neighbour
    linear: LinearInverse | None  # PCA's exact inverse; None: interpolate
    tree: KDTree  # over xy

    def nearest(self, points: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k map points nearest each of `points` (M, 2), closest first: indices and distances (M, k)."""
        ks = list(range(1, min(k, len(self.xy)) + 1))  # a list: (M, k) arrays even for k = 1
        dist, idx = self.tree.query(np.atleast_2d(np.asarray(points, np.float64)), k=ks)
        return idx, dist

    def codes(self, points: np.ndarray) -> np.ndarray:
        """The codes that map points (M, 2) stand for: (M, z_dim) float32."""
        points = np.atleast_2d(np.asarray(points, np.float64))
        if self.linear is not None:
            return self.linear.codes(points)
        idx, dist = self.nearest(points, NEIGHBOURS)
        weights = 1.0 / np.maximum(dist, COINCIDENT) ** POWER  # (M, k)
        on_a_point = dist[:, 0] <= COINCIDENT
        weights[on_a_point] = np.eye(idx.shape[1])[0]  # that point's own code, exactly
        weights /= weights.sum(1, keepdims=True)
        return (weights[..., None] * self.mu[idx].astype(np.float64)).sum(1).astype(np.float32)

    def gaps(self, points: np.ndarray) -> np.ndarray:
        """How far each map point is from the nearest real code's point, in map gaps: (M,)."""
        return self.nearest(points, 1)[1][:, 0] / self.gap


def linear_inverse(mu: np.ndarray, xy: np.ndarray) -> LinearInverse:
    """The affine map from a PCA map's coordinates to the principal plane in latent space, by least
    squares. Exact for a PCA map: its coordinates are the centred codes on two orthonormal
    eigenvectors of their covariance, and what least squares leaves out is orthogonal to both."""
    mu, xy = np.asarray(mu, np.float64), np.asarray(xy, np.float64)
    mean = mu.mean(0)
    basis = np.linalg.lstsq(xy - xy.mean(0), mu - mean, rcond=None)[0]  # (2, z_dim)
    return LinearInverse(mean - xy.mean(0) @ basis, basis)


def map_gap(xy: np.ndarray, chunk: int = 64, tree: KDTree | None = None) -> float:
    """The median distance from a map point to its nearest other point (on up to 2,000 of them).
    Up to BRUTE_FORCE points, from chunks of distances to every point with numpy alone (the first
    page's map needs only this and exact_inverse, and is drawn before scipy is imported); a larger
    map from a k-d tree (70,000 points: 1.3 s by chunks), or from `tree` (over xy) when there is one."""
    xy = np.asarray(xy, np.float64)
    if len(xy) < 2:
        return 1e-6
    sample = np.random.default_rng(0).choice(len(xy), min(len(xy), 2000), replace=False)
    if tree is not None or len(xy) > BRUTE_FORCE:
        if tree is None:
            from scipy.spatial import cKDTree

            tree = cKDTree(xy)
        nearest = tree.query(xy[sample], k=[2])[0][:, 0]  # the first is the point itself (or its twin)
    else:  # the nearest other point found in float32 (a third of float64's time), its distance in float64
        x, y = xy.astype(np.float32).T
        nearest_index = []
        for start in range(0, len(sample), chunk):
            rows = sample[start:start + chunk]
            d = (x[rows, None] - x) ** 2  # (chunk, N) squared distances
            d += (y[rows, None] - y) ** 2
            d[np.arange(len(rows)), rows] = np.inf  # not the point itself
            nearest_index.append(d.argmin(1))
        nearest = np.linalg.norm(xy[sample] - xy[np.concatenate(nearest_index)], axis=1)
    return max(float(np.median(nearest)), 1e-6)


def exact_inverse(latent_map: LatentMap, linear: bool = True) -> LinearInverse | None:
    """PCA's exact inverse when `linear` (Gaussian codes); None when the map is interpolated."""
    return linear_inverse(latent_map.mu, latent_map.xy) if linear and latent_map.projection == "pca" else None


def map_inverse(latent_map: LatentMap, linear: bool = True) -> MapInverse:
    """The inverse for this map: exact for PCA when `linear` (Gaussian codes), interpolated otherwise."""
    from scipy.spatial import cKDTree as KDTree  # here: 0.2 s of import that only the server's decodes need

    tree = KDTree(np.asarray(latent_map.xy, np.float64))
    gap = map_gap(latent_map.xy, tree=tree)
    return MapInverse(latent_map.xy, latent_map.mu, gap, exact_inverse(latent_map, linear), tree)
