"""Out-of-distribution detection with a VAE's likelihood: how well the per-image -ELBO separates the
model's own test set from other images, and the complexity-corrected score that fixes its blind spot.

Likelihood models can score simpler images from another set as more likely than their own data
(Nalisnick et al. 2019: a Fashion-MNIST model and MNIST digits). Serrà et al. (2020) trace that to
image complexity and correct for it: S(x) = -log2 p(x) - L(x), the negative log-likelihood in bits
minus the image's compressed length L(x) in bits (here PNG's, at its highest compression). Both are
scores "the higher, the more out of distribution".

    sets = other_sets("mnist")                        # {name: uint8 images (N, 28, 28)}
    scores = ood_scores(model, images)                # per-image -ELBO (nats), complexity (bits), corrected
    auroc(in_scores, out_scores)                      # P(an outlier scores above an inlier)
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from vae.analysis.diagnostics import per_image_figures, per_image_iwae
from vae.models.model import to_images
from vae.training.evaluate import prepare

# What each set of outliers is, for a model of `dataset` (the names the page and the bench show).
TRANSFORMS = {
    "inverted": "the test images inverted (255 − x)",
    "rotated": "the test images rotated by 90°",
    "noise": "uniform noise, each pixel 0 to 255",
    "blank": "near-blank images: a few faint pixels on black",
}


# The outlier sets made from the inliers themselves, image for image (auroc_interval's `paired`).
PAIRED = ("inverted", "rotated")


def other_dataset(dataset: str) -> str | None:
    """The bundled test set of the same shape a model of `dataset` never saw: MNIST's for
    Fashion-MNIST, and back; None for the others (sprites, an image folder)."""
    return {"mnist": "fashion-mnist", "fashion-mnist": "mnist"}.get(dataset)


def transformed(images: torch.Tensor, kind: str, seed: int = 0) -> torch.Tensor:
    """uint8 images (N, H, W[, C]) made into outliers of `kind` (TRANSFORMS), of the same shape."""
    g = torch.Generator().manual_seed(seed)
    if kind == "inverted":
        return 255 - images
    if kind == "rotated":
        return torch.rot90(images, 1, dims=(1, 2)).contiguous()
    if kind == "noise":
        return torch.randint(0, 256, images.shape, generator=g, dtype=torch.uint8)
    if kind == "blank":
        faint = (torch.rand(images.shape, generator=g) < 0.02) * torch.randint(0, 64, images.shape, generator=g)
        return faint.to(torch.uint8)
    raise ValueError(f"unknown outlier set {kind!r}: one of {', '.join(TRANSFORMS)}")


def png_bits(image: np.ndarray) -> float:
    """The length in bits of a uint8 (H, W) or (H, W, 3) image as a PNG at its highest compression: L(x)."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).save(buf, format="PNG", optimize=True, compress_level=9)
    return 8.0 * len(buf.getvalue())


@dataclass
class Scores:
    """Per-image scores of a set of images, each (N,) float64; the higher, the more out of distribution."""
    nll: np.ndarray  # -ELBO (or the IWAE estimate), nats: a bound on -log p(x)
    complexity: np.ndarray  # L(x): PNG bits

    @property
    def corrected(self) -> np.ndarray:
        """Serrà et al.'s S(x) = -log2 p(x) - L(x), in bits (the -ELBO standing for -log p(x))."""
        return self.nll / math.log(2) - self.complexity


def ood_scores(model, images: torch.Tensor, iwae_k: int = 0, seed: int = 0) -> Scores:
    """The -ELBO (one sample of q(z|x) per image, as the test figures; with iwae_k, the IWAE estimate
    with k samples instead) and the PNG length of uint8 images (N, H, W[, C]), each as the model scores
    it (a binarized model: the fixed binarization of `seed`, black and white), every channel."""
    if iwae_k:
        nll = per_image_iwae(model, images, iwae_k, seed=seed)["iwae"]
    else:
        nll = per_image_figures(model, images, samples=1, seed=seed)["elbo"]
    # Binarized where the scores were (the model's device: another device's generator draws other bits).
    scored = prepare(images.to(model.device), model.config.binarize, seed).mul(255).round().to(torch.uint8).cpu()
    scored = to_images(scored.reshape(len(scored), -1), model.config.image_shape)  # as stored: (N, H, W[, C])
    complexity = np.array([png_bits(x) for x in scored.numpy()])
    return Scores(nll.astype(np.float64), complexity)


def _midranks(scores: np.ndarray) -> np.ndarray:
    """Each score's rank among `scores` from 1, tied scores sharing their mean rank."""
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    sorted_scores = scores[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], len(scores)]
    for start, end in zip(starts, ends):
        if end - start > 1:
            ranks[order[start:end]] = (start + 1 + end) / 2
    return ranks


def _placements(inliers: np.ndarray, outliers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each outlier's share of the inliers below it (n_out,) and each inlier's share of the outliers
    above it (n_in,), ties counting half: from ranks, without comparing every pair."""
    both = _midranks(np.concatenate([inliers, outliers]))
    n_in = len(inliers)
    return ((both[n_in:] - _midranks(outliers)) / n_in,
            1 - (both[:n_in] - _midranks(inliers)) / len(outliers))


def auroc(inliers: np.ndarray, outliers: np.ndarray) -> float:
    """The area under the ROC curve of a score as a detector of outliers: the probability that an
    outlier scores above an inlier, ties counting half (the Mann-Whitney U statistic over n_in * n_out,
    the outliers' mean share of inliers below them)."""
    outlier_share, _ = _placements(np.asarray(inliers, np.float64), np.asarray(outliers, np.float64))
    return float(outlier_share.mean())


def auroc_interval(inliers: np.ndarray, outliers: np.ndarray, paired: bool = False,
                   z: float = 1.96) -> tuple[float, float]:
    """A 95% interval (z = 1.96) for auroc(inliers, outliers), for sets drawn again from the same two
    distributions: DeLong's (DeLong, DeLong & Clarke-Pearson 1988), from each outlier's share of the
    inliers below it and each inlier's share of the outliers above it (ties half). With `paired`,
    outlier k is made from inlier k (PAIRED: an inverted image, say), and the variance counts each
    pair's covariance. Where every pair is in the right order (an AUROC of 1; or every one in the
    wrong order, 0) that variance is 0, and the interval is one-sided instead: m pairs that share no
    image (nor, paired, an image's twin) all came out so, which leaves a chance of the wrong order of
    at most 1 - 0.05^(1/m), at 95%."""
    inliers, outliers = np.asarray(inliers, np.float64), np.asarray(outliers, np.float64)
    n_in, n_out = len(inliers), len(outliers)
    if paired and n_in != n_out:
        raise ValueError(f"paired sets must be as long as each other, got {n_in} and {n_out}")
    if min(n_in, n_out) < 2:
        return 0.0, 1.0
    outlier_share, inlier_share = _placements(inliers, outliers)  # (n_out,), (n_in,)
    area = float(outlier_share.mean())
    if area in (0.0, 1.0):
        wrong = 1 - 0.05 ** (1 / (min(n_in, n_out) // (2 if paired else 1)))
        return (1 - wrong, 1.0) if area == 1.0 else (0.0, wrong)
    if paired:
        variance = np.var(outlier_share + inlier_share, ddof=1) / n_in
    else:
        variance = np.var(outlier_share, ddof=1) / n_out + np.var(inlier_share, ddof=1) / n_in
    half = z * float(np.sqrt(variance))
    return max(0.0, area - half), min(1.0, area + half)
