"""What the browser tests share: the app served by `streamlit run app.py` on a free port, headless
Chromium through Playwright, screenshots into test-artifacts/, and waiting for Streamlit to settle.

A test module uses it like this (tests/conftest.py registers the fixtures server, browser, page,
screens, on_screen, tab):

    from tests.browser_support import require_browser, settle, snap, open_page
    require_browser()

    def test_it(page, server): ...

`server` is the app on a free port for the test module; `page` a fresh Chromium page that asks the
latent pad for its timings and test hooks (window.__latentPadProbe); `tab` a kept page for tests
that leave nothing on it that outlives a navigation, and `on_screen` the same for a phone's screen
(KeptPages says why).

Under CI (CI=true) the browser tests must run: a missing Chromium or Playwright is an error there,
not a skip.
"""
from __future__ import annotations

import contextlib
import os
from contextlib import contextmanager
from pathlib import Path

import pytest

from bench.browser import (
    CHROMIUM_ARGS,
    MAP_DRAWN,
    MAP_POINT,
    MAP_UI,
    PROBE_PAD,
    app_folder,
    streamlit_process,
)

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
# Every page of the app: (its path, its heading).
PAGES = [("", "Latent map"), ("sliders", "Latent sliders"), ("interpolate", "Interpolation"),
         ("reconstruct", "Reconstruct"), ("em", "EM and mixtures"), ("reparam", "Why reparameterize"),
         ("compare", "Compare models"), ("holes", "Prior holes"), ("ood", "Out of distribution"),
         ("curves", "Loss curves"), ("train", "Train")]

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover
    expect = sync_playwright = None


def require_browser() -> None:
    """Skip the calling test module when there is no browser to drive (an error under CI=true)."""
    if sync_playwright is None or not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            raise RuntimeError("CI=true but Playwright or /usr/bin/chromium is missing: .ci/run installs them")
        pytest.skip("needs Playwright and Debian's chromium (apt-get install chromium)", allow_module_level=True)


@contextmanager
def streamlit_app(tmp: Path, bundled: tuple[str, ...] = ("default",)):
    """The app on a free port, with a private checkpoints folder (a copy of the bundled model) and a
    2,000-image training set (bench/browser.app_folder); yields (url, checkpoints folder). On the
    way out, fails if the server's log holds a traceback through the project's own code."""
    env, checkpoints = app_folder(tmp, bundled)
    log_path = tmp / "streamlit.log"
    with streamlit_process(env, log=log_path) as (url, _, _):
        yield url, checkpoints
    text = log_path.read_text()
    # Closing a browser tab mid-message makes the server's websocket layer log a traceback of its
    # own; what must never appear is a traceback through the project's code.
    ours = [line for line in text.splitlines()
            if line.strip().startswith(f'File "{ROOT}/') and "/.venv" not in line and "site-packages" not in line]
    assert not ours, text[-3000:]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on a free port for one test module: (url, its private checkpoints folder)."""
    with streamlit_app(tmp_path_factory.mktemp("app")) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


PHONE = {"width": 400, "height": 800}
# The screens every page is seen on: a desktop in the light theme, a phone (touch, a mobile
# browser context) in both.
SCREENS = {
    "desktop-light": {"viewport": {"width": 1400, "height": 1000}, "color_scheme": "light"},
    "phone-light": {"viewport": PHONE, "is_mobile": True, "has_touch": True, "device_scale_factor": 1,
                    "color_scheme": "light"},
    "phone-dark": {"viewport": PHONE, "is_mobile": True, "has_touch": True, "device_scale_factor": 1,
                   "color_scheme": "dark"},
}


# The elements of the page wider than the screen (at most five, named), for the every-page tests;
# plotly's charts and data frames scroll inside themselves, a slider's own input sits under its thumb,
# and KaTeX's MathML is read aloud, not shown.
WIDER_THAN_SCREEN = """() => [...document.querySelectorAll('[data-testid=stMain] *')]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && e.getClientRects().length
            && !e.closest('.js-plotly-plot, [data-testid=stDataFrame], .katex-mathml')
            && !e.matches('[data-testid=stSlider] input'))
    .map(e => `${e.tagName} in ${(e.closest('[data-testid]') || {dataset: {}}).dataset.testid}: `
              + `${(e.textContent || '').slice(0, 30)} (right ${Math.round(e.getBoundingClientRect().right)})`)
    .slice(0, 5)"""


def failed(request) -> bool:
    return getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed


def fresh_page(browser, screen: str = "desktop-light"):
    """A page in a new browser context for one of SCREENS, asking the latent pad for its probe."""
    context = browser.new_context(**SCREENS[screen])
    context.add_init_script(PROBE_PAD)
    return context.new_page()


@contextmanager
def fresh_page_for(browser, request, screen: str = "desktop-light"):
    """fresh_page for a fixture of the test of `request`: closed after the test, with a screenshot
    if it failed."""
    pg = fresh_page(browser, screen)
    try:
        yield pg
    finally:
        if failed(request):
            snap(pg, f"FAILED-{request.node.name}")
        pg.context.close()


@pytest.fixture
def page(browser, request):
    with fresh_page_for(browser, request) as pg:
        yield pg


class KeptPages:
    """A page for each of SCREENS, opened when first asked for and kept, for tests that open pages,
    click, type and read but leave nothing on the page that outlives a navigation. Each test
    navigates the page, which starts a new Streamlit session as a fresh page would, but keeps the
    renderer that has already compiled the app's JavaScript: a fresh context per page costs twice
    the CPU (22 pages alone: 122.3 CPU-seconds against 61.5). Called with a screen's name: (page,
    the requests it has sent anywhere but the app since)."""

    def __init__(self, browser, url: str):
        self.browser, self.url, self.opened = browser, url, {}

    def __call__(self, screen: str):
        if screen not in self.opened:
            pg = fresh_page(self.browser, screen)
            outside = []
            pg.on("request", lambda r: outside.append(r.url)
                  if not r.url.startswith((self.url, "data:", "blob:")) else None)
            self.opened[screen] = pg, outside
        pg, outside = self.opened[screen]
        outside.clear()
        return pg, outside

    def leave(self, screen: str) -> None:
        """Make the screen's page as a fresh one for the next test: blank (its Streamlit session
        ends, as closing it would), its own viewport, no key or button held, the pointer in the
        corner. A page that will not is closed, and the next test gets a new one."""
        pg, _ = self.opened[screen]
        try:
            pg.goto("about:blank")
            pg.set_viewport_size(SCREENS[screen]["viewport"])
            for key in ("Shift", "Control", "Alt", "Meta"):
                pg.keyboard.up(key)
            pg.mouse.up()
            pg.mouse.move(0, 0)
        except Exception:
            self.discard(screen)
            raise

    def discard(self, screen: str) -> None:
        pg, _ = self.opened.pop(screen)
        pg.context.close()

    def close(self) -> None:
        for screen in list(self.opened):
            self.discard(screen)


@pytest.fixture(scope="module")
def screens(browser, server):
    """The module's KeptPages, for its server."""
    kept = KeptPages(browser, server[0])
    yield kept
    kept.close()


@pytest.fixture
def on_screen(screens, request):
    """(page, requests sent elsewhere) from `screens`, for the screen the test is parametrized with
    (`screen`; the desktop if none); a screenshot if the test fails, and a page a test failed on is
    not handed on."""
    callspec = getattr(request.node, "callspec", None)
    screen = callspec.params.get("screen", "desktop-light") if callspec else "desktop-light"
    pg, outside = screens(screen)
    yield pg, outside
    if failed(request):
        try:
            snap(pg, f"FAILED-{request.node.name}")
        finally:
            screens.discard(screen)
    else:
        screens.leave(screen)


@pytest.fixture
def tab(on_screen):
    """The kept desktop page (see KeptPages), for a test that opens pages, clicks, types and reads
    but leaves nothing on the page that outlives a navigation (an event handler, an init script, a
    viewport of its own): those take `page`, a fresh one."""
    return on_screen[0]


# True once the script has stopped and the page's main area has looked the same for `quiet` ms: its
# height, its number of elements, every image loaded, every plotly chart in view and the latent map drawn (settle()
# waits for the script run; the browser draws charts, images and components after it).
DRAWN = """([quiet]) => {
    const main = document.querySelector('[data-testid=stMain]');
    if (!main || !document.querySelector('[data-testid=stApp][data-test-script-state=notRunning]')) return false;
    const maps = [...main.querySelectorAll('[data-testid=stBidiComponentIsolated]')]
        .map(h => h.shadowRoot && h.shadowRoot.querySelector('canvas[data-testid=map-points]')).filter(Boolean);
    const waiting = [...main.querySelectorAll('img')].some(i => !i.complete)
        || [...main.querySelectorAll('[data-testid=stPlotlyChart]')]
            .some(c => c.checkVisibility() && !c.querySelector('.main-svg'))
        || maps.some(c => !c.classList.contains('drawn'));
    const look = `${main.scrollHeight} ${main.getElementsByTagName('*').length} ${waiting}`;
    const now = performance.now(), last = window.__drawnLook;
    if (!last || last.look !== look) { window.__drawnLook = {look, since: now}; return false; }
    return !waiting && now - last.since >= quiet;
}"""


def drawn(page, quiet: int = 250, timeout: int = 30_000) -> None:
    """Wait until what the last script run sent is drawn (DRAWN), instead of a fixed pause."""
    page.evaluate("() => { delete window.__drawnLook; }")
    page.wait_for_function(DRAWN, arg=[quiet], polling=50, timeout=timeout)


def snap(page, name: str) -> None:
    """A screenshot of the whole page: Streamlit scrolls inside its main container, so grow the
    viewport to the content's height first."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    ARTIFACTS.mkdir(exist_ok=True)
    size = page.viewport_size
    try:
        for grown in (False, True):  # drawn before its height is read, and again at that height
            if grown:
                height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
                page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(height, 6000))})
            with contextlib.suppress(PlaywrightTimeout):  # a page that never settles is still worth a picture
                drawn(page, timeout=10_000)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    finally:
        page.set_viewport_size(size)


def no_exception(page) -> None:
    boxes = page.locator("[data-testid='stException']")
    assert boxes.count() == 0, boxes.first.inner_text()


def run_finished(page, timeout=90_000):
    """Wait until the script run under way has finished (the app root says so), and check nothing
    raised. Quicker than settle(), for when the run is known to have started: something it
    draws is already on the page."""
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", state="attached",
                           timeout=timeout)
    no_exception(page)


def settle(page, timeout=90_000, started=False):
    """Wait until Streamlit has finished running the script (its status widget gone, which a phone's
    layout may not show, and the app's own marker), and check nothing raised. `started`: the run is
    known to have begun (something it draws shows), so no pause for it to begin."""
    if not started:
        page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
                           " && document.querySelector('[data-testid=stApp][data-test-script-state=notRunning]')",
                           timeout=timeout)
    page.wait_for_timeout(300)
    no_exception(page)


def open_page(page, url, path, heading):
    page.goto(f"{url}/{path}")
    expect(page.get_by_role("heading", name=heading).first).to_be_visible(timeout=120_000)
    settle(page, started=True)  # the heading is the run's own



def map_point(page, index: int) -> tuple[float, float]:
    """Where the latent map draws the point of the map's image `index`, in the window."""
    return tuple(page.evaluate(MAP_POINT, index))


def map_shown(page, label: int | None = None) -> list[int]:
    """The indices of the points the latent map draws (of one class if `label` is given), in its order."""
    return page.evaluate(f"""c => {{ const ui = {MAP_UI};
        return Array.from(ui.points.order).filter(i => c === null || ui.points.labels[i] === c); }}""", label)


def map_coordinates(page, x: float, y: float) -> tuple[float, float]:
    """The map coordinates under the window position (x, y)."""
    return tuple(page.evaluate(f"""([x, y]) => {{
        const ui = {MAP_UI}, r = ui.stage.getBoundingClientRect(), v = ui.view;
        return [v.cx + (x - r.left - r.width / 2) / v.k, v.cy - (y - r.top - r.height / 2) / v.k]; }}""", [x, y]))


def map_picks(page) -> list[int]:
    """The points the latent map shows as picked, in picking order."""
    picks = page.get_by_test_id("map-points").get_attribute("data-picks")
    return [int(i) for i in picks.split(",")] if picks else []


def map_drawn(page) -> None:
    """Until the latent map's points are on its canvas."""
    page.locator(MAP_DRAWN).wait_for(timeout=60_000)
