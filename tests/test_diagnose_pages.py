"""Diagnose and compare (issue #15), through AppTest: the map colored by per-image figures with the
worst-modelled digits one click from the inspector, posterior samples of a picked digit, the
projection choice on every page, prior holes, and two models compared."""
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import ui.caches
from tests.app_support import map_chart, open_app

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """One folder for the module: the figures each page computes are cached in it once."""
    root = tmp_path_factory.mktemp("checkpoints")
    for name in ("default", "mnist-categorical"):
        shutil.copytree(ROOT / "checkpoints" / name, root / name)
    return root


@pytest.fixture
def checkpoints(folder, monkeypatch):
    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", folder)
    return folder


def plotly_figures(at):
    import json

    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def values(array) -> np.ndarray:
    """A plotly figure's array: a list, or base64-packed typed data ({"dtype", "bdata"})."""
    import base64

    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    return np.asarray(array)


def test_the_map_colored_by_the_elbo_lists_the_worst_digits_one_click_from_the_inspector(checkpoints):
    at = open_app("views/map.py", query_params={"color": "elbo"})
    assert "colored by −ELBO ·" in at.expander[0].label  # the settings' summary keeps the figure's name
    chart = map_chart(at)
    colors = chart["values"]
    assert colors.shape == (10_000,) and np.all(np.diff(colors) >= 0)  # worst drawn last, on top
    assert np.array_equal(chart["order"][np.argsort(chart["order"])], np.arange(10_000))  # each digit once
    pills = at.get("button_group")[0]
    worst = pills.proto.options
    assert len(worst) == 12
    figures = np.load(next(checkpoints.glob("default/figures-mnist-test-*.npz")))
    first = int(np.argmax(figures["elbo"]))
    assert worst[0].content.startswith(f"#{first} ")
    # Each number says what it is: the colour bar's unit and range, the twelve's range, and the mean's digits.
    assert chart["colorbar"]["title"] == "−ELBO (nats)"
    low, high = np.percentile(figures["elbo"], [1, 99])
    assert np.allclose([chart["cmin"], chart["cmax"]], [low, high])
    assert np.allclose(colors, figures["elbo"][chart["order"]])  # each digit's own figure
    captions = [c.value for c in at.caption]
    assert f"1st to the 99th percentile of the digits shown ({low:.2f} to {high:.2f} nats)" in " ".join(captions)
    twelve = np.sort(figures["elbo"])[-12:]
    assert (f"These 12: {twelve[0]:.2f} to {twelve[-1]:.2f} nats. The mean over all 10,000 digits of the classes "
            f"shown: {figures['elbo'].mean():.2f} nats (each digit's from 2 samples of q(z|x): an estimate)"
            in " ".join(captions)), captions
    at.button_group[0].set_value(first).run()
    assert not at.exception and at.query_params["picked"] == str(first)
    assert any(s.value.startswith(f"#{first}: a ") for s in at.subheader)
    cloud = plotly_figures(at)[-1]  # samples of q(z|x) on the map, and the mean (plotly, beside the map)
    assert [t["name"] for t in cloud["data"][-2:]] == ["samples of q(z|x)", "posterior mean"]
    assert len(values(cloud["data"][-2]["x"])) == 16


def test_the_iwae_gap_waits_for_a_click_and_is_cached(checkpoints, monkeypatch):
    import vae.analysis.figure_labels

    monkeypatch.setattr(vae.analysis.figure_labels, "IWAE_K", 3)  # the page's k: 3 samples keep the test short
    at = open_app("views/map.py", query_params={"color": "iwae_gap"})
    button = next(b for b in at.button if b.label.startswith("Compute the IWAE gap"))
    assert map_chart(at)["values"] is None and map_chart(at)["colorbar"] is None  # by class until asked
    button.click().run()
    assert not at.exception
    gap = map_chart(at)["values"]
    assert gap.shape == (10_000,) and (gap >= 0).all()
    again = open_app("views/map.py", query_params={"color": "iwae_gap"})
    assert not any(b.label.startswith("Compute the IWAE gap") for b in again.button)


def test_a_pca_map_is_every_pages_map(checkpoints):
    at = open_app("views/map.py", query_params={"projection": "pca"})
    assert list(checkpoints.glob("default/map-mnist-test-pca-*.npz"))
    for page in ("views/sliders.py", "views/interpolate.py", "views/reconstruct.py", "views/em.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert at.query_params["projection"] == "pca"


def test_prior_holes_of_both_bundled_models(checkpoints, mnist_test):
    from vae.analysis.diagnostics import prior_holes
    from vae.training.checkpoint import load_checkpoint
    from vae.training.evaluate import posteriors

    for name in ("default", "mnist-categorical"):
        at = open_app("views/holes.py", query_params={"checkpoint": name, "holes_n": "200", "holes_of": "test"})
        share = next(m.value for m in at.metric if m.label.startswith("Prior samples in a hole"))
        model = load_checkpoint(checkpoints / name).model  # the share is the library's, for the same digits
        assert share == f"{prior_holes(posteriors(model, mnist_test.images), model.latent, n=200).fraction:.1%}"
        # Issue #21: against the criterion's own null, with an interval.
        excess = next(m.value for m in at.metric if m.label.startswith("Beyond what the criterion flags"))
        assert re.fullmatch(r"[+-]\d+\.\d points", excess), excess
        assert any(re.search(r"95% intervals: the share in holes \d+\.\d% to \d+\.\d%, the excess [+-]\d+\.\d to "
                             r"[+-]\d+\.\d points", c.value) for c in at.caption)
        markdown = " ".join(m.value for m in at.markdown)
        assert "deepest in holes" in markdown and "mean confidence" in markdown and "codes are densest" in markdown
        assert len(plotly_figures(at)) == 2
        if name == "default":  # issue #20: what the density plot shows is not hidden
            density = plotly_figures(at)[0]["data"]
            assert density[0]["colorscale"][0][1].endswith(",0)")  # empty bins transparent (dark theme)
            assert [t["name"] for t in density[1:]] == ["prior sample", "in a hole"] + ["p(z): 1, 2, 3 σ"] * 3
            assert any("judged in all of them" in c.value for c in at.caption)


@pytest.fixture
def comparable(folder):
    """An untrained model scored as the default is (gray pixels, Bernoulli): a like-for-like partner."""
    from vae.models.model import VAE
    from vae.training.checkpoint import load_checkpoint, save_checkpoint

    save_checkpoint(VAE(load_checkpoint(folder / "default").config), folder / "untrained", 1, 1)
    (folder / "untrained" / "history.jsonl").write_text(
        '{"epoch": 1, "step": 1, "test_recon": 540.0, "test_kl": 0.1, "test_elbo": 540.1}\n')
    yield folder
    shutil.rmtree(folder / "untrained")


def test_two_comparable_models_with_a_linked_selection(checkpoints, comparable):
    shutil.copytree(ROOT / "checkpoints" / "fashion-mnist", checkpoints / "fashion-mnist")
    try:
        at = open_app("views/compare.py", query_params={"compare_picked": "3,2,1", "projection": "pca"})
    finally:
        shutil.rmtree(checkpoints / "fashion-mnist")
    rd = plotly_figures(at)[0]
    runs = [name for trace in rd["data"] for name in trace["text"]]
    assert sorted(runs) == ["default", "mnist-categorical", "untrained"]  # MNIST's runs only
    assert len(rd["data"]) == 2  # gray and binarized pixels apart
    # The comparable run is the default partner, though another comes first by name.
    assert at.selectbox[0].value == "untrained" and not at.main.warning
    difference = values(plotly_figures(at)[2]["data"][0]["x"])  # per digit, one model's -ELBO minus the other's
    assert difference.shape == (10_000,) and np.isfinite(difference).all() and (difference > 0).mean() > 0.99
    maps = plotly_figures(at)[3:5]
    for spec in maps:  # the picked digits are marked on both maps
        assert spec["data"][-1]["name"] == "picked" and len(values(spec["data"][-1]["x"])) == 3
    assert any("3 of the 3 selected digits" in m.value for m in at.markdown)
    better = next(m for m in at.metric if m.label.endswith("models better"))
    assert "untrained" in better.label and better.value in ("0.0%", "< 0.1%")
    # Its interval is not empty at none of them (a share ± its standard error said "0.0% ± 0.0%")
    (said,) = [c.value for c in at.caption if "95% interval" in c.value]
    assert re.search(r"95% interval (0\.0%|< 0\.1%) to (0\.\d%|< 0\.1%)", said) and "to 0.0%" not in said, said
    assert any("left of 0, `untrained` models it better" in c.value for c in at.caption)
    assert any("± " in (m.delta or "") for m in at.metric)
    at.selectbox[0].set_value(None).run()  # a cleared box: the comparable partner again, no "None" in the link
    assert at.selectbox[0].value == "untrained" and "other" not in at.query_params


def test_an_incomparable_model_is_never_the_default_and_never_ranked(checkpoints):
    at = open_app("views/compare.py", query_params={"projection": "pca"})
    assert at.selectbox[0].value is None  # mnist-categorical scores binarized pixels
    assert any("No other run on this dataset is scored as" in i.value for i in at.info)
    at.selectbox[0].set_value("mnist-categorical").run()
    assert not at.exception and any("neither is ranked" in w.value for w in at.main.warning)
    assert not any(m.label.endswith("models better") for m in at.metric) and not any(m.delta for m in at.metric)
    assert len(plotly_figures(at)) == 4  # the plane, per digit, two maps: no histogram of differences


def test_a_share_never_rounds_to_all_or_none():
    from ui.text import share_text

    assert share_text(0.997) == "99.7%" and share_text(0.9996) == "> 99.9%" and share_text(1.0) == "100.0%"
    assert share_text(0.0004) == "< 0.1%" and share_text(0.0) == "0.0%"


def test_compare_asks_for_a_second_model_when_there_is_none(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "checkpoints" / "default", tmp_path / "default")
    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", tmp_path)
    at = open_app("views/compare.py")
    assert any("Train another model" in i.value for i in at.info)
