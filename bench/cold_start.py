"""Cold start: `streamlit run app.py` until the first page (the latent map) is fully rendered in
Chromium with the bundled model, beside a one-line Streamlit app (`st.write`) started and drawn the
same way, in the same run: the ratio is what the app adds. Median of --repeats fresh servers each.

    python -m bench.cold_start [--repeats 3] [--quick]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.browser import chromium, streamlit_process, streamlit_server, wait_idle
from bench.common import machine, median, table


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


def bare_start(browser) -> float:
    """Launch to drawn for a one-line Streamlit app: what any Streamlit app costs."""
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "app.py").write_text('import streamlit as st\nst.write("hello")\n')
        with streamlit_process(root=Path(tmp)) as (url, launched, _):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.get_by_text("hello").first.wait_for(timeout=60_000)
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
    with chromium() as browser:
        runs, bare = [], []
        for _ in range(repeats):  # interleaved: both see the same state of the machine
            runs.append(one_start(browser))
            bare.append(bare_start(browser))
    print(f"machine: {machine()}\n{repeats} fresh server(s) each\n")
    print(table(["from launch to", "median (s)", "worst (s)"],
                [["server healthy", median([r[0] for r in runs]), max(r[0] for r in runs)],
                 ["latent map rendered", median([r[1] for r in runs]), max(r[1] for r in runs)],
                 ["a one-line Streamlit app drawn", median(bare), max(bare)],
                 ["ratio: the map over the one-line app", median([r[1] for r in runs]) / median(bare), "–"]]))


if __name__ == "__main__":
    main()
