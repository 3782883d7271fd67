"""The Latent map as a canvas, in Chromium (issue #24):

  decode under the pointer   browser time per pointer event over the space between the points:
                   the code that map position stands for (map_decode.js: PCA's exact inverse, or
                   the distance-weighted mean of the 8 nearest points' codes for UMAP), the decoder
                   run on it and the thumbnail painted (performance.now() around all of it)
  lattice          browser time to decode and draw the lattice over the view, per zoom
  points           browser time to draw the map's points (and contours, labels, picks) again, per
                   zoom and per pointer move of a pan (ui/components/latent_map.js's draw)

The pointer sweeps the whole drawing area in rows; events over a real point show that digit's own
thumbnail and are not counted. Each map is the test set's (10,000 points).

    python -m bench.map_canvas [--events 400] [--zooms 5] [--quick]
"""
from __future__ import annotations

import argparse
import asyncio

from bench.browser import MAP_DRAWN, chromium_async, streamlit_server, wait_idle_async
from bench.common import machine, percentile, table


async def sweep(page, events: int) -> list[float]:
    """Pointer moves in rows across the drawing area; the decode timings they produced."""
    box = await page.get_by_test_id("map-stage").bounding_box()
    await page.evaluate("() => { window.__latentPadProbe.mapDecode = []; }")
    rows = max(4, int(events ** 0.5 / 2))
    per_row = max(2, events // rows)
    for r in range(rows):
        y = box["y"] + box["height"] * (r + 0.5) / rows
        for i in range(per_row):
            await page.mouse.move(box["x"] + box["width"] * (i + 0.5) / per_row, y)
    return await page.evaluate("() => window.__latentPadProbe.mapDecode")


async def zooms(page, count: int) -> tuple[list[float], list[float]]:
    """Zooms in by the map's button, then pans by dragging; the lattice's and the points' timings."""
    await page.evaluate("() => { window.__latentPadProbe.mapLattice = []; window.__latentPadProbe.mapDraw = []; }")
    for _ in range(count):
        await page.get_by_role("button", name="Zoom in").click()
        await page.wait_for_timeout(300)
    lattices = (await page.evaluate("() => window.__latentPadProbe.mapLattice"))[-count:]
    box = await page.get_by_test_id("map-stage").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    await page.mouse.move(x, y)
    await page.mouse.down()
    for step in range(1, 31):  # a pan: every move draws the points again, at the next frame
        await page.mouse.move(x + 4 * step, y + 2 * step)
        await page.wait_for_timeout(20)
    await page.mouse.up()
    return lattices, await page.evaluate("() => window.__latentPadProbe.mapDraw")


async def measure(url: str, events: int, count: int) -> dict[str, tuple[list, list]]:
    out = {}
    async with chromium_async() as browser:
        for projection in ("umap", "pca"):
            context = await browser.new_context(viewport={"width": 1400, "height": 1000})
            await context.add_init_script("window.__latentPadProbe = {};")
            page = await context.new_page()
            await page.goto(f"{url}/?projection={projection}&lattice=1")
            await page.locator(MAP_DRAWN).wait_for(timeout=180_000)
            await wait_idle_async(page)
            await page.get_by_test_id("map-stage").scroll_into_view_if_needed()
            await page.wait_for_function("() => window.__latentPadProbe.mapDecodeAt", timeout=180_000)
            out[projection] = (await sweep(page, events), *await zooms(page, count))
            await context.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=400, help="pointer moves over each map")
    parser.add_argument("--zooms", type=int, default=5, help="zooms with the lattice on, per map")
    parser.add_argument("--quick", action="store_true", help="60 events, 1 zoom")
    args = parser.parse_args()
    if args.quick:
        args.events, args.zooms = 60, 1
    with streamlit_server() as (url, _):
        r = asyncio.run(measure(url, args.events, args.zooms))
    print(f"machine: {machine()}\nbrowser: headless Chromium, 1400 x 1000; the bundled model's test map "
          f"(10,000 points); about {args.events} pointer moves and {args.zooms} zoom(s) per projection\n")
    rows = []
    for projection, (decodes, lattices, draws) in r.items():
        rows.append([f"decode + paint under the pointer, {projection.upper()} ({len(decodes)} events between "
                     "points)", percentile(decodes, 0.5), percentile(decodes, 0.95), 16])
        rows.append([f"lattice over the view after a zoom, {projection.upper()} ({len(lattices)} zooms)",
                     percentile(lattices, 0.5), percentile(lattices, 0.95), "-"])
        rows.append([f"the points drawn again, per zoom or pan frame, {projection.upper()} ({len(draws)} draws)",
                     percentile(draws, 0.5), percentile(draws, 0.95), 16])
    print(table(["measure", "p50 (ms)", "p95 (ms)", "target p95 (ms)"], rows))


if __name__ == "__main__":
    main()
