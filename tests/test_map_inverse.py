"""From a map position back to a code (vae/analysis/map_inverse.py), and the browser's copy of that
arithmetic (ui/components/map_decode.js) against it, in Node."""
import numpy as np
import pytest

from tests.node_support import node_run, require_node
from vae.analysis.map_inverse import map_inverse
from vae.analysis.projection import LatentMap, project_pca


def codes(n=600, z_dim=6, seed=0):
    """Gaussian codes in three blobs, unequal spreads per axis (so PCA's axes are well defined)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (3, z_dim))
    return (centres[rng.integers(0, 3, n)] + rng.normal(0, 1, (n, z_dim)) * np.linspace(1.5, 0.3, z_dim)
            ).astype(np.float32)


def pca_map(mu):
    return LatentMap(mu, np.zeros(len(mu), np.int64), project_pca(mu), projection="pca")


def umap_like_map(mu, seed=1):
    """Any 2D layout stands in for UMAP here: the inverse only reads the positions."""
    xy = np.random.default_rng(seed).uniform(-10, 10, (len(mu), 2)).astype(np.float32)
    return LatentMap(mu, np.zeros(len(mu), np.int64), xy, projection="umap")


def test_the_pca_inverse_is_exact():
    mu = codes()
    lmap = pca_map(mu)
    inverse = map_inverse(lmap)
    points = np.random.default_rng(2).uniform(-6, 6, (50, 2))
    z = inverse.codes(points)
    # Projected again with the map's own axes, each code lands on the point it came from...
    centred = mu.astype(np.float64) - mu.mean(0)
    axes = np.linalg.lstsq(centred, lmap.xy.astype(np.float64), rcond=None)[0]  # (z_dim, 2)
    np.testing.assert_allclose((z - mu.mean(0)) @ axes, points, atol=1e-3)
    # ...and a map point's code is its own code, less the part off the principal plane.
    own = inverse.codes(lmap.xy)
    off_plane = mu - own
    np.testing.assert_allclose(off_plane @ inverse.linear.basis.T, 0, atol=1e-3)


def test_the_interpolated_inverse_gives_a_points_own_code_at_that_point():
    mu = codes()
    inverse = map_inverse(umap_like_map(mu))
    np.testing.assert_array_equal(inverse.codes(inverse.xy[:40]), mu[:40])
    np.testing.assert_array_equal(inverse.gaps(inverse.xy[:40]), 0)


def test_between_two_lone_points_the_code_is_between_their_codes():
    mu = np.array([[0.0, 0.0], [4.0, 2.0]] + [[50.0, 50.0]] * 3, np.float32)
    xy = np.array([[0, 0], [2, 0], [100, 100], [101, 100], [100, 101]], np.float32)
    inverse = map_inverse(LatentMap(mu, np.zeros(5, np.int64), xy, projection="tsne"))
    z = inverse.codes([[1.0, 0.0], [0.5, 0.0]])
    np.testing.assert_allclose(z[0], [2.0, 1.0], atol=0.01)  # halfway: the mean (the far points weigh ~0)
    assert 0 < z[1][0] < 2.0  # nearer the first: nearer its code
    assert inverse.gaps([[1.0, 0.0]])[0] == pytest.approx(1.0 / inverse.gap)


def test_categorical_codes_are_interpolated_on_every_map():
    """A PCA plane leaves the simplex; a weighted mean of probability vectors stays on it."""
    rng = np.random.default_rng(3)
    mu = rng.dirichlet(np.ones(5), 300).astype(np.float32)
    inverse = map_inverse(pca_map(mu), linear=False)
    assert inverse.linear is None
    z = inverse.codes(rng.uniform(-0.5, 0.5, (30, 2)))
    assert (z >= 0).all() and np.allclose(z.sum(1), 1, atol=1e-5)


def test_far_from_the_map_the_gap_count_is_large():
    inverse = map_inverse(umap_like_map(codes()))
    assert inverse.gaps([[40.0, 40.0]])[0] > 20 > inverse.gaps([[0.0, 0.0]])[0]


def clustered_map(mu, seed=5):
    """Tight far-apart clusters with wide empty gaps, and some points exactly on top of others."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-10, 10, (6, 2))
    xy = (centres[rng.integers(0, 6, len(mu))] + rng.normal(0, 0.2, (len(mu), 2))).astype(np.float32)
    xy[1::50] = xy[0::50][: len(xy[1::50])]  # duplicates
    return LatentMap(mu, np.zeros(len(mu), np.int64), xy, projection="umap")


@pytest.mark.parametrize("projection", ["pca", "umap", "clustered"])
def test_the_browser_finds_the_same_codes_and_gaps(projection):
    require_node()
    mu = codes(n=2000, z_dim=5)
    lmap = {"pca": pca_map, "umap": umap_like_map, "clustered": clustered_map}[projection](mu)
    inverse = map_inverse(lmap)
    rng = np.random.default_rng(4)
    points = np.concatenate([rng.uniform(-12, 12, (60, 2)), lmap.xy[:5], [[300.0, -200.0]]])
    sent = {"gap": inverse.gap} if inverse.linear is None else {
        "gap": inverse.gap, "mean": inverse.linear.mean.tolist(), "basis": inverse.linear.basis.tolist()}
    got = node_run(["map_decode.js"], """
        const ix = mapIndex(Float32Array.from(input.xy)), mu = Float32Array.from(input.mu);
        return input.points.map(([x, y]) => {
          const c = codeAt(input.inverse, ix, mu, input.zDim, x, y);
          return [Array.from(c.z), c.gaps, c.nearest];
        });""", {"xy": lmap.xy.ravel().tolist(), "mu": mu.ravel().tolist(), "zDim": mu.shape[1],
                 "inverse": sent, "points": points.tolist()})
    z = np.array([g[0] for g in got])
    if projection != "clustered":  # exactly on a duplicate, which of the two codes is "its own" is a tie
        np.testing.assert_allclose(z, inverse.codes(points), atol=1e-4)
    else:  # nor is which of two duplicates makes the eighth neighbour
        nine = inverse.nearest(points, 9)[1]
        clear = (nine[:, 0] > 0) & (nine[:, 8] - nine[:, 7] > 1e-6)
        assert clear.sum() > 40
        np.testing.assert_allclose(z[clear], inverse.codes(points[clear]), atol=1e-4)
    np.testing.assert_allclose([g[1] for g in got], inverse.gaps(points), rtol=1e-4)
    nearest = inverse.xy[np.array([g[2] for g in got])]  # the same distance (a duplicate may stand in)
    np.testing.assert_allclose(np.hypot(*(nearest - points).T), inverse.nearest(points, 1)[1][:, 0], rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("n", [3, 500, 3000])
def test_the_gap_by_numpy_is_the_k_d_trees(n, monkeypatch):
    """map_gap takes numpy's chunks up to BRUTE_FORCE points and a k-d tree above: the same number."""
    import vae.analysis.map_inverse as inverse

    xy = np.random.default_rng(n).normal(size=(n, 2)).astype(np.float32)
    xy[1] = xy[0]  # twins: a gap of 0 for each
    by_numpy = inverse.map_gap(xy)
    monkeypatch.setattr(inverse, "BRUTE_FORCE", 0)
    assert inverse.map_gap(xy) == by_numpy
    assert inverse.map_inverse(LatentMap(np.zeros((n, 3), np.float32), np.zeros(n, np.int64), xy)).gap == by_numpy
