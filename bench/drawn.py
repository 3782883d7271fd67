"""A digit as a person draws or photographs it for an upload: dark ink on white, much bigger than
MNIST's 28x28 and off-centre. Shared by the upload tests and the benchmarks' simulated users.

    png = drawn_png(mnist_test.images[0].numpy())
"""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def as_drawn(digit: np.ndarray, size=(300, 300), offset=(40, 30), scale=8) -> Image.Image:
    """A uint8 (28, 28) MNIST digit, scaled up `scale` times, dark on a white `size` page."""
    page = np.full(size, 255, np.uint8)
    big = np.kron(np.asarray(digit, np.uint8), np.ones((scale, scale), np.uint8))
    h, w = min(big.shape[0], size[0] - offset[0]), min(big.shape[1], size[1] - offset[1])
    page[offset[0]:offset[0] + h, offset[1]:offset[1] + w] = 255 - big[:h, :w]
    return Image.fromarray(page)


def encode(img: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


def drawn_png(digit: np.ndarray, **layout) -> bytes:
    """as_drawn(digit, **layout) as PNG bytes: an ordinary upload that must always work."""
    return encode(as_drawn(digit, **layout))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size without the pixels to back it (a decompression-bomb header)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 10))
            + chunk(b"IEND", b""))
