"""Many sessions at once: N browser sessions (Playwright contexts in one headless Chromium) use
the app together against one server, and nothing may break.

  1. One server with a private checkpoints folder (a copy of checkpoints/default) and a
     2,000-image training set, in a temporary folder.
  2. Baseline: a single session times --baseline slider releases on /sliders
     (browser.release_round_trip, which bench/interaction.py uses too: mouseup to the updated page,
     and mouseup to the server's rerun back), and uploads each test digit once to record what
     /reconstruct shows for it.
  3. Load: N sessions open /train at once, fill the form, and all press "Start training" at the
     same moment: exactly one training process may start, the others must be told a run is in
     progress. Then, for --seconds, each session loops through the app by its sidebar: three
     drag-and-release round trips on the /sliders latent pad, one click on a point of the /map
     page, one digit upload on /reconstruct.

Recorded: Streamlit exception boxes, images still broken once a page has settled, page errors,
console errors, tracebacks in the server log; a session seeing another's state (a map heading not
naming the point it clicked, an upload's neighbours not those of its digit; the sliders page shows
nothing the server computes from z since issue #4); the releases' times; what became of every
action's rerun (Streamlit 1.67 sometimes drops one: StreamlitDropped); training processes (sampled
from /proc every 0.25 s) and run folders; the server's resident memory every second, and after a
full garbage collection at the start, middle and end of the load; the CPU time of the server,
Chromium, the training job and everything else on the machine during the load.

    python bench/many_sessions.py [--sessions 10] [--seconds 60] [--baseline 20] [--quick]
"""
from __future__ import annotations

import argparse
import asyncio
import gzip
import io
import os
import re
import shutil
import signal
import struct
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import common  # noqa: F401  (puts the project root on sys.path)
from browser import (PAD_SLIDERS, ROOT, ROUND_TRIP_HOOK, Release, chromium_async, release_round_trip, rerun_fate,
                     streamlit_process, wait_idle_async, websocket_trace)
from common import machine, median, percentile, table

VIEWPORT = {"width": 1400, "height": 1000}
UPLOAD_DIGITS = 4  # test images 0..3 (a 7, a 2, a 1 and a 0); each session cycles through them
TITLES = {"sliders": "Latent sliders", "map": "Latent map", "reconstruct": "Reconstruct", "train": "Train"}
NEIGHBOURS = re.compile(r"#\d+ \(\w+\)(?:, #\d+ \(\w+\)){9}")  # the 10 nearest test digits' caption


# -- the app's folder ---------------------------------------------------------------------------

def _write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(struct.pack(">I", n) for n in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def private_app(tmp: Path) -> tuple[dict, Path]:
    """A checkpoints folder holding a copy of the bundled model, and a 2,000-image 'training set'
    (the first test images, as tests/test_browser.py builds it): the server's env and the folder."""
    from vae.data import load_split

    checkpoints = tmp / "checkpoints"
    shutil.copytree(ROOT / "checkpoints" / "default", checkpoints / "default")
    raw = tmp / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    test = load_split("mnist", "test")
    _write_idx(raw / "train-images-idx3-ubyte.gz", test.images[:2000].numpy())
    _write_idx(raw / "train-labels-idx1-ubyte.gz", test.labels[:2000].numpy())
    # SIGUSR1 makes the server run a full garbage collection and return freed memory to the system
    # (collect_garbage), so that its memory can be read without the garbage that piles up between
    # the interpreter's own collections or the allocator's free lists.
    hooks = tmp / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(
        "import ctypes, gc, signal\n"
        "def _collect(signum, frame):\n"
        "    gc.collect()\n"
        "    ctypes.CDLL('libc.so.6').malloc_trim(0)  # hand freed pages back, so RSS shows what is live\n"
        "signal.signal(signal.SIGUSR1, _collect)\n")
    path = os.pathsep.join(p for p in (str(hooks), os.environ.get("PYTHONPATH", "")) if p)
    return {"VAE_CHECKPOINTS_DIR": str(checkpoints), "VAE_DATA_DIR": str(tmp / "data"), "PYTHONPATH": path}, checkpoints


async def collect_garbage(pid: int) -> float:
    """Make the server (started with private_app's env) run gc.collect() and malloc_trim(0); its
    anonymous resident memory afterwards (MB): the memory it actually holds."""
    os.kill(pid, signal.SIGUSR1)
    await asyncio.sleep(2.0)  # the handler runs on the main thread at its next bytecode; ~0.3 s of work
    return rss_mb(pid)[1]


def digit_pngs(count: int) -> list[bytes]:
    """Test digits as a user would draw them: dark ink on white, four times bigger, off-centre."""
    from PIL import Image

    from vae.data import load_split

    images = load_split("mnist", "test").images[:count].numpy()
    pngs = []
    for digit in images:
        canvas = np.full((200, 160), 255, np.uint8)
        canvas[30:142, 20:132] = 255 - np.kron(digit, np.ones((4, 4), np.uint8))
        buf = io.BytesIO()
        Image.fromarray(canvas).save(buf, format="PNG")
        pngs.append(buf.getvalue())
    return pngs


# -- what is sampled from /proc -----------------------------------------------------------------

def rss_mb(pid: int) -> tuple[float, float] | None:
    """Resident memory of a process, all of it and its anonymous part (MB). The anonymous part is
    the heap, where a leak shows; the rest is mapped files (torch's libraries and the like), which
    the kernel can drop and read back under memory pressure."""
    try:
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["RssAnon"].split()[0]) / 1024
    except (OSError, KeyError, ValueError):
        return None


def training_pids(checkpoints: Path) -> set[int]:
    """Processes running `python -m vae train --out <checkpoints>/...`."""
    found = set()
    marker = str(checkpoints).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"vae" in args and b"train" in args and any(a.startswith(marker) for a in args):
            found.add(int(entry.name))
    return found


TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int | str) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / TICK if fields else 0.0


def descendants(root: int) -> set[int]:
    parent = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(entry.name)):
            parent[int(entry.name)] = int(fields[1])
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, pp in parent.items() if pp in frontier} - found
        found |= frontier
    return found


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / TICK  # less idle and iowait


class Sampler(threading.Thread):
    """The server's RSS every second and the training processes every 0.25 s, in the background."""

    def __init__(self, server_pid: int, checkpoints: Path, nice_browser: bool = False):
        super().__init__(daemon=True)
        self.server_pid, self.checkpoints, self.nice_browser = server_pid, checkpoints, nice_browser
        self.rss: list[tuple[float, float, float]] = []  # (perf_counter, RSS MB, anonymous RSS MB)
        self.training: dict[int, list[float]] = {}  # pid -> [first seen, last seen]
        self.training_cpu: dict[int, float] = {}  # pid -> CPU seconds when last seen
        self._halt = threading.Event()

    def run(self) -> None:
        tick = 0
        while not self._halt.is_set():
            now = time.perf_counter()
            for pid in training_pids(self.checkpoints):
                self.training.setdefault(pid, [now, now])[1] = now
                self.training_cpu[pid] = max(self.training_cpu.get(pid, 0.0), cpu_seconds(pid))
            if tick % 4 == 0 and (mb := rss_mb(self.server_pid)) is not None:
                self.rss.append((now, *mb))
            if tick % 4 == 0 and self.nice_browser:
                self.renice_browser()
            tick += 1
            self._halt.wait(0.25)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)

    def renice_browser(self) -> None:
        """Every thread of Playwright's driver and Chromium at nice 19 (nice is per thread on Linux),
        so that the server gets the CPU first, as it would if each browser had its own machine."""
        server = {self.server_pid} | descendants(self.server_pid)
        for pid in descendants(os.getpid()) - server:
            try:
                for task in Path(f"/proc/{pid}/task").iterdir():
                    if os.getpriority(os.PRIO_PROCESS, int(task.name)) < 19:
                        os.setpriority(os.PRIO_PROCESS, int(task.name), 19)
            except OSError:
                pass

    def cpu_snapshot(self) -> dict:
        """CPU seconds so far: the server, this benchmark's own processes (Playwright's driver and
        Chromium), the training job, and the whole machine."""
        mine = descendants(os.getpid()) - {self.server_pid} - descendants(self.server_pid)
        return {"server": cpu_seconds(self.server_pid), "browser": {pid: cpu_seconds(pid) for pid in mine},
                "training": sum(self.training_cpu.values()), "machine": machine_busy_seconds(),
                "self": time.process_time(), "at": time.perf_counter()}

    def rss_between(self, t0: float, t1: float, anonymous: bool = False) -> list[float]:
        return [sample[2 if anonymous else 1] for sample in self.rss if t0 <= sample[0] <= t1]

    def training_during(self, t: float) -> bool:
        return any(first - 0.25 <= t <= last + 0.25 for first, last in self.training.values())


class StreamlitDropped(RuntimeError):
    """An action's result never showed because Streamlit dropped its rerun's messages (or their end):
    browser.rerun_fate saw the request go and three later runs end, or a later run begin before its
    end. A race inside Streamlit, not the app's: counted and reported, not an error."""


async def raise_if_dropped(page, since: float, what: str) -> None:
    fate = await rerun_fate(page, since)
    if fate in ("dropped", "lost-end"):
        raise StreamlitDropped(f"{what}: Streamlit dropped {'the end of ' if fate == 'lost-end' else ''}its rerun "
                               f"(websocket: {await websocket_trace(page, since)})")


# -- one browser session --------------------------------------------------------------------------

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
            await page.wait_for_function(
                "() => { const gd = document.querySelector('.js-plotly-plot'); return gd && gd._fullData "
                "&& gd._fullData.length >= 10 && gd.querySelector('.nsewdrag'); }", timeout=120_000)
        elif view == "reconstruct":
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
            t = time.perf_counter()
            self.trips.append((t, await release_round_trip(page, slider, 0.55 + 0.4 * j / 97)))
            self.done["slider release"] += 1
            await wait_idle_async(page)

    async def map_click(self, url: str, k: int) -> None:
        await self.go(url, "map")
        page = self.page
        clicked = None
        since = await page.evaluate("() => performance.now()")
        for attempt in range(4):  # the pointer can land between points: try another one
            trace, point = (self.index + k + attempt) % 10, self.index * 101 + k * 37 + attempt * 13
            x, y = await page.evaluate("""([c, k]) => {
                const gd = document.querySelector('.js-plotly-plot');
                if (!gd.__manySessions) { gd.__manySessions = true;
                    gd.on('plotly_click', d => { window.__clicked = d.points[0].customdata; }); }
                window.__clicked = null;
                const t = gd._fullData[c], xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
                const i = k % t.x.length, r = gd.querySelector('.nsewdrag').getBoundingClientRect();
                return [r.left + xa.l2p(t.x[i]), r.top + ya.l2p(t.y[i])];
            }""", [trace, point])
            await page.mouse.move(x, y)
            await page.wait_for_timeout(300)  # plotly picks the point under the cursor on hover
            await page.mouse.click(x, y)
            try:
                await page.wait_for_function("() => window.__clicked !== null", timeout=3000)
            except Exception:
                continue
            clicked = await page.evaluate("() => window.__clicked")
            break
        if clicked is None:
            raise AssertionError("four clicks on the map selected no point")
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
            field_ = self.page.get_by_role("spinbutton", name=label)
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


# -- the whole run ------------------------------------------------------------------------------

@dataclass
class Result:
    sessions: list[Session]
    baseline: list[Release]  # the single session's releases
    loaded: list[tuple[float, Release]]  # (perf_counter, release) from every session under load
    training_processes: dict[int, list[float]]
    run_folders: list[str]
    rss: dict  # MB: start, peak, end, mid, growth_second_half; the same of the anonymous part as anon_*
    server_tracebacks: list[str]  # tracebacks through the project's own files
    other_tracebacks: int  # tracebacks elsewhere (the websocket layer when a tab closes)
    seconds: float
    load_seconds: float
    trips_during_training: list[Release]
    cores: dict  # CPU cores busy on average during the load: server, browser, training, bench, others
    loop_seconds: float  # how long the sessions looped; the last actions end after it (load_seconds)
    rss_series: list[tuple[float, float, float]]  # (seconds from the start of the load, RSS, anonymous)
    load_started: float  # perf_counter at the start of the load
    live_heap: dict  # the server's heap just after a full collection (MB): start, mid, end, growth_second_half

    @property
    def errors(self) -> list[str]:
        out = [f"session {s.index}: {e}" for s in self.sessions for e in s.errors]
        out += [f"session {s.index}: page error: {e}" for s in self.sessions for e in s.page_errors]
        out += [f"session {s.index}: console error: {e}" for s in self.sessions for e in s.console_errors]
        return out + [f"server: {t}" for t in self.server_tracebacks]

    def p(self, values: list[float], q: float) -> float:
        return percentile(values, q)


async def _drive(url: str, sessions: int, seconds: float, baseline_releases: int, sampler: Sampler) -> tuple:
    live = {}  # the server's heap after a full collection (MB): start, mid, end of the load
    pngs = digit_pngs(UPLOAD_DIGITS)
    async with chromium_async() as browser:
        # Baseline: one session alone; its uploads also record what each digit's neighbours are.
        context = await browser.new_context(viewport=VIEWPORT)
        solo = Session(-1)
        await solo.attach(await context.new_page(), url)
        await solo.go(url, "sliders")
        slider = solo.page.locator(PAD_SLIDERS).nth(1)
        baseline = []
        for i in range(baseline_releases):
            baseline.append(await release_round_trip(solo.page, slider, 0.55 + 0.4 * ((i * 7919) % 97) / 97))
            await wait_idle_async(solo.page)
        expected = []
        for d, png in enumerate(pngs):  # each on a fresh page, so no earlier digit's caption is there
            solo.lost = True
            await solo.go(url, "reconstruct")
            await solo.page.locator("input[type=file]").set_input_files(
                files=[{"name": f"digit-{d}.png", "mimeType": "image/png", "buffer": png}])
            await solo.page.wait_for_function(f"() => /{NEIGHBOURS.pattern}/.test(document.body.innerText)",
                                              timeout=60_000)
            expected.append(NEIGHBOURS.search(await solo.page.inner_text("body")).group(0))
            await wait_idle_async(solo.page)
        if len(set(expected)) < len(expected):
            raise RuntimeError(f"two test digits have the same neighbours: {expected}")
        await solo.go(url, "map")  # builds nothing (the map ships with the model), but warms it
        await solo.check_no_exception("baseline")
        await context.close()
        if solo.errors or solo.page_errors or solo.console_errors:
            raise RuntimeError(f"the single session failed: {solo.errors + solo.page_errors + solo.console_errors}")

        # Load: N sessions open /train, then all press Start training at once.
        group = [Session(i) for i in range(sessions)]
        contexts = [await browser.new_context(viewport=VIEWPORT) for _ in group]
        for s, c in zip(group, contexts):
            await s.attach(await c.new_page(), url)
        await asyncio.gather(*(s.act("open train", lambda s=s: s.open_train_form(url)) for s in group))
        await asyncio.gather(*(s.act("start training", s.press_start) for s in group if s.done["open train"]))

        async def loop(s: Session, deadline: float) -> None:
            actions = [("slider visit", lambda k: s.sliders(url, k)), ("map click", lambda k: s.map_click(url, k)),
                       ("upload", lambda k: s.upload(url, k, pngs, expected))]
            step = s.index % 3  # sessions start at different pages, as people would
            while time.perf_counter() < deadline:
                name, action = actions[step % 3]
                await s.act(name, lambda: action(step // 3))
                step += 1
            # Past the deadline, an action this session has not done yet gets one try, so that
            # every session has used every page (a 2-core machine may fit only ~3 visits in 60 s).
            for name, action in actions:
                if not s.done[name] and not any(e.startswith(name) for e in s.errors):
                    await s.act(name, lambda: action(step // 3))

        async def collect_midway(at: float) -> None:
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            live["mid"] = await collect_garbage(sampler.server_pid)

        live["start"] = await collect_garbage(sampler.server_pid)
        cpu_start = sampler.cpu_snapshot()
        load_start = cpu_start["at"]
        await asyncio.gather(collect_midway(load_start + seconds / 2), *(loop(s, load_start + seconds) for s in group))
        cpu_end = sampler.cpu_snapshot()
        load_end = cpu_end["at"]
        live["end"] = await collect_garbage(sampler.server_pid)
        await asyncio.gather(*(s.act("sidebar", s.read_sidebar_run) for s in group))
        for c in contexts:
            await c.close()
    return baseline, group, load_start, load_end, (cpu_start, cpu_end), live


def run(sessions: int = 10, seconds: float = 60, baseline_releases: int = 20, keep: Path | None = None,
        nice_browser: bool = False) -> Result:
    """The whole scenario; `keep` (a folder) keeps the server's log there; `nice_browser` runs
    Chromium at the lowest CPU priority."""
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="many-sessions-") as tmp:
        tmp = Path(tmp)
        env, checkpoints = private_app(tmp)
        log = tmp / "streamlit.log"
        with streamlit_process(env, log=log) as (url, _, proc):
            sampler = Sampler(proc.pid, checkpoints, nice_browser)
            sampler.start()
            try:
                baseline, group, load_start, load_end, cpu, live = asyncio.run(
                    _drive(url, sessions, seconds, baseline_releases, sampler))
                time.sleep(1.0)  # one more RSS sample after the last action
            finally:
                sampler.stop()
            # Let a training run still going finish or be stopped before the folder goes.
            for pid in training_pids(checkpoints):
                try:
                    os.kill(pid, 15)
                except OSError:
                    pass
        text = log.read_text(errors="replace")
        if keep:
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(log, keep / "many-sessions-streamlit.log")
        runs = sorted(p.name for p in checkpoints.iterdir() if p.name.startswith("run-"))

    ours, others, block = [], 0, []
    for line in text.splitlines() + [""]:  # split the log into traceback blocks
        if line.startswith("Traceback") or (block and (line.startswith(" ") or line.startswith("\t"))):
            block.append(line)
            continue
        if block:
            block.append(line)
            mine = any(ln.strip().startswith(f'File "{ROOT}/') and "/.venv" not in ln and "site-packages" not in ln
                       for ln in block)
            if mine:
                ours.append("\n".join(block)[-1500:])
            else:
                others += 1
            block = []

    mid = (load_start + load_end) / 2
    rss = {}
    for prefix, anonymous in (("", False), ("anon_", True)):
        def around(t: float) -> float:  # median of the samples within 1.5 s of t
            return median(sampler.rss_between(t - 1.5, t + 1.5, anonymous) or [float("nan")])

        during = sampler.rss_between(load_start, load_end + 1.5, anonymous)
        rss.update({prefix + "start": around(load_start), prefix + "peak": max(during) if during else float("nan"),
                    prefix + "end": around(load_end + 1.0), prefix + "mid": around(mid)})
        rss[prefix + "growth_second_half"] = rss[prefix + "end"] - rss[prefix + "mid"]
    loaded = sorted((trip for s in group for trip in s.trips), key=lambda trip: trip[0])
    start, end = cpu
    wall = end["at"] - start["at"]
    cores = {"server": end["server"] - start["server"],
             "browser": sum(v - start["browser"].get(pid, 0.0) for pid, v in end["browser"].items()),
             "training": end["training"] - start["training"], "bench": end["self"] - start["self"],
             "machine": end["machine"] - start["machine"]}
    cores["others"] = cores["machine"] - sum(v for k, v in cores.items() if k != "machine")
    cores = {k: max(0.0, v) / wall for k, v in cores.items()}
    return Result(group, baseline, loaded, sampler.training, runs, rss, ours, others,
                  time.perf_counter() - began, load_end - load_start,
                  [rel for t, rel in loaded if sampler.training_during(t)], cores, seconds,
                  [(t - load_start, mb, anon) for t, mb, anon in sampler.rss], load_start,
                  {**live, "growth_second_half": live["end"] - live["mid"]})


def report(r: Result) -> str:
    n = len(r.sessions)
    loaded = [rel for _, rel in r.loaded]
    groups = [("single session", r.baseline), (f"{n} sessions at once", loaded)]
    if len(r.trips_during_training) >= 3:
        groups.append((f"{n} sessions, while the training job ran", r.trips_during_training))
    single_p95 = {}
    rows = []
    for measure, attr in (("updated page", "updated_ms"), ("server's rerun back", "rerun_ms"),
                          ("z sent to the server", "sent_ms")):
        for label, releases in groups:
            values = [getattr(rel, attr) for rel in releases if getattr(rel, attr) is not None]
            p95 = percentile(values, 0.95)
            if label == "single session":
                single_p95[attr], ratio = p95, "-"
            else:
                ratio = f"{p95 / single_p95[attr]:.2f}x" if values and single_p95.get(attr) else "-"
            rows.append([f"to {measure}: {label}", len(values), percentile(values, 0.5), p95, ratio])
    trips = table(["mouseup (browser.release_round_trip)", "releases", "p50 (ms)", "p95 (ms)",
                   "p95 vs single (target <= 2x)"], rows)
    fates = Counter(rel.rerun_fate for rel in loaded)
    single_fates = Counter(rel.rerun_fate for rel in r.baseline)

    def spread(name: str) -> str:
        counts = [s.done[name] for s in r.sessions]
        took = [t for s in r.sessions for t in s.seconds.get(name, [])]
        each = f"; median {median(took):.1f} s each" if took else ""
        return f"{min(counts)} .. {max(counts)} (total {sum(counts)}{each})"

    kinds = Counter()
    for s in r.sessions:
        kinds["exception boxes"] += sum("exception box" in e for e in s.errors)
        kinds["broken images"] += sum("broken image" in e for e in s.errors)
        kinds["other session failures"] += sum("exception box" not in e and "broken image" not in e for e in s.errors)
        kinds["stale media"] += s.stale_media
        kinds["ignored"] += s.ignored_console
        kinds["page errors"] += len(s.page_errors)
        kinds["console errors"] += len(s.console_errors)
    told = Counter(s.training for s in r.sessions)
    runs_seen = {s.sidebar_run for s in r.sessions}
    facts = table(["measure", "value"], [
        ["sessions x seconds of load", f"{n} x {r.loop_seconds:.0f} s (the last action ended at "
                                       f"{r.load_seconds:.0f} s)"],
        ["per session, min .. max: /sliders visits (3 releases each)", spread("slider visit")],
        ["per session: slider releases", spread("slider release")],
        ["per session: map clicks (page opening included)", spread("map click")],
        ["per session: uploads (page opening included)", spread("upload")],
        ["errors: exception boxes / broken images / page errors / console errors / other failures",
         f"{kinds['exception boxes']} / {kinds['broken images']} / {kinds['page errors']} / "
         f"{kinds['console errors']} / {kinds['other session failures']}"],
        ["not errors: 404s for images already superseded / offline font and base-path probes",
         f"{kinds['stale media']} / {kinds['ignored']}"],
        ["reruns Streamlit dropped (not errors): releases, whole / end only: single; under load",
         f"{single_fates['dropped']} / {single_fates['lost-end']}; {fates['dropped']} / {fates['lost-end']}"],
        ["reruns Streamlit dropped (not errors), under load: map clicks / uploads / Start training",
         " / ".join(str(sum(s.dropped[a] for s in r.sessions)) for a in ("map click", "upload", "start training"))],
        ["server tracebacks through the project's code (other tracebacks)",
         f"{len(r.server_tracebacks)} ({r.other_tracebacks})"],
        ["Start training pressed at once: started / told a run is in progress / answer dropped",
         f"{told['started']} / {told['busy']} / {sum(s.dropped['start training'] for s in r.sessions)} (of {n})"],
        ["training processes seen / run folders / runs named in the sidebars",
         f"{len(r.training_processes)} / {len(r.run_folders)} / {len(runs_seen - {''})}"],
        ["training job ran for", " ".join(f"{last - first:.1f} s" for first, last in r.training_processes.values())
         or "-"],
        ["server RSS (MB): load start / peak / end; growth over the second half",
         f"{r.rss['start']:.0f} / {r.rss['peak']:.0f} / {r.rss['end']:.0f}; {r.rss['growth_second_half']:+.1f}"],
        ["of which anonymous (the heap), same figures",
         f"{r.rss['anon_start']:.0f} / {r.rss['anon_peak']:.0f} / {r.rss['anon_end']:.0f}; "
         f"{r.rss['anon_growth_second_half']:+.1f}"],
        ["heap just after a full collection (MB): load start / middle / end; growth over the second half",
         f"{r.live_heap['start']:.0f} / {r.live_heap['mid']:.0f} / {r.live_heap['end']:.0f}; "
         f"{r.live_heap['growth_second_half']:+.1f}"],
        ["CPU cores used during the load: server / Chromium / training / bench / rest of machine",
         " / ".join(f"{r.cores[k]:.2f}" for k in
                                                      ("server", "browser", "training", "bench", "others"))],
        ["whole run, wall clock", f"{r.seconds:.0f} s"],
    ])
    return trips + "\n\n" + facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--baseline", type=int, default=20, help="single-session release round trips")
    parser.add_argument("--keep-log", type=Path, help="copy the server's log and the RSS samples into this folder")
    parser.add_argument("--nice-browser", action="store_true",
                        help="run Chromium at nice 19, so the server gets the CPU first (as if each browser had "
                             "its own machine)")
    parser.add_argument("--quick", action="store_true", help="3 sessions for 10 s, 5 baseline releases")
    args = parser.parse_args()
    if args.quick:
        args.sessions, args.seconds, args.baseline = 3, 10, 5
    r = run(args.sessions, args.seconds, args.baseline, keep=args.keep_log, nice_browser=args.nice_browser)
    if args.keep_log:
        (args.keep_log / "many-sessions-rss.csv").write_text(
            "seconds_from_load_start,rss_mb,anonymous_mb\n"
            + "".join(f"{t:.2f},{mb:.1f},{anon:.1f}\n" for t, mb, anon in r.rss_series))
        (args.keep_log / "many-sessions-releases.csv").write_text(
            "seconds_from_load_start,updated_ms,sent_ms,rerun_ms,rerun_fate\n"
            + "".join(f"{t - r.load_started:.2f},{rel.updated_ms},{rel.sent_ms},{rel.rerun_ms},{rel.rerun_fate}\n"
                      for t, rel in r.loaded)
            + "".join(f"single,{rel.updated_ms},{rel.sent_ms},{rel.rerun_ms},{rel.rerun_fate}\n" for rel in r.baseline))
    print(f"machine: {machine()}\nbrowser: one headless Chromium, {args.sessions} Playwright contexts "
          f"(async API){', at nice 19' if args.nice_browser else ''}; server with a private checkpoints folder "
          f"and a 2,000-image training set\n")
    print(report(r))
    errors = r.errors
    if errors:
        print(f"\n{len(errors)} error(s), the first 20:")
        for e in errors[:20]:
            print("  " + e.replace("\n", "\n    "))


if __name__ == "__main__":
    main()
