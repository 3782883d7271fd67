"""Cold start: `streamlit run app.py` until the first page (the latent map) is fully rendered in
Chromium with the bundled model (the map's points on its canvas, and the page's script finished),
and then a point clicked THINK s later until its inspector shows (the first page is drawn without
torch, which is imported in the background meanwhile: this times whether it is ready), beside a
one-line Streamlit app (`st.write`) started and drawn the same way, in the same run: the
ratio is what the app adds. Also beside them, an app that only draws the bundled map's 10,000 points
on a canvas of its own (a components.v2 component of a few lines; no torch, nothing else): the floor
for the map alone. Median of --repeats fresh servers each. (Three more apps measured what led to the
map's canvas: the same points drawn by plotly, and that chart with torch's import and 0.9 s of work
before it or after it; BENCHMARKS.md section 6 has what they gave; they are no longer run.)

    python -m bench.cold_start [--repeats 3] [--quick]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.browser import MAP_DRAWN, MAP_POINT, chromium, streamlit_process, streamlit_server, wait_idle
from bench.common import ROOT, machine, median, table

THINK = 2.0  # s between the page rendered and the click on a point: a user looking at the map first


def one_start(browser) -> tuple[float, float, float]:
    """Launch to healthy, launch to the map rendered, and a click on a point THINK s later to its
    inspector shown."""
    with streamlit_server() as (url, launched):
        healthy = time.perf_counter() - launched
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.locator(MAP_DRAWN).wait_for(timeout=120_000)
        wait_idle(page)
        rendered = time.perf_counter() - launched
        page.wait_for_timeout(THINK * 1000)
        page.mouse.click(*page.evaluate(MAP_POINT, 123))
        clicked = time.perf_counter()
        page.get_by_text("Nearest neighbours in latent space").wait_for(timeout=120_000)
        inspected = time.perf_counter() - clicked
        page.close()
    return healthy, rendered, inspected


HELLO_APP = 'import streamlit as st\nst.write("hello")\n'
# The bundled map's points on a plain canvas, each class in its colour, by a components.v2 component: no
# plotly.js, nothing else. Its canvas gets the class "drawn" once every point is on it.
CANVAS_APP = """import json, numpy as np, streamlit as st
saved = np.load({path!r})
xy, labels = saved["xy"], saved["labels"]
JS = '''
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                "#bcbd22", "#17becf"];
export default function (component) {{
  const d = JSON.parse(component.data.json), root = component.parentElement, n = d.x.length;
  const c = root.querySelector("canvas") || root.appendChild(document.createElement("canvas"));
  c.width = 1000; c.height = 620;
  const ctx = c.getContext("2d"), lo = [Infinity, Infinity], hi = [-Infinity, -Infinity];
  for (let i = 0; i < n; i++) {{
    lo[0] = Math.min(lo[0], d.x[i]); hi[0] = Math.max(hi[0], d.x[i]);
    lo[1] = Math.min(lo[1], d.y[i]); hi[1] = Math.max(hi[1], d.y[i]);
  }}
  for (let k = 0; k < COLORS.length; k++) {{
    ctx.fillStyle = COLORS[k];
    ctx.beginPath();
    for (let i = 0; i < n; i++) {{
      if (d.labels[i] !== k) continue;
      const px = 10 + (d.x[i] - lo[0]) / (hi[0] - lo[0]) * 980, py = 610 - (d.y[i] - lo[1]) / (hi[1] - lo[1]) * 600;
      ctx.moveTo(px + 2, py);
      ctx.arc(px, py, 2, 0, 2 * Math.PI);
    }}
    ctx.fill();
  }}
  c.classList.add("drawn");
}}
'''
scatter = st.components.v2.component("scatter", js=JS)
scatter(data={{"json": json.dumps({{"x": np.round(xy[:, 0], 3).tolist(), "y": np.round(xy[:, 1], 3).tolist(),
                                   "labels": labels.tolist()}})}})
"""


def other_app_start(browser, source: str, drawn_when: str) -> float:
    """Launch to drawn for a one-file Streamlit app of `source`; drawn when `drawn_when` (a locator) shows."""
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "app.py").write_text(source)
        with streamlit_process(root=Path(tmp)) as (url, launched, _):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.locator(drawn_when).first.wait_for(timeout=60_000)
            wait_idle(page)
            drawn = time.perf_counter() - launched
            page.close()
    return drawn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one start")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    bundled_map = sorted((ROOT / "checkpoints" / "default").glob("map-mnist-test-[0-9a-f]*.npz"))[0]
    canvas_app = CANVAS_APP.format(path=str(bundled_map))
    with chromium() as browser:
        runs, bare, canvas = [], [], []
        for _ in range(repeats):  # interleaved: all see the same state of the machine
            runs.append(one_start(browser))
            bare.append(other_app_start(browser, HELLO_APP, "text=hello"))
            canvas.append(other_app_start(browser, canvas_app, "canvas.drawn"))
    print(f"machine: {machine()}\n{repeats} fresh server(s) each\n")
    print(table(["from launch to", "median (s)", "worst (s)"],
                [["server healthy", median([r[0] for r in runs]), max(r[0] for r in runs)],
                 ["latent map rendered", median([r[1] for r in runs]), max(r[1] for r in runs)],
                 [f"(a point clicked {THINK:g} s later: to its inspector shown)", median([r[2] for r in runs]),
                  max(r[2] for r in runs)],
                 ["a one-line Streamlit app drawn", median(bare), max(bare)],
                 ["an app drawing only the map's points on a canvas", median(canvas), max(canvas)],
                 ["ratio: the map over the one-line app", median([r[1] for r in runs]) / median(bare), "–"],
                 ["ratio: the canvas-only app over the one-line app", median(canvas) / median(bare), "–"]]))


if __name__ == "__main__":
    main()
