"""Completing a partial digit: the unknown pixels filled in by the model, the known ones kept
(missing-data imputation, Rezende, Mohamed & Wierstra 2014): encode the picture, decode, put the
decoded pixels where the picture is unknown, and again. With the posterior's mean each time, the
iterations settle on one completion; drawing z from q(z|x) each time walks a Markov chain whose
states are different plausible completions.

    steps = complete(model, digit, unknown, iterations=20)                 # the mean's completion, step by step
    ends = [complete(model, digit, unknown, sample=True, seed=s)[-1] for s in range(6)]
"""
from __future__ import annotations

import numpy as np
import torch

from vae.models.model import VAE


@torch.no_grad()
def complete(model: VAE, digit: np.ndarray, unknown: np.ndarray, iterations: int = 20, sample: bool = False,
             seed: int = 0, start: float = 0.0) -> list[np.ndarray]:
    """The picture after each iteration, the first being the start (unknown pixels at `start`):
    `iterations + 1` arrays (28, 28). Known pixels are never changed."""
    known = torch.from_numpy(np.asarray(digit, np.float32)).to(model.device)
    hole = torch.from_numpy(np.asarray(unknown, bool)).to(model.device)
    current = torch.where(hole, torch.full_like(known, start), known)
    gen = torch.Generator(device=model.device).manual_seed(seed)
    steps = [current.cpu().numpy()]
    model.eval()
    for _ in range(iterations):
        q = model.posterior(current[None])
        z = q.sample(gen) if sample else q.code
        current = torch.where(hole, model.decode(z)[0], known)
        steps.append(current.cpu().numpy())
    return steps
