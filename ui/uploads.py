"""Digit uploads, shared by the Reconstruct and Interpolation pages."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from ui.common import literal
from vae.images import MAX_UPLOAD_BYTES, ImageError, mnist_style, read_upload

TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp"]
_guard = st.components.v2.component(
    "upload_guard", js=(Path(__file__).parent / "components" / "upload_guard.js").read_text())


def upload_digit(key: str, with_original: bool = False):
    """A file uploader that returns the upload as an MNIST-style (28, 28) digit, or None.

    A file that is not a usable image, or one the browser refused for its size, gets a clear
    message and no result (not the previous file's). With `with_original`, returns (original
    image, digit) instead.
    """
    nothing = (None, None) if with_original else None
    file = st.file_uploader("Upload a picture of one digit (PNG, JPEG, GIF, BMP or WebP)", type=TYPES, key=key)
    latest = _guard(key=f"{key}-guard", data={"uploader_key": key}, default={"latest": None},
                    on_latest_change=lambda: None)
    latest = latest.get("latest") if hasattr(latest, "get") else getattr(latest, "latest", None)
    if isinstance(latest, dict) and latest.get("kind") == "refused":
        size = str(latest.get("size") or "").rpartition(", ")[2]
        st.error(f"{literal(latest.get('name', 'The file'))} is {size or 'too large'}; the limit is "
                 f"{MAX_UPLOAD_BYTES // 2**20} MB. Upload a smaller picture.", icon=":material/broken_image:")
        return nothing
    if file is None:
        return nothing
    try:
        original: Image.Image = read_upload(file.getvalue())
        digit: np.ndarray = mnist_style(original)
    except ImageError as e:
        st.error(str(e), icon=":material/broken_image:")
        return nothing
    return (original, digit) if with_original else digit
