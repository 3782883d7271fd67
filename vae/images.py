"""Images in and out: turn an uploaded picture into an MNIST-style digit, and digits into
PNG strips and animated GIFs.

    digit = mnist_style(read_upload(open("my7.png", "rb").read()))   # (28, 28) float, ink = 1

    garment = mnist_style(picture, FRAMINGS["fashion-mnist"])

MNIST's digits were made like this (LeCun et al.): light ink on black, cropped to the ink,
fitted into 20x20 keeping the aspect ratio (anti-aliased), then centred by centre of mass
in a 28x28 field. `mnist_style` repeats those steps for any photo or drawing. Fashion-MNIST's
products were framed otherwise (Xiao et al. 2017): trimmed to the object, its longest side
resized to 28, the shorter one extended to 28 around it (the object's box in the middle, no
centre of mass), intensities negated; a `Framing` says which.
"""
from __future__ import annotations

import io
from dataclasses import asdict

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from vae.datasets import REGISTRY, Dataset, Framing

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 80_000_000  # an 8000x8000 photo fits; a 30000x30000 decompression bomb does not
MIN_SIDE = 8  # pixels: anything narrower or lower cannot hold a digit (MNIST's own are 28x28)
WORKING_SIZE = 512  # big photos are shrunk to this before any pixel work
ACCEPTED_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")


FRAMINGS = {name: info.framing for name, info in REGISTRY.items()}  # each dataset's (vae/datasets.py)
GRID_GAP = 2  # pixels between the digits of a strip or grid


class ImageError(ValueError):
    """An upload that cannot become a digit; the message is meant for the user."""


def read_upload(data: bytes) -> Image.Image:
    """Decode an upload (first frame, EXIF orientation applied), refusing what is not a sane image."""
    if not data:
        raise ImageError("The file is empty.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageError(f"The file is {len(data) / 2**20:.1f} MB; the limit is {MAX_UPLOAD_BYTES // 2**20} MB.")
    try:
        img = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError:
        raise ImageError(f"The image is too large to open safely (limit {MAX_PIXELS // 1_000_000} "
                         "million pixels).") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise ImageError("This file is not an image that can be read. "
                         "Upload a PNG, JPEG, GIF, BMP or WebP picture of a digit.") from None
    width, height = img.size
    if width * height > MAX_PIXELS:
        raise ImageError(f"The image is {width}x{height} pixels, too large to open safely "
                         f"(limit {MAX_PIXELS // 1_000_000} million pixels).")
    if min(width, height) < MIN_SIDE:
        raise ImageError(f"The image is {width}x{height} pixels, too small to hold a digit "
                         f"(it needs at least {MIN_SIDE}x{MIN_SIDE}).")
    try:
        img.seek(0)  # animated GIF / WebP: the first frame
        if img.format == "JPEG":
            img.draft("RGB", (WORKING_SIZE, WORKING_SIZE))  # decode big JPEGs at a fraction of their size
        img.load()
        img = ImageOps.exif_transpose(img)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise ImageError(f"The image is damaged or truncated and cannot be decoded ({e}).") from None
    if img.width * img.height == 0:
        raise ImageError("The image has no pixels.")
    img.thumbnail((WORKING_SIZE, WORKING_SIZE), Image.Resampling.LANCZOS)
    return img


def to_gray(img: Image.Image) -> np.ndarray:
    """Any PIL image -> (H, W) float in [0, 1], transparent areas composited on white."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if arr.max() > 255 else 255.0
        return np.clip(arr / top, 0, 1)
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        return np.clip(arr / max(float(arr.max()), 1e-12), 0, 1)
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return np.asarray(img.convert("L"), dtype=np.float64) / 255.0


def photo_style(img: Image.Image, side: int, channels: int) -> np.ndarray:
    """Any picture as an image folder's were read (vae/image_folder.py): its middle square, resized to
    side x side (anti-aliased), gray or RGB (transparency on white) -> (side, side) or (side, side, 3)
    float32 in [0, 1]. No object is looked for: nothing digit-specific."""
    w, h = img.size
    box = min(w, h)
    left, top = (w - box) // 2, (h - box) // 2
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16-bit or float: scaled as to_gray does
        img = Image.fromarray(np.round(to_gray(img) * 255).astype(np.uint8))
    elif img.mode not in ("RGB", "L"):
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    square = img.convert("RGB" if channels == 3 else "L").crop((left, top, left + box, top + box))
    return np.asarray(square.resize((side, side), Image.Resampling.LANCZOS), dtype=np.float32) / 255.0


def as_dataset_image(img: Image.Image, info: Dataset, blank_ok: bool = False) -> np.ndarray:
    """A picture prepared as the dataset's own were: an image folder's photo_style, the others'
    mnist_style (ImageError when nothing is on it, unless `blank_ok`: then an empty image)."""
    if info.framing.centre == "photo":
        return photo_style(img, info.side, info.channels)
    return mnist_style(img, info.framing, blank_ok)


def mnist_style(img: Image.Image, framing: Framing = FRAMINGS["mnist"], blank_ok: bool = False) -> np.ndarray:
    """A picture of one digit (or garment: `framing`) -> (side, side) float32 in [0, 1], light on
    black: (28, 28) for the MNISTs. One with nothing on it (no contrast) is refused (ImageError), or
    with `blank_ok` is the empty image: all black."""
    gray = to_gray(img)
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    ink = gray - background if background < 0.5 else background - gray  # dark-on-light is inverted
    ink = np.clip(ink, 0, None)
    peak = float(ink.max())
    if peak < 0.1 and blank_ok:
        return np.zeros((framing.side, framing.side), np.float32)
    if peak < 0.1:
        raise ImageError(f"No {framing.thing} found: the image is blank or has almost no contrast.")
    ink = ink / peak
    ys, xs = np.nonzero(ink > framing.trim)
    ink = ink[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]  # crop to the ink
    h, w = ink.shape
    scale = framing.box / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    fitted = Image.fromarray((ink * 255).astype(np.uint8)).resize((new_w, new_h), Image.Resampling.LANCZOS)
    box = np.asarray(fitted, dtype=np.float64) / 255.0  # (<= box, <= box)
    side = framing.side
    field = np.zeros((side, side))
    if framing.centre == "mass":
        mass = box.sum()
        cy = (box.sum(1) * np.arange(new_h)).sum() / mass
        cx = (box.sum(0) * np.arange(new_w)).sum() / mass
        # MNIST's digits have their centre of mass at pixel (14, 14) of the 28x28 field.
        top = int(np.clip(round(side / 2 - cy), 0, side - new_h))
        left = int(np.clip(round(side / 2 - cx), 0, side - new_w))
    else:
        top, left = (side - new_h) // 2, (side - new_w) // 2
    field[top: top + new_h, left: left + new_w] = box
    return field.astype(np.float32)


def framing_for_browser(dataset: str) -> dict:
    """A dataset's framing as prepare.js takes it."""
    return asdict(FRAMINGS[dataset])


def to_uint8(images: np.ndarray) -> np.ndarray:
    return (np.clip(images, 0, 1) * 255).round().astype(np.uint8)


def strip(images: np.ndarray, gap: int = GRID_GAP) -> np.ndarray:
    """(N, H, W) or (N, H, W, 3) -> one (H, N * W + gaps[, 3]) image, side by side."""
    n, h, w = images.shape[:3]
    out = np.zeros((h, n * w + (n - 1) * gap, *images.shape[3:]), dtype=images.dtype)
    for i, im in enumerate(images):
        out[:, i * (w + gap): i * (w + gap) + w] = im
    return out


def grid(images: np.ndarray, cols: int, gap: int = GRID_GAP) -> np.ndarray:
    """(N, H, W) or (N, H, W, 3) -> a mosaic of rows of `cols` images."""
    rows = -(-len(images) // cols)
    padded = np.zeros((rows * cols, *images.shape[1:]), dtype=images.dtype)
    padded[: len(images)] = images
    row_images = [strip(padded[r * cols:(r + 1) * cols], gap) for r in range(rows)]
    spacer = np.zeros((gap, *row_images[0].shape[1:]), dtype=images.dtype)
    return np.concatenate([part for row in row_images for part in (row, spacer)][:-1], axis=0)


def png_bytes(image: np.ndarray, scale: int = 4) -> bytes:
    """A float [0, 1] (H, W) or (H, W, 3) image as PNG, scaled up with square pixels."""
    pil = Image.fromarray(to_uint8(image)).resize((image.shape[1] * scale, image.shape[0] * scale),
                                                  Image.Resampling.NEAREST)
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue()


def gif_bytes(images: np.ndarray, scale: int = 6, frame_ms: int = 120) -> bytes:
    """An animated GIF that plays the frames forward then back, looping forever."""
    frames = [Image.fromarray(to_uint8(im)).resize((im.shape[1] * scale, im.shape[0] * scale),
                                                   Image.Resampling.NEAREST) for im in images]
    frames = frames + frames[-2:0:-1]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=frame_ms, loop=0)
    return buf.getvalue()
