"""A corpus of bad and odd uploads: each gets a clear message or a sensible digit, never a traceback,
and the next upload still works (the reading code keeps no state between uploads)."""
import io

import numpy as np
import pytest
from PIL import Image

from test_images import as_drawn, correlation, encode, png_header_only
from vae.images import ImageError, mnist_style, read_upload


@pytest.fixture(scope="module")
def seven(mnist_test):
    return mnist_test.images[0].numpy()


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


GOOD = {
    "palette PNG": lambda s: encode(as_drawn(s).convert("P")),
    "RGBA, transparent background": rgba_transparent,
    "16-bit grayscale PNG": sixteen_bit,
    "CMYK JPEG": lambda s: encode(as_drawn(s).convert("CMYK"), "JPEG"),
    "animated GIF (first frame)": animated_gif,
    "EXIF-rotated JPEG": exif_rotated_jpeg,
    "8000x8000 photo": big_photo,
}

BAD = {
    "empty file": (lambda s: b"", "empty"),
    "random bytes": (lambda s: np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
                     "not an image"),
    "truncated PNG": (lambda s: encode(as_drawn(s))[:300], "damaged or truncated|not an image"),
    "text file named .png": (lambda s: b"just some notes\nnot a picture\n", "not an image"),
    "decompression bomb (30000x30000 header)": (lambda s: png_header_only(30000, 30000), "too large"),
    "1x1 image": (lambda s: encode(Image.new("L", (1, 1), 0)), "No digit found"),
    "all white": (lambda s: encode(Image.new("L", (200, 200), 255)), "No digit found"),
    "all black": (lambda s: encode(Image.new("L", (200, 200), 0)), "No digit found"),
    "SVG renamed .png": (lambda s: b'<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28">'
                                   b'<script>alert(1)</script><text>7</text></svg>', "not an image"),
    "HTML renamed .png": (lambda s: b"<html><body><img src=x onerror=alert(1)>7</body></html>", "not an image"),
}


@pytest.mark.parametrize("name", list(GOOD))
def test_odd_but_valid_images_give_the_digit(name, seven):
    digit = mnist_style(read_upload(GOOD[name](seven)))
    assert digit.shape == (28, 28)
    assert correlation(digit, seven / 255.0) > 0.7, name


@pytest.mark.parametrize("name", list(BAD))
def test_unusable_files_get_a_clear_message_and_the_next_upload_works(name, seven):
    make, message = BAD[name]
    with pytest.raises(ImageError, match=message):
        mnist_style(read_upload(make(seven)))
    assert mnist_style(read_upload(encode(as_drawn(seven)))).shape == (28, 28)


def test_the_corpus_is_big_enough():
    assert len(GOOD) + len(BAD) >= 15
