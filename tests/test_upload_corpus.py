"""A corpus of bad and odd uploads: each gets a clear message or a sensible digit, never a traceback,
and the next upload still works (the reading code keeps no state between uploads).
The corpus itself lives in upload_corpus.py; test_browser_uploads.py sends it through the real app."""
import pytest
from PIL import Image

from bench.drawn import drawn_png, encode
from tests.upload_corpus import BAD, GOOD, corpus, correlation
from vae.images import MAX_UPLOAD_BYTES, ImageError, mnist_style, read_upload


@pytest.fixture(scope="module")
def seven(mnist_test):
    return mnist_test.images[0].numpy()


@pytest.mark.parametrize("name", list(GOOD))
def test_odd_but_valid_images_give_the_digit(name, seven):
    digit = mnist_style(read_upload(corpus(seven)[name].data))
    assert digit.shape == (28, 28)
    assert correlation(digit, seven / 255.0) > 0.7, name


@pytest.mark.parametrize("name", list(BAD))
def test_unusable_files_get_a_clear_message_and_the_next_upload_works(name, seven):
    sample = corpus(seven)[name]
    with pytest.raises(ImageError, match=sample.message):
        mnist_style(read_upload(sample.data))
    assert mnist_style(read_upload(drawn_png(seven))).shape == (28, 28)


def test_the_corpus_is_big_enough():
    assert len(GOOD) + len(BAD) >= 15


def test_the_app_refuses_files_over_the_cap_itself(seven):
    """Streamlit's uploader refuses them first (server.maxUploadSize, see test_browser_uploads.py);
    read_upload says so too, for any other way bytes reach it, before decoding anything."""
    with pytest.raises(ImageError, match=r"21\.0 MB; the limit is 20 MB"):
        read_upload(bytes(MAX_UPLOAD_BYTES + 2**20))
    assert mnist_style(read_upload(drawn_png(seven))).shape == (28, 28)


@pytest.mark.parametrize("size", [(1, 1), (5000, 1), (3, 400), (7, 7)])
def test_images_too_small_to_hold_a_digit_say_so(size):
    with pytest.raises(ImageError, match=rf"{size[0]}x{size[1]} pixels, too small to hold a digit"):
        read_upload(encode(Image.new("L", size, 0)))
