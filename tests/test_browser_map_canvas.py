"""The latent map as a canvas, in Chromium (issue #24): between the points the digit that map
position stands for is decoded in the browser, a click or tap there opens that code in the sliders,
and the decoded lattice follows a zoom; a conditional model draws one z as every class."""
import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest

from bench.browser import MAP_PIXELS
from tests.browser_support import (
    MAP_UI,
    expect,
    fresh_page,
    map_coordinates,
    map_drawn,
    open_page,
    require_browser,
    settle,
    snap,
    streamlit_app,
)
from ui.latent_pad import TRAVERSAL
from vae.models.latent_kinds import SLIDER_RANGE

require_browser()
pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with streamlit_app(tmp_path_factory.mktemp("app"), bundled=("default", "mnist-conditional")) as running:
        yield running


# The window position inside the map's drawing area farthest from every point (on a 40 x 40 grid of
# candidates, 24 px in from the edges), and that distance in pixels; null until the map is drawn.
EMPTIEST = f"""() => {{
    const ui = {MAP_UI};
    if (!ui || !ui.view) return null;
    const {{rect: r, points}} = {MAP_PIXELS};
    let best = null;
    for (let i = 0; i < 40; i++) for (let j = 0; j < 40; j++) {{
        const px = 24 + (r.width - 48) * i / 39, py = 24 + (r.height - 48) * j / 39;
        let near = Infinity;
        for (const [, x, y] of points) near = Math.min(near, (x - px) ** 2 + (y - py) ** 2);
        if (!best || near > best[2]) best = [r.left + px, r.top + py, near];
    }}
    return [best[0], best[1], Math.sqrt(best[2])];
}}"""
INKED = """(c) => {  // the thumbnail's canvas (inside the component's shadow root)
    const d = c.getContext('2d').getImageData(0, 0, 28, 28).data;
    let ink = 0;
    for (let i = 0; i < d.length; i += 4) ink += d[i];
    return ink / 255;
}"""


def emptiest(page):
    map_drawn(page)
    return page.wait_for_function(EMPTIEST, timeout=30_000).json_value()


def hover_between_points(page):
    """Bring the pointer to the map's emptiest place (which fetches the decoder), wait for the
    decoder, then move it there again. Whole pixels: a pointer event's position is one."""
    x, y, clearance = emptiest(page)
    assert clearance > 25, clearance  # clear of every point's own thumbnail
    x, y = round(x), round(y)
    for _ in range(60):  # until the decoder has loaded
        page.mouse.move(x + 4, y + 4)
        page.mouse.move(x, y)
        if page.evaluate("() => Boolean(window.__latentPadProbe.mapDecodeAt)"):
            break
        page.wait_for_timeout(500)
    page.mouse.move(x + 4, y + 4)
    page.mouse.move(x, y, steps=4)
    return x, y


@pytest.mark.parametrize("projection", ["umap", "pca"])
def test_the_space_between_points_is_decoded_under_the_pointer_and_a_click_opens_it(server, tab, projection):
    url, _ = server
    open_page(tab, url, f"?projection={projection}", "Latent map")
    expect(tab.get_by_text(re.compile("Between the points, the digit decoded"))).to_be_visible()
    x, y = hover_between_points(tab)
    expected = tab.evaluate("([x, y]) => window.__latentPadProbe.mapDecodeAt(x, y)", map_coordinates(tab, x, y))
    label = tab.get_by_test_id("map-hover-label")
    expect(label).to_have_text(re.compile(r"^decoded here · "))
    assert tab.get_by_test_id("map-hover-digit").evaluate(INKED) > 20  # a digit's worth of ink, not a blank square
    timings = tab.evaluate("() => window.__latentPadProbe.mapDecode")
    assert len(timings) >= 1
    snap(tab, f"map-decoded-between-points-{projection}")
    tab.mouse.down()
    tab.mouse.up()
    expect(tab.get_by_role("heading", name="Latent sliders")).to_be_visible(timeout=60_000)
    settle(tab)
    opened = [float(v) for v in parse_qs(urlparse(tab.url).query)["z"][0].split(",")]
    # The code decoded under the pointer, as the sliders keep it (clipped to their range; the address rounds).
    kept = np.clip(expected, -SLIDER_RANGE, SLIDER_RANGE)
    assert np.abs(np.array(opened) - kept).max() < 2e-3


def test_the_decoded_lattice_follows_a_zoom(server, tab):
    url, _ = server
    open_page(tab, url, "?lattice=1", "Latent map")
    lattice = tab.get_by_test_id("map-lattice")
    expect(lattice).to_have_attribute("data-view", re.compile(r"^-?\d"), timeout=30_000)
    before = lattice.get_attribute("data-view")
    assert int(lattice.get_attribute("data-cells")) >= 50
    # Over the map's drawing area exactly, under the points (their canvas comes after it).
    placed = lattice.evaluate("""c => {
        const area = c.parentElement.getBoundingClientRect(), r = c.getBoundingClientRect();
        const points = c.parentElement.querySelector('[data-testid=map-points]');
        return [Math.abs(r.left - area.left) + Math.abs(r.top - area.top) + Math.abs(r.width - area.width)
                + Math.abs(r.height - area.height),
                Boolean(c.compareDocumentPosition(points) & Node.DOCUMENT_POSITION_FOLLOWING)];
    }""")
    assert placed[0] < 2 and placed[1] is True, placed
    snap(tab, "map-lattice")
    hover_between_points(tab)  # a decode under the pointer, which a click on the toolbar must not open
    tab.get_by_role("button", name="Zoom in").click()
    expect(lattice).not_to_have_attribute("data-view", before, timeout=10_000)
    scales = [float(view.split(",")[2]) for view in (before, lattice.get_attribute("data-view"))]
    assert scales[1] > scales[0]  # closer in (more pixels a map unit), drawn again
    tab.wait_for_timeout(600)
    expect(tab.get_by_role("heading", name="Latent map")).to_be_visible()  # still here: no sliders opened


def test_a_tap_between_points_on_a_phone_opens_that_code_in_the_sliders_through_the_lattice(server, browser):
    url, _ = server
    page = fresh_page(browser, "phone-dark")
    context = page.context
    try:
        open_page(page, url, "?lattice=1", "Latent map")
        map_drawn(page)
        page.get_by_test_id("map-stage").scroll_into_view_if_needed()
        expect(page.get_by_test_id("map-lattice")).to_have_attribute("data-cells", re.compile(r"^\d+$"))
        snap(page, "map-lattice-phone-dark")
        x, y, clearance = emptiest(page)
        assert clearance > 25, clearance
        page.touchscreen.tap(x, y)
        expect(page.get_by_role("heading", name="Latent sliders")).to_be_visible(timeout=60_000)
        settle(page)
        assert "z=" in page.url
    finally:
        context.close()


@pytest.mark.parametrize("screen", ["desktop-light", "phone-dark"])
def test_an_attribute_direction_from_the_address_colors_the_map_and_bends_the_picked_digit(server, on_screen, screen):
    url, _ = server
    page, _ = on_screen
    open_page(page, url, "?direction=classes:1:7&color=direction&picked=5&projection=pca", "Latent map")
    expect(page.get_by_text("Map settings: Test set (10,000) · PCA · colored by projection on the attribute "
                            "direction", exact=False)).to_be_visible()
    page.get_by_text("Attribute direction: class 1 → class 7").click()
    expect(page.get_by_text(re.compile(r"From class 1 to class 7: length \d"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"^#5 \(the first picked\), then its code moved"))).to_be_visible()
    snap(page, f"map-direction-{screen}")


# What the classifier (in the browser) reads in each digit of the style grid: the strip's canvas cut
# into its digits, one pixel of each scale x scale block.
STYLE_READINGS = """([strip, gap, scale]) => {
    const ctx = strip.getContext('2d'), read = [];
    for (let k = 0; k * (28 + gap) * scale < strip.width; k++) {
        const d = ctx.getImageData(k * (28 + gap) * scale, 0, 28 * scale, 28 * scale).data, x = [];
        for (let r = 0; r < 28; r++) {
            for (let c = 0; c < 28; c++) x.push(d[4 * ((r * scale + 1) * 28 * scale + c * scale + 1)] / 255);
        }
        const p = window.__latentPadProbe.classify(x);
        read.push(p.indexOf(Math.max(...p)));
    }
    return read;
}"""


def test_a_conditional_model_draws_one_z_as_every_class_beside_the_pad_on_a_phone(server, browser):
    url, _ = server
    page = fresh_page(browser, "phone-dark")
    context = page.context
    try:
        open_page(page, url, "sliders?checkpoint=mnist-conditional&given=3", "Latent sliders")
        label = page.get_by_test_id("latent-pad-label")
        expect(label).to_contain_text("looks like 3", timeout=30_000)  # the pad: z decoded as the sidebar's class
        strip = page.get_by_test_id("latent-pad-styles")
        page.wait_for_function("() => window.__latentPadProbe.classify", timeout=30_000)
        drawn = (10 * 28 + 9 * TRAVERSAL["gap"]) * TRAVERSAL["scale"]  # the strip's width once its decoder is in
        strip.element_handle().wait_for_element_state("visible")
        page.wait_for_function("([c, w]) => c.width === w", arg=[strip.element_handle(), drawn], timeout=30_000)
        args = [strip.element_handle(), TRAVERSAL["gap"], TRAVERSAL["scale"]]
        assert page.evaluate(STYLE_READINGS, args) == list(range(10))  # z = 0 as 0, 1, ..., 9
        before = strip.evaluate("(c) => c.toDataURL()")
        slider = page.locator(".latent-pad-root input[type=range]").first
        slider.focus()
        for _ in range(15):
            slider.press("ArrowRight")  # the style moves: every digit of the strip with it
        page.wait_for_timeout(300)
        assert strip.evaluate("(c) => c.toDataURL()") != before
        assert sum(a == b for a, b in zip(page.evaluate(STYLE_READINGS, args), range(10))) >= 8
        snap(page, "sliders-conditional-phone-dark")
    finally:
        context.close()


def test_the_maps_csv_is_written_when_its_button_is_clicked(server, tab):
    """Not on every run of the page (a deferred download): every point's index, position and class."""
    url, _ = server
    open_page(tab, url, "", "Latent map")
    with tab.expect_download(timeout=30_000) as download:
        tab.get_by_role("button", name="Download the map (CSV)").click()
    assert download.value.suggested_filename == "latent-map-mnist-test.csv"
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0] == "index,x,y,label" and len(lines) == 10_001
    saved = np.load(next((Path(__file__).parents[1] / "checkpoints" / "default").glob("map-mnist-test-[0-9a-f]*.npz")))
    rows = np.loadtxt(lines[1:], delimiter=",")
    assert np.array_equal(rows[:, 0], np.arange(10_000)) and np.array_equal(rows[:, 3], saved["labels"])
    assert np.abs(rows[:, 1:3] - saved["xy"]).max() < 1e-5
