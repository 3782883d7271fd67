"""What each kind of latent variable is, in words and sizes, without torch: the part of
vae/models/latents.py's GaussianLatent and CategoricalLatent that a page shows (the sidebar's latent
size, the map's uncertainty label, whether codes are continuous). Those classes extend these with
the arithmetic; a page that only describes a model reads `kind_of(config)` and leaves torch unimported
(the first page is drawn before torch is: BENCHMARKS.md, cold start).
"""
from __future__ import annotations

SLIDER_RANGE = 4.0  # the latent sliders span z in [-4, 4]: beyond 4 sigma of the prior


class GaussianKind:
    kind = "gaussian"
    continuous = True  # codes are points of R^D: sliders, slerp, covariances, z = mu + sigma * eps
    relaxed = False  # trains on its ELBO
    letter, unit = "z", "dimension"
    prior_text = "N(0, I)"
    reconstructed_from = "the posterior means"  # the code a reconstruction decodes (vae.analysis.quality)
    uncertainty_label = "Posterior σ"  # what Gaussian.uncertainty() measures
    paths = ("linear", "slerp")  # interpolations between two codes (vae.analysis.walks.interpolate)

    def __init__(self, dim: int):
        self.units = self.code_dim = dim
        self.encoder_out = 2 * dim
        self.categories = None

    @classmethod
    def from_config(cls, cfg):
        return cls(cfg.latent_dim)

    @property
    def size_text(self) -> str:
        return f"{self.units}"


class CategoricalKind:
    kind = "categorical"
    continuous = False  # codes pick a category per variable: pickers, straight paths on the simplex
    relaxed = True  # trains on Gumbel-softmax samples at a falling temperature (ModelConfig.temperature)
    letter, unit = "v", "variable"
    prior_text = "the uniform prior"
    reconstructed_from = "one-hot samples of q(z|x)"  # valid codes, not probability vectors
    uncertainty_label = "Posterior entropy"  # what Categorical.uncertainty() measures
    paths = ("linear",)  # a straight path between probability vectors stays on their simplex

    def __init__(self, variables: int, categories: int):
        self.units, self.categories = variables, categories
        self.code_dim = self.encoder_out = variables * categories

    @classmethod
    def from_config(cls, cfg):
        return cls(cfg.latent_dim, cfg.categories)

    @property
    def size_text(self) -> str:
        return f"{self.units} × {self.categories}"


def kind_of(cfg) -> GaussianKind | CategoricalKind:
    """The latent a ModelConfig describes, in words and sizes (vae.models.latents.latent_of: with its arithmetic)."""
    return {kind.kind: kind for kind in (GaussianKind, CategoricalKind)}[cfg.latent].from_config(cfg)
