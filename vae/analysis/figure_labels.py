"""What the per-image figures of vae/analysis/diagnostics.py are called and how they are sampled.

Apart from diagnostics (which needs torch) so that a page can label its figures without importing torch:
the latent map's first page is drawn before torch is imported (BENCHMARKS.md, cold start).
"""

# What each per-image figure is, for legends and captions (nats per image unless said).
FIGURES = {
    "elbo": "−ELBO (recon + KL), nats",
    "recon": "reconstruction −log p(x|z), nats",
    "kl": "KL(q(z|x) ‖ p(z)), nats",
    "uncertainty": "posterior uncertainty (mean σ, or entropy, over the active units)",
    "iwae_gap": "IWAE gap: log p(x) bound − ELBO, nats",
}
IWAE_K = 100  # samples per image for the importance-weighted figures
FIGURE_SAMPLES = 2  # samples of q(z|x) averaged in each image's reconstruction term (and so its -ELBO)
