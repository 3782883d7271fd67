"""The article's chapters as pages (issue #12), through AppTest: EM steps on the model's codes with
the decomposition shown, the mixture as a prior on the sliders, the gradient estimators compared,
the bound's gap for one digit, and the classifier's labels under an interpolation."""
import re
import shutil
from pathlib import Path

import pytest

import ui.caches
from tests.app_support import latent_pad, open_app

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def checkpoints(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "checkpoints" / "default", tmp_path / "default")
    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", tmp_path)
    return tmp_path


def metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_em_steps_show_the_decomposition_and_the_components(checkpoints):
    at = open_app("views/em.py", query_params={"k": "4", "codes": "test"})
    assert metric(at, "EM iterations") == "0"
    start = float(metric(at, "log p(X) per code").replace("−", "-"))
    for _ in range(2):
        next(b for b in at.button if b.label == "One EM step").click().run()
    assert not at.exception and metric(at, "EM iterations") == "2"
    assert float(metric(at, "log p(X) per code").replace("−", "-")) > start
    # X is named for what it is: the codes (32-D, a density), not the digits.
    assert any(c.value.startswith("X is the 10,000 codes, not the digits: log p(X) is the mixture's log-density of "
                                  "points in 32 dimensions") for c in at.caption)
    table = at.dataframe[0].value
    assert list(table["step"])[-4:] == ["E", "M", "E", "M"]
    assert (table["KL"][table["step"] == "E"].abs() < 1e-9).all() and (table["KL"][table["step"] == "M"] > 0).all()
    assert abs(table["log p(X)"] - table["ELBO"] - table["KL"]).max() < 1e-9
    assert 0 < float(metric(at, "Purity against the labels")) <= 1
    captions = [i.caption for e in at.get("image") for i in e.proto.imgs]
    assert "z ~ the mixture" in captions
    # Issue #20: each decoded mean says which component it is, and its weight.
    means = [c for c in captions if re.fullmatch(r"component \d+ · weight \d\.\d\d", c)]
    assert len(means) == 4 and len({c.split(" ·")[0] for c in means}) == 4
    gap = next(m for m in at.metric if m.label == "E-step gap (nats)")
    assert re.fullmatch(r"-?\d+\.\d\d ± \d+\.\d\d", gap.value), gap.value
    at.slider(key="widget.k").set_value(3).run()  # other settings: a new run
    assert metric(at, "EM iterations") == "0" and at.query_params["k"] == "3"


def test_the_sliders_sample_from_the_em_pages_mixture(checkpoints):
    at = open_app("views/em.py", query_params={"k": "3", "codes": "test"})
    next(b for b in at.button if b.label == "One EM step").click().run()
    at.switch_page("views/sliders.py").run()
    at.radio(key="widget.sample_from").set_value("mixture").run()
    captions = [i.caption for e in at.get("image") for i in e.proto.imgs]
    assert any("the EM page's mixture: 3 components, full covariances, test codes, after 1 EM iterations" in c
               for c in captions), captions
    before = latent_pad(at)
    next(b for b in at.button if b.label == "Random mixture sample").click().run()
    assert not at.exception and latent_pad(at) != before


def test_why_reparameterize_compares_the_estimators(checkpoints):
    at = open_app("views/reparam.py", query_params={"digits": "1", "largest": "10"})
    assert not at.get("plotly_chart")  # nothing heavy runs before it is asked for
    next(b for b in at.button if b.label == "Compare the estimators").click().run()
    assert not at.exception
    shown = metric(at, "Score function ÷ reparameterization: variances at L = 1")
    ratio, error = re.fullmatch(r"([\d,]+)× ± (\d+)%", shown).groups()  # the ratio with its standard error
    assert float(ratio.replace(",", "")) > 10 and 1 <= int(error) < 100
    assert len(at.get("plotly_chart")) == 2
    rows = at.dataframe[0].value
    assert set(rows["estimator"]) == {"score function", "score function + baseline", "reparameterization"}
    assert sorted(set(rows["samples"])) == [1, 3, 10]
    import json

    assert all(json.loads(c.proto.spec)["layout"]["yaxis"]["title"]["text"] for c in at.get("plotly_chart"))
    assert any("repeated independent estimates" in c.value for c in at.caption)
    # Issue #20: a reload (a new session from the address) shows the comparison again, no click.
    assert at.query_params["compared"] == "1"
    again = open_app("views/reparam.py", query_params={k: at.query_params[k] for k in at.query_params})
    assert len(again.get("plotly_chart")) == 2 and not [b for b in again.button if b.label == "Compare the estimators"]


def test_interpolation_steps_carry_the_classifiers_labels(checkpoints):
    at = open_app("views/interpolate.py")
    assert any("classifier" in c.value for c in at.caption)


def test_a_categorical_models_mixture_is_of_categoricals_and_samples_valid_codes(checkpoints):
    """Issue #21: a Gaussian mixture on probability vectors drew no codes at all (17% of its samples
    had negative entries)."""
    import numpy as np

    from ui.mixtures import EM_RUN
    from vae.models.categorical_mixture import CategoricalMixture

    shutil.copytree(ROOT / "checkpoints" / "mnist-categorical", checkpoints / "mnist-categorical")
    at = open_app("views/em.py", query_params={"k": "4", "codes": "test", "checkpoint": "mnist-categorical"})
    next(b for b in at.button if b.label == "One EM step").click().run()
    assert not at.exception and metric(at, "EM iterations") == "1"
    assert at.radio(key="widget.covariance").disabled
    assert any("log-probability of one one-hot sample of each code" in c.value for c in at.caption)
    mixture = at.session_state[EM_RUN][1].mixture
    assert isinstance(mixture, CategoricalMixture)
    z = mixture.sample(200, seed=0).reshape(200, 30, 10)
    assert set(np.unique(z)) == {0.0, 1.0} and (z.sum(-1) == 1).all()
