"""How good decoded digits are, measured with the bundled classifier (vae/models/classifier.py):

  Fréchet distance   between the classifier's 128 penultimate features of decoded images and of
                     the real test images, each set summarized by its mean and covariance (FID with
                     a domain classifier, as MNIST papers do; lower is better, 0 for the test set
                     against itself)
  label entropy      the mean entropy of the classifier's label distribution for each decoded
                     image, in nats (low: each looks like one clear digit; log 10 = 2.30 at most)

    report = sample_quality(model, test_images, n=10_000, mixture=mixture)
    report["prior"]["frechet_distance"], report["mixture"], report["reconstruction"]
    report["prior"]["frechet_distance_se"], ["label_entropy_se"]: their standard errors over the samples

`python -m vae eval --fid` prints the same figures.
"""
from __future__ import annotations

import numpy as np
import torch

from vae.models.classifier import Classifier, load_classifier
from vae.models.model import VAE
from vae.training.evaluate import posteriors


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between two feature sets (N, F)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # Tr((S_a S_b)^(1/2)) = Tr((S_a^(1/2) S_b S_a^(1/2))^(1/2)): square roots of symmetric matrices.
    root_a = _sqrt_psd(cov_a)
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b)
                 - 2 * np.sqrt(np.clip(cross, 0, None)).sum())


def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(m)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def _entropies(probabilities: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(probabilities, np.float64), 1e-12, 1.0)
    return -(p * np.log(p)).sum(1)  # (N,) nats


def label_entropy(probabilities: np.ndarray) -> float:
    """Mean entropy (nats) of label distributions (N, C)."""
    return float(_entropies(probabilities).mean())


def label_entropy_se(probabilities: np.ndarray) -> float:
    """label_entropy's standard error: the entropies' standard deviation over sqrt(N)."""
    entropies = _entropies(probabilities)
    return float(entropies.std(ddof=1) / np.sqrt(len(entropies)))


FRECHET_RESAMPLES = 20  # bootstrap resamples for the Fréchet distance's error (about 40 ms each for 10,000 images)


def frechet_distance_se(a: np.ndarray, b: np.ndarray, paired: bool = False, resamples: int = FRECHET_RESAMPLES,
                        seed: int = 0) -> float:
    """The standard error of frechet_distance(a, b), its spread over bootstrap resamples (seeded). `a`
    are decoded images' features and `b` the test set's, the fixed yardstick: a's rows are resampled.
    `paired`: a's row i is made from b's row i (reconstructions), so both are resampled together (a's
    alone would count as noise what is only the choice of test images, several times over)."""
    rng = np.random.default_rng(seed)
    rows = (rng.integers(0, len(a), len(a)) for _ in range(resamples))
    return float(np.std([frechet_distance(a[i], b[i] if paired else b) for i in rows], ddof=1))


@torch.no_grad()
def features_and_probabilities(classifier: Classifier, images: torch.Tensor, batch: int = 2000):
    """images float (N, 28, 28) in [0, 1] (or uint8) -> features (N, 128) and label probabilities (N, 10)."""
    feats, probs = [], []
    for i in range(0, len(images), batch):
        x = images[i:i + batch]
        x = x.float().div(255) if x.dtype == torch.uint8 else x.float()
        f = classifier.features(x)
        feats.append(f.numpy())
        probs.append(classifier.head(f).softmax(-1).numpy())
    return np.concatenate(feats), np.concatenate(probs)


@torch.no_grad()
def decode_all(model: VAE, z: np.ndarray | torch.Tensor, batch: int = 1000,
               labels: torch.Tensor | None = None) -> torch.Tensor:
    """(N, z) codes (and their classes (N,), for a conditional model) -> (N, 28, 28) mean images on the CPU."""
    z = torch.as_tensor(np.asarray(z, np.float32))
    return torch.cat([model.decode(z[i:i + batch].to(model.device),
                                   None if labels is None else labels[i:i + batch].to(model.device)).cpu()
                      for i in range(0, len(z), batch)])


def sample_quality(model: VAE, test_images: torch.Tensor, n: int = 10_000, mixture=None, seed: int = 0,
                   classifier: Classifier | None = None, progress=None,
                   test_labels: torch.Tensor | None = None) -> dict:
    """The Fréchet distance and label entropy of `n` decoded prior samples, of `n` samples of a
    fitted mixture of the codes (when given; vae.models.gmm.Mixture, or for a categorical latent
    vae.models.categorical_mixture.CategoricalMixture), and of the reconstructions of the test images
    (decoded from the latent's reconstruction_codes: the posterior means, or for a categorical latent
    one-hot samples of q(z|x), valid codes rather than probability vectors), each against the test images' features.
    A conditional model decodes each sample with a test image's class (`test_labels`, cycled: their frequencies
    are p(y)), and its reconstructions with their own."""
    classifier = classifier or load_classifier(model.config.dataset)
    real, _ = features_and_probabilities(classifier, test_images)

    def reconstruction_codes():  # on the CPU
        q = posteriors(model, test_images[:n], labels=None if test_labels is None else test_labels[:n])
        return model.latent.reconstruction_codes(q, torch.Generator().manual_seed(seed))

    sets = {"prior": lambda: model.latent.prior_sample(n, torch.Generator().manual_seed(seed)),
            "reconstruction": reconstruction_codes}
    if mixture is not None:
        sets["mixture"] = lambda: mixture.sample(n, seed=seed)
    report = {}
    for i, (name, codes) in enumerate(sets.items()):
        z = codes()
        labels = None if test_labels is None else test_labels.repeat(-(-len(z) // len(test_labels)))[:len(z)]
        feats, probs = features_and_probabilities(classifier, decode_all(model, z, labels=labels))
        report[name] = {"frechet_distance": frechet_distance(feats, real),
                        "frechet_distance_se": frechet_distance_se(
                            feats, real, paired=name == "reconstruction" and len(feats) == len(real)),
                        "label_entropy": label_entropy(probs), "label_entropy_se": label_entropy_se(probs),
                        "count": len(feats)}
        if progress:
            progress(i + 1, len(sets))
    return report
