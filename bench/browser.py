"""A Streamlit server and a headless Chromium, for the browser benchmarks; and the one
definition of a slider release's round trip that the benchmarks and tests time."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.common import ROOT
from vae.data import file_names, load_split, write_idx

# An init script that asks the latent pad for its per-event timings and its decode/place hooks
# (window.__latentPadProbe; ui/components/latent_pad.js keeps none of it otherwise).
PROBE_PAD = "window.__latentPadProbe = {};"
# A JavaScript expression: the latent pad's host element (a page may hold other components too,
# such as the sketchpad on the sliders page, so the first isolated component is not always the pad).
PAD_HOST = ("[...document.querySelectorAll('[data-testid=stBidiComponentIsolated]')]"
            ".find(host => host.shadowRoot && host.shadowRoot.querySelector('.latent-pad-root'))")
# A JavaScript expression: the latent map's state (ui/components/latent_map.js keeps it on its root
# element, inside the component's shadow root): its points, view and stage.
MAP_UI = """[...document.querySelectorAll('[data-testid=stBidiComponentIsolated]')]
    .map(h => h.shadowRoot && h.shadowRoot.querySelector('.latent-map-root')).find(Boolean).__ui"""
# A JavaScript function: where the latent map draws the point of the map's image i, in the window.
MAP_POINT = f"""i => {{ const ui = {MAP_UI}, r = ui.stage.getBoundingClientRect(), v = ui.view;
    return [r.left + r.width / 2 + (ui.points.xy[2 * i] - v.cx) * v.k,
            r.top + r.height / 2 - (ui.points.xy[2 * i + 1] - v.cy) * v.k]; }}"""
# A JavaScript expression: where the latent map draws each shown point, {rect: its drawing area in the
# window, points: [[index, x, y], ...] in that area's pixels}.
MAP_PIXELS = f"""(() => {{ const ui = {MAP_UI}, r = ui.stage.getBoundingClientRect(), v = ui.view, xy = ui.points.xy;
    return {{rect: r, points: Array.from(ui.points.order, i => [i, r.width / 2 + (xy[2 * i] - v.cx) * v.k,
                                                             r.height / 2 - (xy[2 * i + 1] - v.cy) * v.k])}}; }})()"""
MAP_DRAWN = "canvas.drawn[data-testid=map-points]"  # a locator: the latent map, its points drawn
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-dev-shm-usage"]


def app_folder(tmp: Path, bundled: tuple[str, ...] = ("default",)) -> tuple[dict, Path]:
    """A private checkpoints folder holding copies of bundled models (the default one unless told),
    and a 2,000-image training set (the first test images), under `tmp`: the server's environment
    and the checkpoints folder."""
    checkpoints = tmp / "checkpoints"
    for name in bundled:
        shutil.copytree(ROOT / "checkpoints" / name, checkpoints / name)
    raw = tmp / "data" / "MNIST" / "raw"  # train files only: the test set stays the bundled 10k
    raw.mkdir(parents=True)
    test = load_split("mnist", "test")
    images_name, labels_name = file_names("train")
    write_idx(raw / images_name, test.images[:2000].numpy(), gz=True)
    write_idx(raw / labels_name, test.labels[:2000].numpy(), gz=True)
    return {"VAE_CHECKPOINTS_DIR": str(checkpoints), "VAE_DATA_DIR": str(tmp / "data")}, checkpoints


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_process(env: dict | None = None, log: Path | None = None, root: Path = ROOT):
    """`streamlit run app.py` in `root` (this checkout unless told); yields (url, perf_counter at
    launch, the server's Popen); its output goes to `log` if given."""
    port = free_port()
    started = time.perf_counter()
    out = open(log, "wb") if log else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1"], cwd=root, env={**os.environ, **(env or {})},
                            stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=1)  # noqa: S310 (the local server)
                break
            except OSError:
                if proc.poll() is not None or time.perf_counter() - started > 60:
                    tail = f"; the end of its log:\n{log.read_text(errors='replace')[-3000:]}" if log else ""
                    raise RuntimeError("streamlit did not start" + tail) from None
                time.sleep(0.05)
        yield url, started, proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            out.close()


@contextlib.contextmanager
def streamlit_server(env: dict | None = None):
    """Yields (url, perf_counter at launch)."""
    with streamlit_process(env) as (url, started, _):
        yield url, started


@contextlib.contextmanager
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def wait_idle(page, timeout=120_000) -> None:
    """Until Streamlit has finished running the script."""
    page.wait_for_timeout(100)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout)


@contextlib.asynccontextmanager
async def chromium_async(nice: int = 0):
    """The same Chromium for Playwright's async API: many pages driven at once from one thread.
    `nice` > 0 runs it (all its processes) at that lower CPU priority."""
    from playwright.async_api import async_playwright

    with tempfile.TemporaryDirectory(prefix="chromium-") as tmp:
        executable = "/usr/bin/chromium"
        if nice:
            executable = os.path.join(tmp, "chromium")
            # Playwright starts the browser in a session of its own, and where Linux schedules each
            # session as a group (autogroup) a process's nice only ranks it within its group.
            Path(executable).write_text(f'#!/bin/sh\n(echo {int(nice)} > /proc/self/autogroup) 2>/dev/null\n'
                                        f'exec nice -n {int(nice)} /usr/bin/chromium "$@"\n')
            os.chmod(executable, 0o755)  # noqa: S103 (a script of ours to run, in a temporary folder)
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
            try:
                yield browser
            finally:
                await browser.close()


async def wait_idle_async(page, timeout=120_000) -> None:
    await page.wait_for_timeout(100)
    await page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                                 timeout=timeout)


# A release of a latent-pad slider, timed inside the page with performance.now() (so Playwright's
# own polling is not counted), from the mouseup event to:
#
#   the updated page   Since issue #4 the pad draws everything that follows z in the browser: the
#                      digit, the star on the map and the |z| caption on every input event, and the
#                      traversal strip on the release event itself, which stamps the strip with the
#                      released z (data-z). So: the strip's stamp has changed, and the caption no
#                      longer shows what it showed before the drag.
#   the server's rerun The pad still sends z back, and the sliders fragment reruns; nothing on the
#                      page waits for it, but it is the part of a release that many sessions share.
#                      Read from the page's websocket: the first rerun request sent after the mouseup
#                      that is not an automatic one (the sidebar's two-second status fragment sends
#                      those), then the start of a run of the fragment it names (a new_session
#                      ForwardMsg whose run metadata lists that fragment), then that run's
#                      script_finished. (Streamlit's "running" marker on the page,
#                      data-test-script-state, is no use: a 10 ms fragment run's start and end reach
#                      React in one batch and the marker never changes.)
#
# Streamlit 1.67 sometimes drops a run's messages: when a rerun request reaches a session whose
# ScriptRunner has just finished, it starts a new ScriptRunner and ignores whatever the finished one
# had queued but the event loop had not sent yet (see BENCHMARKS.md, many sessions). The rerun's
# fate says so: 'lost-end' (its run began, then another began before its end arrived; timed to the
# next script_finished, when the page stops showing a run in progress) or 'dropped' (three other
# runs ended and its run never began; not timed). rerun_fate tells the same for any other action.
#
# ROUND_TRIP_HOOK must run in the page before Streamlit opens its websocket:
# `await page.add_init_script(ROUND_TRIP_HOOK)` before the first goto. It logs the rerun requests
# sent and the run starts and ends received, reading the protobufs by hand, by the field numbers
# of PROTOBUF_FIELDS.
#
# The field numbers the hook reads, by (message, field) name: Streamlit 1.67's. tests/test_bench.py
# checks them against the descriptors of the Streamlit installed, so another version fails there.
PROTOBUF_FIELDS = {
    ("ForwardMsg", "metadata"): 2, ("ForwardMsg", "new_session"): 4, ("ForwardMsg", "script_finished"): 6,
    ("ForwardMsgMetadata", "run"): 6, ("RunIdentity", "script_run_id"): 1, ("RunIdentity", "fragment_ids"): 2,
    ("BackMsg", "rerun_script"): 11, ("ClientState", "fragment_id"): 5, ("ClientState", "is_auto_rerun"): 6,
}
_F = {f"{message}.{field}": number for (message, field), number in PROTOBUF_FIELDS.items()}
ROUND_TRIP_HOOK = """(() => {
    const [META, NEW_SESSION, FINISHED, RUN, RUN_ID, FRAGMENTS, RERUN, FRAGMENT, AUTO] = FIELD_NUMBERS;
    const log = window.__rtLog = [];
    const fields = (buffer, wanted) => {  // {field: [values]} of one protobuf message, for the fields wanted
        const b = new Uint8Array(buffer), out = {}; let i = 0;
        const varint = () => { let v = 0, scale = 1, x; do { x = b[i++]; v += (x & 0x7f) * scale; scale *= 128; }
                               while (x & 0x80 && i < b.length); return v; };
        while (i < b.length) {
            const key = varint(), field = Math.floor(key / 8), wire = key & 7;
            let value;
            if (wire === 0) value = varint();
            else if (wire === 2) { const n = varint(); value = b.subarray(i, i + n); i += n; }
            else if (wire === 1) { i += 8; continue; } else if (wire === 5) { i += 4; continue; } else break;
            if (wanted.includes(field)) (out[field] = out[field] || []).push(value);
        }
        return out;
    };
    const text = bytes => new TextDecoder().decode(bytes);
    const note = entry => { log.push(entry); if (window.__rtWake) window.__rtWake(); };
    const received = (t, buffer) => {
        const msg = fields(buffer, [META, NEW_SESSION, FINISHED]);
        if (!msg[NEW_SESSION] && !msg[FINISHED]) return;
        const run = msg[META] ? fields(fields(msg[META][0], [RUN])[RUN]?.[0] || new Uint8Array(), [RUN_ID, FRAGMENTS])
                              : {};
        note([t, msg[NEW_SESSION] ? 'start' : 'finish', run[RUN_ID] ? text(run[RUN_ID][0]) : '',
              (run[FRAGMENTS] || []).map(text)]);
    };
    // What became of the first rerun request the page sent at or after t0 (not an automatic one):
    // 'unsent', 'pending', 'done' (its run ended), 'lost-end' (its run began but a later run began
    // before its end arrived), 'dropped' (three other runs ended and its run never began: runs
    // follow the requests in order, a request arriving while another waits being merged into it).
    window.__rtFollow = t0 => {
        let sent = null, fragment = null, run = null, lost = false, others = 0;
        for (const [t, kind, a, b] of log) {
            if (t < t0) continue;
            if (sent === null) { if (kind === 'send' && !b) { sent = t; fragment = a; } continue; }
            if (run === null) {
                if (kind === 'start' && (fragment ? b.includes(fragment) : b.length === 0)) run = a;
                else if (kind === 'finish' && ++others >= 3) return {state: 'dropped', sent: sent - t0};
                continue;
            }
            if (kind === 'start' && a !== run) lost = true;
            if (kind === 'finish' && (a === run || lost))
                return {state: lost ? 'lost-end' : 'done', sent: sent - t0, end: t - t0};
        }
        return {state: sent === null ? 'unsent' : 'pending'};
    };
    const Plain = window.WebSocket;
    window.WebSocket = class extends Plain {
        constructor(...args) {
            super(...args);
            this.addEventListener('message', e => {
                const t = performance.now();
                if (e.data instanceof ArrayBuffer) received(t, e.data);
                else if (e.data instanceof Blob) e.data.arrayBuffer().then(b => received(t, b));
            });
        }
        send(data) {
            const t = performance.now();
            try {
                const bytes = data instanceof ArrayBuffer || ArrayBuffer.isView(data) ? data : null;
                const rerun = bytes && fields(bytes, [RERUN])[RERUN];
                if (rerun) {
                    const state = fields(rerun[0], [FRAGMENT, AUTO]);
                    note([t, 'send', state[FRAGMENT] ? text(state[FRAGMENT][0]) : '',
                          Boolean(state[AUTO] && state[AUTO][0])]);
                }
            } catch (e) { /* not a protobuf we read */ }
            return super.send(data);
        }
    };
})()""".replace("FIELD_NUMBERS", str([_F[name] for name in (
    "ForwardMsg.metadata", "ForwardMsg.new_session", "ForwardMsg.script_finished", "ForwardMsgMetadata.run",
    "RunIdentity.script_run_id", "RunIdentity.fragment_ids", "BackMsg.rerun_script", "ClientState.fragment_id",
    "ClientState.is_auto_rerun")]))

_ARM_RELEASE = """([caption, stamp, timeout]) => {
    if (!window.__rtLog) throw new Error('ROUND_TRIP_HOOK is not installed in this page');
    const root = (""" + PAD_HOST + """).shadowRoot;
    const strip = root.querySelector('[data-testid=latent-pad-traversal]');
    const text = root.querySelector('[data-testid=latent-pad-caption]');
    let t0 = null;
    document.addEventListener('mouseup', () => { t0 = window.__rtT0 = performance.now(); },
                              {once: true, capture: true});
    window.__updated = new Promise(resolve => {
        const seen = () => t0 !== null && strip.dataset.z !== stamp && text.textContent !== caption;
        const obs = new MutationObserver(() => {
            if (seen()) { obs.disconnect(); resolve(performance.now() - t0); } });
        obs.observe(root, {subtree: true, childList: true, characterData: true, attributes: true});
        setTimeout(() => { obs.disconnect(); resolve(null); }, timeout);
    });
    window.__rerun = new Promise(resolve => {
        const done = value => { window.__rtWake = null; clearTimeout(timer); resolve(value); };
        window.__rtWake = () => {
            if (t0 === null) return;
            const run = window.__rtFollow(t0);
            if (run.state === 'done' || run.state === 'lost-end' || run.state === 'dropped') done(run);
        };
        const timer = setTimeout(() => done(window.__rtFollow(t0 === null ? performance.now() : t0)), timeout);
    });
}"""

# The latent sliders of the pad (its traversal controls are range inputs too). Drag the second: the
# strip sweeps the first one's dimension, so its pixels would not change with the first.
PAD_SLIDERS = ".latent-pad-root .row input[type=range]"


async def open_sliders(browser, url: str):
    """A new page on /sliders, with ROUND_TRIP_HOOK, once Streamlit has settled: (page, the slider
    to drag for release_round_trip)."""
    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
    await page.add_init_script(ROUND_TRIP_HOOK)
    await page.add_init_script(PROBE_PAD)
    await page.goto(url + "/sliders")
    await page.locator(PAD_SLIDERS).first.wait_for(timeout=120_000)
    await wait_idle_async(page)
    return page, page.locator(PAD_SLIDERS).nth(1)


def release_targets(count: int) -> list[float]:
    """Slider positions (fractions of its width) for successive releases, each a different |z|."""
    return [0.2 + 0.6 * ((i * 7919) % 97) / 97 for i in range(count)]


@dataclass
class Release:
    updated_ms: float  # mouseup -> the updated page
    sent_ms: float | None  # mouseup -> the rerun request left (None: not seen)
    rerun_ms: float | None  # mouseup -> the server's rerun back (None: dropped or not seen)
    rerun_fate: str  # 'done', 'lost-end', 'dropped', 'pending' or 'unsent' (see above)


async def release_round_trip(page, slider, target_fraction: float, timeout_ms: float = 60_000) -> Release:
    """Press `slider` (a Locator of one latent-pad slider, see PAD_SLIDERS) in its middle, drag it to
    `target_fraction` of its width and release; the times above. The page needs ROUND_TRIP_HOOK.

    The target must differ from the slider's current value (else nothing changes and this raises
    TimeoutError after `timeout_ms`). Async API; bench/interaction.py and bench/many_sessions.py
    both time releases with it, so the definition lives here only.
    """
    caption = await page.get_by_test_id("latent-pad-caption").inner_text()
    stamp = await page.get_by_test_id("latent-pad-traversal").get_attribute("data-z")
    before = await slider.input_value()
    box = await slider.bounding_box()
    y, left, width = box["y"] + box["height"] / 2, box["x"], box["width"]
    await page.mouse.move(left + width / 2, y)
    await page.mouse.down()
    await page.mouse.move(left + width * target_fraction, y, steps=3)
    await page.evaluate(_ARM_RELEASE, [caption, stamp, timeout_ms])
    await page.mouse.up()
    updated = await page.evaluate("() => window.__updated")
    if updated is None:
        raise TimeoutError(f"the page did not show the released z within {timeout_ms / 1000:g} s "
                           f"(slider {before} -> {await slider.input_value()})")
    run = await page.evaluate("() => window.__rerun")
    if run["state"] == "pending":
        raise TimeoutError(f"the server's rerun after a release did not come back within {timeout_ms / 1000:g} s "
                           f"(websocket: {await websocket_trace(page, await page.evaluate('() => window.__rtT0'))})")
    return Release(updated, run.get("sent"), run.get("end") if run["state"] != "dropped" else None, run["state"])


async def rerun_fate(page, since: float) -> str:
    """What became of the first rerun request the page (with ROUND_TRIP_HOOK) sent at or after
    `since` (its performance.now()): 'unsent', 'pending', 'done', 'lost-end' or 'dropped'."""
    return (await page.evaluate("since => window.__rtFollow(since)", since))["state"]


async def websocket_trace(page, since: float) -> str:
    """What ROUND_TRIP_HOOK saw on the page's websocket since `since`, for failure messages: rerun
    requests (fragment id, automatic?) and run starts and ends (run id, fragment ids)."""
    return await page.evaluate("""since => window.__rtLog.filter(e => e[0] >= since).slice(0, 16).map(
        ([t, kind, a, b]) => `${Math.round(t - since)} ms ${kind} ${String(a).slice(0, 8)} ${b}`).join('; ')""", since)
