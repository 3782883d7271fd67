"""The map's density contours and cluster labels (vae/analysis/map_layers.py): the density is a
density, and clusters of labelled blobs get their labels and honest shares."""
import numpy as np

from vae.analysis.map_layers import cluster_labels, density


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
    import json
    import re

    import ui.caches
    from tests.app_support import ROOT, open_app

    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", ROOT / "checkpoints")
    at = open_app("views/map.py", query_params={"density": "class", "labels": "1", "classes": "1,4,7",
                                                 "projection": "pca"})
    spec = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.proto.id.endswith("latent_map")
                or "latent_map" in c.proto.id)
    contours = [t for t in spec["data"] if t["type"] == "contour"]
    assert len(contours) == 3  # one per class shown
    labels = [re.fullmatch(r"(\d) · (\d+)%(?: \(centre: (\d)\))?", a["text"]) for a in spec["layout"]["annotations"]]
    assert len(labels) == 3 and all(labels) and {m[1] for m in labels} == {"1", "4", "7"}, labels
    assert all(0.5 < int(m[2]) / 100 <= 1 for m in labels)
    # The classifier reads the decoded centre of a cluster this clean as its own class.
    assert sum(m[3] is None for m in labels) >= 2, [m[0] for m in labels]
    assert at.query_params["density"] == "class" and at.query_params["labels"] == "1"
