"""Digit uploads, shared by the Reconstruct and Interpolation pages."""
from __future__ import annotations

import logging

import streamlit as st
from PIL import Image

from ui.components import source
from ui.text import literal
from vae.datasets import dataset_info
from vae.images import MAX_UPLOAD_BYTES, ImageError, as_dataset_image, read_upload

TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp"]
# The Streamlit whose uploader markup upload_guard.js reads (its UPLOADER adapter); another one
# makes tests/test_streamlit_internals.py fail, and a chip the adapter cannot read is said here.
GUARDED_STREAMLIT = "1.67"
_log = logging.getLogger(__name__)
_guard = st.components.v2.component("upload_guard", js=source("upload_guard.js"))


def upload_digit(key: str, keep: str, dataset: str, with_original: bool = False, blank_ok: bool = False):
    """A file uploader that returns the upload as one of `dataset`'s pictures (an MNIST-style (28, 28)
    digit, a garment framed as Fashion-MNIST's were, an image folder's (side, side[, 3]) picture),
    or None.

    The last good upload is kept for the session under `keep`, so it outlasts the uploader (which
    Streamlit empties when the page is left) and is shown again on return. A file that is not a
    usable image, or one the browser refused for its size, gets a clear message and no result: the
    kept one is dropped, not shown in its place. With `with_original`, returns (original image,
    digit) instead; with `blank_ok`, a picture with nothing on it is the empty (black) image, not refused.
    """
    info = dataset_info(dataset)
    framing = info.framing
    file = st.file_uploader(f"Upload a picture of one {framing.thing} (PNG, JPEG, GIF, BMP or WebP)", type=TYPES,
                            key=key)
    latest = _guard(key=f"{key}-guard", data={"uploader_key": key}, default={"latest": None},
                    on_latest_change=lambda: None)
    latest = latest.get("latest") if hasattr(latest, "get") else getattr(latest, "latest", None)
    problem = None
    if isinstance(latest, dict) and latest.get("kind") == "unreadable":
        _log.error("the upload guard cannot read Streamlit %s's file uploader (written for %s): %r",
                   st.__version__, GUARDED_STREAMLIT, latest.get("message"))
        st.warning("This page cannot tell whether your browser refused a file (this Streamlit's uploader is "
                   "not the one it knows): if nothing changes after an upload, the file may be too large.",
                   icon=":material/warning:")
    elif isinstance(latest, dict) and latest.get("kind") == "refused":
        size = str(latest.get("size") or "").rpartition(", ")[2]
        problem = (f"{literal(latest.get('name', 'The file'))} is {size or 'too large'}; the limit is "
                   f"{MAX_UPLOAD_BYTES // 2**20} MB. Upload a smaller picture.")
    elif file is not None:
        try:
            original: Image.Image = read_upload(file.getvalue())
            as_dataset_image(original, info, blank_ok)  # refuses a picture with nothing on it, unless blank_ok
            st.session_state[keep] = original
        except ImageError as e:
            problem = str(e)
    if problem:
        st.error(problem, icon=":material/broken_image:")
        st.session_state.pop(keep, None)
    original = st.session_state.get(keep)
    # Framed afresh each run (milliseconds): another model may frame the same picture otherwise.
    digit = None if original is None else as_dataset_image(original, info, blank_ok)
    return (original, digit) if with_original else digit
