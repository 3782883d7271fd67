"""Apple's Embedding Atlas as the Latent map, evaluated (issue #24): its Streamlit component given
the bundled model's map, in headless Chromium, offline as the app must run (every request to
anywhere but this machine refused), against the app's own Latent map.

  requests elsewhere   the addresses the page asked for outside 127.0.0.1 (each refused)
  drawn                whether the atlas drew its points (a canvas with pixels that are not blank)
  load (s)             page opened -> the map's canvas drawn (or how long it was waited for)
  frames per second    while the pointer pans the view for 3 s (requestAnimationFrame count; only
                       for a map that was drawn)

Embedding Atlas is not a dependency of the project: install it apart, without its 20-odd
dependencies (sentence-transformers, litellm, duckdb, ...), which its Streamlit component does not
import, and run this script with it on the path (not in CI):

    pip install --no-deps --target /tmp/embedding-atlas embedding-atlas
    EMBEDDING_ATLAS=/tmp/embedding-atlas python -m bench.embedding_atlas [--points 10000]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from bench.browser import CHROMIUM_ARGS, streamlit_process
from bench.common import ROOT, machine, table

ATLAS_APP = '''
import numpy as np, pandas as pd, streamlit as st
from embedding_atlas.streamlit import embedding_atlas
arrays = np.load("map.npz")
frame = pd.DataFrame({"x": arrays["xy"][:, 0], "y": arrays["xy"][:, 1],
                      "label": [str(v) for v in arrays["labels"]]})
st.title("Embedding Atlas")
embedding_atlas(frame, x="x", y="y", text="label", key="atlas")
'''
FRAMES = """async () => {  // requestAnimationFrame callbacks in 3 s while the test pans
    let frames = 0, on = true;
    const tick = () => { frames++; if (on) requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
    await new Promise((r) => setTimeout(r, 3000));
    on = false;
    return frames / 3;
}"""
INKED = """() => [...document.querySelectorAll('canvas'), ...[...document.querySelectorAll('*')]
    .filter((e) => e.shadowRoot).flatMap((e) => [...e.shadowRoot.querySelectorAll('canvas')])].some((c) => {
    if (c.width < 100 || c.height < 100) return false;
    const g = c.getContext('2d') || null;
    if (!g) return c.width > 0;  // a WebGL canvas: drawn once sized
    const d = g.getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < d.length; i += 4 * 97) if (d[i] > 0) return true;
    return false;
})"""


def map_arrays(points: int) -> tuple[np.ndarray, np.ndarray]:
    """The bundled model's test map (UMAP, 10,000 points), tiled with a little jitter to `points`."""
    from vae.analysis.projection import load_cached_map
    from vae.run_files import map_cache_path
    from vae.training.checkpoint import weights_hash

    folder = ROOT / "checkpoints" / "default"
    lmap = load_cached_map(map_cache_path(folder, weights_hash(folder), "mnist-test"))
    reps = -(-points // len(lmap.xy))
    jitter = np.random.default_rng(0).normal(0, 0.05, (reps * len(lmap.xy), 2)).astype(np.float32)
    return (np.tile(lmap.xy, (reps, 1)) + jitter)[:points], np.tile(lmap.labels, reps)[:points]


def measure(url: str, path: str, frame_selector: str | None) -> dict:
    """Open `url/path` in Chromium with every outside request refused; what it asked for, whether
    it drew, how long that took, and frames per second while panning."""
    from playwright.sync_api import sync_playwright

    elsewhere = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})

        def route(r):
            parsed = urlparse(r.request.url)
            if parsed.scheme in ("data", "blob") or parsed.hostname == "127.0.0.1":
                return r.continue_()
            elsewhere.append(r.request.url)
            return r.abort()

        page.context.route("**/*", route)
        started = time.perf_counter()
        page.goto(f"{url}/{path}")
        drawn, deadline = False, time.time() + 90
        while not drawn and time.time() < deadline:
            frames = [f for f in page.frames if frame_selector is None or frame_selector in f.url] or [page.main_frame]
            drawn = any(f.evaluate(INKED) for f in frames)
            page.wait_for_timeout(200)
        load = time.perf_counter() - started
        box = page.viewport_size
        fps_task = page.evaluate_handle(FRAMES)
        page.mouse.move(box["width"] * 0.6, box["height"] * 0.6)
        page.mouse.down()
        for i in range(60):
            page.mouse.move(box["width"] * (0.6 - 0.002 * i), box["height"] * 0.6)
            page.wait_for_timeout(40)
        page.mouse.up()
        fps = fps_task.json_value()
        browser.close()
    return {"elsewhere": sorted(set(elsewhere)), "drawn": drawn, "load": load, "fps": fps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=10_000, help="map points shown by each")
    args = parser.parse_args()
    atlas = os.environ.get("EMBEDDING_ATLAS")
    if not atlas:
        raise SystemExit("set EMBEDDING_ATLAS to where embedding-atlas is installed (see this script's help)")
    xy, labels = map_arrays(args.points)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "app.py").write_text(ATLAS_APP)
        np.savez(Path(tmp) / "map.npz", xy=xy, labels=labels)
        env = {"PYTHONPATH": atlas}
        with streamlit_process(env, root=Path(tmp)) as (url, _, _):
            r = measure(url, "", "embedding_atlas")
        rows.append(["Embedding Atlas (its Streamlit component)", len(r["elsewhere"]), r["drawn"],
                     r["load"] if r["drawn"] else f"not drawn in {r['load']:.0f}", r["fps"] if r["drawn"] else "-"])
        elsewhere = r["elsewhere"]
    with streamlit_process() as (url, _, _):
        r = measure(url, "", None)
    rows.append(["this app's Latent map (a canvas of its own, 10,000 points)", len(r["elsewhere"]), r["drawn"],
                 r["load"], r["fps"]])
    print(f"machine: {machine()}\nbrowser: headless Chromium, 1400 x 1000, offline (outside requests refused); "
          f"{args.points:,} points for the atlas\n")
    print(table(["map", "requests elsewhere", "drawn", "load (s)", "frames per second while panning"], rows))
    if elsewhere:
        print("\nEmbedding Atlas asked for:\n" + "\n".join(f"  {u}" for u in elsewhere[:12]))


if __name__ == "__main__":
    main()
