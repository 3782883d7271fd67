"""The latent map's overlay (a components.v2 component, ui/components/map_overlay.js): a thumbnail of
the hovered digit beside the pointer, and the picked points numbered in the order they were picked.
Between the points, the digit decoded in the browser at the code that map position stands for
(vae/analysis/map_inverse.py; a click opens that code in the sliders), and the decoded lattice.
It attaches to the plotly chart drawn with `chart_key`; the map's images go to the browser once per
dataset and scope, as a gzipped uint8 file served from static/, and its codes and positions (for
decoding) once per map, as safetensors."""
from __future__ import annotations

import gzip
import hashlib

import numpy as np
import streamlit as st

from ui.component_data import as_data
from ui.components import source
from ui.latent_pad import exported_decoder
from ui.static_files import STATIC_DIR, static_url
from vae.analysis.map_inverse import map_inverse
from vae.files import atomic_write_bytes
from vae.services.export import map_file_name, write_map_file

_overlay = st.components.v2.component(
    "map_overlay", js=source("dom.js", "shared.js", "kernels.wasm", "nets.js", "map_decode.js", "map_overlay.js"),
    css=source("map_overlay.css"))


@st.cache_resource(max_entries=4, show_spinner=False)
def _images_url(_images, dataset: str, scope: str, count: int) -> str:
    """Write the map's images (N, H, W[, C]) uint8 as static/maps/images-...u8.gz once; its URL."""
    raw = np.ascontiguousarray(_images.numpy(), dtype=np.uint8).tobytes()
    name = f"images-{dataset.replace(':', '-')}-{scope}-{hashlib.sha256(raw).hexdigest()[:12]}.u8.gz"
    path = STATIC_DIR / "maps" / name
    if not path.exists():
        atomic_write_bytes(path, gzip.compress(raw, compresslevel=6))
    return static_url(path)


@st.cache_resource(max_entries=8, show_spinner=False)
def _decoding(_lmap, _model, weights_hash: str, scope: str, projection: str) -> dict | None:
    """What the browser needs to decode anywhere on this map (None when the decoder cannot run there):
    the decoder, the map's codes and positions, and how a position becomes a code."""
    decoder = exported_decoder(_model, weights_hash)
    if decoder is None:
        return None
    inverse = map_inverse(_lmap, linear=_model.latent.continuous)
    path = STATIC_DIR / "decoders" / map_file_name(weights_hash, _lmap.mu, _lmap.xy, _lmap.labels)
    write_map_file(path, _lmap.mu, _lmap.xy, _lmap.labels)
    exact = {} if inverse.linear is None else {"mean": inverse.linear.mean.tolist(),
                                               "basis": inverse.linear.basis.tolist()}
    return {"weights_url": decoder[0], "layers": decoder[1], "codes_url": static_url(path),
            "inverse": {"gap": inverse.gap, "width": float(np.ptp(_lmap.xy[:, 0])) or 1.0, **exact}}


def image_shape(images) -> dict:
    """The shape of stored images (N, H, W) or (N, H, W, C) as the browser's paintImage takes it."""
    return {"side": int(images.shape[1]), "channels": int(images.shape[3]) if images.ndim == 4 else 1}


def map_overlay(images, dataset: str, scope: str, picks: list[int], lmap, chart_key: str, model=None,
                weights_hash: str = "", lattice: bool = False) -> np.ndarray | None:
    """Draw the overlay for the chart with key `chart_key`; `picks` index `images` and the map.
    With a model, the browser decodes between the points (and a lattice over the view when asked);
    returns the code the user clicked to open in the sliders, on the run that click starts."""
    url = _images_url(images, dataset, scope, len(images))
    shown = [[int(i), float(lmap.xy[i, 0]), float(lmap.xy[i, 1])] for i in picks[:200]]
    decoding = None if model is None else _decoding(lmap, model, weights_hash, scope, lmap.projection)
    result = _overlay(key=f"{chart_key}-overlay", on_open_change=lambda: None,
                      data=as_data({"chart_key": chart_key, "images_url": url, "picks": shown, "decoding": decoding,
                                    "image": image_shape(images), "lattice": lattice and decoding is not None}))
    opened = getattr(result, "open", None)
    return np.asarray(opened, np.float32) if isinstance(opened, list) else None
