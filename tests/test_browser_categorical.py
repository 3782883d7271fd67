"""The discrete VAE in the explorer (issue #13), in Chromium, with the bundled categorical model
selected: every page opens without an exception, the pickers decode in the browser as torch does,
a pick redraws the digit and sends its code to the server, and the traversal cycles a variable
through its categories."""
import re

import numpy as np
import pytest
import torch

from tests.browser_support import PAGES, expect, open_page, require_browser, settle, snap, streamlit_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]
require_browser()
CATEGORICAL = "mnist-categorical"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with streamlit_app(tmp_path_factory.mktemp("app"), bundled=("default", CATEGORICAL)) as running:
        yield running


@pytest.mark.parametrize("path,heading", PAGES)
def test_every_page_opens_with_the_categorical_model(server, on_screen, path, heading):
    url, _ = server
    page, outside = on_screen
    open_page(page, url, f"{path}?checkpoint={CATEGORICAL}", heading)
    expect(page.locator("[data-testid=stSidebar]")).to_contain_text("30 × 10")
    snap(page, f"categorical-{path or 'map'}")
    assert not outside, f"requests that left the machine: {outside}"


def test_the_pickers_decode_as_torch_does_and_a_pick_redraws_and_reaches_the_server(server, tab):
    from vae.services.export import decoder_with_weights_as_sent
    from vae.training.checkpoint import load_checkpoint

    url, checkpoints = server
    open_page(tab, url, f"sliders?checkpoint={CATEGORICAL}", "Latent sliders")
    tab.wait_for_function("() => window.__latentPadProbe.decode", timeout=30_000)
    model = load_checkpoint(checkpoints / CATEGORICAL).model
    reference = decoder_with_weights_as_sent(model)
    codes = model.latent.prior_sample(5, torch.Generator().manual_seed(0))
    got = torch.tensor([tab.evaluate("z => window.__latentPadProbe.decode(z)", c.tolist()) for c in codes])
    with torch.no_grad():
        assert (got - reference.decode(codes).reshape(5, -1)).abs().max() <= 1e-3

    canvas = tab.get_by_test_id("latent-pad-canvas")
    before = canvas.evaluate("c => c.toDataURL()")
    row = tab.locator(".latent-pad-root .row").first
    row.get_by_role("radio", name="7", exact=True).click()
    expect(row.get_by_role("radio", name="7", exact=True)).to_have_attribute("aria-checked", "true")
    assert canvas.evaluate("c => c.toDataURL()") != before
    variable = int(re.match(r"v(\d+)", row.locator(".name").inner_text()).group(1))
    expect(tab).to_have_url(re.compile(r"[?&]z="), timeout=10_000)
    z = [float(v) for v in re.search(r"[?&]z=([^&]+)", tab.url).group(1).replace("%2C", ",").split(",")]
    assert len(z) == 30 and z[variable] == 7  # the link keeps each variable's category
    row.get_by_role("radio", name="7", exact=True).press("ArrowRight")  # keys move the pick
    expect(row.get_by_role("radio", name="8", exact=True)).to_have_attribute("aria-checked", "true")
    strip = tab.get_by_test_id("latent-pad-traversal")
    assert strip.evaluate("c => c.width") == (10 * 28 + 9 * 2) * 3  # every category of the variable
    settle(tab)
    snap(tab, "categorical-sliders-picked")


def test_a_shared_link_restores_the_categories(server, tab):
    url, _ = server
    cats = [3] * 30
    open_page(tab, url, f"sliders?checkpoint={CATEGORICAL}&z={','.join(map(str, cats))}", "Latent sliders")
    checked = tab.locator(".latent-pad-root .choice[aria-checked=true]")
    expect(checked).to_have_count(30)
    assert np.array_equal(np.array([int(t) for t in checked.all_text_contents()]), np.full(30, 3))


def test_loss_curves_of_two_runs_line_up_under_one_legend(server, tab):
    """A legend inside the first chart took room from its plot, so the row's x axes stood at different
    heights. With the bundled conv run and the categorical one (a relaxed objective, a temperature's
    chart): the row's four plots share their top and height, under one legend naming the two runs."""
    url, _ = server
    open_page(tab, url, f"curves?runs=default,{CATEGORICAL}", "Loss curves")
    charts = tab.locator(".js-plotly-plot")
    entries = charts.first.locator(".legendtext")
    expect(entries).to_have_count(2)
    assert entries.all_text_contents() == ["default", f"{CATEGORICAL}train: relaxed objective"]  # two lines
    plots = [charts.nth(k).locator(".nsewdrag").bounding_box() for k in range(1, 5)]
    assert len({round(p["y"]) for p in plots}) == 1 and len({round(p["height"]) for p in plots}) == 1, plots
    assert plots[0]["x"] < plots[1]["x"] < plots[2]["x"] < plots[3]["x"]  # one row, side by side
    snap(tab, "curves-two-runs")
