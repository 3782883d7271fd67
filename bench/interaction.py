"""Interaction on the Latent sliders page, in Chromium:

  decode + paint   browser time per input event while a slider is dragged (the latent pad's own
                   timings, performance.now() around decode and putImageData)
  release round trip   mouse up -> the page has rerun with the new z (the |z| caption changed)

    python bench/interaction.py [--events 300] [--releases 20] [--quick]
"""
from __future__ import annotations

import argparse

import common  # noqa: F401
from browser import chromium, streamlit_server, wait_idle
from common import machine, percentile, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300, help="mouse moves while dragging")
    parser.add_argument("--releases", type=int, default=20, help="drag-and-release round trips")
    parser.add_argument("--quick", action="store_true", help="40 events, 3 releases")
    args = parser.parse_args()
    if args.quick:
        args.events, args.releases = 40, 3
    with streamlit_server() as (url, _), chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url + "/sliders")
        page.wait_for_function("() => window.__latentPadDecode !== undefined", timeout=120_000)
        wait_idle(page)
        sliders = page.locator(".latent-pad-root input[type=range]")
        box = sliders.first.bounding_box()
        y, left, width = box["y"] + box["height"] / 2, box["x"], box["width"]

        page.evaluate("() => { window.__latentPad.decodeMs = []; window.__latentPad.paintMs = []; }")
        page.mouse.move(left + width / 2, y)
        page.mouse.down()
        for i in range(args.events):  # sweep back and forth across the slider
            phase = (i % 100) / 100
            frac = 0.1 + 0.8 * (phase * 2 if phase < 0.5 else 2 - phase * 2)
            page.mouse.move(left + width * frac, y)
        page.mouse.up()
        decode = page.evaluate("() => window.__latentPad.decodeMs")
        paint = page.evaluate("() => window.__latentPad.paintMs")
        wait_idle(page)

        trips = []
        for i in range(args.releases):
            caption = page.get_by_text("|z| =").inner_text()
            target = left + width * (0.2 + 0.6 * ((i * 7919) % 97) / 97)
            page.mouse.move(left + width / 2, y)
            page.mouse.down()
            page.mouse.move(target, y, steps=3)
            # Timed inside the page, from the mouseup event to the DOM mutation that shows the new
            # caption, so that Playwright's own polling is not counted.
            page.evaluate("""caption => { window.__trip = new Promise(resolve => {
                let t0 = null;
                document.addEventListener('mouseup', () => { t0 = performance.now(); }, {once: true, capture: true});
                const seen = () => t0 !== null && !document.body.innerText.includes(caption);
                const obs = new MutationObserver(() => { if (seen()) { obs.disconnect(); resolve(performance.now() - t0); } });
                obs.observe(document.body, {subtree: true, childList: true, characterData: true});
            }); }""", caption)
            page.mouse.up()
            trips.append(page.evaluate("() => window.__trip"))
            wait_idle(page)
    print(f"machine: {machine()}\nbrowser: headless Chromium; {len(decode)} input events, {len(trips)} releases\n")
    print(table(["measure", "p50 (ms)", "p95 (ms)", "target p95 (ms)"],
                [["decode per input event", percentile(decode, 0.5), percentile(decode, 0.95), "-"],
                 ["decode + paint per input event", percentile(paint, 0.5), percentile(paint, 0.95), 16],
                 ["release to updated page", percentile(trips, 0.5), percentile(trips, 0.95), 150]]))


if __name__ == "__main__":
    main()
