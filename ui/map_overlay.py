"""The latent map's overlay (a components.v2 component, ui/components/map_overlay.js): a thumbnail of
the hovered digit beside the pointer, and the picked points numbered in the order they were picked.
It attaches to the plotly chart drawn with `chart_key`; the map's images go to the browser once per
dataset and scope, as a gzipped uint8 file served from static/."""
from __future__ import annotations

import gzip
import hashlib

import numpy as np
import streamlit as st

from ui.components import source
from ui.static_files import STATIC_DIR, static_url
from vae.files import atomic_write_bytes

_overlay = st.components.v2.component("map_overlay", js=source("dom.js", "map_overlay.js"),
                                      css=source("map_overlay.css"))


@st.cache_resource(max_entries=4, show_spinner=False)
def _images_url(_images, dataset: str, scope: str, count: int) -> str:
    """Write the map's images (N, 28, 28) uint8 as static/maps/images-...u8.gz once; its URL."""
    raw = np.ascontiguousarray(_images.numpy(), dtype=np.uint8).tobytes()
    name = f"images-{dataset}-{scope}-{hashlib.sha256(raw).hexdigest()[:12]}.u8.gz"
    path = STATIC_DIR / "maps" / name
    if not path.exists():
        atomic_write_bytes(path, gzip.compress(raw, compresslevel=6))
    return static_url(path)


def map_overlay(images, dataset: str, scope: str, picks: list[int], xy: np.ndarray, chart_key: str) -> None:
    """Draw the overlay for the chart with key `chart_key`; `picks` index `images` and `xy`."""
    url = _images_url(images, dataset, scope, len(images))
    shown = [[int(i), float(xy[i, 0]), float(xy[i, 1])] for i in picks[:200]]
    _overlay(key=f"{chart_key}-overlay", data={"chart_key": chart_key, "images_url": url, "picks": shown})
