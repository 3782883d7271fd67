"""Procedural sprites with known generative factors, after dSprites (Matthey et al. 2017), drawn by
this project's own code: no download, deterministic, every image a pure function of its factors.

    FACTORS                                   # name -> number of values: shape 3, scale 6, ...
    render((shape, scale, orientation, x, y), size=64)   # (size, size) uint8, white on black
    sample_factors(n, seed)                   # (n, 5) int64, uniform over every combination

A shape (square, ellipse, heart) at one of 6 scales (0.5 to 1 of the largest), 40 orientations
over a full turn and 32 x 32 positions, anti-aliased (4 x 4 samples a pixel). Like dSprites, the
orientation of a symmetric shape is ambiguous (a square at 0 and at 90 degrees is one image).
"""
from __future__ import annotations

import math

import numpy as np

FACTORS = {"shape": 3, "scale": 6, "orientation": 40, "x": 32, "y": 32}
SHAPES = ("square", "ellipse", "heart")
SUPERSAMPLE = 4  # samples a pixel, each way


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether points (u, v) of the shape's own frame (its extent about [-1, 1]) are inside it."""
    if shape == 0:  # square
        return (np.abs(u) <= 0.8) & (np.abs(v) <= 0.8)
    if shape == 1:  # ellipse, 2:1
        return (u / 1.0) ** 2 + (v / 0.5) ** 2 <= 1.0
    if shape == 2:  # heart: (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0, y up, scaled into [-1, 1]
        x, y = u * 1.15, -v * 1.15 + 0.15
        return (x * x + y * y - 1) ** 3 - x * x * y ** 3 <= 0
    raise ValueError(f"shape must be 0, 1 or 2 ({', '.join(SHAPES)}), got {shape}")


def render(factors, size: int = 64) -> np.ndarray:
    """The sprite of one factor tuple (shape, scale, orientation, x, y), each an index within
    FACTORS: (size, size) uint8, the shape white on black."""
    shape, scale, orientation, x, y = (int(f) for f in factors)
    for (name, count), value in zip(FACTORS.items(), (shape, scale, orientation, x, y)):
        if not 0 <= value < count:
            raise ValueError(f"{name} must be in [0, {count}), got {value}")
    radius = size * 0.16 * (0.5 + 0.5 * scale / (FACTORS["scale"] - 1))  # the shape's half extent, pixels
    margin = size * 0.16
    cx = margin + (size - 2 * margin) * x / (FACTORS["x"] - 1)
    cy = margin + (size - 2 * margin) * y / (FACTORS["y"] - 1)
    angle = 2 * math.pi * orientation / FACTORS["orientation"]
    offsets = (np.arange(SUPERSAMPLE) + 0.5) / SUPERSAMPLE
    grid = (np.arange(size)[:, None] + offsets[None, :]).ravel()  # (size * S,) sample coordinates
    py, px = np.meshgrid(grid, grid, indexing="ij")
    dx, dy = (px - cx) / radius, (py - cy) / radius
    cos, sin = math.cos(angle), math.sin(angle)
    u, v = cos * dx + sin * dy, -sin * dx + cos * dy  # into the shape's rotated frame
    covered = _inside(shape, u, v).reshape(size, SUPERSAMPLE, size, SUPERSAMPLE).mean(axis=(1, 3))
    return np.round(covered * 255).astype(np.uint8)


def sample_factors(n: int, seed: int = 0) -> np.ndarray:
    """n factor tuples drawn uniformly (with replacement) from every combination: (n, 5) int64."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, count, n) for count in FACTORS.values()], axis=1)


def render_all(factors: np.ndarray, size: int = 64) -> np.ndarray:
    """The sprites of factor tuples (N, 5): (N, size, size) uint8."""
    return np.stack([render(f, size) for f in factors]) if len(factors) else np.zeros((0, size, size), np.uint8)
