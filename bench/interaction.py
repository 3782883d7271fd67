"""Interaction on the Latent sliders page, in Chromium:

  decode + paint   browser time per input event while a slider is dragged (the latent pad's own
                   timings, performance.now() around decode and putImageData)
  star + caption   browser time per input event to place z on the map (the 10 nearest of the
                   10,000 test codes), redraw the overview map with its star and rewrite the caption
  traversal        browser time to decode and draw the traversal strip (9 digits), once per release
  release to updated page   mouse up -> the page shows the released z everywhere: the pad's star and
                   |z| caption (which follow every input event, so they already do) and its traversal
                   strip, which the release event itself redraws
  server rerun     mouse up -> the pad's new z sent to the server, and the server's rerun of the pad's
                   fragment back in the browser (z still goes back to Python on release; nothing on
                   the page waits for it)

All timed inside the page with performance.now(), so Playwright's own polling is not counted.

    python bench/interaction.py [--events 300] [--releases 20] [--quick]
"""
from __future__ import annotations

import argparse

import common  # noqa: F401
from browser import chromium, streamlit_server, wait_idle
from common import machine, percentile, table

PAD_SLIDERS = ".latent-pad-root .row input[type=range]"  # the pad's traversal controls are ranges too

# What "the page has updated" means after a pad slider is released: the traversal strip has been
# redrawn around the released z (the component stamps it with that z, data-z) and the |z| caption
# no longer shows what it showed before the drag (it follows every input event, so by the mouseup
# it already shows the new z). Timed from the mouseup event to the DOM mutation that stamps the
# strip. Resolves null if that does not happen within the timeout.
_ARM_RELEASE = """([caption, stamp, timeout]) => { window.__trip = new Promise(resolve => {
    const root = document.querySelector('[data-testid=stBidiComponentIsolated]').shadowRoot;
    const strip = root.querySelector('[data-testid=latent-pad-traversal]');
    const text = root.querySelector('[data-testid=latent-pad-caption]');
    let t0 = null;
    document.addEventListener('mouseup', () => { t0 = performance.now(); }, {once: true, capture: true});
    const seen = () => t0 !== null && strip.dataset.z !== stamp && text.textContent !== caption;
    const obs = new MutationObserver(() => { if (seen()) { obs.disconnect(); resolve(performance.now() - t0); } });
    obs.observe(root, {subtree: true, childList: true, characterData: true, attributes: true});
    setTimeout(() => { obs.disconnect(); resolve(null); }, timeout);
}); }"""

# The server's rerun after a release, seen from the page's websocket. Installed before the app loads,
# this logs when each message leaves or arrives. The rerun request is the first message sent after
# the mouseup that carries the pad's state ("pad-<hash>"); the rerun is back with the last message
# received before 200 ms of quiet. _ARM_RERUN resolves [request sent, rerun back] in ms after the
# mouseup, or null.
_WATCH_SOCKET = """(() => {
    const log = window.__socket = [];
    const names = (data, text) => {
        const bytes = data instanceof ArrayBuffer ? new Uint8Array(data)
            : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : null;
        if (!bytes) return false;
        const want = new TextEncoder().encode(text);
        outer: for (let i = 0; i + want.length <= bytes.length; i++) {
            for (let j = 0; j < want.length; j++) if (bytes[i + j] !== want[j]) continue outer;
            return true;
        }
        return false;
    };
    const Native = window.WebSocket, send = Native.prototype.send;
    Native.prototype.send = function (data) {
        log.push({ sent: performance.now(), pad: names(data, "pad-") });
        return send.call(this, data);
    };
    window.WebSocket = function (...args) {
        const ws = new Native(...args);
        ws.addEventListener("message", () => log.push({ received: performance.now() }));
        return ws;
    };
    window.WebSocket.prototype = Native.prototype;
    Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
})();"""

_ARM_RERUN = """(timeout) => { window.__rerun = new Promise(resolve => {
    let t0 = null;
    document.addEventListener('mouseup', () => { t0 = performance.now(); }, {once: true, capture: true});
    const poll = setInterval(() => {
        if (t0 === null) return;
        const sent = window.__socket.find((m) => m.sent >= t0 && m.pad);
        const replies = sent ? window.__socket.filter((m) => m.received > sent.sent) : [];
        const last = replies.length ? replies[replies.length - 1].received : null;
        if (last !== null && performance.now() - last > 200) {
            clearInterval(poll); resolve([sent.sent - t0, last - t0]);
        }
    }, 10);
    setTimeout(() => { clearInterval(poll); resolve(null); }, timeout);
}); }"""


def release_targets(count: int) -> list[float]:
    """Slider positions (fractions of its width) for successive releases, each a different |z|."""
    return [0.2 + 0.6 * ((i * 7919) % 97) / 97 for i in range(count)]


def release(page, slider, target_fraction: float, timeout_ms: float = 60_000) -> tuple[float, list | None]:
    """Drag `slider` from its middle to `target_fraction` of its width and release: ms from the
    mouseup to the updated page, and [z sent, server rerun back] in ms after the mouseup."""
    caption = page.get_by_test_id("latent-pad-caption").inner_text()
    stamp = page.get_by_test_id("latent-pad-traversal").get_attribute("data-z")
    box = slider.bounding_box()
    y, left, width = box["y"] + box["height"] / 2, box["x"], box["width"]
    page.mouse.move(left + width / 2, y)
    page.mouse.down()
    page.mouse.move(left + width * target_fraction, y, steps=3)
    page.evaluate(_ARM_RELEASE, [caption, stamp, timeout_ms])
    page.evaluate(_ARM_RERUN, timeout_ms)
    page.mouse.up()
    ms = page.evaluate("() => window.__trip")
    if ms is None:
        raise TimeoutError(f"the page did not show the released z within {timeout_ms / 1000:g} s")
    return ms, page.evaluate("() => window.__rerun")


def measure(url: str, events: int, releases: int) -> dict[str, list]:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.add_init_script(_WATCH_SOCKET)
        page.goto(url + "/sliders")
        page.wait_for_function("() => window.__latentPadDecode !== undefined && "
                               "window.__latentPadPlace !== undefined", timeout=120_000)
        wait_idle(page)
        # The second slider: the traversal sweeps the first one's dimension, so its strip would not change.
        slider = page.locator(PAD_SLIDERS).nth(1)
        box = slider.bounding_box()
        y, left, width = box["y"] + box["height"] / 2, box["x"], box["width"]

        page.evaluate("() => { for (const k of ['decodeMs', 'paintMs', 'placeMs', 'traversalMs'])"
                      " window.__latentPad[k] = []; }")
        page.mouse.move(left + width / 2, y)
        page.mouse.down()
        for i in range(events):  # sweep back and forth across the slider
            phase = (i % 100) / 100
            frac = 0.1 + 0.8 * (phase * 2 if phase < 0.5 else 2 - phase * 2)
            page.mouse.move(left + width * frac, y)
        page.mouse.up()
        r = page.evaluate("() => ({decode: window.__latentPad.decodeMs, paint: window.__latentPad.paintMs,"
                          " place: window.__latentPad.placeMs})")
        wait_idle(page)

        page.evaluate("() => { window.__latentPad.traversalMs = []; }")
        r.update(trips=[], sent=[], rerun=[])
        for target in release_targets(releases):
            ms, rerun = release(page, slider, target)
            r["trips"].append(ms)
            if rerun is not None:
                r["sent"].append(rerun[0])
                r["rerun"].append(rerun[1])
            wait_idle(page)
        r["traversal"] = page.evaluate("() => window.__latentPad.traversalMs")
    return r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300, help="mouse moves while dragging")
    parser.add_argument("--releases", type=int, default=20, help="drag-and-release round trips")
    parser.add_argument("--quick", action="store_true", help="40 events, 3 releases")
    args = parser.parse_args()
    if args.quick:
        args.events, args.releases = 40, 3
    with streamlit_server() as (url, _):
        r = measure(url, args.events, args.releases)
    print(f"machine: {machine()}\nbrowser: headless Chromium; {len(r['decode'])} input events, "
          f"{len(r['trips'])} releases ({len(r['rerun'])} server reruns seen)\n")
    row = lambda name, values, target: [name, percentile(values, 0.5), percentile(values, 0.95), target]  # noqa: E731
    print(table(["measure", "p50 (ms)", "p95 (ms)", "target p95 (ms)"],
                [row("decode per input event", r["decode"], "-"),
                 row("decode + paint per input event", r["paint"], 16),
                 row("star + caption per input event", r["place"], 3),
                 row("traversal strip per release (9 digits)", r["traversal"], "-"),
                 row("release to updated page", r["trips"], 150),
                 row("release to z sent to the server", r["sent"], "-"),
                 row("release to the server's rerun back (not waited on)", r["rerun"], "-")]))


if __name__ == "__main__":
    main()
