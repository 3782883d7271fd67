"""The sketchpad: a components.v2 component to draw a digit on, with the encoder following every
stroke in the browser (ui/components/sketchpad.js), or to mark the unknown part of a digit for
completing it. The encoder's weights go to the browser once per checkpoint, beside its decoder's."""
from __future__ import annotations

import numpy as np
import streamlit as st

from ui.component_data import as_data
from ui.components import source
from ui.latent_pad import exported_decoder, exported_map
from ui.static_files import STATIC_DIR, static_url
from vae.datasets import dataset_info
from vae.images import framing_for_browser
from vae.services.export import browser_layers, write_layers_file

_sketch = st.components.v2.component("sketchpad",
                                     js=source("dom.js", "shared.js", "kernels.wasm", "nets.js", "prepare.js",
                                               "sketchpad.js"),
                                     css=source("sketchpad.css"))


@st.cache_resource(max_entries=8, show_spinner=False)
def _exported_encoder(_model, weights_hash: str) -> dict | None:
    """The encoder for the browser, written once per checkpoint: its URL and layer list (None when a
    layer is not one the browser runs)."""
    exported = browser_layers(_model.encoder)
    if exported is None:
        return None
    path = STATIC_DIR / "decoders" / f"encoder-{weights_hash[:16]}-f16.safetensors"
    return {"url": static_url(path), "layers": write_layers_file(exported, path)}


def encodes_in_browser(model, weights_hash: str) -> bool:
    """Whether the drawing board shows the model's input, reconstruction and posterior itself
    (mlp and conv networks), so the page need not show them again."""
    return (_exported_encoder(model, weights_hash) is not None
            and exported_decoder(lambda: model, weights_hash) is not None)


def draw_digit(model, weights_hash: str, lmap, active: np.ndarray, order: list[int], key: str) -> np.ndarray | None:
    """A board to draw a digit on; the drawing as the model sees it ((28, 28) in [0, 1], prepared as
    MNIST was) once the pen has lifted, else None (and a note instead of the board for a model of
    pictures a drawing cannot stand for: photos, colour, another size)."""
    if not drawable(model):
        return None
    encoder = _exported_encoder(model, weights_hash)
    decoder = exported_decoder(lambda: model, weights_hash)
    data = {"key": weights_hash, "mode": "draw", "seq": 0, "z_dim": model.latent_dim,
            "latent": model.latent.kind, "categories": model.latent.categories,
            "encoder": encoder if encoder and decoder else None,
            "decoder": {"url": decoder[0], "layers": decoder[1]} if decoder else None,
            "map": exported_map(lmap, weights_hash, lmap.projection) if encoder and decoder else None,
            "dims": [{"d": int(d), "active": bool(active[d])} for d in order],
            "framing": framing_for_browser(model.config.dataset)}
    result = _sketch(key=key, data=as_data(data), default={"drawing": None}, on_drawing_change=lambda: None)
    drawing = result.get("drawing") if hasattr(result, "get") else getattr(result, "drawing", None)
    if not isinstance(drawing, dict) or not isinstance(drawing.get("pixels"), list) or len(drawing["pixels"]) != 784:
        return None
    return np.clip(np.asarray(drawing["pixels"], np.float32), 0, 1).reshape(28, 28)


def drawable(model) -> bool:
    """Whether the boards can draw this model's pictures; a note saying so where they cannot."""
    info = dataset_info(model.config.dataset)
    if not info.drawable:
        c, side, _ = model.config.image_shape
        st.info(f"The drawing board makes 28x28 grayscale pictures; this model's are {side}x{side} "
                f"{'gray' if c == 1 else 'colour'} {info.framing.thing}s. Upload one instead.",
                icon=":material/draw:")
    return info.drawable


def mark_unknown(digit: np.ndarray, seq: int, key: str, thing: str) -> np.ndarray | None:
    """The picture (a `thing`: "digit", "garment", ...) on a board to paint its unknown region over; that
    region ((28, 28) bool) once painted, else None. A new `seq` clears the board (a new picture)."""
    data = {"key": f"mask-{key}", "mode": "mask", "seq": seq, "thing": thing,
            "background": [float(v) for v in digit.ravel()],
            "z_dim": 0, "latent": "", "categories": 0, "encoder": None, "decoder": None, "map": None, "dims": []}
    result = _sketch(key=key, data=as_data(data), default={"mask": None}, on_mask_change=lambda: None)
    mask = result.get("mask") if hasattr(result, "get") else getattr(result, "mask", None)
    if not isinstance(mask, dict) or mask.get("seq") != seq or not isinstance(mask.get("mask"), list) \
            or len(mask["mask"]) != 784:
        return None
    return np.asarray(mask["mask"], bool).reshape(28, 28)
