"""End to end in a real browser: `streamlit run app.py` driven by headless Chromium (Playwright).

Screenshots of what the tests look at, and of any failure, go to test-artifacts/ (every page on
every screen: test_browser_screens.py). Under CI (CI=true) these tests must run: a missing Chromium
or Playwright is an error there, not a skip. The server, browser and screenshot machinery lives in
browser_support.py.
"""
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest

from bench.browser import MAP_PIXELS, PAD_HOST, ROUND_TRIP_HOOK
from bench.drawn import drawn_png
from tests.browser_support import (
    MAP_UI,
    expect,
    map_coordinates,
    map_drawn,
    map_picks,
    map_point,
    map_shown,
    no_exception,
    open_page,
    require_browser,
    settle,
    snap,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
require_browser()


def test_a_deep_link_as_the_first_request_shows_the_whole_app(server, tab):
    """Runs first on a fresh server: a bookmark to a page must run app.py, not the page alone."""
    url, _ = server
    open_page(tab, url, "sliders", "Latent sliders")
    sidebar = tab.locator("[data-testid='stSidebar']")
    expect(sidebar.get_by_text("Checkpoint", exact=True)).to_be_visible()
    expect(sidebar.get_by_role("link", name="Interpolation")).to_be_visible()
    # /map opens the map (at the root, the default page's address), with the address's settings, and
    # Back then goes where the tab was before, not to /map and forward to the map again.
    open_page(tab, url, "map?picked=42", "Latent map")
    expect(tab.get_by_role("heading", name="#42: a")).to_be_visible()
    expect(tab.get_by_text("Page not found")).to_have_count(0)
    assert tab.url.endswith("/?picked=42"), tab.url
    tab.go_back()
    expect(tab.get_by_role("heading", name="Latent sliders")).to_be_visible(timeout=60_000)
    assert tab.url.endswith("/sliders"), tab.url


def test_plotly_loads_before_any_chart_and_once(server, page):
    """The sidebar's browser fixes import Streamlit's plotly chunk once the first page is drawn, before
    another page has a chart (ui/components/browser_fixes.js): on a page without one it is loaded all
    the same, and a page's charts then draw without fetching it again (the same URL as Streamlit's own
    import, so the same module)."""
    url, _ = server
    fetched = []
    page.on("request", lambda request: fetched.append(request.url) if "/PlotlyChart." in request.url else None)
    open_page(page, url, "train", "Train")
    assert page.locator(".stPlotlyChart").count() == 0  # nothing on this page asked for plotly
    page.wait_for_function("() => typeof window.Plotly === 'object'", timeout=30_000)
    page.get_by_role("link", name="Loss curves").click()
    expect(page.locator(".stPlotlyChart .js-plotly-plot").first).to_be_visible(timeout=60_000)
    settle(page)
    assert len(fetched) == 1, fetched


def _pad_canvas(page):
    return page.get_by_test_id("latent-pad-canvas")


# The pad's root inside the component's shadow root (Playwright's locators pierce it; this is for
# page.evaluate).
PAD_ROOT = f"({PAD_HOST}).shadowRoot.querySelector('.latent-pad-root')"


def _open_pad(page, url):
    open_page(page, url, "sliders", "Latent sliders")
    page.wait_for_function("() => window.__latentPadProbe.decode && window.__latentPadProbe.place",
                           timeout=30_000)
    expect(page.get_by_test_id("latent-pad-traversal")).to_have_attribute("data-z", re.compile(r"\d"))


def _pixels(locator):
    return locator.evaluate("c => c.toDataURL()")


def test_dragging_a_slider_redraws_the_digit_star_and_caption_live_and_the_traversal_on_release(server, tab):
    """Everything that depends on z follows in the browser: while a slider is held (Python has heard
    nothing yet) the digit, the star on the map and the |z| caption change; the release redraws the
    traversal at once, and the server's rerun that follows neither remounts nor fades the pad."""
    url, _ = server
    _open_pad(tab, url)
    canvas, overview = _pad_canvas(tab), tab.get_by_test_id("latent-pad-map")
    strip, caption = tab.get_by_test_id("latent-pad-traversal"), tab.get_by_test_id("latent-pad-caption")
    before = {"digit": _pixels(canvas), "map": _pixels(overview), "strip": _pixels(strip),
              "caption": caption.inner_text(), "strip_z": strip.get_attribute("data-z")}
    assert before["caption"].startswith("|z| = 0.00; a typical prior sample has |z| ≈ 5.7. Nearest test digit: #")
    tab.evaluate(f"() => {{ {PAD_ROOT}.__marker = 'mounted once'; }}")
    # The second slider: the strip sweeps the first one's dimension, so it does not depend on its value.
    slider = tab.locator(".latent-pad-root .row input[type=range]").nth(1)
    box = slider.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2  # the thumb starts at z = 0
    tab.mouse.move(x, y)
    tab.mouse.down()
    tab.mouse.move(x + box["width"] * 0.35, y, steps=10)
    during = {"digit": _pixels(canvas), "map": _pixels(overview), "strip": _pixels(strip),
              "caption": caption.inner_text()}
    events = tab.evaluate("() => window.__latentPadProbe.decodeMs.length")
    assert during["digit"] != before["digit"] and events >= 5
    assert during["map"] != before["map"] and during["caption"] != before["caption"]  # the star and |z| moved
    assert during["strip"] == before["strip"]  # the traversal waits for the release
    # From the release on, watch the pad's element for as long as the server's rerun takes.
    tab.evaluate("""() => { window.__opacity = []; const host = (""" + PAD_HOST + """).closest(
        '[data-testid=stElementContainer]');
        const watch = () => { window.__opacity.push(parseFloat(getComputedStyle(host).opacity));
                              if (window.__opacity.length < 600) requestAnimationFrame(watch); };
        watch(); }""")
    tab.mouse.up()
    assert strip.get_attribute("data-z") != before["strip_z"]  # redrawn by the release event itself
    assert _pixels(strip) != before["strip"]
    settle(tab)  # the fragment's rerun, now that the server has z
    assert tab.evaluate(f"() => {PAD_ROOT}.__marker") == "mounted once"
    assert min(tab.evaluate("() => window.__opacity")) == 1.0
    assert caption.inner_text() == during["caption"] and _pixels(overview) == during["map"]


def test_the_pad_traversal_controls_redraw_the_strip_in_the_browser(server, tab):
    url, _ = server
    _open_pad(tab, url)
    strip = tab.get_by_test_id("latent-pad-traversal")
    label = tab.get_by_text(re.compile(r"^z\d+ from -"))
    select = tab.locator(".latent-pad-root select")
    span, steps = tab.locator(".latent-pad-root .control input[type=range]").all()
    expect(label).to_have_text(f"z{select.input_value()} from -3 to 3, the others at z")
    assert strip.evaluate("c => [c.width, c.height]") == [(9 * 28 + 8 * 2) * 3, 28 * 3]
    before = _pixels(strip)
    steps.fill("5")  # sets the value and fires input and change, as a drag would
    expect(strip).to_have_js_property("width", (5 * 28 + 4 * 2) * 3)
    second = select.locator("option").nth(1).get_attribute("value")
    select.select_option(second)
    span.fill("1.5")
    expect(label).to_have_text(f"z{second} from -1.5 to 1.5, the others at z")
    assert _pixels(strip) != before
    no_exception(tab)


def test_a_starting_point_from_the_server_moves_the_pad_in_place(server, tab, mnist_test):
    """'Start from #0' sends a new z to the same pad (same key: not remounted); its caption then
    names test digit #0 as the nearest, with its label."""
    url, _ = server
    _open_pad(tab, url)
    tab.evaluate(f"() => {{ {PAD_ROOT}.__marker = 'mounted once'; }}")
    tab.get_by_role("button", name=re.compile(r"^Start from #0")).click()
    caption = tab.get_by_test_id("latent-pad-caption")
    expect(caption).to_contain_text(f"Nearest test digit: #0 ({int(mnist_test.labels[0])}).", timeout=30_000)
    settle(tab)
    assert tab.evaluate(f"() => {PAD_ROOT}.__marker") == "mounted once"
    assert not caption.inner_text().startswith("|z| = 0.00")


def test_the_pad_placement_in_the_browser_matches_python(server, tab):
    """The star's position and the nearest test digit, computed in JavaScript from the float16 codes
    the browser gets, against vae.analysis.projection.LatentMap.place / nearest on the same codes, and
    within a fraction of a pixel of the float32 codes the server would use."""
    import torch

    from ui.charts import map_frame
    from vae.analysis.projection import LatentMap, load_cached_map
    from vae.run_files import map_cache_path
    from vae.training.checkpoint import load_checkpoint, weights_hash

    url, checkpoints = server
    _open_pad(tab, url)
    folder = checkpoints / "default"
    lmap = load_cached_map(map_cache_path(folder, weights_hash(folder), "mnist-test"))
    as_sent = LatentMap(lmap.mu.astype(np.float16).astype(np.float32), lmap.labels, lmap.xy)
    z_dim = load_checkpoint(folder).model.latent_dim
    zs = torch.randn(8, z_dim, generator=torch.Generator().manual_seed(1)).numpy() * 1.2
    zs[0] = lmap.mu[123]  # a test digit's own code: its nearest is itself
    pixels_per_unit = (map_frame(lmap.xy)["size"] - 2 * map_frame(lmap.xy)["pad"]) / map_frame(lmap.xy)["span"]
    for z in zs:
        got = tab.evaluate("z => window.__latentPadProbe.place(z)", z.tolist())
        assert np.allclose([got["x"], got["y"]], as_sent.place(z)[0], atol=1e-4)
        assert got["neighbours"] == as_sent.nearest(z, 10)[0].tolist()
        assert np.abs(np.array([got["x"], got["y"]]) - lmap.place(z)[0]).max() * pixels_per_unit < 0.5
    assert tab.evaluate("z => window.__latentPadProbe.place(z).nearest", zs[0].tolist()) == 123


def test_browser_decode_matches_torch(server, tab):
    import torch

    from vae.services.export import decoder_with_weights_as_sent
    from vae.training.checkpoint import load_checkpoint

    url, checkpoints = server
    open_page(tab, url, "sliders", "Latent sliders")
    tab.wait_for_function("() => window.__latentPadProbe.decode", timeout=30_000)
    model = load_checkpoint(checkpoints / "default").model
    reference = decoder_with_weights_as_sent(model)
    z = torch.randn(6, model.latent_dim, generator=torch.Generator().manual_seed(0)) * 1.5
    in_browser = torch.tensor([tab.evaluate("z => window.__latentPadProbe.decode(z)", row.tolist()) for row in z])
    with torch.no_grad():
        expected = reference.decode(z).reshape(6, -1)
    assert (in_browser - expected).abs().max() <= 1e-3


def test_the_browser_classifier_matches_torch_and_labels_the_digit_while_dragging(server, tab, mnist_test):
    import torch

    from vae.models.classifier import load_classifier

    url, _ = server
    _open_pad(tab, url)
    tab.wait_for_function("() => window.__latentPadProbe.classify", timeout=30_000)
    reference = load_classifier("mnist")
    with torch.no_grad():  # the browser gets float16 weights: they are float16 on disk already
        expected = reference.probabilities(mnist_test.images[:6].unsqueeze(1).float() / 255)
    got = torch.tensor([tab.evaluate("x => window.__latentPadProbe.classify(x)",
                                      (image.flatten().float() / 255).tolist()) for image in mnist_test.images[:6]])
    assert (got - expected).abs().max() <= 1e-3
    label = tab.get_by_test_id("latent-pad-label")
    expect(label).to_have_text(re.compile(r"^looks like \d \(\d+%\)$"))
    before = label.inner_text()
    slider = tab.locator(".latent-pad-root .row input[type=range]").first
    box = slider.bounding_box()
    tab.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tab.mouse.down()
    tab.mouse.move(box["x"] + box["width"] * 0.95, box["y"] + box["height"] / 2, steps=8)
    during = label.inner_text()  # before the release: drawn by the input events
    tab.mouse.up()
    assert during != before and tab.evaluate("() => window.__latentPadProbe.classifyMs.length") >= 8


def test_selecting_a_map_point_shows_its_digit(server, tab):
    url, _ = server
    _open_map(tab, url)
    x, y = map_point(tab, map_shown(tab)[0])
    tab.mouse.click(x, y)
    expect(tab.get_by_text("reconstruction from μ")).to_be_visible(timeout=30_000)
    settle(tab)
    heading = tab.get_by_role("heading", name=re.compile(r"^#\d+: a \d")).first
    expect(heading).to_be_visible()
    snap(tab, "map-selected")


def _drag(page, path, steps=6):
    page.mouse.move(*path[0])
    page.mouse.down()
    for point in path[1:]:
        page.mouse.move(*point, steps=steps)
    page.mouse.up()


def test_the_map_pans_zooms_hides_a_class_and_picks_by_box_and_lasso(server, page):
    url, _ = server
    stage = _open_map(page, url)
    box = stage.bounding_box()
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    points = page.get_by_test_id("map-points")
    whole = points.get_attribute("data-view")
    under = map_coordinates(page, *centre)
    _drag(page, [centre, (centre[0] + 100, centre[1] + 50)])  # a pan: the map moves with the pointer
    expect(points).not_to_have_attribute("data-view", whole)  # drawn where it went
    moved = map_coordinates(page, centre[0] + 100, centre[1] + 50)
    assert abs(moved[0] - under[0]) < 1e-3 and abs(moved[1] - under[1]) < 1e-3
    assert map_picks(page) == []  # a drag picks nothing
    page.get_by_role("button", name="Zoom in").click()
    page.wait_for_function("([c, k]) => Number(c.dataset.view.split(',')[2]) > k",
                           arg=[points.element_handle(), float(whole.split(",")[2])], timeout=10_000)
    page.mouse.dblclick(*centre)  # the whole map again, and no page opened by its clicks
    expect(points).to_have_attribute("data-view", whole)
    page.wait_for_timeout(600)
    expect(page.get_by_role("heading", name="Latent map")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("button", name="PNG", exact=True).click()
    picture = Path(download.value.path()).read_bytes()
    assert download.value.suggested_filename == "latent-map.png" and picture[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(picture) > 20_000  # the points, not an empty frame
    # A box around the 1s' points picks those in it, and only the shown classes' points.
    ones = np.array([map_point(page, i) for i in map_shown(page, 1)])
    (x0, y0), (x1, y1) = np.percentile(ones, 20, axis=0), np.percentile(ones, 80, axis=0)
    page.get_by_role("button", name="Box", exact=True).click()
    _drag(page, [(x0, y0), (x1, y1)])
    expect(page.get_by_text(re.compile(r"^\d+ points picked$"))).to_be_visible(timeout=30_000)
    picked = map_picks(page)
    inside = [i for i, (x, y) in zip(map_shown(page, 1), ones, strict=True) if x0 <= x <= x1 and y0 <= y <= y1]
    assert set(inside) <= set(picked) and len(picked) >= 10
    settle(page)
    # Hidden from the legend, a class is neither drawn nor picked by a lasso around it.
    stage.scroll_into_view_if_needed()
    page.get_by_title(re.compile(r"^Hide 1 on the map")).click()
    expect(points).to_have_attribute("data-drawn", str(len(map_shown(page)) - len(map_shown(page, 1))))
    page.get_by_role("button", name="Lasso", exact=True).click()
    ones = np.array([map_point(page, i) for i in map_shown(page, 1)])
    lo, hi = ones.min(0) - 5, ones.max(0) + 5
    _drag(page, [(lo[0], lo[1]), (hi[0], lo[1]), (hi[0], hi[1]), (lo[0], hi[1]), (lo[0], lo[1] + 1)])
    page.wait_for_timeout(500)
    assert not set(map_picks(page)) & set(map_shown(page, 1))
    snap(page, "map-lasso-without-ones")


def _off_stage(page) -> int:
    """How many of the shown points the map draws outside its drawing area."""
    return page.evaluate(f"""() => {{ const {{rect: r, points}} = {MAP_PIXELS};
        return points.filter(([, x, y]) => x < 0 || y < 0 || x > r.width || y > r.height).length; }}""")


def test_the_map_fits_a_narrower_window_and_keeps_a_view_the_user_chose(server, page):
    url, _ = server
    stage = _open_map(page, url, "?classes=1,7")
    assert _off_stage(page) == 0
    wide = [float(v) for v in page.get_by_test_id("map-points").get_attribute("data-view").split(",")]
    page.set_viewport_size({"width": 900, "height": 1000})
    page.wait_for_function(f"() => {MAP_UI}.width < 700", timeout=10_000)
    page.wait_for_timeout(300)
    assert _off_stage(page) == 0  # the whole map again, in less room: the 1s and 7s only, as filtered
    page.get_by_role("button", name="Zoom in").click()
    page.get_by_role("button", name="Zoom in").click()
    box = stage.bounding_box()
    centre = map_coordinates(page, box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.wait_for_function(f"() => {MAP_UI}.width > 800", timeout=10_000)
    page.wait_for_timeout(300)
    box = stage.bounding_box()
    assert np.allclose(map_coordinates(page, box["x"] + box["width"] / 2, box["y"] + box["height"] / 2), centre,
                       atol=1e-3)  # zoomed in, the same place in the middle
    assert _off_stage(page) > 0 and float(page.get_by_test_id("map-points").get_attribute("data-view")
                                          .split(",")[2]) > wide[2]


def test_uploading_a_digit_shows_its_reconstruction(server, tab, mnist_test):
    url, _ = server
    open_page(tab, url, "reconstruct?source=upload", "Reconstruct")
    tab.locator("input[type=file]").set_input_files(
        files=[{"name": "seven.png", "mimeType": "image/png", "buffer": drawn_png(mnist_test.images[0].numpy())}])
    expect(tab.get_by_text("reconstruction from μ")).to_be_visible(timeout=60_000)
    settle(tab)
    snap(tab, "reconstruct-upload")
    tab.locator("input[type=file]").set_input_files(
        files=[{"name": "broken.png", "mimeType": "image/png", "buffer": b"not a png at all"}])
    expect(tab.get_by_text("not an image that can be read")).to_be_visible(timeout=30_000)
    settle(tab)


def test_a_short_training_run_shows_its_curves_then_the_app_stops_polling(server, page):
    url, checkpoints = server
    page.add_init_script(ROUND_TRIP_HOOK)  # logs every script run the page is sent
    open_page(page, url, "train", "Train")
    for label, value in (("Epochs", "1"), ("Training images (0 = all)", "1000")):
        field = page.get_by_role("spinbutton", name=label, exact=True)
        field.fill(value)
        field.press("Enter")  # Enter in a field starts nothing: only the button does
    settle(page)
    assert not [p for p in checkpoints.iterdir() if p.name.startswith("run-")]
    page.get_by_role("button", name="Start training").click()
    # The run's own heading: the page's caption says "finished" too ("Each finished epoch saves ...")
    expect(page.get_by_role("heading", name=re.compile(r"^Run run-\S+ finished"))).to_be_visible(timeout=120_000)
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=30_000)
    settle(page)
    snap(page, "train-finished")
    runs = [p for p in checkpoints.iterdir() if p.name.startswith("run-")]
    assert len(runs) == 1 and (runs[0] / "model.safetensors").exists()
    # The run's end reran the whole app by itself: the sidebar says so, with no click.
    sidebar = page.locator("[data-testid=stSidebar]")
    expect(sidebar.get_by_text(f"Last run {runs[0].name} finished", exact=False)).to_be_visible(timeout=30_000)
    # While no run trains, the status fragments (sidebar, Train page) do not poll: an idle page
    # gets no script runs at all.
    settle(page)
    runs_started = "() => window.__rtLog.filter(entry => entry[1] === 'start').length"
    before = page.evaluate(runs_started)
    page.wait_for_timeout(5000)
    assert page.evaluate(runs_started) == before


def test_a_training_run_joins_the_picker_after_its_first_epoch_and_its_curves_stay_when_it_ends(server, tab):
    """Issue #11: the sidebar lists a run's checkpoint once its first epoch is saved, with no click;
    Loss curves shows the run being watched, and keeps showing it once it has ended."""
    from vae.services.jobs import TrainingJobs

    url, checkpoints = server
    open_page(tab, url, "train", "Train")
    for label, value in (("Epochs", "300"), ("Training images (0 = all)", "2000")):
        field = tab.get_by_role("spinbutton", name=label, exact=True)
        field.fill(value)
        field.press("Tab")
    jobs = TrainingJobs(checkpoints)
    earlier = jobs.status().run_dir
    tab.get_by_role("button", name="Start training").click()
    deadline = time.time() + 120
    while (jobs.status().run_dir == earlier or not jobs.status().history) and time.time() < deadline:
        time.sleep(0.2)
    run = jobs.status().run_dir.name
    assert jobs.running(), "the run ended before the test could watch it"
    sidebar = tab.locator("[data-testid=stSidebar]")
    expect(sidebar.get_by_text("cannot be loaded")).to_have_count(0, timeout=15_000)  # the next poll reran the app
    sidebar.get_by_test_id("stSelectbox").click()
    expect(tab.get_by_role("option", name=run, exact=True)).to_be_visible()
    tab.keyboard.press("Escape")

    sidebar.get_by_role("link", name="Loss curves").click()
    expect(tab.get_by_text(f"{run} is training now")).to_be_visible(timeout=30_000)
    chips = tab.get_by_test_id("stMultiSelect").inner_text()
    assert run in chips and "default" not in chips, chips  # issue #20: the run alone, on its own ranges
    # Its map through training grows by a frame per epoch, with no click.
    growing = tab.get_by_text(re.compile(r"epochs 1 to \d+, a frame more after every epoch"))
    expect(growing).to_be_visible(timeout=60_000)
    first = int(re.search(r"epochs 1 to (\d+)", growing.inner_text()).group(1))
    expect(tab.get_by_text(re.compile(rf"epochs 1 to (?!{first}\b)\d+, a frame more"))).to_be_visible(timeout=60_000)
    jobs.stop()
    expect(sidebar.get_by_text(f"Last run {run} stopped", exact=False)).to_be_visible(timeout=60_000)
    settle(tab)
    assert run in tab.get_by_test_id("stMultiSelect").inner_text()
    expect(tab.get_by_text(f"{run} is training now")).to_have_count(0)
    expect(tab.get_by_test_id("stDataFrame")).to_contain_text(run)
    snap(tab, "curves-after-a-run")


def test_keys_step_a_slider_by_a_tenth_and_z_survives_pages_reloads_and_links(server, page, browser):
    url, _ = server
    _open_pad(page, url)
    slider = page.locator(".latent-pad-root .row input[type=range]").first
    digit = _pad_canvas(page)
    before = _pixels(digit)
    slider.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    assert slider.input_value() == "0.3" and _pixels(digit) != before
    expect(page).to_have_url(re.compile(r"[?&]z="), timeout=10_000)  # the release after the last key
    settle(page)
    link = page.url
    sidebar = page.locator("[data-testid=stSidebar]")
    sidebar.get_by_role("link", name="Interpolation").click()
    expect(page.get_by_role("heading", name="Interpolation").first).to_be_visible(timeout=30_000)
    settle(page)
    sidebar.get_by_role("link", name="Latent sliders").click()
    expect(slider).to_have_value("0.3", timeout=30_000)
    page.reload()
    expect(page.locator(".latent-pad-root .row input[type=range]").first).to_have_value("0.3", timeout=60_000)
    other = browser.new_context(viewport={"width": 1400, "height": 1000})  # the link, shared
    try:
        shared = other.new_page()
        shared.goto(link)
        expect(shared.locator(".latent-pad-root .row input[type=range]").first).to_have_value("0.3", timeout=60_000)
    finally:
        other.close()


def test_the_pad_downloads_its_z(server, tab):
    url, _ = server
    _open_pad(tab, url)
    with tab.expect_download() as download:
        tab.get_by_test_id("latent-pad-download-z").click()
    saved = json.loads(Path(download.value.path()).read_text())
    assert saved["checkpoint"] == "default" and saved["z"] == [0.0] * 32


def _open_map(page, url: str, query: str = ""):
    """The Latent map page at `query`, its points drawn and in view; the map's drawing area."""
    open_page(page, url, query, "Latent map")
    map_drawn(page)
    stage = page.get_by_test_id("map-stage")
    stage.scroll_into_view_if_needed()
    return stage


def _click_point(page, index: int, shift: bool = False) -> int:
    """Click the point of image `index` as a user would; the point picked (the one under the pointer:
    another may be drawn at the same place)."""
    x, y = map_point(page, index)
    before = map_picks(page)
    page.mouse.move(x, y)
    if shift:
        page.keyboard.down("Shift")
    page.mouse.click(x, y)
    if shift:
        page.keyboard.up("Shift")
    for _ in range(100):
        if (now := map_picks(page)) != before:
            return now[-1]
        page.wait_for_timeout(50)
    raise AssertionError(f"clicking image {index} picked nothing")


def test_hovering_a_map_point_shows_that_digit(server, tab, mnist_test):
    url, _ = server
    _open_map(tab, url)
    index = map_shown(tab, 3)[10]
    x, y = map_point(tab, index)
    tab.mouse.move(x, y)
    expect(tab.get_by_test_id("map-hover-label")).to_have_text(f"3 · #{index}", timeout=10_000)
    thumb = tab.get_by_test_id("map-hover-digit")
    tab.wait_for_function("c => c.getContext('2d').getImageData(0, 0, 28, 28).data.some(v => v > 0 && v < 255)",
                           arg=thumb.element_handle(), timeout=30_000)
    shown = np.array(thumb.evaluate("c => Array.from(c.getContext('2d').getImageData(0, 0, 28, 28).data)"))
    assert np.array_equal(shown.reshape(28, 28, 4)[..., 0], mnist_test.images[index].numpy())
    tab.mouse.move(5, 5)
    expect(tab.get_by_test_id("map-hover-label").locator("..")).to_be_hidden()


def test_picked_points_keep_their_order_and_come_back_with_the_page(server, tab):
    url, _ = server
    _open_map(tab, url)
    five = _click_point(tab, map_shown(tab, 5)[3])
    expect(tab.get_by_role("heading", name=re.compile(rf"^#{five}: a 5"))).to_be_visible(timeout=30_000)
    settle(tab)
    tab.get_by_test_id("map-stage").scroll_into_view_if_needed()
    two = _click_point(tab, map_shown(tab, 2)[7], shift=True)
    button = tab.get_by_role("button", name=re.compile("^Interpolate"))
    expect(button).to_have_text(re.compile(rf"Interpolate #{five} → #{two}"), timeout=30_000)  # not class order
    settle(tab)
    sidebar = tab.locator("[data-testid=stSidebar]")
    sidebar.get_by_role("link", name="Latent sliders").click()
    expect(tab.get_by_role("heading", name="Latent sliders").first).to_be_visible(timeout=30_000)
    settle(tab)
    sidebar.get_by_role("link", name="Latent map").click()
    expect(tab.get_by_role("heading", name=re.compile(rf"^#{five}: a 5"))).to_be_visible(timeout=30_000)
    map_drawn(tab)
    expect(tab.get_by_test_id("map-points")).to_have_attribute("data-picks", f"{five},{two}")
    snap(tab, "map-picks-restored")
    button.click()
    expect(tab.get_by_role("heading", name="Interpolation").first).to_be_visible(timeout=30_000)
    expect(tab).to_have_url(re.compile(rf"from=test%3A{five}&to=test%3A{two}|to=test%3A{two}.*from=test%3A{five}"))
