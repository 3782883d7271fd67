"""Interaction on the Latent sliders page, in Chromium:

  decode + paint   browser time per input event while a slider is dragged (the latent pad's own
                   timings, performance.now() around decode and putImageData), and with the digit
                   classifier's label of the decoded digit (issue #12)
  star + caption   browser time per input event to place z on the map (the 10 nearest of the
                   10,000 test codes), redraw the overview map with its star and rewrite the caption
  traversal        browser time to decode and draw the traversal strip (9 digits), once per release
  release to updated page   mouse up -> the page shows the released z everywhere: the pad's star and
                   |z| caption (which follow every input event, so they already do) and its traversal
                   strip, which the release event itself redraws
  server rerun     mouse up -> the pad's new z sent to the server, and the server's rerun of the pad's
                   fragment back in the browser (z still goes back to Python on release; nothing on
                   the page waits for it)

All timed inside the page with performance.now(), so Playwright's own polling is not counted; the
two release timings are browser.release_round_trip's (bench/many_sessions.py times the same).

    python -m bench.interaction [--events 300] [--releases 20] [--quick]
"""
from __future__ import annotations

import argparse
import asyncio

from bench.browser import (
    chromium_async,
    open_sliders,
    release_round_trip,
    release_targets,
    streamlit_server,
    wait_idle_async,
)
from bench.common import machine, percentile, table


async def measure(url: str, events: int, releases: int) -> dict[str, list]:
    async with chromium_async() as browser:
        page, slider = await open_sliders(browser, url)
        await page.wait_for_function("() => window.__latentPadProbe.decode && window.__latentPadProbe.place",
                                     timeout=120_000)
        box = await slider.bounding_box()
        y, left, width = box["y"] + box["height"] / 2, box["x"], box["width"]

        await page.wait_for_function("() => window.__latentPadProbe.classify", timeout=120_000)
        await page.evaluate("() => { for (const k of ['decodeMs', 'paintMs', 'classifyMs', 'eventMs', 'placeMs',"
                            " 'traversalMs']) window.__latentPadProbe[k] = []; }")
        await page.mouse.move(left + width / 2, y)
        await page.mouse.down()
        for i in range(events):  # sweep back and forth across the slider
            phase = (i % 100) / 100
            frac = 0.1 + 0.8 * (phase * 2 if phase < 0.5 else 2 - phase * 2)
            await page.mouse.move(left + width * frac, y)
        await page.mouse.up()
        r = await page.evaluate("() => { const p = window.__latentPadProbe; return {decode: p.decodeMs,"
                                " paint: p.paintMs, classify: p.classifyMs, event: p.eventMs, place: p.placeMs}; }")
        await wait_idle_async(page)

        await page.evaluate("() => { window.__latentPadProbe.traversalMs = []; }")
        r.update(trips=[], sent=[], rerun=[], dropped=0)
        for target in release_targets(releases):
            release = await release_round_trip(page, slider, target)
            r["trips"].append(release.updated_ms)
            if release.sent_ms is not None:
                r["sent"].append(release.sent_ms)
            if release.rerun_ms is not None:
                r["rerun"].append(release.rerun_ms)
            r["dropped"] += release.rerun_fate in ("dropped", "lost-end")
            await wait_idle_async(page)
        r["traversal"] = await page.evaluate("() => window.__latentPadProbe.traversalMs")
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
        r = asyncio.run(measure(url, args.events, args.releases))
    dropped = f"; Streamlit dropped {r['dropped']} of them (BENCHMARKS.md, many sessions)" if r["dropped"] else ""
    print(f"machine: {machine()}\nbrowser: headless Chromium; {len(r['decode'])} input events, "
          f"{len(r['trips'])} releases ({len(r['rerun'])} server reruns seen{dropped})\n")
    row = lambda name, values, target: [name, percentile(values, 0.5), percentile(values, 0.95), target]  # noqa: E731
    print(table(["measure", "p50 (ms)", "p95 (ms)", "target p95 (ms)"],
                [row("decode per input event", r["decode"], "-"),
                 row("decode + paint per input event", r["paint"], "-"),
                 row("classify the decoded digit per input event", r["classify"], "-"),
                 row("decode + paint + classify per input event", r["event"], 16),
                 row("star + caption per input event", r["place"], 3),
                 row("traversal strip per release (9 digits)", r["traversal"], "-"),
                 row("release to updated page", r["trips"], 150),
                 row("release to z sent to the server", r["sent"], "-"),
                 row("release to the server's rerun back (not waited on)", r["rerun"], "-")]))


if __name__ == "__main__":
    main()
