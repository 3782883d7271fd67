"""The latent pad: sliders that decode live in the browser while dragged (a components.v2
component), with the decoder's weights served once per checkpoint as a static file.

Everything on the page that depends on z follows in the browser too, with no server round trip:
the star on the overview map and the caption (|z|, the nearest test digit) on every input event,
the traversal strip on release. A second static file per checkpoint carries what that needs (the
test set's posterior means, map coordinates and labels, and the overview map as a PNG). z still
goes back to Python on release, so the session keeps it."""
from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from ui.charts import map_frame, map_raster
from ui.component_data import as_data
from ui.components import source
from ui.static_files import STATIC_DIR, static_url
from vae.analysis.projection import PLACE_NEIGHBOURS
from vae.datasets import dataset_info
from vae.images import GRID_GAP
from vae.models.latent_kinds import SLIDER_RANGE
from vae.services.export import exported_layers, map_file_name, write_decoder_file, write_map_file

if TYPE_CHECKING:
    from vae.models.model import VAE

# The traversal strip: its starting range and number of steps, and how it is drawn (as the server
# draws strips: vae.images.grid's gap, shown at show_digit's scale 3).
TRAVERSAL = {"span": 3.0, "steps": 9, "gap": GRID_GAP, "scale": 3}

_pad = st.components.v2.component(
    "latent_pad", js=source("dom.js", "shared.js", "kernels.wasm", "nets.js", "latent_pad.js"),
    css=source("latent_pad.css"))


@st.cache_resource(max_entries=8, show_spinner=False)
def exported_decoder(_model_of: Callable[[], VAE], weights_hash: str) -> tuple[str, list] | None:
    """The decoder for the browser, written once per checkpoint: its URL and layer list (None when the
    browser cannot run it). `_model_of()` gives the model, asked for only when the file is not there
    yet (a server's first page reads the file instead of building the model)."""
    path = STATIC_DIR / "decoders" / f"decoder-{weights_hash[:16]}-f16.safetensors"
    layers = exported_layers(path) or write_decoder_file(_model_of(), path)
    return (static_url(path), layers) if layers is not None else None


@st.cache_resource(max_entries=8, show_spinner=False)
def exported_map(_lmap, weights_hash: str, projection: str) -> dict:
    """Write the test map for the browser once per checkpoint (next to its decoder): its URL and
    how map coordinates become pixels of the overview image."""
    from PIL import Image

    mu, xy, labels = _lmap.mu, _lmap.xy, _lmap.labels
    frame = map_frame(xy)
    buf = io.BytesIO()
    Image.fromarray(map_raster(xy, labels, size=frame["size"])[0]).save(buf, format="PNG", optimize=True)
    path = STATIC_DIR / "decoders" / map_file_name(weights_hash, mu, xy, labels, buf.getvalue())
    write_map_file(path, mu, xy, labels, buf.getvalue())
    return {"url": static_url(path), "neighbours": PLACE_NEIGHBOURS, **frame}


@st.cache_resource(max_entries=4, show_spinner=False)
def exported_classifier(dataset: str) -> dict | None:
    """The dataset's digit classifier for the browser (vae/models/classifier.py), written once: its URL and
    layer list; None when the dataset has none."""
    import hashlib

    from vae.models.classifier import bundled_path, load_classifier
    from vae.services.export import browser_classifier, write_layers_file

    weights = bundled_path(dataset)
    if not weights.exists():
        return None
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
    path = STATIC_DIR / "decoders" / f"classifier-{dataset}-{digest}.safetensors"
    layers = write_layers_file(browser_classifier(load_classifier(dataset)), path)
    return {"url": static_url(path), "layers": layers, "class_names": list(dataset_info(dataset).class_names)}


def browser_decodable(model_of: Callable[[], VAE], weights_hash: str) -> bool:
    return exported_decoder(model_of, weights_hash) is not None


def latent_pad(model, weights_hash: str, kl: np.ndarray, active: np.ndarray, order: list[int],
               start: np.ndarray, seq: int, lmap, class_names: list[str], checkpoint: str,
               key: str, whole: tuple | None = None, labels: dict[int, str] | None = None) -> np.ndarray | None:
    """Draw the pad with the map, traversal and caption that follow z; returns the z the user
    last released from this starting point (`seq`), or None before any release. z is the code the
    decoder reads: for a categorical latent, its variables' one-hot vectors side by side (the pad
    shows one picker per variable instead of a slider).

    Keep `key` the same for a checkpoint: a new `seq` resets the pad to `start` in place. `whole`:
    (model, hash) of the conditional model that `model` is given a class of (ui.caches.whole_model),
    whose decoder draws z as every class beside the pad. `labels`: each unit's slider label
    (ui.factors.dimension_labels), else its name and KL."""
    url, layers = exported_decoder(lambda: model, weights_hash)
    styles = None
    if whole is not None and whole[0].classes:
        styles_url, styles_layers = exported_decoder(lambda: whole[0], whole[1])
        styles = {"url": styles_url, "layers": styles_layers, "class_names": list(class_names)}
    letter = model.latent.letter
    labels = labels or {d: f"{letter}{d} · KL {kl[d]:.2f}" for d in order}
    dims = [{"d": int(d), "label": labels[d], "kl": float(kl[d]), "active": bool(active[d])} for d in order]
    result = _pad(key=key, data=as_data({
        "key": weights_hash, "weights_url": url, "layers": layers, "dims": dims, "z": [float(v) for v in start],
        "z_dim": len(start), "seq": seq, "range": SLIDER_RANGE,
        "map": exported_map(lmap, weights_hash, lmap.projection),
        "class_names": list(class_names), "thing": dataset_info(model.config.dataset).framing.thing,
        "traversal": TRAVERSAL, "checkpoint": checkpoint,
        "image": {"side": model.config.side, "channels": model.config.channels},
        "latent": model.latent.kind, "categories": model.latent.categories,
        "classifier": exported_classifier(model.config.dataset), "styles": styles}),
                  default={"z": None}, on_z_change=lambda: None)
    released = result.get("z") if hasattr(result, "get") else getattr(result, "z", None)
    if not isinstance(released, dict) or released.get("seq") != seq or released.get("z") is None:
        return None  # nothing released yet, or released before the last new starting point
    return np.asarray(released["z"], dtype=np.float32)
