"""Cold start: `streamlit run app.py` until the first page (the latent map) is fully rendered in
Chromium with the bundled model. Median of --repeats fresh servers.

    python -m bench.cold_start [--repeats 3] [--quick]
"""
from __future__ import annotations

import argparse
import time

from bench.browser import chromium, streamlit_server, wait_idle
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one start")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    with chromium() as browser:
        runs = [one_start(browser) for _ in range(repeats)]
    print(f"machine: {machine()}\n{repeats} fresh server(s)\n")
    print(table(["from launch to", "median (s)", "worst (s)"],
                [["server healthy", median([r[0] for r in runs]), max(r[0] for r in runs)],
                 ["latent map rendered", median([r[1] for r in runs]), max(r[1] for r in runs)]]))


if __name__ == "__main__":
    main()
