"""The latent pad: sliders that decode live in the browser while dragged (a components.v2
component), with the decoder's weights served once per checkpoint as a static file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from vae.export import write_decoder_file

HERE = Path(__file__).parent / "components"
STATIC_DIR = Path(__file__).resolve().parents[1] / "static"  # served at app/static/ (enableStaticServing)

_pad = st.components.v2.component(
    "latent_pad", js=(HERE / "latent_pad.js").read_text(), css=(HERE / "latent_pad.css").read_text())


@st.cache_resource(max_entries=8, show_spinner=False)
def _exported(_model, weights_hash: str) -> tuple[str, list] | None:
    """Write the decoder for the browser once per checkpoint; its URL and layer list."""
    name = f"decoder-{weights_hash[:16]}-f16.safetensors"
    layers = write_decoder_file(_model, STATIC_DIR / "decoders" / name)
    return (f"app/static/decoders/{name}", layers) if layers is not None else None


def browser_decodable(model, weights_hash: str) -> bool:
    return _exported(model, weights_hash) is not None


def latent_pad(model, weights_hash: str, kl: np.ndarray, active: np.ndarray, order: list[int],
               start: np.ndarray, seq: int, key: str) -> np.ndarray | None:
    """Draw the pad; returns the z the user last released (None before any release)."""
    url, layers = _exported(model, weights_hash)
    dims = [{"d": int(d), "label": f"z{d} · KL {kl[d]:.2f}", "active": bool(active[d])} for d in order]
    result = _pad(key=key, data={"key": weights_hash, "weights_url": url, "layers": layers, "dims": dims,
                                 "z": [float(v) for v in start], "z_dim": len(start), "seq": seq, "range": 4},
                  default={"z": None}, on_z_change=lambda: None)
    z = result.get("z") if hasattr(result, "get") else getattr(result, "z", None)
    return None if z is None else np.asarray(z, dtype=np.float32)
