"""Start here (views/start.py, ui/tour.py): every step renders on the bundled Gaussian and
categorical models, the step is kept in the address, and each step's button opens its page with
the settings the step promised (AppTest here; tests/test_browser_tour.py does it in Chromium)."""
import re

import pytest

import ui.caches
from tests.app_support import ROOT, open_app
from ui.tour import STEPS


@pytest.fixture
def checkpoints(monkeypatch):
    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", ROOT / "checkpoints")


def test_the_tour_is_first_in_the_navigation_and_the_map_stays_the_default():
    at = open_app()
    assert at.title[0].value == "Latent map"  # a bare address still opens the map
    source = (ROOT / "app.py").read_text()
    pages = source[source.index("PAGES = {"):]
    assert pages.index('"views/start.py"') < pages.index("MAP,")  # the map's page, defined above


@pytest.mark.parametrize("number", range(1, len(STEPS) + 1))
def test_every_step_renders_and_is_kept_in_the_address(checkpoints, number):
    """On the categorical model (tests/test_browser_tour.py walks the steps on the Gaussian one)."""
    checkpoint = "mnist-categorical"
    at = open_app("views/start.py", query_params={"step": str(number), "checkpoint": checkpoint})
    assert at.subheader[0].value == f"{number}. {STEPS[number - 1].title}"
    assert at.get("latex") and at.button(key="tour_link")
    assert at.query_params.get("step", "1") == (str(number) if number > 1 else "1")


def test_next_and_previous_walk_the_steps(checkpoints):
    at = open_app("views/start.py")
    next_button = next(b for b in at.button if b.label == "Next step")
    next_button.click().run()
    assert at.subheader[0].value.startswith("2.") and at.query_params["step"] == "2"
    next(b for b in at.button if b.label == "Previous step").click().run()
    assert at.subheader[0].value.startswith("1.")


@pytest.mark.parametrize("number,page,params", [
    (1, "Latent map", {}),
    (2, "EM and mixtures", {"k": "3"}),
    (3, "Latent sliders", {}),
    (4, "Latent map", {"color": "elbo", "picked": "7"}),
    (5, "Latent sliders", {}),
    (6, "Why reparameterize", {"digits": "1", "largest": "10", "compared": "1"}),
    (7, "Latent sliders", {}),
    (8, "Prior holes", {"holes_n": "200"}),
])
def test_each_link_opens_its_page_in_the_promised_state(checkpoints, number, page, params):
    at = open_app("views/start.py", query_params={"step": str(number), "tour_digit": "7"})
    if number == 2:
        at.slider(key="tour_k").set_value(3).run()
    at.button(key="tour_link").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == page
    for name, value in params.items():
        assert at.query_params.get(name) == value, (name, dict(at.query_params))
    if number == 3:  # the digit's code: the sliders start from it
        z = [float(v) for v in at.query_params["z"].split(",")]
        assert len(z) == 32 and any(abs(v) > 0.1 for v in z)


def test_the_em_step_says_which_half_step_its_figures_are_after(checkpoints):
    """After a step the figures are the M-step's, whose KL is not 0: the caption said "the E-step closes
    the KL, so the ELBO touches log p(X)" beside a KL of 0.18. It now gives the E-step's touch itself."""
    at = open_app("views/start.py", query_params={"step": "2"})
    at.slider(key="tour_k").set_value(3).run()
    figure = {m.label: float(m.value) for m in at.metric if "nats per code" in m.label}
    assert figure["KL(Q ‖ P(Z|X)), nats per code"] == 0 and any("before the first step" in c.value for c in at.caption)
    next(b for b in at.button if b.label.startswith("One EM step")).click().run()
    figure = {m.label: float(m.value) for m in at.metric if "nats per code" in m.label}
    kl = figure["log p(X), nats per code"] - figure["ELBO(Q, θ), nats per code"]
    assert kl > 0 and figure["KL(Q ‖ P(Z|X)), nats per code"] == pytest.approx(kl, abs=2e-3)
    (caption,) = [c.value for c in at.caption if "After 1 EM iteration" in c.value]
    touched = float(re.search(r"log p\(X\) at (-?\d+\.\d+)", caption).group(1))
    assert touched < figure["log p(X), nats per code"]  # the M-step raised it


def test_the_tours_sampled_figures_come_with_their_errors(checkpoints):
    """Step 4's reconstruction (and so its −ELBO) is a mean of 8 samples of q(z|x), step 8's share of
    prior samples in holes a share of 200: each is shown with its error, the KL (exact) without."""
    at = open_app("views/start.py", query_params={"step": "4"})
    figure = {m.label: m.value for m in at.metric}
    recon, recon_se = map(float, figure["Reconstruction −E_q[log p(x|z)], nats"].split(" ± "))
    elbo, elbo_se = map(float, figure["−ELBO, nats"].split(" ± "))
    kl = float(figure["KL(q(z|x) ‖ p(z)), nats"])
    assert recon_se > 0 and elbo_se == recon_se and elbo == pytest.approx(recon + kl, abs=0.11)
    at = open_app("views/start.py", query_params={"step": "8"})
    share = float(next(m.value for m in at.metric if m.label.startswith("Prior samples in a hole")).rstrip("%"))
    (caption,) = [c.value for c in at.caption if c.value.startswith("95% interval")]
    low, high = map(float, re.findall(r"(\d+\.\d)%", caption)[:2])
    assert low <= share <= high and low < high


def test_the_elbo_step_scores_one_x_of_a_binarized_model(checkpoints, monkeypatch):
    """Its 8 samples of q(z|x) were drawn through per_image_figures with seeds 0 to 7, which binarize
    x anew with each seed: 8 different x, their spread taken for the estimate's error. They are of the
    one x step 3 encodes (binarized once, seed 0)."""
    import torch

    import ui.tour
    from vae.data import load_split
    from vae.training.evaluate import prepare

    scored = []
    draws = ui.tour.reconstruction_draws
    monkeypatch.setattr(ui.tour, "reconstruction_draws", lambda model, x, n: scored.append(x) or draws(model, x, n))
    at = open_app("views/start.py", query_params={"checkpoint": "mnist-categorical", "step": "4"})
    (x,) = scored
    assert torch.equal(x.cpu(), prepare(load_split("mnist", "test").images[:1], True))  # this model binarizes
    assert " ± " in next(m.value for m in at.metric if m.label == "−ELBO, nats")
