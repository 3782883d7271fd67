"""The map's density contours and cluster labels (vae/analysis/map_layers.py): the density is a
density, and clusters of labelled blobs get their labels and honest shares."""
import numpy as np

from vae.analysis.map_layers import DensityGrid, cluster_labels, contour_segments, density


def blobs(seed: int = 0, n: int = 600):
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0], [10, 0], [0, 10]])
    labels = np.repeat(np.arange(3), n // 3)
    xy = centres[labels] + rng.normal(0, 1, (n, 2))
    return xy, labels


def test_the_density_integrates_to_one_and_peaks_where_the_points_are():
    xy, labels = blobs()
    grid = density(xy)
    cell = (grid.x[1] - grid.x[0]) * (grid.y[1] - grid.y[0])
    assert abs(grid.z.sum() * cell - 1) < 0.02  # the smoothing loses a little mass at the box's edge
    for cx, cy in ([0, 0], [10, 0], [0, 10]):
        near = grid.z[np.abs(grid.y - cy).argmin(), np.abs(grid.x - cx).argmin()]
        assert near > 10 * grid.z[np.abs(grid.y - 10).argmin(), np.abs(grid.x - 10).argmin()]  # the empty corner
    levels = grid.levels(4)
    assert np.all(np.diff(levels) > 0)  # higher levels enclose less mass


def test_one_class_is_drawn_on_the_whole_maps_lattice():
    xy, labels = blobs()
    whole, one = density(xy), density(xy[labels == 1], within=xy)
    assert np.array_equal(whole.x, one.x) and np.array_equal(whole.y, one.y)
    assert one.z[np.abs(one.y).argmin(), np.abs(one.x - 10).argmin()] > 0
    assert one.z[np.abs(one.y).argmin(), np.abs(one.x).argmin()] < 1e-3 * one.z.max()  # class 0's blob: empty


def test_contours_trace_a_level_around_a_round_bump_and_nest_by_level():
    """Marching squares on exp(-r^2): the level exp(-r0^2) is the circle of radius r0, closed."""
    x = y = np.linspace(-2, 2, 81)
    grid = DensityGrid(x, y, np.exp(-(x[None] ** 2 + y[:, None] ** 2)))
    for r0 in (0.5, 1.0, 1.5):
        pieces = contour_segments(grid, [np.exp(-r0 ** 2)])
        ends = np.concatenate([pieces[:, :2], pieces[:, 2:]])
        assert np.abs(np.hypot(*ends.T) - r0).max() < 0.01, r0  # on the circle (linear between lattice points)
        length = np.hypot(pieces[:, 2] - pieces[:, 0], pieces[:, 3] - pieces[:, 1]).sum()
        assert abs(length - 2 * np.pi * r0) < 0.01 * 2 * np.pi * r0  # all the way round, once
        _, counts = np.unique(np.round(ends, 6), axis=0, return_counts=True)
        assert np.all(counts % 2 == 0)  # every end meets another piece's (four at a lattice point): a closed line
    two = contour_segments(grid, [np.exp(-1.0), np.exp(-0.25)])
    assert len(two) == len(contour_segments(grid, [np.exp(-1.0)])) + len(contour_segments(grid, [np.exp(-0.25)]))
    assert len(contour_segments(grid, [2.0])) == 0  # above the peak: nothing


def test_cluster_labels_name_each_blob_by_its_class_with_its_share():
    xy, labels = blobs()
    noisy = labels.copy()
    noisy[:20] = 1  # 20 of blob 0's 200 points carry another label
    clusters = cluster_labels(xy, noisy, k=3)
    assert sorted(c.label for c in clusters) == [0, 1, 2] and sum(c.size for c in clusters) == len(xy)
    first = next(c for c in clusters if c.label == 0)
    assert abs(first.share - 180 / 200) < 0.02 and abs(first.x) < 2 and abs(first.y) < 2
    assert first.code is None


def test_each_cluster_gets_its_centre_in_latent_space_when_the_codes_are_given():
    xy, labels = blobs()
    codes = np.eye(3)[labels] * 5 + np.random.default_rng(1).normal(0, 0.1, (len(xy), 3))  # (N, 3): blob c on axis c
    for c in cluster_labels(xy, labels, k=3, mu=codes):
        np.testing.assert_allclose(c.code, codes[labels == c.label].mean(0), atol=0.05)


def test_the_map_page_draws_them_and_keeps_them_in_the_address(monkeypatch):
    import re

    import ui.caches
    from tests.app_support import ROOT, map_chart, open_app

    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", ROOT / "checkpoints")
    at = open_app("views/map.py", query_params={"density": "class", "labels": "1", "classes": "1,4,7",
                                                 "projection": "pca"})
    chart = map_chart(at)
    assert len(chart["contours"]) == 3 and all(len(c["segments"]) > 40 * 4 * 4 for c in chart["contours"])  # a class
    labels = [re.fullmatch(r"(\d) · (\d+)%(?: \(centre: (\d)\))?", t["text"]) for t in chart["texts"]]
    assert len(labels) == 3 and all(labels) and {m[1] for m in labels} == {"1", "4", "7"}, labels
    assert all(0.5 < int(m[2]) / 100 <= 1 for m in labels)
    # The classifier reads the decoded centre of a cluster this clean as its own class.
    assert sum(m[3] is None for m in labels) >= 2, [m[0] for m in labels]
    assert at.query_params["density"] == "class" and at.query_params["labels"] == "1"
