"""Drawing on the Reconstruct page's sketchpad, in Chromium (issue #14): per pointer-move event, the
browser's time to prepare the drawing as MNIST was, encode it, decode its mean and paint both
(the bundled conv model), split into its parts; and the slower extras (posterior bars, the cloud of
q(z|x) samples on the map, decoded samples), drawn at most every 120 ms. All timed inside the page
with performance.now(), around the sketchpad's own code.

    python -m bench.drawing [--events 400] [--quick]
"""
from __future__ import annotations

import argparse
import math

from bench.browser import PROBE_PAD, chromium, streamlit_server, wait_idle
from bench.common import machine, percentile, table


def measure(url: str, events: int) -> dict[str, list[float]]:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.add_init_script(PROBE_PAD)
        page.goto(url + "/reconstruct")
        page.wait_for_function("() => window.__latentPadProbe && window.__latentPadProbe.encode", timeout=120_000)
        wait_idle(page)
        box = page.get_by_test_id("sketchpad-canvas").bounding_box()
        cx, cy, r = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["width"] * 0.3
        strokes, per = math.ceil(events / 100), 100
        for s in range(strokes):  # loops, each a little smaller: one stroke of 100 movements each
            radius = r * (1 - 0.15 * s)
            page.mouse.move(cx + radius, cy)
            page.mouse.down()
            for i in range(1, per + 1):
                a = 2 * math.pi * i / per
                page.mouse.move(cx + radius * math.cos(a), cy + 1.3 * radius * math.sin(a))
            page.mouse.up()
            wait_idle(page)
        return page.evaluate("""() => { const p = window.__latentPadProbe;
            return {event: p.drawMs, prepare: p.prepareMs, encode: p.encodeMs, decode: p.decodePaintMs,
                    extras: p.extrasMs || []}; }""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=400, help="pointer movements while drawing (at least 200)")
    parser.add_argument("--quick", action="store_true", help="100 events")
    args = parser.parse_args()
    events = 100 if args.quick else args.events
    with streamlit_server() as (url, _):
        r = measure(url, events)
    print(f"machine: {machine()}\nbrowser: headless Chromium; {len(r['event'])} pointer movements, "
          f"{len(r['extras'])} extras drawn\n")
    row = lambda name, values, target: [name, percentile(values, 0.5), percentile(values, 0.95), target]  # noqa: E731
    print(table(["measure", "p50 (ms)", "p95 (ms)", "target p95 (ms)"],
                [row("prepare (read the board, crop, Lanczos to 20x20, centre)", r["prepare"], "-"),
                 row("encode (conv encoder)", r["encode"], "-"),
                 row("decode the mean and paint input and reconstruction", r["decode"], "-"),
                 row("prepare + encode + decode + paint, per pointer movement", r["event"], 16),
                 row("extras: posterior bars, cloud on the map, 3 decoded samples", r["extras"], "-")]))


if __name__ == "__main__":
    main()
