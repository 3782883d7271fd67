"""The browser's own arithmetic against Python's, in Node (no page is needed; Chromium tests what a
page needs): the drawing's preparation (ui/components/prepare.js, a port of vae/images.py's
mnist_style with Pillow's Lanczos resampling), the networks (nets.js, WebAssembly kernels) for the
encoders the sketchpad runs on every movement of the pen and the decoder the sliders run, where a
code lands on the map (shared.js), and the sketchpad's posterior and its samples (sketchpad.js)."""
import base64
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from safetensors.torch import save as safetensors_bytes

from tests.node_support import node_run, require_node
from vae.config import ModelConfig
from vae.images import FRAMINGS, framing_for_browser, mnist_style, read_upload
from vae.models.model import VAE
from vae.services.export import browser_layers
from vae.training.checkpoint import load_checkpoint

require_node()

NETS = ["dom.js", "shared.js", "kernels.wasm", "nets.js"]
RGBA = "Uint8ClampedArray.from(atob(b64), (c) => c.charCodeAt(0))"


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


def b64(array: np.ndarray | bytes) -> str:
    return base64.b64encode(array if isinstance(array, bytes) else np.ascontiguousarray(array).tobytes()).decode()


@pytest.mark.parametrize("dataset", FRAMINGS)
def test_the_browsers_preparation_is_mnist_styles(dataset):
    images = drawings()
    got = node_run(["prepare.js"], f"""
        return input.images.map((b64) => {{ const p = prepare({RGBA}, 280, 280, input.framing);
                                            return p && Array.from(p); }});""",
                   {"images": [b64(np.asarray(img)) for img in images], "framing": framing_for_browser(dataset)})
    for img, pixels in zip(images, got, strict=True):
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        expected = mnist_style(read_upload(buf.getvalue()), FRAMINGS[dataset])
        assert np.abs(np.round(np.array(pixels).reshape(expected.shape) * 255) - np.round(expected * 255)).max() <= 1


def test_a_blank_board_is_no_digit():
    blank = np.asarray(Image.new("RGBA", (280, 280), (0, 0, 0, 255)))
    assert node_run(["prepare.js"], f"const b64 = input.image; return prepare({RGBA}, 280, 280, input.framing);",
                    {"image": b64(blank), "framing": framing_for_browser("mnist")}) is None


def run_net(net: torch.nn.Module, inputs: torch.Tensor, shape: list[int] | None, function: str = "run") -> np.ndarray:
    """`function` (run, decode or classify) of nets.js on each input, with the weights as the browser
    gets them (a float16 safetensors file)."""
    layers, tensors = browser_layers(net)
    args = "input.layers, net, Float32Array.from(x)" + (", input.shape" if function == "run" else "")
    return np.array(node_run(NETS, f"""
        const bytes = Uint8Array.from(atob(input.weights), (c) => c.charCodeAt(0));
        const net = await netFromBuffer(bytes.buffer);
        return input.inputs.map((x) => Array.from({function}({args})));""",
                             {"weights": b64(safetensors_bytes(tensors)), "layers": layers, "shape": shape,
                              "inputs": inputs.reshape(len(inputs), -1).tolist()}))


def as_sent(net: torch.nn.Module) -> None:
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(p.half().float())  # the weights as the browser gets them


@pytest.fixture(scope="module")
def bundled():
    return load_checkpoint(Path(__file__).resolve().parent.parent / "checkpoints" / "default").model


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_the_browsers_encoders_are_torchs(arch, mnist_test, bundled):
    if arch == "conv":
        model = bundled
    else:
        torch.manual_seed(0)
        model = VAE(ModelConfig(arch="mlp", latent_dim=12, hidden_dims=[256, 64])).eval()
    as_sent(model.encoder)
    x = mnist_test.images[:4].float() / 255
    with torch.no_grad():
        mu, logvar = model.encode(x)
    got = run_net(model.encoder, x, [1, 28, 28])
    d = model.latent_dim
    assert np.abs(got[:, :d] - mu.numpy()).max() <= 1e-3
    assert np.abs(got[:, d:] - logvar.numpy()).max() <= 1e-3


def test_the_browsers_decoder_is_torchs(bundled):
    as_sent(bundled.decoder)
    z = torch.randn(4, bundled.latent_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = bundled.decode(z).reshape(4, -1).numpy()
    assert np.abs(run_net(bundled.decoder, z, None, "decode") - expected).max() <= 1e-4


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_the_browsers_rgb_decoder_is_torchs_and_paints_each_channel_where_torch_puts_it(arch):
    """An image folder's colour model at 32x32: the browser decodes what torch does, channel after
    channel (C, H, W), and paintImage puts channel c of pixel (i, j) where torch's (B, H, W, C) images have it."""
    torch.manual_seed(0)
    model = VAE(ModelConfig(arch=arch, dataset="folder:x-32-rgb", side=32, channels=3, latent_dim=6,
                            hidden_dims=[64])).eval()
    as_sent(model.decoder)
    z = torch.randn(3, 6, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        images = model.decode(z)  # (3, 32, 32, 3)
    decoded = run_net(model.decoder, z, None, "decode")
    assert decoded.shape == (3, 3 * 32 * 32)
    painted = np.array(node_run(["dom.js"], """
        const canvas = { getContext: () => ({ createImageData: (w, h) => ({ data: new Uint8ClampedArray(4 * w * h) }),
                                               putImageData(img) { canvas.img = img; } }) };
        paintImage(canvas, Float32Array.from(input.pixels), { shape: { side: 32, channels: 3 } });
        return Array.from(canvas.img.data);""", {"pixels": decoded[0].tolist()})).reshape(32, 32, 4)
    assert np.abs(painted[..., :3] - np.round(images[0].numpy() * 255)).max() <= 1
    assert (painted[..., 3] == 255).all()
    # The map's thumbnails: stored images (N, H, W, 3) as bytes, the one at `offset` painted as it is.
    stored = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    thumbnail = np.array(node_run(["dom.js"], """
        const canvas = { getContext: () => ({ createImageData: (w, h) => ({ data: new Uint8ClampedArray(4 * w * h) }),
                                               putImageData(img) { canvas.img = img; } }) };
        paintImage(canvas, Uint8Array.from(input.bytes), { shape: { side: 32, channels: 3 }, scale: 1,
                                                           offset: 32 * 32 * 3, interleaved: true });
        return Array.from(canvas.img.data);""", {"bytes": stored.ravel().tolist()})).reshape(32, 32, 4)
    assert np.array_equal(thumbnail[..., :3], stored[1])


def test_the_browsers_conditional_decoder_is_torchs():
    """The style grid's decoder reads [z, one-hot class] (ui/components/latent_pad.js), and the
    pad's decoder is the model given a class: both as torch decodes."""
    conditional = load_checkpoint(Path(__file__).resolve().parent.parent / "checkpoints" / "mnist-conditional").model
    as_sent(conditional.decoder)
    z = torch.randn(10, conditional.latent_dim, generator=torch.Generator().manual_seed(2))
    classes = torch.arange(10)
    with torch.no_grad():
        expected = conditional.decode(z, classes).reshape(10, -1).numpy()
        folded = conditional.given(6).decode(z).reshape(10, -1).numpy()
    with_class = torch.cat([z, torch.nn.functional.one_hot(classes, 10).float()], dim=1)
    assert np.abs(run_net(conditional.decoder, with_class, None, "decode") - expected).max() <= 1e-4
    given = conditional.given(6)  # its folded biases, rounded as the browser gets them
    as_sent(given.decoder)
    assert np.abs(run_net(given.decoder, z, None, "decode") - folded).max() <= 2e-3


def test_a_code_lands_on_the_map_where_python_puts_it():
    from vae.analysis.projection import PLACE_NEIGHBOURS, LatentMap

    rng = np.random.default_rng(3)
    mu, xy = rng.normal(size=(300, 6)).astype(np.float32), rng.normal(size=(300, 2)).astype(np.float32)
    queries = rng.normal(size=(5, 6)).astype(np.float32)
    got = node_run(NETS, """
        const m = { mu: Float32Array.from(input.mu.flat()), xy: Float32Array.from(input.xy.flat()), n: input.mu.length,
                    zDim: input.mu[0].length };
        return input.queries.map((z) => { const p = place(m, Float32Array.from(z), input.k); return [p.x, p.y]; });""",
                   {"mu": mu.tolist(), "xy": xy.tolist(), "queries": queries.tolist(), "k": PLACE_NEIGHBOURS})
    expected = LatentMap(mu, np.zeros(300, np.int64), xy).place(queries)
    assert np.abs(np.array(got) - expected).max() <= 1e-4


SKETCH = ["dom.js", "shared.js", "kernels.wasm", "nets.js", "prepare.js", "sketchpad.js"]


@pytest.mark.parametrize("latent", ["gaussian", "categorical"])
def test_the_sketchpads_posterior_is_the_models(latent, mnist_test):
    torch.manual_seed(0)
    model = VAE(ModelConfig(latent=latent, latent_dim=5, categories=4, hidden_dims=[32])).eval()
    with torch.no_grad():
        output = model.encoder(mnist_test.images[:3].float()[:, None] / 255)
    q = model.latent.posterior(output)
    got = node_run(SKETCH, """
        return input.outputs.map((o) => {
          const q = posteriorOf(Float32Array.from(o), 5, input.latent, 4);
          return { code: Array.from(q.code), sigma: q.sigma && Array.from(q.sigma) };
        });""",
                   {"outputs": output.tolist(), "latent": latent})
    assert np.abs(np.array([g["code"] for g in got]) - q.code.numpy()).max() <= 1e-5
    if latent == "gaussian":
        assert np.abs(np.array([g["sigma"] for g in got]) - q.uncertainty().numpy()).max() <= 1e-5


@pytest.mark.parametrize("latent", ["gaussian", "categorical"])
def test_the_sketchpads_samples_are_samples_of_q(latent):
    """20,000 draws: a Gaussian's mean and standard deviation per dimension within 4 standard errors,
    a categorical variable's category frequencies within 4 standard errors of its probabilities."""
    n = 20_000
    mu, sigma = [0.5, -1.0, 2.0], [1.0, 0.2, 3.0]
    probs = [0.1, 0.2, 0.7, 0.25, 0.25, 0.5]  # two variables of three categories
    got = np.array(node_run(SKETCH, """
        const q = input.latent === "gaussian"
          ? { mu: Float32Array.from(input.mu), sigma: Float32Array.from(input.sigma),
              code: Float32Array.from(input.mu) }
          : { code: Float32Array.from(input.probs), sigma: null };
        const rand = seeded(7), out = [];
        for (let i = 0; i < input.n; i++) out.push(Array.from(sampleOf(q, 3, rand)));
        return out;""", {"latent": latent, "mu": mu, "sigma": sigma, "probs": probs, "n": n}))
    if latent == "gaussian":
        assert np.all(np.abs(got.mean(0) - mu) < 4 * np.array(sigma) / n ** 0.5)
        assert np.all(np.abs(got.std(0) - sigma) < 4 * np.array(sigma) / (2 * n) ** 0.5)
    else:
        assert np.all(got.reshape(n, 2, 3).sum(-1) == 1)  # one-hot per variable
        p = np.array(probs)
        assert np.all(np.abs(got.mean(0) - p) < 4 * np.sqrt(p * (1 - p) / n))
