"""One simulated user of the app for bench/many_sessions.py: a Playwright page that moves through
the app by its sidebar (sliders, map, upload, Train) and records what it saw: the release round
trips, errors of every kind, and whether each result was its own.
"""
from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field

from bench.browser import (
    MAP_DRAWN,
    MAP_POINT,
    MAP_UI,
    PAD_SLIDERS,
    ROUND_TRIP_HOOK,
    Release,
    release_round_trip,
    rerun_fate,
    wait_idle_async,
    websocket_trace,
)
from bench.drawn import drawn_png

VIEWPORT = {"width": 1400, "height": 1000}
UPLOAD_DIGITS = 4  # test images 0..3 (a 7, a 2, a 1 and a 0); each session cycles through them
TITLES = {"sliders": "Latent sliders", "map": "Latent map", "reconstruct": "Reconstruct", "train": "Train"}
NEIGHBOURS = re.compile(r"#\d+ \(\w+\)(?:, #\d+ \(\w+\)){9}")  # the 10 nearest test digits' caption


def digit_pngs(count: int) -> list[bytes]:
    """The first `count` test digits as a user would draw them (bench.drawn)."""
    from vae.data import load_split

    return [drawn_png(digit) for digit in load_split("mnist", "test").images[:count].numpy()]


class StreamlitDropped(RuntimeError):
    """An action's result never showed because Streamlit dropped its rerun's messages (or their end):
    browser.rerun_fate saw the request go and three later runs end, or a later run begin before its
    end. A race inside Streamlit, not the app's: counted and reported, not an error."""


async def raise_if_dropped(page, since: float, what: str) -> None:
    fate = await rerun_fate(page, since)
    if fate in ("dropped", "lost-end"):
        raise StreamlitDropped(f"{what}: Streamlit dropped {'the end of ' if fate == 'lost-end' else ''}its rerun "
                               f"(websocket: {await websocket_trace(page, since)})")


@dataclass
class Session:
    index: int
    page: object = None
    done: Counter = field(default_factory=Counter)  # action -> how many completed
    seconds: dict = field(default_factory=dict)  # action -> seconds each took, page opening included
    trips: list[tuple[float, Release]] = field(default_factory=list)  # (perf_counter at the release, its times)
    dropped: Counter = field(default_factory=Counter)  # action -> reruns Streamlit dropped (see StreamlitDropped)
    errors: list[str] = field(default_factory=list)  # exception boxes, page errors, mismatches, timeouts
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    training: str = ""  # "started" or "busy": what pressing Start training told this session
    sidebar_run: str = ""  # the run its sidebar names at the end
    ignored_console: int = 0  # "Failed to load resource" lines that say nothing about the app (see below)
    stale_media: int = 0  # 404s for images a later rerun had already replaced (see below)
    lost: bool = False  # an action failed: reload the next page instead of using the sidebar
    think: float = 0.0  # mean seconds this user looks at a result before the next action (0: none)

    async def pause(self) -> None:
        """Look at the page for 0.5 to 1.5 times `think` seconds (the same for a session on each run)."""
        if self.think:
            if not hasattr(self, "_rng"):
                self._rng = random.Random(self.index)  # noqa: S311 (think times, not secrets)
            await asyncio.sleep(self._rng.uniform(0.5, 1.5) * self.think)

    async def attach(self, page, url: str) -> None:
        await page.add_init_script(ROUND_TRIP_HOOK)
        self.page = page
        page.on("pageerror", lambda e: self.page_errors.append(str(e)[:300]))
        page.on("console", lambda m: self._console(m, url))

    def _console(self, message, url: str) -> None:
        if message.type != "error":
            return
        where = (message.location or {}).get("url", "")
        # Two kinds of "Failed to load resource" are not the app's: Streamlit's frontend, opened at a
        # deep link (/sliders), first probes <link>/_stcore/health and /host-config to find its base
        # path (404s, then it falls back to /); and the page icon's SVG comes from fonts.gstatic.com,
        # which this offline machine cannot resolve. Anything else is an error.
        if message.text.startswith("Failed to load resource") and (
                not where.startswith(url) or re.search(r"/_stcore/(health|host-config)$", where)):
            self.ignored_console += 1
            return
        # Streamlit deletes a media file as soon as a rerun replaces it (or the session moves to
        # another page). A browser slow to fetch an image can ask for it after that: a 404 for an
        # image already superseded, which the user never sees (Streamlit's frontend logs a second
        # line for it, "Client Error: Image source error - <url>"). What the user would see, an image
        # still broken once the page has settled, is checked after every action instead.
        if (("404" in message.text and where.startswith(f"{url}/media/"))
                or re.match(rf"Client Error: Image source error - {re.escape(url)}/media/", message.text)):
            self.stale_media += 1  # the browser's 404, and Streamlit's own line about the same image
            return
        self.console_errors.append(f"{message.text[:300]} ({where})")

    async def check_no_exception(self, where: str) -> None:
        """An exception box, or an image still broken once the page has settled, is an error."""
        boxes = self.page.locator("[data-testid='stException']")
        if await boxes.count():
            self.errors.append(f"{where}: exception box: {(await boxes.first.inner_text())[:300]!r}")
        broken = await self.page.evaluate("""() => Array.from(document.querySelectorAll('[data-testid=stMain] img'))
            .filter(i => i.src && i.complete && i.naturalWidth === 0).map(i => i.src)""")
        if broken:
            self.errors.append(f"{where}: broken image(s) on the settled page: {broken[:3]}")

    async def go(self, url: str, view: str) -> None:
        """Open a page by the sidebar (one Streamlit session throughout), or by URL after a failure."""
        page, title = self.page, TITLES[view]
        if self.lost or page.url == "about:blank":
            await page.goto(f"{url}/{'' if view == 'map' else view}")
            self.lost = False
        else:
            await page.locator("[data-testid='stSidebarNav']").get_by_role("link", name=title, exact=True).click()
        await page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=120_000)
        if view == "sliders":  # the pad is a component in a shadow root: only locators reach it
            await page.locator(PAD_SLIDERS).first.wait_for(timeout=120_000)
        elif view == "map":
            await page.locator(MAP_DRAWN).wait_for(timeout=120_000)
        elif view == "reconstruct":  # the page opens on drawing: the benchmarks upload
            await page.locator("[data-testid=stButtonGroup]").get_by_text("Upload", exact=True).click()
            await page.locator("input[type=file]").wait_for(state="attached", timeout=120_000)
        else:
            await page.get_by_role("button", name="Start training").wait_for(timeout=120_000)
        await wait_idle_async(page)

    async def act(self, name: str, action) -> bool:
        t0 = time.perf_counter()
        try:
            await action()
            await self.check_no_exception(name)
            self.done[name] += 1
            self.seconds.setdefault(name, []).append(time.perf_counter() - t0)
            return True
        except StreamlitDropped:
            self.dropped[name] += 1
            self.lost = True
            return False
        except Exception as e:  # a timeout or a mismatch: record it and carry on from a fresh page
            self.errors.append(f"{name}: {type(e).__name__}: {str(e).splitlines()[0][:900]}")
            self.lost = True
            return False

    async def sliders(self, url: str, k: int, releases: int = 3) -> None:
        await self.go(url, "sliders")
        page = self.page
        slider = page.locator(PAD_SLIDERS).nth(1)  # its strip changes with it (browser.PAD_SLIDERS)
        for r in range(releases):
            # Right of the middle, a different place every time.
            j = (self.index * 31 + (k * releases + r) * 7919) % 97
            await self.pause()
            t = time.perf_counter()
            self.trips.append((t, await release_round_trip(page, slider, 0.55 + 0.4 * j / 97)))
            self.done["slider release"] += 1
            await wait_idle_async(page)

    async def map_click(self, url: str, k: int) -> None:
        await self.go(url, "map")
        page = self.page
        since = await page.evaluate("() => performance.now()")
        await page.get_by_test_id("map-stage").scroll_into_view_if_needed()
        shown = await page.evaluate(f"() => Array.from({MAP_UI}.points.order)")
        x, y = await page.evaluate(MAP_POINT, shown[(self.index * 101 + k * 37) % len(shown)])
        before = await page.get_by_test_id("map-points").get_attribute("data-picks")
        await page.mouse.click(x, y)
        for _ in range(60):  # the picked point (the one under the pointer: another may be drawn there too)
            picks = await page.get_by_test_id("map-points").get_attribute("data-picks")
            if picks and picks != before:
                break
            await page.wait_for_timeout(50)
        else:
            raise AssertionError("a click on a point of the map picked nothing")
        clicked = int(picks.split(",")[-1])
        # The digit shown must be the one this session clicked.
        heading = page.get_by_role("heading", name=re.compile(rf"^#{clicked}: a "))
        try:
            await heading.first.wait_for(timeout=60_000)
        except Exception:
            await raise_if_dropped(page, since, f"clicked #{clicked}")
            shown = re.findall(r"#\d+: a \w+", await page.inner_text("body"))
            raise AssertionError(f"clicked #{clicked}, the page shows {shown[:1] or 'no digit'} "
                                 f"(websocket: {await websocket_trace(page, since)})") from None
        await wait_idle_async(page)

    async def upload(self, url: str, k: int, pngs: list[bytes], expected: list[str]) -> None:
        await self.go(url, "reconstruct")
        page, d = self.page, (self.index + k) % len(pngs)
        since = await page.evaluate("() => performance.now()")
        await page.locator("input[type=file]").set_input_files(
            files=[{"name": f"digit-{d}.png", "mimeType": "image/png", "buffer": pngs[d]}])
        # The neighbours shown must be those of this session's digit, as the single session saw them.
        try:
            await page.wait_for_function("want => document.body.innerText.includes(want)", arg=expected[d],
                                         timeout=60_000)
        except Exception:
            await raise_if_dropped(page, since, f"uploaded digit {d}")
            shown = NEIGHBOURS.findall(await page.inner_text("body"))
            trace = await websocket_trace(page, since)
            raise AssertionError(f"uploaded digit {d}; expected neighbours {expected[d]!r}, "
                                 f"the page shows {shown[:1] or 'none'} (websocket: {trace})") from None
        await wait_idle_async(page)

    async def open_train_form(self, url: str) -> None:
        await self.go(url, "train")
        for label, value in (("Epochs", "1"), ("Training images (0 = all)", "1000")):
            field_ = self.page.get_by_role("spinbutton", name=label, exact=True)
            await field_.fill(value)
            await field_.press("Tab")

    async def press_start(self) -> None:
        page = self.page
        since = await page.evaluate("() => performance.now()")
        await page.get_by_role("button", name="Start training").click()
        try:
            await page.wait_for_function("() => /Started run-|already in progress/.test(document.body.innerText)",
                                         timeout=60_000)
        except Exception:
            await raise_if_dropped(page, since, "pressed Start training")
            raise AssertionError(f"pressed Start training, no answer (websocket: {await websocket_trace(page, since)})"
                                 ) from None
        text = await page.inner_text("body")
        self.training = "started" if "Started run-" in text else "busy"
        await wait_idle_async(page)

    async def read_sidebar_run(self) -> None:
        await self.page.wait_for_function(
            "() => /run-\\d{8}-\\d{6}/.test(document.querySelector('[data-testid=stSidebar]').innerText)",
            timeout=30_000)
        text = await self.page.locator("[data-testid='stSidebar']").inner_text()
        self.sidebar_run = re.search(r"run-\d{8}-\d{6}", text).group(0)
