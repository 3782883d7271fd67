"""Every page on every screen, in Chromium: a desktop in the light theme and a phone (400x800,
touch, a mobile browser context) in both themes. Nothing wider than the screen, no request leaves
this machine, the theme is the one asked for; screenshots go to test-artifacts/<screen>-<page>.png.
On a phone, the sliders take the width and a touch drag redraws the digit before the finger lifts,
a tap on the map opens the tapped digit, and the interpolation's steps wrap. The touch tests run in
the dark theme only: what they check (taps, drags, layout) does not depend on the theme, and every
page is seen in both.
"""
import re

import pytest

from bench.browser import MAP_PIXELS
from tests.browser_support import (
    PAGES,
    PHONE,
    SCREENS,
    WIDER_THAN_SCREEN,
    drawn,
    expect,
    fresh_page_for,
    map_drawn,
    open_page,
    require_browser,
    settle,
    snap,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
require_browser()


@pytest.fixture(params=["dark"])
def phone(browser, server, request):
    """A fresh page in a mobile context with the browser's color scheme, for the touch tests;
    yields (page, scheme)."""
    with fresh_page_for(browser, request, f"phone-{request.param}") as page:
        yield page, request.param


def luminance(css_color: str) -> float:
    r, g, b = (float(v) for v in css_color[css_color.index("(") + 1:].rstrip(")").split(",")[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize("path,heading", PAGES)
def test_every_page_fits_every_screen_in_its_theme(server, on_screen, screen, path, heading):
    url, _ = server
    page, outside = on_screen
    open_page(page, url, path, heading)
    drawn(page)  # components and charts draw after the script run
    overflow = page.evaluate(WIDER_THAN_SCREEN)
    assert not overflow, f"wider than the screen: {overflow}"
    assert page.evaluate("() => { const m = document.querySelector('[data-testid=stMain]');"
                         " return m.scrollWidth <= m.clientWidth + 1; }"), "the page scrolls sideways"
    background = page.evaluate("() => getComputedStyle(document.querySelector('[data-testid=stApp]')).backgroundColor")
    assert (luminance(background) < 0.2) == screen.endswith("dark"), background
    snap(page, f"{screen}-{path or 'map'}")
    assert not outside, f"requests that left the machine: {outside}"


def test_the_sliders_take_the_width_and_a_touch_drag_redraws_the_digit(server, phone):
    url, _ = server
    page, _ = phone
    open_page(page, url, "sliders", "Latent sliders")
    page.wait_for_function("() => window.__latentPadProbe.decode", timeout=30_000)
    sliders = page.locator(".latent-pad-root .row input[type=range]")
    canvas = page.get_by_test_id("latent-pad-canvas")
    first = sliders.first.bounding_box()
    assert first["width"] >= 200, first  # not the 8 px of a squeezed column
    labels = page.locator(".latent-pad-root .row .name")
    assert labels.first.evaluate("e => e.scrollWidth <= e.clientWidth"), "the dimension's label is cut"
    assert canvas.bounding_box()["y"] + canvas.bounding_box()["height"] <= first["y"]  # the digit above them
    before = canvas.evaluate("c => c.toDataURL()")
    slider = sliders.nth(1)
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for i in range(1, 11):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove",
                                              "touchPoints": [{"x": x + box["width"] * 0.035 * i, "y": y}]})
    moved = slider.input_value()
    during = canvas.evaluate("c => c.toDataURL()")
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    assert float(moved) > 0.5 and during != before  # redrawn while the finger is still down
    settle(page)
    expect(page).to_have_url(re.compile(r"[?&]z="))  # the released z went into the link


# The window position of the map's point of image `index`, and the shown points drawn within 2 px of
# it (one of which a tap there may pick).
TAPPED = f"""(index) => {{
    const {{rect: r, points}} = {MAP_PIXELS}, [, x, y] = points.find(p => p[0] === index);
    return [r.left + x, r.top + y, points.filter(p => Math.hypot(p[1] - x, p[2] - y) <= 2).map(p => p[0])];
}}"""


# A window position on the map whose nearest point is 22 to 28 px away.
NEAR_MISS = f"""() => {{
    const {{rect: r, points}} = {MAP_PIXELS};
    for (let py = 30; py < r.height - 30; py += 4) for (let px = 30; px < r.width - 30; px += 4) {{
        let near = Infinity;
        for (const [, x, y] of points) near = Math.min(near, Math.hypot(x - px, y - py));
        if (near > 22 && near < 28) return [r.left + px, r.top + py];
    }}
    return null;
}}"""


def test_a_tap_on_the_map_opens_the_tapped_digit_and_its_tools_cover_nothing(server, phone):
    """Issue #20: each tap opened the digit of the tap before (plotly selected from its last hover,
    which a finger never makes), and plotly's toolbar covered the charts' titles on a phone. The map's
    own tools sit above it, in a row of their own."""
    url, _ = server
    page, _ = phone
    open_page(page, url, "", "Latent map")
    map_drawn(page)
    stage = page.get_by_test_id("map-stage")
    assert stage.bounding_box()["y"] < PHONE["height"] / 2  # the map first, its settings folded above it
    stage.scroll_into_view_if_needed()
    tools = page.get_by_role("button", name="Zoom in").bounding_box()
    assert tools["y"] + tools["height"] <= stage.bounding_box()["y"] + 1
    assert page.get_by_role("button", name="PNG", exact=True).bounding_box()["x"] + 10 <= PHONE["width"]
    for index in (0, 3, 100, 500):
        x, y, near = page.evaluate(TAPPED, index)
        page.touchscreen.tap(x, y)
        either = "|".join(str(i) for i in sorted(near))
        expect(page.get_by_role("heading", name=re.compile(rf"^#({either}): a "))).to_be_visible(timeout=60_000)
        settle(page)
        stage.scroll_into_view_if_needed()
    # A finger that lands just beside a point (22 to 28 px from the nearest) picks nothing and opens nothing.
    x, y = page.evaluate(NEAR_MISS)
    page.touchscreen.tap(x, y)
    page.wait_for_timeout(800)
    expect(page.get_by_role("heading", name="Latent map")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile(r"^#(500|" + either + r"): a "))).to_be_visible()


def test_interpolation_steps_wrap_on_a_phone_with_readable_captions(server, phone):
    """Issue #20: all ten steps sat in one row on a phone, their labels about 4 px tall."""
    url, _ = server
    page, _ = phone
    open_page(page, url, "interpolate", "Interpolation")
    captions = """[...document.querySelectorAll('[data-testid=stImageCaption]')]
        .filter(c => /%$/.test(c.textContent.trim()))"""
    # a run may still be drawing the strip when the status widget first clears (CI saw none once)
    page.wait_for_function(f"() => {captions}.length === 10", timeout=30_000)
    steps = page.evaluate("() => " + captions + """
        .map(c => ({top: Math.round(c.getBoundingClientRect().top), size: parseFloat(getComputedStyle(c).fontSize),
                    right: c.closest('[data-testid=stImage], div').getBoundingClientRect().right}))""")
    assert len(steps) == 10, steps
    assert len({s["top"] for s in steps}) >= 2  # wrapped into rows
    assert min(s["size"] for s in steps) >= 11 and max(s["right"] for s in steps) <= 400
