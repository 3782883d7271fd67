"""The latent map's chart (a components.v2 component, ui/components/latent_map.js and map_draw.js): the points on a
canvas of its own, by class or coloured by a figure of each image, with density contours and cluster
labels on request; pan, zoom, and picking by click, tap, box or lasso; the picked points numbered in
the order they were picked; a thumbnail of the hovered image. Between the points, the image decoded in
the browser at the code that map position stands for (vae/analysis/map_inverse.py; a click opens that
code in the sliders), and the decoded lattice.

The points go as base64 arrays in the component's data; the map's images go to the browser once per
dataset and scope, as a gzipped uint8 file served from static/, and its codes and positions (for
decoding) once per map, as safetensors."""
from __future__ import annotations

import base64
import gzip
import hashlib
import math
from collections.abc import Callable

import numpy as np
import streamlit as st

from ui.charts import PALETTE
from ui.component_data import as_data
from ui.components import source
from ui.latent_pad import exported_decoder
from ui.static_files import STATIC_DIR, static_url
from vae.analysis.map_inverse import exact_inverse, map_gap
from vae.files import atomic_write_bytes
from vae.services.export import map_file_name, write_map_file

_chart = st.components.v2.component(
    "latent_map", js=source("dom.js", "shared.js", "kernels.wasm", "nets.js", "map_decode.js", "map_draw.js",
                            "latent_map.js"),
    css=source("latent_map.css"))
HEIGHT = 620  # px, the map's drawing area
TICKS = 5  # about this many numbers under the colour bar


@st.cache_resource(max_entries=4, show_spinner=False)
def _images_url(_images, dataset: str, scope: str, count: int) -> str:
    """Write the map's images (N, H, W[, C]) uint8 as static/maps/images-...u8.gz once; its URL."""
    raw = np.ascontiguousarray(_images, dtype=np.uint8).tobytes()
    name = f"images-{dataset.replace(':', '-')}-{scope}-{hashlib.sha256(raw).hexdigest()[:12]}.u8.gz"
    path = STATIC_DIR / "maps" / name
    if not path.exists():
        atomic_write_bytes(path, gzip.compress(raw, compresslevel=6))
    return static_url(path)


@st.cache_resource(max_entries=8, show_spinner=False)
def _decoding(_lmap, _model_of, continuous: bool, weights_hash: str, scope: str, projection: str) -> dict | None:
    """What the browser needs to decode anywhere on this map (None when the decoder cannot run there):
    the decoder, the map's codes and positions, and how a position becomes a code
    (vae/analysis/map_inverse.py: the map's gap, and PCA's exact inverse for Gaussian codes)."""
    decoder = exported_decoder(_model_of, weights_hash)
    if decoder is None:
        return None
    linear = exact_inverse(_lmap, linear=continuous)
    path = STATIC_DIR / "decoders" / map_file_name(weights_hash, _lmap.mu, _lmap.xy, _lmap.labels)
    write_map_file(path, _lmap.mu, _lmap.xy, _lmap.labels)
    exact = {} if linear is None else {"mean": linear.mean.tolist(), "basis": linear.basis.tolist()}
    return {"weights_url": decoder[0], "layers": decoder[1], "codes_url": static_url(path),
            "inverse": {"gap": map_gap(_lmap.xy), "width": float(np.ptp(_lmap.xy[:, 0])) or 1.0, **exact}}


def image_shape(images) -> dict:
    """The shape of stored images (N, H, W) or (N, H, W, C) as the browser's paintImage takes it."""
    return {"side": int(images.shape[1]), "channels": int(images.shape[3]) if images.ndim == 4 else 1}


def colour_range(values: np.ndarray) -> tuple[float, float]:
    """The colours' span: the 1st to the 99th percentile (the values beyond take the end colours)."""
    low, high = np.percentile(values, [1, 99]) if len(values) else (0.0, 1.0)
    return float(low), float(high)


def ticks(low: float, high: float, count: int = TICKS) -> list[dict]:
    """Round numbers between low and high (steps of 1, 2 or 5 times a power of ten), each with where it
    sits on the bar (0 to 1) and its text."""
    if not high > low:
        return [{"at": 0.5, "text": f"{low:.2f}"}]
    raw = (high - low) / (count - 1)
    step = min((m * 10 ** math.floor(math.log10(raw)) for m in (1, 2, 5, 10)), key=lambda s: abs(s - raw))
    decimals = max(0, -math.floor(math.log10(step)))
    first = math.ceil(low / step) * step
    values = [first + k * step for k in range(int((high - first) / step + 1e-9) + 1)]
    return [{"at": (v - low) / (high - low), "text": f"{v:.{decimals}f}"} for v in values]


def _b64(array: np.ndarray, dtype) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode()


def latent_map_chart(lmap, images, dataset: str, scope: str, names: list[str], shown: list[int],
                     picks: list[int], on_pick: Callable[[list[int]], None], *, values: np.ndarray | None = None,
                     value_range: tuple[float, float] = (0.0, 1.0), title: str = "",
                     contours: list[tuple[str, np.ndarray]] = (), labels: list[tuple[float, float, str]] = (),
                     model_of: Callable | None = None, continuous: bool = True, weights_hash: str = "",
                     lattice: bool = False, key: str = "latent_map") -> np.ndarray | None:
    """Draw the map of `lmap` (its images `images`), the classes `shown`; `picks` index the map. With
    `values` (one per point) the points take Viridis over `value_range` (the page's colour_range, which
    its caption states too), a colour bar titled `title` below; else their classes' colours and a
    legend. `contours`: (colour, contour_segments) each; `labels`: (x, y, text) each.
    `on_pick(indices)` is called, before the run, with the points the user picked, in picking order.
    With `model_of` (it gives the model; called only when its decoder is not written for the browser
    yet), the browser decodes between the points (and a lattice over the view when asked), codes
    `continuous` or categorical; returns the code the user clicked to open in the sliders, on the
    run that click starts."""
    keep = np.flatnonzero(np.isin(lmap.labels, shown))
    colour = None
    if values is not None:
        keep = keep[np.argsort(values[keep], kind="stable")]  # the highest drawn last, on top
        low, high = value_range
        colour = {"values": _b64(values[keep], "<f4"), "cmin": low, "cmax": high,
                  "colorbar": {"title": title, "ticks": ticks(low, high)}}
    decoding = None if model_of is None else _decoding(lmap, model_of, continuous, weights_hash, scope, lmap.projection)
    xy = np.ascontiguousarray(lmap.xy, np.float32)
    payload = {
        "map_id": hashlib.sha256(xy.tobytes()).hexdigest()[:16],  # a new map: the whole of it in view
        "xy": _b64(xy, "<f4"), "labels": _b64(lmap.labels, "<i4"), "order": _b64(keep, "<i4"),
        "values": None, "colorbar": None, **(colour or {}),
        "classes": sorted(int(c) for c in shown), "names": list(names), "palette": PALETTE, "radius": 2,
        "contours": [{"color": c, "segments": _b64(s, "<f4")} for c, s in contours],
        "texts": [{"x": float(x), "y": float(y), "text": text} for x, y, text in labels],
        "picks": [int(i) for i in picks], "images_url": _images_url(images, dataset, scope, len(images)),
        "image": image_shape(images), "decoding": decoding, "lattice": lattice and decoding is not None,
        "height": HEIGHT,
    }

    def picked() -> None:
        indices = st.session_state[key]["pick"]
        if isinstance(indices, list):
            on_pick([int(i) for i in indices if isinstance(i, int) and 0 <= i < len(lmap.xy)])

    result = _chart(key=key, data=as_data(payload), on_pick_change=picked, on_open_change=lambda: None)
    opened = getattr(result, "open", None)
    return np.asarray(opened, np.float32) if isinstance(opened, list) else None
