"""Uploads become MNIST-style digits; unusable files get a clear message."""
import io

import numpy as np
import pytest
from PIL import Image

from bench.drawn import as_drawn, encode, png_header_only
from tests.upload_corpus import correlation
from vae.images import FRAMINGS, ImageError, gif_bytes, grid, mnist_style, png_bytes, read_upload, strip


def test_a_drawn_digit_comes_back_like_the_mnist_original(mnist_test):
    original = mnist_test.images[0].numpy()
    digit = mnist_style(read_upload(encode(as_drawn(original))))
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    assert 0 <= digit.min() and digit.max() <= 1
    assert correlation(digit, original / 255.0) > 0.85


def test_mnist_geometry_ink_in_20x20_centred_by_mass(mnist_test):
    digit = mnist_style(read_upload(encode(as_drawn(mnist_test.images[1].numpy(), offset=(5, 5)))))
    ys, xs = np.nonzero(digit > 0.05)
    assert ys.max() - ys.min() < 22 and xs.max() - xs.min() < 22
    mass = digit.sum()
    cy, cx = (digit.sum(1) * np.arange(28)).sum() / mass, (digit.sum(0) * np.arange(28)).sum() / mass
    assert abs(cy - 14) < 1.0 and abs(cx - 14) < 1.0


def test_a_photographed_garment_comes_back_like_fashion_mnists_own():
    """Fashion-MNIST's framing: no 20x20 box, no centre of mass; the garment's longest side fills
    28 pixels and its box sits in the middle. A test image, photographed dark on a white table
    (8x larger, off centre), comes back as it was."""
    from vae.data import load_split

    fashion = FRAMINGS["fashion-mnist"]
    for i in (0, 1, 7):  # an ankle boot, a pullover, a shirt
        original = load_split("fashion-mnist", "test").images[i].numpy()
        garment = mnist_style(read_upload(encode(as_drawn(original, offset=(9, 60)))), fashion)
        ys, xs = np.nonzero(garment > 0.1)
        assert max(ys.max() - ys.min(), xs.max() - xs.min()) >= 26
        assert abs((ys.min() + ys.max()) / 2 - 13.5) <= 1 and abs((xs.min() + xs.max()) / 2 - 13.5) <= 1
        assert correlation(garment, original / 255.0) > 0.85
        assert correlation(mnist_style(read_upload(encode(as_drawn(original))), FRAMINGS["mnist"]),
                           original / 255.0) < correlation(garment, original / 255.0)
    with pytest.raises(ImageError, match="No garment found"):
        mnist_style(read_upload(encode(Image.new("L", (64, 64), 255))), fashion)


def test_light_on_dark_is_not_inverted(mnist_test):
    original = mnist_test.images[2].numpy()
    light_on_dark = Image.fromarray(255 - np.asarray(as_drawn(original)))
    assert correlation(mnist_style(read_upload(encode(light_on_dark))), original / 255.0) > 0.85


def test_transparent_background_is_composited_on_white(mnist_test):
    original = mnist_test.images[3].numpy()
    ink = np.asarray(as_drawn(original))
    rgba = np.zeros((*ink.shape, 4), np.uint8)
    rgba[..., 3] = 255 - ink  # black ink, alpha = ink; fully transparent background
    digit = mnist_style(read_upload(encode(Image.fromarray(rgba, "RGBA"))))
    assert correlation(digit, original / 255.0) > 0.85


@pytest.mark.parametrize("fmt", ["JPEG", "GIF", "BMP", "WEBP"])
def test_other_formats(fmt, mnist_test):
    img = as_drawn(mnist_test.images[4].numpy()).convert("RGB")
    digit = mnist_style(read_upload(encode(img, fmt)))
    assert correlation(digit, mnist_test.images[4].numpy() / 255.0) > 0.7


@pytest.mark.parametrize("data,message", [
    (b"", "empty"),
    (bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)), "not an image"),
    (b"hello, I am text pretending to be a png", "not an image"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "not an image"),
    (png_header_only(30000, 30000), "too large"),
])
def test_unusable_files_get_a_clear_message(data, message):
    with pytest.raises(ImageError, match=message):
        read_upload(data)


def test_truncated_png(mnist_test):
    data = encode(as_drawn(mnist_test.images[0].numpy()))
    with pytest.raises(ImageError, match="damaged or truncated|not an image"):
        mnist_style(read_upload(data[: len(data) // 2]))


@pytest.mark.parametrize("value", [0, 128, 255])
def test_blank_images_say_no_digit_unless_a_blank_one_is_asked_for(value):
    """Reconstruct wants a digit; Out of distribution scores anything, a blank picture as the empty image."""
    blank = read_upload(encode(Image.new("L", (64, 64), value)))
    with pytest.raises(ImageError, match="No digit found"):
        mnist_style(blank)
    empty = mnist_style(blank, blank_ok=True)
    assert empty.shape == (28, 28) and empty.dtype == np.float32 and not empty.any()


def test_strip_grid_png_and_gif():
    frames = np.random.default_rng(0).random((5, 28, 28)).astype(np.float32)
    assert strip(frames, gap=2).shape == (28, 5 * 28 + 4 * 2)
    assert grid(frames, cols=3, gap=2).shape == (2 * 28 + 2, 3 * 28 + 2 * 2)
    assert Image.open(io.BytesIO(png_bytes(frames[0], scale=4))).size == (112, 112)
    gif = Image.open(io.BytesIO(gif_bytes(frames)))
    assert gif.n_frames == 5 + 3  # forward, then back without repeating the ends


def test_completion_never_changes_a_known_pixel_and_fills_the_unknown(mnist_test):
    from pathlib import Path

    from vae.analysis.completion import complete
    from vae.training.checkpoint import load_checkpoint

    model = load_checkpoint(Path(__file__).resolve().parents[1] / "checkpoints" / "default").model
    digit = mnist_test.images[0].numpy() / 255.0  # a 7
    unknown = np.zeros((28, 28), bool)
    unknown[14:, :] = True  # its lower half
    for sample in (False, True):
        steps = complete(model, digit.astype(np.float32), unknown, iterations=10, sample=sample, seed=3)
        assert len(steps) == 11
        for step in steps:
            assert np.array_equal(step[~unknown], digit.astype(np.float32)[~unknown])
        assert steps[0][unknown].max() == 0 and steps[-1][unknown].max() > 0.5  # ink drawn in the hole
    mean = complete(model, digit.astype(np.float32), unknown, iterations=10)[-1]
    assert np.abs(mean - digit).mean() < np.abs(np.zeros_like(digit) - digit).mean()  # nearer the truth than blank
    others = [complete(model, digit.astype(np.float32), unknown, iterations=10, sample=True, seed=s)[-1]
              for s in range(3)]
    assert not np.array_equal(others[0], others[1])  # samples give different completions
