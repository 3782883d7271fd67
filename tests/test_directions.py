"""Attribute directions (vae/analysis/directions.py): the bias correction removes what the two
sets' class make-up would add, and a direction moves codes and projects them as it says."""
import json

import numpy as np
import pytest

from vae.analysis.directions import attribute_direction


def cosine(a, b):
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def slanted_and_upright(seed=0, n=400, z_dim=8):
    """Codes = a class offset + an attribute (slant) along the first axis + noise. The upright set
    is mostly class 0, the slanted one mostly class 1: the class and the attribute are confounded."""
    rng = np.random.default_rng(seed)
    offsets = rng.normal(0, 3, (2, z_dim))
    attribute = np.eye(z_dim)[0]

    def sample(slant, share_of_class_1):
        labels = (rng.random(n) < share_of_class_1).astype(int)
        return offsets[labels] + slant * attribute + rng.normal(0, 0.3, (n, z_dim)), labels

    (mu_a, labels_a), (mu_b, labels_b) = sample(0.0, 0.1), sample(1.0, 0.9)
    return mu_a, labels_a, mu_b, labels_b, attribute


def test_the_bias_correction_recovers_the_attribute_the_raw_difference_confounds_with_class():
    mu_a, labels_a, mu_b, labels_b, attribute = slanted_and_upright()
    raw = attribute_direction(mu_a, labels_a, mu_b, labels_b, correct=False)
    corrected = attribute_direction(mu_a, labels_a, mu_b, labels_b)
    assert corrected.corrected and corrected.classes == (0, 1) and not raw.corrected
    assert cosine(corrected.vector, attribute) > 0.99
    assert cosine(raw.vector, attribute) < 0.5
    assert corrected.length == pytest.approx(1.0, abs=0.1)  # the attribute's own size


def test_sets_that_share_a_class_equally_but_differ_in_the_others_are_corrected():
    """Shares of the shared class alike (a quarter each) say nothing of the rest of the make-up."""
    rng = np.random.default_rng(3)
    labels_a, labels_b = np.array([7, 2, 1, 0]), np.array([4, 1, 4, 9])
    d = attribute_direction(rng.normal(0, 1, (4, 3)), labels_a, rng.normal(0, 1, (4, 3)), labels_b)
    assert d.corrected and d.classes == (1,)


def test_two_classes_means_have_nothing_to_correct():
    rng = np.random.default_rng(1)
    mu_a, mu_b = rng.normal(0, 1, (50, 4)), rng.normal(2, 1, (60, 4))
    d = attribute_direction(mu_a, np.full(50, 3), mu_b, np.full(60, 8))
    assert not d.corrected
    np.testing.assert_allclose(d.vector, mu_b.mean(0) - mu_a.mean(0))


def test_apply_moves_by_strength_and_projection_reads_it_back():
    mu_a, labels_a, mu_b, labels_b, _ = slanted_and_upright(seed=2)
    d = attribute_direction(mu_a, labels_a, mu_b, labels_b)
    z = mu_a[0]
    moved = d.apply(z, [-1.0, 0.0, 0.5, 2.0])
    np.testing.assert_allclose(moved[1], z, atol=1e-5)
    np.testing.assert_allclose(moved[3] - z, 2 * d.vector, atol=1e-4)
    steps = np.diff(d.projection(moved))
    np.testing.assert_allclose(steps, np.array([1.0, 0.5, 1.5]) * d.length, rtol=1e-4)


def test_an_empty_set_is_refused_and_the_json_holds_the_vector():
    with pytest.raises(ValueError):
        attribute_direction(np.zeros((0, 3)), np.zeros(0), np.ones((2, 3)), np.zeros(2))
    d = attribute_direction(np.zeros((2, 3)), [0, 1], np.ones((2, 3)), [0, 0])
    saved = json.loads(d.to_json(checkpoint="default", a="picks 1, 2", b="picks 3, 4"))
    assert saved["checkpoint"] == "default" and saved["vector"] == pytest.approx(list(d.vector))
    assert saved["bias_corrected_over_classes"] == [0]


def map_page(monkeypatch, opened: bool = True, **query):
    import ui.caches
    from tests.app_support import ROOT, click_expander, open_app

    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", ROOT / "checkpoints")
    at = open_app(query_params={"projection": "pca", **query})  # the map is the app's first page
    return click_expander(at, "Attribute direction") if opened else at  # its controls are drawn while it is open


def test_two_classes_make_a_direction_that_colors_the_map_and_bends_a_digit(monkeypatch):
    at = map_page(monkeypatch, picked="0")
    assert "direction" not in at.query_params
    at.selectbox(key="direction_a").set_value(3)
    at.selectbox(key="direction_b").set_value(8)
    at.button(key="direction_use").click().run()
    assert not at.exception and at.query_params["direction"] == "classes:3:8"
    strip = [i for e in at.get("image") for i in e.proto.imgs if "times the direction" in i.caption]
    assert strip, "the first picked digit moved along the direction is shown"
    at.button(key=next(b.key for b in at.button if b.label == "Color the map by it")).click().run()
    assert at.query_params["color"] == "direction"
    from tests.app_support import map_chart

    chart = map_chart(at)
    assert chart["colorbar"]["title"] == "class 3 → class 8" and len(chart["values"]) == len(chart["order"])


def test_picks_taken_as_two_sets_make_a_bias_corrected_direction_kept_in_the_address(monkeypatch):
    at = map_page(monkeypatch, picked="0,1,2,3")
    at.radio(key="direction_source").set_value("picks").run()
    at.button(key="direction_take_a").click().run()
    assert at.query_params["direction"] == "picks:0,1,2,3:"  # set b still to pick: no direction yet
    assert not any("Bias-corrected" in t.label for t in at.toggle)
    at = map_page(monkeypatch, picked="4,5,6,7", direction="picks:0,1,2,3:4,5,6,7")
    captions = " ".join(c.value for c in at.caption)
    assert "From 4 picked (#0, #1, #2, #3) to 4 picked (#4, #5, #6, #7)" in captions
    # The test set's first digits are 7, 2, 1, 0 and 4, 1, 4, 9: only class 1 is in both sets.
    assert "bias-corrected over classes 1." in captions
    at.toggle(key="widget.corrected").set_value(False).run()
    assert at.query_params["corrected"] == "0" and "plain difference of the means" in " ".join(
        c.value for c in at.caption)


def test_a_direction_that_does_not_fit_the_map_is_dropped_with_a_warning(monkeypatch):
    at = map_page(monkeypatch, opened=False, direction="classes:3:3", color="direction")  # said on arrival
    assert any("is not a direction on this map" in w.value for w in at.warning)
    assert "direction" not in at.query_params and at.query_params.get("color", "class") == "class"
