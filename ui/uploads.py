"""Digit uploads, shared by the Reconstruct and Interpolation pages."""
from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image

from vae.images import ImageError, mnist_style, read_upload

TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp"]


def upload_digit(key: str, with_original: bool = False):
    """A file uploader that returns the upload as an MNIST-style (28, 28) digit, or None.

    A file that is not a usable image gets a clear message; nothing else changes. With
    `with_original`, returns (original image, digit) instead.
    """
    file = st.file_uploader("Upload a picture of one digit (PNG, JPEG, GIF, BMP or WebP)", type=TYPES, key=key)
    if file is None:
        return (None, None) if with_original else None
    try:
        original: Image.Image = read_upload(file.getvalue())
        digit: np.ndarray = mnist_style(original)
    except ImageError as e:
        st.error(str(e), icon=":material/broken_image:")
        return (None, None) if with_original else None
    return (original, digit) if with_original else digit
