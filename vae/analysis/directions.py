"""Attribute directions in latent space (White 2016, "Sampling Generative Networks"): the
difference between the mean codes of two sets of digits (slanted against upright, thick against
thin, one class against another), added to any code in steps of a strength.

    d = attribute_direction(mu[upright], labels[upright], mu[slanted], labels[slanted])
    d.apply(z, [-2, -1, 0, 1, 2])    # (5, z_dim): z moved along it
    d.projection(mu)                  # (N,) each code's position along it

Bias correction (White's, for labels that come with an attribute): when the two sets' class
make-up differs, their raw difference of means carries the class difference too (most upright
picks may be 1s, most slanted ones 7s). Corrected, the direction is the mean over the classes
both sets hold of the per-class difference of means, each class weighing the same: the class
make-up cancels. Sets with no class in common (two classes' means) have nothing to correct.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Direction:
    vector: np.ndarray  # (z_dim,) from set a's mean code to set b's; strength 1 goes the whole way
    classes: tuple[int, ...]  # the classes whose per-class differences make it; () when not corrected

    @property
    def corrected(self) -> bool:
        return bool(self.classes)

    @property
    def length(self) -> float:
        return float(np.linalg.norm(self.vector))

    def apply(self, z: np.ndarray, strengths) -> np.ndarray:
        """z (z_dim,) moved by each strength times the direction: (S, z_dim) float32."""
        strengths = np.asarray(strengths, np.float64)[:, None]
        return (np.asarray(z, np.float64)[None] + strengths * self.vector[None]).astype(np.float32)

    def projection(self, mu: np.ndarray) -> np.ndarray:
        """Each code's coordinate along the direction (its unit vector): (N,)."""
        return (np.asarray(mu, np.float64) @ (self.vector / max(self.length, 1e-12))).astype(np.float32)

    def to_json(self, **about) -> str:
        """The direction as JSON, with whatever says where it came from (`about`)."""
        return json.dumps({**about, "vector": [float(v) for v in self.vector], "length": self.length,
                           "bias_corrected_over_classes": list(self.classes)}, indent=1)


def attribute_direction(mu_a: np.ndarray, labels_a: np.ndarray, mu_b: np.ndarray, labels_b: np.ndarray,
                        correct: bool = True) -> Direction:
    """From set a's codes (N_a, z_dim) to set b's, bias-corrected for their classes when `correct`
    and they share a class with a different share in each (else the plain difference of means)."""
    mu_a, mu_b = np.asarray(mu_a, np.float64), np.asarray(mu_b, np.float64)
    labels_a, labels_b = np.asarray(labels_a), np.asarray(labels_b)
    if not len(mu_a) or not len(mu_b):
        raise ValueError("each set needs at least one code")
    shared = sorted(set(labels_a.tolist()) & set(labels_b.tolist()))
    every = sorted(set(labels_a.tolist()) | set(labels_b.tolist()))
    make_up_a = np.array([(labels_a == c).mean() for c in every])  # each class's share, over both sets' classes
    make_up_b = np.array([(labels_b == c).mean() for c in every])
    if correct and shared and len(every) > 1 and not np.allclose(make_up_a, make_up_b):
        per_class = [mu_b[labels_b == c].mean(0) - mu_a[labels_a == c].mean(0) for c in shared]
        return Direction(np.mean(per_class, axis=0), tuple(int(c) for c in shared))
    return Direction(mu_b.mean(0) - mu_a.mean(0), ())
