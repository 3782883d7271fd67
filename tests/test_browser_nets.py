"""The browser's own arithmetic against Python's, in Chromium, on a blank page: the drawing's
preparation (ui/components/prepare.js, a port of vae/images.py's mnist_style with Pillow's Lanczos
resampling) and the networks (ui/components/nets.js) for the mlp and conv encoders, which the
sketchpad runs on every movement of the pen (issue #14)."""
import base64
import io
import re

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from safetensors.torch import save as safetensors_bytes

from tests.browser_support import ROOT, require_browser
from ui.components import source
from vae.config import ModelConfig
from vae.images import FRAMINGS, framing_for_browser, mnist_style, read_upload
from vae.models.model import VAE
from vae.services.export import browser_layers
from vae.training.checkpoint import load_checkpoint

pytestmark = [pytest.mark.browser, pytest.mark.slow]
require_browser()


@pytest.fixture(scope="module")
def blank(browser):
    """A page running nets.js (with its WebAssembly kernels) and prepare.js as one plain script, as
    the components get them (their `export`s dropped)."""
    page = browser.new_page()
    page.add_script_tag(content=re.sub(r"^export ", "", source("kernels.wasm", "nets.js", "prepare.js"), flags=re.M))
    yield page
    page.close()


def drawings() -> list[Image.Image]:
    """Digits as people draw them on the sketchpad (light ink on black, 280x280, round pens of
    several sizes) and one drawn dark on white."""
    rng = np.random.default_rng(7)
    out = []
    for width, light in ((22, True), (8, True), (40, True), (16, True), (18, False)):
        img = Image.new("RGBA", (280, 280), (0, 0, 0, 255) if light else (255, 255, 255, 255))
        draw = ImageDraw.Draw(img)
        for _ in range(rng.integers(1, 4)):
            points = [tuple(rng.uniform(40, 240, 2)) for _ in range(rng.integers(3, 9))]
            draw.line(points, fill=(255, 255, 255, 255) if light else (20, 20, 20, 255), width=width, joint="curve")
        out.append(img)
    return out


@pytest.mark.parametrize("dataset", FRAMINGS)
def test_the_browsers_preparation_is_mnist_styles(blank, dataset):
    for img in drawings():
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        expected = mnist_style(read_upload(buf.getvalue()), FRAMINGS[dataset])
        rgba = base64.b64encode(np.asarray(img).tobytes()).decode()
        got = np.array(blank.evaluate("""([b64, w, h, framing]) => Array.from(prepare(
            Uint8ClampedArray.from(atob(b64), c => c.charCodeAt(0)), w, h, framing))""",
                                      [rgba, img.width, img.height, framing_for_browser(dataset)]))
        got = got.reshape(28, 28)
        assert np.abs(np.round(got * 255) - np.round(expected * 255)).max() <= 1


def test_a_blank_board_is_no_digit(blank):
    rgba = base64.b64encode(np.asarray(Image.new("RGBA", (280, 280), (0, 0, 0, 255))).tobytes()).decode()
    assert blank.evaluate("""([b64, w, h, framing]) => prepare(Uint8ClampedArray.from(atob(b64), c => c.charCodeAt(0)),
                                                               w, h, framing)""",
                          [rgba, 280, 280, framing_for_browser("mnist")]) is None


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_the_browsers_encoders_are_torchs(blank, arch, mnist_test):
    if arch == "conv":
        model = load_checkpoint(ROOT / "checkpoints" / "default").model
    else:
        torch.manual_seed(0)
        model = VAE(ModelConfig(arch="mlp", latent_dim=12, hidden_dims=[256, 64])).eval()
    layers, tensors = browser_layers(model.encoder)  # float16, as the browser gets them
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.copy_(p.half().float())  # the weights as sent
        x = mnist_test.images[:4].float() / 255
        mu, logvar = model.encode(x)
    # The weights as the browser fetches them: a float16 safetensors file, loaded by nets.js.
    blank.evaluate("""async b64 => { const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
                                     window.__weights = await netFromBuffer(bytes.buffer); }""",
                   base64.b64encode(safetensors_bytes(tensors)).decode())
    for i in range(4):
        got = np.array(blank.evaluate("""([layers, x]) =>
            Array.from(run(layers, window.__weights, Float32Array.from(x), [1, 28, 28]))""",
                                      [layers, x[i].flatten().tolist()]))
        d = model.latent_dim
        assert np.abs(got[:d] - mu[i].numpy()).max() <= 1e-3
        assert np.abs(got[d:] - logvar[i].numpy()).max() <= 1e-3

