"""What the Latent map can draw over its points: density contours and cluster labels.

    grid = density(xy)                              # DensityGrid: a smoothed histogram of the map
    grid = density(xy[labels == 3])                 # one class's
    lines = contour_segments(grid, grid.levels(4))  # (M, 4): x0, y0, x1, y1 of each piece of contour
    clusters = cluster_labels(xy, labels, k=10)     # [MapCluster(x, y, label, share, size), ...]
    cluster_labels(xy, labels, k=10, mu=codes)      # each with its centre in latent space (.code)

The density is a 2D histogram of the map positions on a GRID x GRID lattice over their bounding
box, smoothed by a Gaussian of `bandwidth` (a share of the box's longer side) and normalized to
integrate to 1 over the map's area: a kernel density estimate on a grid. Cluster labels come from
k-means on the map positions (what the eye groups), each cluster named by its most common class
and the share of its points that class has; the page adds what the bundled classifier reads in
the digit decoded at the cluster's centre in latent space.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRID = 80  # lattice points per side
BANDWIDTH = 0.02  # the smoothing Gaussian's sigma, as a share of the map's longer side


@dataclass
class DensityGrid:
    x: np.ndarray  # (GRID,) lattice centres along x
    y: np.ndarray  # (GRID,) along y
    z: np.ndarray  # (GRID, GRID) density, rows along y; integrates to 1 over the box

    def levels(self, count: int = 4) -> np.ndarray:
        """Contour levels that enclose about 80%, 60%, ... of the mass (highest-density regions)."""
        cell = (self.x[1] - self.x[0]) * (self.y[1] - self.y[0])
        flat = np.sort(self.z.ravel())[::-1]
        mass = np.cumsum(flat) * cell
        shares = np.linspace(0.8, 0.8 / count, count)
        return np.array([flat[min(np.searchsorted(mass, s), len(flat) - 1)] for s in shares])


def _box(xy: np.ndarray, within: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    points = xy if within is None else within
    lo, hi = points.min(0), points.max(0)
    pad = 0.05 * (hi - lo).max()
    return lo - pad, hi + pad


def density(xy: np.ndarray, within: np.ndarray | None = None, grid: int = GRID,
            bandwidth: float = BANDWIDTH) -> DensityGrid:
    """The density of the points `xy` (N, 2) on a lattice over the box of `within` (default: xy
    itself; pass the whole map to draw one class's density on the same lattice as the others)."""
    from scipy.ndimage import gaussian_filter

    lo, hi = _box(np.asarray(xy, np.float64), None if within is None else np.asarray(within, np.float64))
    counts, xe, ye = np.histogram2d(xy[:, 0], xy[:, 1], bins=grid, range=[[lo[0], hi[0]], [lo[1], hi[1]]])
    sigma = bandwidth * (hi - lo).max() / ((hi - lo) / grid)  # in cells, per axis
    smooth = gaussian_filter(counts, sigma=sigma, mode="constant")
    cell = (xe[1] - xe[0]) * (ye[1] - ye[0])
    z = smooth / max(smooth.sum() * cell, 1e-300)
    return DensityGrid((xe[:-1] + xe[1:]) / 2, (ye[:-1] + ye[1:]) / 2, z.T)


# Marching squares: which of a cell's edges (0 bottom, 1 right, 2 top, 3 left) each contour piece joins,
# by which of its corners are above the level (bit 0 bottom-left, 1 bottom-right, 2 top-right, 3 top-left).
# A saddle (5, 10) is split one fixed way: at this grid's resolution either way draws the same picture.
_PIECES = {1: [(3, 0)], 2: [(0, 1)], 3: [(3, 1)], 4: [(1, 2)], 5: [(3, 0), (1, 2)], 6: [(0, 2)], 7: [(3, 2)],
           8: [(2, 3)], 9: [(0, 2)], 10: [(0, 1), (2, 3)], 11: [(1, 2)], 12: [(1, 3)], 13: [(0, 1)], 14: [(3, 0)]}


def _crossing(level: float, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Where along each edge from corner value u to v the level is, as a share of the edge."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.clip(np.nan_to_num((level - u) / (v - u)), 0.0, 1.0)


def contour_segments(grid: DensityGrid, levels) -> np.ndarray:
    """The contour lines of the density at `levels`, as straight pieces (M, 4): x0, y0, x1, y1 each,
    where the lines cross the lattice's cells (marching squares, linear between lattice points)."""
    z, x, y = grid.z, grid.x, grid.y
    a, b, c, d = z[:-1, :-1], z[:-1, 1:], z[1:, 1:], z[1:, :-1]  # each cell's corners: bl, br, tr, tl
    x0, x1 = np.broadcast_to(x[:-1], a.shape), np.broadcast_to(x[1:], a.shape)
    y0, y1 = np.broadcast_to(y[:-1, None], a.shape), np.broadcast_to(y[1:, None], a.shape)
    pieces = []
    for level in np.atleast_1d(levels):
        edges = [(x0 + _crossing(level, a, b) * (x1 - x0), y0), (x1, y0 + _crossing(level, b, c) * (y1 - y0)),
                 (x0 + _crossing(level, d, c) * (x1 - x0), y1), (x0, y0 + _crossing(level, a, d) * (y1 - y0))]
        case = (a > level) * 1 + (b > level) * 2 + (c > level) * 4 + (d > level) * 8
        for kind, joins in _PIECES.items():
            cells = case == kind
            if cells.any():
                for e0, e1 in joins:
                    pieces.append(np.stack([edges[e0][0][cells], edges[e0][1][cells],
                                            edges[e1][0][cells], edges[e1][1][cells]], 1))
    return np.concatenate(pieces) if pieces else np.zeros((0, 4))


@dataclass
class MapCluster:
    x: float  # where its label goes: the member nearest the members' mean (a point of the cluster)
    y: float
    label: int  # its most common class
    share: float  # the share of its points in that class
    size: int
    code: np.ndarray | None = None  # (z_dim,) the mean of its points' codes, when they were given


def cluster_labels(xy: np.ndarray, labels: np.ndarray, k: int = 10, seed: int = 0,
                   mu: np.ndarray | None = None) -> list[MapCluster]:
    """k-means clusters of the map positions, each named by its majority class; largest first.
    With the points' codes `mu`, each cluster also gets its centre in latent space (their mean)."""
    from sklearn.cluster import KMeans

    xy = np.asarray(xy, np.float64)
    k = min(k, len(xy))
    assigned = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(xy)
    out = []
    for c in range(k):
        members = np.flatnonzero(assigned == c)
        if not len(members):
            continue
        counts = np.bincount(labels[members])
        centre = xy[members].mean(0)
        anchor = members[np.argmin(((xy[members] - centre) ** 2).sum(1))]
        out.append(MapCluster(float(xy[anchor, 0]), float(xy[anchor, 1]), int(counts.argmax()),
                              float(counts.max() / len(members)), int(len(members)),
                              None if mu is None else np.asarray(mu[members], np.float32).mean(0)))
    return sorted(out, key=lambda c: -c.size)
