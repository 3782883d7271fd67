"""Cold start: `streamlit run app.py` until the first page (the latent map) is fully rendered in
Chromium with the bundled model, beside a one-line Streamlit app (`st.write`) started and drawn the
same way, in the same run: the ratio is what the app adds. Also beside them, an app that only draws
the bundled map's 10,000 points with plotly (no torch, nothing else): what the chart alone costs.
Median of --repeats fresh servers each. (Two more apps, the chart with torch's import and 0.9 s of
work before it or after it, measured the order of the first page's work: BENCHMARKS.md §6 has what
they gave; they are no longer run.)

    python -m bench.cold_start [--repeats 3] [--quick]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.browser import chromium, streamlit_process, streamlit_server, wait_idle
from bench.common import ROOT, machine, median, table


def one_start(browser) -> tuple[float, float]:
    with streamlit_server() as (url, launched):
        healthy = time.perf_counter() - launched
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
        wait_idle(page)
        rendered = time.perf_counter() - launched
        page.close()
    return healthy, rendered


HELLO_APP = 'import streamlit as st\nst.write("hello")\n'
# The bundled map drawn as the app draws it (ui.charts.latent_scatter: a WebGL trace per class), by an
# app that imports nothing else.
PLOTLY_APP = """import numpy as np, plotly.graph_objects as go, streamlit as st
saved = np.load({path!r})
fig = go.Figure([go.Scattergl(x=saved["xy"][saved["labels"] == c, 0], y=saved["xy"][saved["labels"] == c, 1],
                              mode="markers", marker=dict(size=4), hoverinfo="none") for c in range(10)])
st.plotly_chart(fig.update_layout(height=620))
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
    plotly_app = PLOTLY_APP.format(path=str(bundled_map))
    with chromium() as browser:
        runs, bare, chart = [], [], []
        for _ in range(repeats):  # interleaved: all see the same state of the machine
            runs.append(one_start(browser))
            bare.append(other_app_start(browser, HELLO_APP, "text=hello"))
            chart.append(other_app_start(browser, plotly_app, ".js-plotly-plot"))
    print(f"machine: {machine()}\n{repeats} fresh server(s) each\n")
    print(table(["from launch to", "median (s)", "worst (s)"],
                [["server healthy", median([r[0] for r in runs]), max(r[0] for r in runs)],
                 ["latent map rendered", median([r[1] for r in runs]), max(r[1] for r in runs)],
                 ["a one-line Streamlit app drawn", median(bare), max(bare)],
                 ["an app drawing only the map's plotly chart", median(chart), max(chart)],
                 ["ratio: the map over the one-line app", median([r[1] for r in runs]) / median(bare), "–"],
                 ["ratio: the plotly-only app over the one-line app", median(chart) / median(bare), "–"]]))


if __name__ == "__main__":
    main()
