"""A corpus of bad and odd uploads, shared by the in-process test (test_upload_corpus.py) and the
browser test (test_browser_uploads.py). Built once per test session: the 8000x8000 photo takes
a moment.

    for sample in corpus(seven): sample.filename, sample.mime, sample.data, sample.message
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from bench.drawn import as_drawn, encode, png_header_only


def correlation(a, b) -> float:
    """Pixel correlation, allowing a shift of up to one pixel (centring rounds)."""
    return max(float(np.corrcoef(np.roll(a, (dy, dx), (0, 1)).ravel(), b.ravel())[0, 1])
               for dy in (-1, 0, 1) for dx in (-1, 0, 1))


@dataclass(frozen=True)
class Sample:
    name: str  # what it is, for test ids
    filename: str  # what a user's browser would send
    mime: str
    data: bytes
    message: str | None  # regex of the message an unusable file must get; None: it gives a digit

    @property
    def good(self) -> bool:
        return self.message is None


def exif_rotated_jpeg(seven) -> bytes:
    """Stored sideways, with EXIF orientation 6 ("rotate 90 clockwise to view")."""
    upright = as_drawn(seven).convert("RGB")
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # counter-clockwise: the viewer undoes it
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(stored, "JPEG", exif=exif.tobytes(), quality=95)


def animated_gif(seven) -> bytes:
    first = as_drawn(seven).convert("P")
    second = Image.new("P", first.size, 255)
    buf = io.BytesIO()
    first.save(buf, format="GIF", save_all=True, append_images=[second], duration=100, loop=0)
    return buf.getvalue()


def sixteen_bit(seven) -> bytes:
    arr = np.asarray(as_drawn(seven), dtype=np.uint16) * 257  # 0..65535
    return encode(Image.fromarray(arr))  # mode I;16


def rgba_transparent(seven) -> bytes:
    ink = 255 - np.asarray(as_drawn(seven))
    rgba = np.zeros((*ink.shape, 4), np.uint8)
    rgba[..., 3] = ink
    return encode(Image.fromarray(rgba, "RGBA"))


def big_photo(seven) -> bytes:
    """A valid 8000x8000 photo of the digit (JPEG, grayscale)."""
    return encode(as_drawn(seven).resize((8000, 8000), Image.Resampling.BILINEAR), "JPEG", quality=80)


# name: (file name, MIME type, builder)
GOOD = {
    "palette PNG": ("palette.png", "image/png", lambda s: encode(as_drawn(s).convert("P"))),
    "RGBA, transparent background": ("transparent.png", "image/png", rgba_transparent),
    "16-bit grayscale PNG": ("sixteen-bit.png", "image/png", sixteen_bit),
    "CMYK JPEG": ("cmyk.jpg", "image/jpeg", lambda s: encode(as_drawn(s).convert("CMYK"), "JPEG")),
    "animated GIF (first frame)": ("animated.gif", "image/gif", animated_gif),
    "EXIF-rotated JPEG": ("phone-photo.jpg", "image/jpeg", exif_rotated_jpeg),
    "8000x8000 photo": ("photo-8000px.jpg", "image/jpeg", big_photo),
}

NOT_AN_IMAGE = "not an image"
NO_DIGIT = "No digit found"

# name: (file name, MIME type, builder, message regex)
BAD = {
    "empty file": ("empty.png", "image/png", lambda s: b"", "empty"),
    "random bytes": ("random.png", "image/png",
                     lambda s: np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
                     NOT_AN_IMAGE),
    "truncated PNG": ("truncated.png", "image/png", lambda s: encode(as_drawn(s))[:300],
                      "damaged or truncated|" + NOT_AN_IMAGE),
    "text file named .png": ("notes.png", "image/png", lambda s: b"just some notes\nnot a picture\n",
                             NOT_AN_IMAGE),
    "decompression bomb (30000x30000 header)": ("bomb.png", "image/png", lambda s: png_header_only(30000, 30000),
                                                "too large"),
    "1x1 image": ("pixel.png", "image/png", lambda s: encode(Image.new("L", (1, 1), 0)), "too small"),
    "all white": ("white.png", "image/png", lambda s: encode(Image.new("L", (200, 200), 255)), NO_DIGIT),
    "all black": ("black.png", "image/png", lambda s: encode(Image.new("L", (200, 200), 0)), NO_DIGIT),
    "SVG renamed .png": ("drawing.png", "image/png",
                         lambda s: b'<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28">'
                                   b'<script>alert(1)</script><text>7</text></svg>', NOT_AN_IMAGE),
    "HTML renamed .png": ("page.png", "image/png",
                          lambda s: b"<html><body><img src=x onerror=alert(1)>7</body></html>", NOT_AN_IMAGE),
}

_built: dict[bytes, dict[str, Sample]] = {}


def corpus(seven: np.ndarray) -> dict[str, Sample]:
    """Every sample, made from one MNIST digit (uint8, 28x28); built once per digit per session."""
    key = np.ascontiguousarray(seven).tobytes()
    if key not in _built:
        samples = {name: Sample(name, filename, mime, make(seven), None)
                   for name, (filename, mime, make) in GOOD.items()}
        samples.update({name: Sample(name, filename, mime, make(seven), message)
                        for name, (filename, mime, make, message) in BAD.items()})
        _built[key] = samples
    return _built[key]
