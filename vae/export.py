"""Export a decoder for the browser: a layer list (JSON) plus its weights as safetensors.

The browser's decoder (ui/components/latent_pad.js) knows four layers, which cover every
architecture here: linear, relu, unflatten and conv_transpose2d; a sigmoid ends it.

    spec, weights = browser_decoder(model)     # None when a layer is not one of those
    write_decoder_file(model, "static/decoders/<hash>.safetensors")

Beside it, once per checkpoint, what the browser needs to follow z without the server: the test
set's posterior means, their map coordinates and labels, and the overview map as a PNG:

    write_map_file("static/decoders/map-<hash>.safetensors", mu, xy, labels, png_bytes)
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save as safetensors_bytes
from torch import nn

from .files import atomic_write_bytes
from .model import VAE


def browser_decoder(model: VAE, dtype: torch.dtype = torch.float16) -> tuple[list[dict], dict] | None:
    """The decoder as [{"type": ..., "weight": name, ...}] and {name: tensor}, or None."""
    layers, tensors = [], {}
    for i, module in enumerate(model.decoder):
        if isinstance(module, nn.Linear):
            tensors[f"{i}.weight"] = module.weight.detach().to("cpu", dtype).contiguous()  # (out, in)
            tensors[f"{i}.bias"] = module.bias.detach().to("cpu", dtype).contiguous()
            layers.append({"type": "linear", "weight": f"{i}.weight", "bias": f"{i}.bias",
                           "in": module.in_features, "out": module.out_features})
        elif isinstance(module, nn.ConvTranspose2d):
            if module.groups != 1 or module.dilation != (1, 1) or module.output_padding != (0, 0):
                return None
            tensors[f"{i}.weight"] = module.weight.detach().to("cpu", dtype).contiguous()  # (in, out, k, k)
            tensors[f"{i}.bias"] = module.bias.detach().to("cpu", dtype).contiguous()
            layers.append({"type": "conv_transpose2d", "weight": f"{i}.weight", "bias": f"{i}.bias",
                           "in": module.in_channels, "out": module.out_channels,
                           "kernel": module.kernel_size[0], "stride": module.stride[0],
                           "padding": module.padding[0]})
        elif isinstance(module, nn.ReLU):
            layers.append({"type": "relu"})
        elif isinstance(module, nn.Unflatten):
            layers.append({"type": "unflatten", "shape": list(module.unflattened_size)})
        elif isinstance(module, nn.Flatten):
            continue  # memory is already flat
        else:
            return None
    return layers, tensors


def decoder_with_weights_as_sent(model: VAE, dtype: torch.dtype = torch.float16) -> VAE:
    """A copy of the model whose decoder holds the weights exactly as the browser gets them
    (rounded to `dtype`), computing in float32: the reference for comparing decodes."""
    import copy

    twin = copy.deepcopy(model).cpu().float()
    with torch.no_grad():
        for p in twin.decoder.parameters():
            p.copy_(p.to(dtype).float())
    return twin


def write_decoder_file(model: VAE, path: str | Path, dtype: torch.dtype = torch.float16) -> list[dict] | None:
    """Write the decoder's weights to `path` (atomically) and return its layer list."""
    exported = browser_decoder(model, dtype)
    if exported is None:
        return None
    layers, tensors = exported
    path = Path(path)
    if not path.exists():
        atomic_write_bytes(path, safetensors_bytes(tensors))
    return layers


def map_tensors(mu: np.ndarray, xy: np.ndarray, labels: np.ndarray, png: bytes) -> dict:
    """The browser's copy of a latent map: mu (N, z) float16, xy (N, 2) float32, labels (N,)
    int32 and the overview raster's PNG bytes (uint8), as safetensors-ready tensors."""
    mu, xy, labels = np.asarray(mu), np.asarray(xy), np.asarray(labels)
    if not (mu.ndim == 2 and xy.shape == (len(mu), 2) and labels.shape == (len(mu),)):
        raise ValueError(f"mu {mu.shape}, xy {xy.shape} and labels {labels.shape} do not fit")
    return {"mu": torch.from_numpy(np.ascontiguousarray(mu, np.float16)),
            "xy": torch.from_numpy(np.ascontiguousarray(xy, np.float32)),
            "labels": torch.from_numpy(np.ascontiguousarray(labels, np.int32)),
            "map_png": torch.frombuffer(bytearray(png), dtype=torch.uint8)}


def map_file_name(weights_hash: str, mu: np.ndarray, xy: np.ndarray, labels: np.ndarray, png: bytes) -> str:
    """A name that changes whenever the map's contents do (a rebuilt map gets a new URL, so no
    browser keeps a stale copy)."""
    digest = hashlib.sha256()
    for a in (mu, xy, labels):
        digest.update(np.ascontiguousarray(a).tobytes())
    digest.update(png)
    return f"map-{weights_hash[:16]}-{digest.hexdigest()[:8]}.safetensors"


def write_map_file(path: str | Path, mu: np.ndarray, xy: np.ndarray, labels: np.ndarray, png: bytes) -> None:
    """Write the browser's copy of a latent map to `path` (atomically), unless it is there."""
    path = Path(path)
    if not path.exists():
        atomic_write_bytes(path, safetensors_bytes(map_tensors(mu, xy, labels, png)))
