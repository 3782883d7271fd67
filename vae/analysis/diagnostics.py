"""Where a trained VAE fails: what it thinks of each image, and where its prior has holes (issue #15).

    figures = image_figures(model, weights_hash, images, cache_dir="checkpoints/default", name="mnist-test")
    figures["elbo"]          # (N,) -ELBO of each image, nats; also recon, kl, uncertainty
    figures = image_figures(..., iwae_k=100)   # adds iwae (-log p(x) estimate) and iwae_gap, (N,) each
    holes = prior_holes(model, images)         # prior samples where no training image is encoded

Figures are cached beside the map in the checkpoint's folder, keyed by the weights' hash (plain
.npz arrays, written atomically).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vae.analysis.figure_labels import FIGURE_SAMPLES, IWAE_K
from vae.files import read_npz, write_npz_cache
from vae.models.latents import Categorical, Gaussian, aggregate_log_density
from vae.models.losses import images_per_call, importance_weighted_bound, log_importance_weights, recon_nll
from vae.models.model import has_bf16_units
from vae.run_files import figures_cache_path
from vae.training.evaluate import scored_batches


@torch.no_grad()
def per_image_figures(model, images: torch.Tensor, samples: int = FIGURE_SAMPLES, batch_size: int = 1000,
                      seed: int = 0, progress=None, labels: torch.Tensor | None = None) -> dict[str, np.ndarray]:
    """recon, kl, elbo (= recon + kl, the -ELBO) and uncertainty of each image: (N,) float32 each.
    uint8 images (N, 28, 28), binarized as `vae.training.evaluate` does when the model is. The reconstruction
    term averages `samples` exact samples of q(z|x); with one, the mean over images is
    `vae.training.evaluate.evaluate`'s figure (same seed). A conditional model reads `labels` (N,)."""
    recon, kl, uncertainty, codes = [], [], [], []
    for x, y, g in scored_batches(model, images, batch_size, seed, progress=progress, labels=labels):
        q = model.posterior(x, y)  # then the samples: the first is the one evaluate() draws
        total = torch.zeros(len(x), device=model.device)
        for _ in range(samples):
            total += recon_nll(model.decode_logits(q.sample(g), y), x, model.config)
        recon.append(total / samples)
        kl.append(q.kl_per_unit().sum(-1))
        uncertainty.append(q.uncertainty())
        codes.append(q.code)
    active = model.latent.activity(torch.cat(codes))
    units = torch.cat(uncertainty)
    units = units[:, active] if active.any() else units
    recon, kl = torch.cat(recon), torch.cat(kl)
    return {name: value.float().cpu().numpy() for name, value in
            {"recon": recon, "kl": kl, "elbo": recon + kl, "uncertainty": units.mean(1)}.items()}


@torch.no_grad()
def reconstruction_draws(model, x: torch.Tensor, samples: int, seed: int = 0) -> tuple[np.ndarray, float]:
    """One prepared image x (1, C, H, W) (binarized once, if the model is, so every draw reconstructs
    the same x): -log p(x|z) at `samples` draws z of q(z|x), (samples,), and the exact KL(q(z|x) || p(z)).
    Their mean plus the KL is the -ELBO, and their spread gives its standard error."""
    q = model.posterior(x)
    z = q.sample(torch.Generator(device=x.device).manual_seed(seed), samples=samples)[0]  # (samples, code_dim)
    target = x.reshape(1, -1).expand(samples, -1)
    recon = recon_nll(model.decode_logits(z), target, model.config)  # (samples,)
    return recon.float().cpu().numpy(), float(q.kl_per_unit().sum())


@torch.no_grad()
def per_image_iwae(model, images: torch.Tensor, k: int = IWAE_K, seed: int = 0,
                   progress=None, labels: torch.Tensor | None = None,
                   bf16: bool | None = None) -> dict[str, np.ndarray]:
    """The importance-weighted estimate of -log p(x) with k samples ("iwae") and the gap between
    that bound and the ELBO estimated from the same k samples ("iwae_gap", >= 0: how far q(z|x) is
    from the true posterior p(z|x), in KL): (N,) float32 each. `bf16`: the decoder's forward in
    bfloat16, the rest in float32; None: where the processor has bfloat16 units (2.6x as fast on
    AVX-512 BF16, within 0.03 nats a picture on average: BENCHMARKS.md)."""
    bf16 = has_bf16_units(model.device) if bf16 is None else bf16
    iwae, gap = [], []
    for x, y, g in scored_batches(model, images, images_per_call(k, model.device), seed, seed + 1, progress, labels):
        log_w = log_importance_weights(model, x, k, generator=g, labels=y, bf16_decoder=bf16)  # (B, k)
        bound = importance_weighted_bound(log_w)
        iwae.append(-bound)
        gap.append(bound - log_w.mean(1))
    return {"iwae": torch.cat(iwae).float().cpu().numpy(), "iwae_gap": torch.cat(gap).float().cpu().numpy()}


def image_figures(model, weights_hash: str, images: torch.Tensor, cache_dir: str | Path, name: str,
                  iwae_k: int = 0, progress=None, labels: torch.Tensor | None = None) -> dict[str, np.ndarray]:
    """per_image_figures (and per_image_iwae with iwae_k samples, when asked), read from the cache
    in `cache_dir` or computed and added to it."""
    path = figures_cache_path(cache_dir, weights_hash, name)
    figures = {key: value for key, value in read_npz(path).items() if len(value) == len(images)}
    wanted = {"elbo"} | ({f"iwae_gap_k{iwae_k}"} if iwae_k else set())
    if wanted <= figures.keys():
        return _named(figures, iwae_k)
    if "elbo" not in figures:
        figures.update(per_image_figures(model, images, progress=progress if not iwae_k else None, labels=labels))
    if iwae_k and f"iwae_gap_k{iwae_k}" not in figures:
        for key, value in per_image_iwae(model, images, iwae_k, progress=progress, labels=labels).items():
            figures[f"{key}_k{iwae_k}"] = value
    write_npz_cache(path, figures)
    return _named(figures, iwae_k)


def _named(figures: dict, iwae_k: int) -> dict[str, np.ndarray]:
    out = {key: value for key, value in figures.items() if "_k" not in key}
    if iwae_k:
        out.update(iwae=figures[f"iwae_k{iwae_k}"], iwae_gap=figures[f"iwae_gap_k{iwae_k}"])
    return out


def share_interval(hits: int, count: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson's interval for a share hits / count (95% at z = 1.96): unlike the share ± z standard
    errors, it never reaches below 0 or above 1, and it is not empty at 0 of count or count of count."""
    if count == 0:
        return 0.0, 1.0
    p, z2 = hits / count, z * z
    centre, half = p + z2 / (2 * count), z * math.sqrt(p * (1 - p) / count + z2 / (4 * count * count))
    low, high = (centre - half) / (1 + z2 / count), (centre + half) / (1 + z2 / count)
    # exactly 0 at none and 1 at all (the formula's rounding gave 1e-19 and 0.9999999999999998, shown "> 99.9%")
    return (0.0 if hits == 0 else max(low, 0.0)), (1.0 if hits == count else min(high, 1.0))


@dataclass
class PriorHoles:
    prior_z: torch.Tensor  # (M, code_dim) samples of the prior
    log_ratio: np.ndarray  # (M,) log q(z) - log p(z) at each prior sample
    log_q: np.ndarray  # (M,) log q(z) at each prior sample: where the training digits' codes are densest
    reference: np.ndarray  # (M,) the same at samples of q(z) itself (from posteriors not in the density)
    threshold: float  # a prior sample is in a hole when its log ratio is below this
    in_hole: np.ndarray  # (M,) bool
    null: np.ndarray  # (M,) log ratios of a second, independent set of q(z)'s own samples, judged alike
    quantile: float = 0.05
    density_images: int = 0  # how many images' posteriors make the density q(z) (half of those given)

    @property
    def fraction(self) -> float:
        """The share of prior samples in holes. Even a prior equal to q(z) would put about
        `quantile` of its samples there (the criterion's own tail): compare `excess`."""
        return float(self.in_hole.mean())

    @property
    def null_fraction(self) -> float:
        """The share of q(z)'s own fresh samples that the same criterion flags: what `fraction`
        would be if the prior were the aggregate posterior (about `quantile`)."""
        return float((self.null < self.threshold).mean())

    def _resampled(self, resamples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """The share in holes and the null's, (resamples,) each, with the prior samples, the reference
        samples (so the threshold) and the null samples drawn anew with replacement."""
        rng = np.random.default_rng(seed)
        pick = lambda values: values[rng.integers(0, len(values), (resamples, len(values)))]  # noqa: E731
        thresholds = np.quantile(pick(self.reference), self.quantile, axis=1)[:, None]  # (B, 1)
        return (pick(self.log_ratio) < thresholds).mean(1), (pick(self.null) < thresholds).mean(1)

    def intervals(self, resamples: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
        """Bootstrap intervals, from one set of resamples (arrays of resamples times samples, a few hundred
        MB at 5,000 prior samples: callers cache this): {"fraction": (low, high), "excess": (excess, low, high)}.
        Each resample draws the prior samples, the reference samples (so the threshold) and the null
        samples anew with replacement: the intervals cover what another draw of each set would give, for
        this split of the digits into density and samples. Another seed also redraws the split, and
        moves the figures more (BENCHMARKS.md, section 3)."""
        share, null = self._resampled(resamples, seed)
        tails = [(1 - level) / 2, (1 + level) / 2]
        excess_low, excess_high = np.quantile(share - null, tails)
        share_low, share_high = np.quantile(share, tails)
        return {"fraction": (float(share_low), float(share_high)),
                "excess": (self.fraction - self.null_fraction, float(excess_low), float(excess_high))}

    def excess(self, resamples: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
        """The share in holes beyond the null's, with its bootstrap interval (`intervals`)."""
        return self.intervals(resamples, level, seed)["excess"]


def prior_holes(q: Gaussian | Categorical, latent, n: int = 1000, quantile: float = 0.05,
                seed: int = 0) -> PriorHoles:
    """Prior samples that land where the aggregate posterior of the images `q` has (almost) no
    mass: their density ratio q(z) / p(z) is below what `quantile` of the aggregate posterior's own
    samples reach (Rosca et al. 2018, "Distribution matching in variational inference": a prior
    sample in such a hole decodes to something the decoder was never trained on). `latent` is the
    model's (vae.models.latents): its prior.

    The images are split in two at random: the first half's posteriors make the density q(z); the
    second half's posteriors give q(z)'s own samples, twice over (the reference that sets the
    threshold, and the null: PriorHoles.excess). Being no part of the density, they are judged
    exactly as prior samples are, so that when q(z) is the prior all three sets are alike and the
    excess is 0 in expectation. (Judged by a leave-one-out density of the whole set instead, q's
    own samples sit in that set's gaps more often than the prior's do: with q = p the criterion
    flagged 2-4% of prior samples against 5% of q's.)"""
    if len(q.code) < 2:
        raise ValueError("the aggregate posterior needs at least two images' posteriors")
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(q.code), generator=g)
    half = len(order) // 2
    density, held_out = q.subset(order[:half]), order[half:]
    prior_z = latent.prior_sample(n, g)
    log_q = aggregate_log_density(density, prior_z)
    log_ratio = log_q - latent.prior_log_prob(prior_z)

    def own_samples() -> torch.Tensor:  # (n,) log ratios at samples of q(z) from the held-out posteriors
        picks = held_out[torch.randint(len(held_out), (n,), generator=g)]
        own = q.subset(picks).sample(g)  # (n, code_dim): one exact sample of q(z|x) each
        return aggregate_log_density(density, own) - latent.prior_log_prob(own)

    reference = own_samples()
    null = own_samples()
    threshold = float(torch.quantile(reference, quantile))
    return PriorHoles(prior_z, log_ratio.numpy(), log_q.numpy(), reference.numpy(), threshold,
                      (log_ratio < threshold).numpy(), null.numpy(), quantile, half)
