"""Export networks for the browser: a layer list (JSON) plus its weights as safetensors.

The browser's network (ui/components/nets.js) knows linear, conv2d, conv_transpose2d, relu,
maxpool2d, flatten and unflatten: every mlp and conv decoder here, and the digit classifier.

    spec, weights = browser_decoder(model)     # None when a layer is not one of those
    write_decoder_file(model, "static/decoders/<hash>.safetensors")

Beside it, once per checkpoint, what the browser needs to follow z without the server: the test
set's posterior means, their map coordinates and labels, and the overview map as a PNG:

    write_map_file("static/decoders/map-<hash>.safetensors", mu, xy, labels, png_bytes)
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from safetensors import SafetensorError, safe_open

from vae.files import atomic_write_bytes

if TYPE_CHECKING:
    import torch

    from vae.models.model import VAE

# torch is imported in the functions that export a network, not above: the app's first page finds its
# decoder already written (exported_layers) and its map written with numpy, and leaves torch unimported.
LAYERS = "layers"  # the metadata entry of an exported network's file that holds its layer list (JSON)
# The layer list's form, kept beside it: a file of another (older) form is written again. Raise it when
# what browser_layers writes changes.
LAYERS_FORM, LAYERS_FORM_KEY = "1", "layers_form"


def browser_layers(modules, dtype: torch.dtype | None = None) -> tuple[list[dict], dict] | None:
    """A stack of modules as [{"type": ..., "weight": name, ...}] and {name: tensor} for the browser's
    network (ui/components/nets.js), or None when a module is not one it runs. `dtype`: the
    weights' (float16 unless said)."""
    import torch
    from torch import nn

    dtype = dtype or torch.float16
    layers, tensors = [], {}

    def weights(i: int, module) -> dict:
        tensors[f"{i}.weight"] = module.weight.detach().to("cpu", dtype).contiguous()
        tensors[f"{i}.bias"] = module.bias.detach().to("cpu", dtype).contiguous()
        return {"weight": f"{i}.weight", "bias": f"{i}.bias"}

    for i, module in enumerate(modules):
        if isinstance(module, nn.Linear):
            layers.append({"type": "linear", **weights(i, module), "in": module.in_features,  # weight (out, in)
                           "out": module.out_features})
        elif isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            square = len(set(module.kernel_size)) == len(set(module.stride)) == len(set(module.padding)) == 1
            if module.groups != 1 or module.dilation != (1, 1) or not square or module.bias is None or (
                    isinstance(module, nn.ConvTranspose2d) and module.output_padding != (0, 0)):
                return None
            # weight (out, in, k, k) for conv2d, (in, out, k, k) for conv_transpose2d
            kind = "conv2d" if isinstance(module, nn.Conv2d) else "conv_transpose2d"
            layers.append({"type": kind, **weights(i, module), "in": module.in_channels, "out": module.out_channels,
                           "kernel": module.kernel_size[0], "stride": module.stride[0], "padding": module.padding[0]})
        elif isinstance(module, nn.ReLU):
            layers.append({"type": "relu"})
        elif isinstance(module, nn.MaxPool2d) and module.kernel_size == module.stride and module.padding == 0:
            layers.append({"type": "maxpool2d", "kernel": module.kernel_size})
        elif isinstance(module, nn.Unflatten):
            layers.append({"type": "unflatten", "shape": list(module.unflattened_size)})
        elif isinstance(module, nn.Flatten):
            layers.append({"type": "flatten"})
        else:
            return None
    return layers, tensors


def browser_decoder(model: VAE, dtype: torch.dtype | None = None) -> tuple[list[dict], dict] | None:
    """The decoder for the browser (browser_layers); a sigmoid ends it there."""
    return browser_layers(model.decoder, dtype)


def browser_classifier(classifier, dtype: torch.dtype | None = None) -> tuple[list[dict], dict]:
    """The digit classifier (vae/models/classifier.py) for the browser; a softmax ends it there."""
    return browser_layers([*classifier.body, classifier.head], dtype)


def write_layers_file(exported: tuple[list[dict], dict], path: str | Path) -> list[dict]:
    """Write browser_layers' weights to `path` (atomically, unless it is there), the layer list in its
    metadata (exported_layers reads it back); the layer list."""
    from safetensors.torch import save as safetensors_bytes

    layers, tensors = exported
    path = Path(path)
    if exported_layers(path) != layers:
        atomic_write_bytes(path, safetensors_bytes(tensors, metadata={LAYERS: json.dumps(layers),
                                                                      LAYERS_FORM_KEY: LAYERS_FORM}))
    return layers


def exported_layers(path: str | Path) -> list[dict] | None:
    """The layer list of a network written by write_layers_file; None when there is no such file (or
    it was written before its layers were kept in it, in another form, or is damaged: then it is
    written again)."""
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
        layers = json.loads(meta.get(LAYERS, "null")) if meta.get(LAYERS_FORM_KEY) == LAYERS_FORM else None
    except (SafetensorError, OSError, ValueError):
        return None
    return layers if isinstance(layers, list) else None


def decoder_with_weights_as_sent(model: VAE, dtype: torch.dtype | None = None) -> VAE:
    """A copy of the model whose decoder holds the weights exactly as the browser gets them
    (rounded to `dtype`, float16 unless said), computing in float32: the reference for comparing decodes."""
    import copy

    import torch

    dtype = dtype or torch.float16
    twin = copy.deepcopy(model).cpu().float()
    with torch.no_grad():
        for p in twin.decoder.parameters():
            p.copy_(p.to(dtype).float())
    return twin


def write_decoder_file(model: VAE, path: str | Path, dtype: torch.dtype | None = None) -> list[dict] | None:
    """Write the decoder's weights to `path` (atomically) and return its layer list."""
    exported = browser_decoder(model, dtype)
    return None if exported is None else write_layers_file(exported, path)


def map_tensors(mu: np.ndarray, xy: np.ndarray, labels: np.ndarray, png: bytes = b"") -> dict:
    """The browser's copy of a latent map: mu (N, z) float16, xy (N, 2) float32, labels (N,)
    int32 and the overview raster's PNG bytes (uint8; none for the Latent map page, which has the map
    itself), as numpy arrays for safetensors."""
    mu, xy, labels = np.asarray(mu), np.asarray(xy), np.asarray(labels)
    if not (mu.ndim == 2 and xy.shape == (len(mu), 2) and labels.shape == (len(mu),)):
        raise ValueError(f"mu {mu.shape}, xy {xy.shape} and labels {labels.shape} do not fit")
    return {"mu": np.ascontiguousarray(mu, np.float16), "xy": np.ascontiguousarray(xy, np.float32),
            "labels": np.ascontiguousarray(labels, np.int32),
            **({"map_png": np.frombuffer(png, dtype=np.uint8)} if png else {})}


def map_file_name(weights_hash: str, mu: np.ndarray, xy: np.ndarray, labels: np.ndarray, png: bytes = b"") -> str:
    """A name that changes whenever the map's contents do (a rebuilt map gets a new URL, so no
    browser keeps a stale copy)."""
    digest = hashlib.sha256()
    for a in (mu, xy, labels):
        digest.update(np.ascontiguousarray(a).tobytes())
    digest.update(png)
    return f"map-{weights_hash[:16]}-{digest.hexdigest()[:8]}.safetensors"


def write_map_file(path: str | Path, mu: np.ndarray, xy: np.ndarray, labels: np.ndarray, png: bytes = b"") -> None:
    """Write the browser's copy of a latent map to `path` (atomically), unless it is there."""
    from safetensors.numpy import save as safetensors_bytes

    path = Path(path)
    if not path.exists():
        atomic_write_bytes(path, safetensors_bytes(map_tensors(mu, xy, labels, png)))
