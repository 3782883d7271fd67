"""Sprites with known factors and the disentanglement metrics (issue #26): the generator is a pure
function of its factors, MIG and DCI score a code that copies the factors near 1 and noise near 0."""
import json

import numpy as np
import pytest

from vae.analysis.disentanglement import dci, factor_entropies, factor_report, mig, mutual_information_matrix
from vae.sprites import FACTORS, render, render_all, sample_factors


def test_a_sprite_is_a_pure_function_of_its_factors():
    factors = (2, 3, 7, 10, 20)
    assert np.array_equal(render(factors), render(factors))
    image = render(factors, size=64)
    assert image.shape == (64, 64) and image.dtype == np.uint8 and image.max() == 255 and image.min() == 0


def test_every_value_of_every_factor_is_drawn_and_changes_the_image():
    base = [1, 2, 5, 16, 16]
    for k, (name, count) in enumerate(FACTORS.items()):
        images = []
        for value in range(count):
            f = list(base)
            f[k] = value
            images.append(render(f, size=64).tobytes())
        # Positions, scales and shapes are each drawn apart; orientations up to a shape's symmetry.
        assert len(set(images)) == count if name != "orientation" else len(set(images)) >= count // 2, name
    with pytest.raises(ValueError, match="orientation must be in"):
        render((0, 0, 40, 0, 0))


def test_a_larger_scale_covers_more_and_the_sample_is_uniform_and_seeded():
    areas = [render((1, s, 0, 16, 16)).sum() for s in range(FACTORS["scale"])]
    assert areas == sorted(areas) and areas[0] < areas[-1]
    f = sample_factors(5000, seed=3)
    assert np.array_equal(f, sample_factors(5000, seed=3))
    for k, count in enumerate(FACTORS.values()):
        assert set(np.unique(f[:, k])) == set(range(count))
    assert render_all(f[:3], size=32).shape == (3, 32, 32)


@pytest.fixture(scope="module")
def factors():
    return sample_factors(4000, seed=0)


def test_mig_is_near_one_for_a_code_that_copies_the_factors_and_near_zero_for_noise(factors):
    rng = np.random.default_rng(0)
    copied = factors + rng.normal(0, 0.05, factors.shape)
    # Below 1 only by the estimator's 20 bins, which merge the 32 positions and 40 orientations in pairs.
    assert mig(copied, factors) > 0.85
    assert mig(rng.normal(size=(len(factors), 6)), factors) < 0.05
    twice = np.column_stack([copied, copied[:, :1] + rng.normal(0, 0.05, len(factors))])  # shape in two dims
    assert mig(twice, factors) < mig(copied, factors) - 0.15


def test_migs_standard_error_is_the_spread_of_mig_over_fresh_samples_of_images():
    """The bootstrap's standard error, from one sample of images, against MIG's spread over 20
    independent samples from the same generator and code."""
    rng = np.random.default_rng(1)
    reports = []
    for seed in range(20):
        f = sample_factors(2000, seed=100 + seed)
        codes = np.column_stack([f[:, :2] + rng.normal(0, 0.5, (len(f), 2)), f[:, 2:] + rng.normal(0, 8, (len(f), 3))])
        reports.append(factor_report(codes, f, tuple(FACTORS), resamples=50))
    spread = np.std([r.mig for r in reports], ddof=1)
    assert 0.6 < np.median([r.mig_se for r in reports]) / spread < 1.6


def test_the_best_dimension_for_a_factor_is_found_among_the_dimensions_asked(factors):
    rng = np.random.default_rng(0)
    faint = factors[:, :1] * 1e-3 + rng.normal(0, 1e-5, (len(factors), 1))  # an inactive unit's scale
    codes = np.column_stack([faint, factors[:, :1] + rng.normal(0, 0.8, (len(factors), 1)), factors[:, 1:]])
    report = factor_report(codes, factors, tuple(FACTORS))
    assert report.best_dimension(0) == 0  # the bins see the faint copy best: they are blind to scale
    assert report.best_dimension(0, among=np.arange(1, codes.shape[1])) == 1
    assert report.best_dimension(0, among=np.array([], dtype=int)) == 0  # none asked: all of them


def test_the_mutual_information_of_a_copy_is_the_factors_entropy_up_to_the_bins(factors):
    mi = mutual_information_matrix(factors.astype(float), factors)
    entropy = factor_entropies(factors)
    assert np.allclose(np.diag(mi)[:2], entropy[:2], atol=1e-9)  # shape and scale: 3 and 6 values, a bin each
    assert (np.diag(mi)[2:] > entropy[2:] - np.log(2) - 0.01).all()  # 32 or 40 values in 20 bins: pairs merged
    assert (mi - np.diag(np.diag(mi)) < 0.1).all()  # independent factors: near 0 off the diagonal


@pytest.mark.slow
def test_dci_separates_a_copied_code_from_a_mixed_one(factors):
    # Shape, scale and x in 4 bands: few classes, so that the boosted trees (one a class) fit quickly.
    coarse = np.column_stack([factors[:800, 0], factors[:800, 1], factors[:800, 3] // 8])
    rng = np.random.default_rng(1)
    copied = coarse + rng.normal(0, 0.05, coarse.shape)
    mixed = copied @ np.linalg.qr(rng.normal(size=(3, 3)))[0]  # the same information, rotated
    calls = []
    good, bad = dci(copied, coarse, progress=lambda k, total: calls.append((k, total))), dci(mixed, coarse)
    assert calls == [(0, 3), (1, 3), (2, 3)]  # before each factor's trees: where the app's bar moves
    assert good.disentanglement > 0.9 and good.completeness > 0.9
    assert bad.disentanglement < good.disentanglement - 0.3


@pytest.mark.slow
def test_vae_eval_reports_mig_and_dci_for_a_model_of_sprites_only(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    from vae.config import ModelConfig
    from vae.models.model import VAE
    from vae.training.checkpoint import save_checkpoint

    root = Path(__file__).resolve().parents[1]

    def evaluate(folder):
        done = subprocess.run([sys.executable, "-m", "vae", "eval", str(folder), "--limit", "150", "--iwae-k", "0",
                               "--json", "--data-dir", str(tmp_path)], capture_output=True, text=True, cwd=root)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    save_checkpoint(VAE(ModelConfig(dataset="sprites", latent_dim=4, hidden_dims=[32])), tmp_path / "sprites", 1, 1)
    figures = evaluate(tmp_path / "sprites")
    assert 0 <= figures["mig"] <= 1 and 0 <= figures["dci"] <= 1 and figures["dci_images"] == 150
    save_checkpoint(VAE(ModelConfig(latent_dim=4, hidden_dims=[32])), tmp_path / "digits", 1, 1)
    assert "mig" not in evaluate(tmp_path / "digits")  # MNIST's factors are unknown


@pytest.mark.slow
def test_every_page_explores_a_model_of_three_classes_without_a_classifier(tmp_path, monkeypatch):
    """A sprites model: three classes, no bundled classifier (the pages' defaults assumed ten classes)."""
    import ui.caches
    from tests.app_support import VIEWS, open_app
    from vae.config import ModelConfig
    from vae.models.model import VAE
    from vae.training.checkpoint import save_checkpoint

    save_checkpoint(VAE(ModelConfig(dataset="sprites", latent_dim=4, hidden_dims=[32])), tmp_path / "sprites", 1, 1)
    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", tmp_path)
    at = open_app(query_params={"checkpoint": "sprites", "projection": "pca"})
    for page in VIEWS:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])


def test_the_disentanglement_page_shows_what_each_dimension_knows_and_the_sliders_name_it(tmp_path, monkeypatch):
    """The bundled β-VAE of sprites: MIG as factor_report computes it from the test codes, the heatmap
    of I(z_j; v_k) / H(v_k) for every dimension and factor, a traversal per factor, and each slider
    named by the factor its dimension knows most of; a model of MNIST has no factors and says so."""
    from tests.app_support import bundled_checkpoints, latent_pad, open_app
    from vae.analysis.disentanglement import factor_report
    from vae.data import load_factors, load_split
    from vae.training.checkpoint import load_checkpoint
    from vae.training.evaluate import encode_all

    folder = bundled_checkpoints(tmp_path, monkeypatch, "sprites-beta4", "default")
    at = open_app("views/factors.py", query_params={"checkpoint": "sprites-beta4"})
    model = load_checkpoint(folder / "sprites-beta4").model
    codes = encode_all(model, load_split("sprites", "test").images)[0]
    active = model.latent.activity(codes).numpy()
    codes = codes.numpy()
    report = factor_report(codes, load_factors("sprites", "test"), tuple(FACTORS))
    assert not active.all()  # beta 4 leaves some dimensions inactive, whose means still follow a factor a little
    assert at.metric[0].label == "MIG" and at.metric[0].value == f"{report.mig:.3f} ± {report.mig_se:.3f}"
    charts = [json.loads(c.proto.spec)["data"] for c in at.get("plotly_chart")]
    heatmap = [data[0] for data in charts if data[0]["type"] == "heatmap"]
    assert len(heatmap) == 1 and heatmap[0]["x"] == list(FACTORS) and len(heatmap[0]["y"]) == 10
    for label, row in zip(heatmap[0]["y"], heatmap[0]["z"]):  # each row is the dimension it names
        dim = int(label[1:].split(" ")[0])
        assert np.allclose(row, report.normalized[dim], atol=1e-6), label
        assert label.endswith(" · inactive") == (not active[dim]), label
    sweeps = [c.value for c in at.caption if c.value.startswith("**")]
    assert len(sweeps) == len(FACTORS)  # one traversal each, of the active dimension that knows it best
    for k, sweep in enumerate(sweeps):
        best = report.best_dimension(k, among=np.flatnonzero(active))
        assert active[best] and f"below, z{best} (which knows" in sweep, sweep
    at.switch_page("views/sliders.py").run()
    labels = [d["label"] for d in latent_pad(at)[1]["dims"]]
    named = {d: report.captured_by(d) if active[d] else None for d in range(10)}
    assert all(label.endswith(f" · {named[int(label[1:].split(' ')[0])]}") for label in labels
               if named[int(label[1:].split(' ')[0])])
    assert any(" · x" in label or " · y" in label for label in labels)
    at = open_app("views/factors.py", query_params={"checkpoint": "default"})
    assert "no known factors" in at.info[0].value


@pytest.mark.slow
def test_dci_stays_on_across_a_visit_elsewhere_and_its_scores_are_dcis(tmp_path, monkeypatch):
    """The toggle is kept for the session and in the URL like the site's other settings; the scores
    shown are vae.analysis.disentanglement.dci's of the first DCI_CODES test codes (100 here, so
    that the trees fit in seconds)."""
    from tests.app_support import bundled_checkpoints, open_app
    from vae.data import load_factors, load_split
    from vae.training.checkpoint import load_checkpoint
    from vae.training.evaluate import encode_all

    monkeypatch.setattr("ui.factors.DCI_CODES", 100)
    folder = bundled_checkpoints(tmp_path, monkeypatch, "sprites-beta4")
    at = open_app("views/factors.py", query_params={"checkpoint": "sprites-beta4"})
    assert [t.label for t in at.toggle][0].startswith("DCI too") and not at.toggle[0].value
    at.toggle[0].set_value(True).run()
    codes = encode_all(load_checkpoint(folder / "sprites-beta4").model, load_split("sprites", "test").images)[0]
    scores = dci(codes[:100].numpy(), load_factors("sprites", "test")[:100])
    shown = [m for m in at.metric if m.label == "DCI disentanglement"]
    assert len(shown) == 1 and shown[0].value == f"{scores.disentanglement:.3f}"
    assert at.query_params["dci"] == "1"  # in the link
    at.switch_page("views/sliders.py").run()
    at.switch_page("views/factors.py").run()
    assert not at.exception and at.toggle[0].value
    assert [m.value for m in at.metric if m.label == "DCI disentanglement"] == [f"{scores.disentanglement:.3f}"]
