"""End to end in a real browser: `streamlit run app.py` driven by headless Chromium (Playwright).

Screenshots of every page, and of any failure, go to test-artifacts/. Under CI (CI=true) these
tests must run: a missing Chromium or Playwright is an error there, not a skip. The server, browser
and screenshot machinery lives in browser_support.py.
"""
import io
import re

import numpy as np
import pytest
from PIL import Image

from browser_support import (browser, expect, open_page, page, require_browser, settle, snap,  # noqa: F401
                             streamlit_app)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
require_browser()


@pytest.fixture(scope="module")
def server(tmp_path_factory, mnist_test):
    """The app on a free port, with a private checkpoints folder and a 2,000-image training set."""
    with streamlit_app(tmp_path_factory.mktemp("app"), mnist_test) as running:
        yield running


def test_a_deep_link_as_the_first_request_shows_the_whole_app(server, page):
    """Runs first on a fresh server: a bookmark to a page must run app.py, not the page alone."""
    url, _ = server
    open_page(page, url, "sliders", "Latent sliders")
    sidebar = page.locator("[data-testid='stSidebar']")
    expect(sidebar.get_by_text("Checkpoint", exact=True)).to_be_visible()
    expect(sidebar.get_by_role("link", name="Interpolation")).to_be_visible()


PAGES = [("", "Latent map"), ("sliders", "Latent sliders"), ("interpolate", "Interpolation"),
         ("reconstruct", "Reconstruct"), ("curves", "Loss curves"), ("train", "Train")]


@pytest.mark.parametrize("path,heading", PAGES)
def test_every_page_opens_without_errors(server, page, path, heading):
    url, _ = server
    open_page(page, url, path, heading)
    snap(page, f"page-{path or 'map'}")


def _pad_canvas(page):
    return page.get_by_test_id("latent-pad-canvas")


def test_dragging_a_slider_redraws_the_digit_live_and_the_page_follows_on_release(server, page):
    url, _ = server
    open_page(page, url, "sliders", "Latent sliders")
    page.wait_for_function("() => window.__latentPadDecode !== undefined", timeout=30_000)
    canvas = _pad_canvas(page)
    before = canvas.evaluate("c => c.toDataURL()")
    caption_before = page.get_by_text("|z| =").inner_text()
    slider = page.locator(".latent-pad-root input[type=range]").first
    box = slider.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2  # the thumb starts at z = 0
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + box["width"] * 0.35, y, steps=10)
    during = canvas.evaluate("c => c.toDataURL()")  # still held: Python has heard nothing yet
    events = page.evaluate("() => window.__latentPad.decodeMs.length")
    page.mouse.up()
    assert during != before and events >= 5
    page.wait_for_function(f"() => !document.body.innerText.includes({caption_before!r})", timeout=30_000)
    settle(page)


def test_browser_decode_matches_torch(server, page):
    import torch

    from vae.checkpoint import load_checkpoint
    from vae.export import decoder_with_weights_as_sent

    url, checkpoints = server
    open_page(page, url, "sliders", "Latent sliders")
    page.wait_for_function("() => window.__latentPadDecode !== undefined", timeout=30_000)
    model = load_checkpoint(checkpoints / "default").model
    reference = decoder_with_weights_as_sent(model)
    z = torch.randn(6, model.latent_dim, generator=torch.Generator().manual_seed(0)) * 1.5
    in_browser = torch.tensor([page.evaluate("z => window.__latentPadDecode(z)", row.tolist()) for row in z])
    with torch.no_grad():
        expected = reference.decode(z).reshape(6, -1)
    assert (in_browser - expected).abs().max() <= 1e-3


def test_selecting_a_map_point_shows_its_digit(server, page):
    url, _ = server
    open_page(page, url, "", "Latent map")
    plot = page.locator(".js-plotly-plot").first
    plot.wait_for(timeout=60_000)
    # Pixel position of the first point of the first trace, from plotly's own axes.
    x, y = page.evaluate("""() => {
        const gd = document.querySelector('.js-plotly-plot');
        const t = gd._fullData[0], xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        const r = gd.querySelector('.nsewdrag').getBoundingClientRect();
        return [r.left + xa.l2p(t.x[0]), r.top + ya.l2p(t.y[0])];
    }""")
    page.mouse.move(x, y)
    page.wait_for_timeout(300)  # plotly picks the point under the cursor on hover
    page.mouse.click(x, y)
    expect(page.get_by_text("reconstruction from μ")).to_be_visible(timeout=30_000)
    settle(page)
    heading = page.get_by_role("heading", name=re.compile(r"^#\d+: a \d")).first
    expect(heading).to_be_visible()
    snap(page, "map-selected")


def _digit_png(mnist_test) -> bytes:
    """A test-set 7 as a user would draw it: dark ink on white, bigger, off-centre."""
    seven = mnist_test.images[0].numpy()
    canvas = np.full((200, 160), 255, np.uint8)
    canvas[30:142, 20:132] = 255 - np.kron(seven, np.ones((4, 4), np.uint8))
    buf = io.BytesIO()
    Image.fromarray(canvas).save(buf, format="PNG")
    return buf.getvalue()


def test_uploading_a_digit_shows_its_reconstruction(server, page, mnist_test):
    url, _ = server
    open_page(page, url, "reconstruct", "Reconstruct")
    page.locator("input[type=file]").set_input_files(
        files=[{"name": "seven.png", "mimeType": "image/png", "buffer": _digit_png(mnist_test)}])
    expect(page.get_by_text("reconstruction from μ")).to_be_visible(timeout=60_000)
    settle(page)
    snap(page, "reconstruct-upload")
    page.locator("input[type=file]").set_input_files(
        files=[{"name": "broken.png", "mimeType": "image/png", "buffer": b"not a png at all"}])
    expect(page.get_by_text("not an image that can be read")).to_be_visible(timeout=30_000)
    settle(page)


def test_a_short_training_run_shows_its_curves(server, page):
    url, checkpoints = server
    open_page(page, url, "train", "Train")
    for label, value in (("Epochs", "1"), ("Training images (0 = all)", "1000")):
        field = page.get_by_role("spinbutton", name=label)
        field.fill(value)
        field.press("Tab")
    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_text("finished")).to_be_visible(timeout=120_000)
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=30_000)
    settle(page)
    snap(page, "train-finished")
    runs = [p for p in checkpoints.iterdir() if p.name.startswith("run-")]
    assert len(runs) == 1 and (runs[0] / "model.safetensors").exists()
