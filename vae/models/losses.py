"""The VAE's loss terms, all in nats per image.

  -ELBO(x) = recon(x) + KL(q(z|x) || p(z)),   training loss = recon + beta * KL
  recon    = -log p(x|z), z ~ q(z|x), one sample
  KL       in closed form, per latent unit (vae/models/latents.py): for a Gaussian latent
           sum_d 0.5 * (mu_d^2 + sigma_d^2 - 1 - log sigma_d^2); for a categorical one
           sum_i (sum_k p_ik log p_ik + log K)

plus the importance-weighted bound (Burda et al. 2015) used to estimate -log p(x).
"""
from __future__ import annotations

import math

import torch

from vae.config import ModelConfig
from vae.models.latents import LOG_2PI, Gaussian


def decoder_rows(device: torch.device) -> int:
    """Decoded samples per decoder call in the importance-weighted figures. On a CPU about a thousand
    keep a conv decoder's activations in the processor's cache (the 10,000-digit k = 100 colouring in
    bfloat16 on 2 EPYC cores: 50.4 s, against 80.5 s at 20,000: BENCHMARKS.md); a GPU wants few large
    calls."""
    return 1000 if device.type == "cpu" else 20_000


def images_per_call(k: int, device: torch.device) -> int:
    """Images a batch of the importance-weighted figures takes, so that all k samples of each are
    decoded in one call (for k up to decoder_rows; the random draws then do not depend on how
    images are batched)."""
    return max(1, decoder_rows(device) // k)


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Closed-form KL(N(mu, sigma^2) || N(0, 1)) for each dimension: (B, z_dim)."""
    return Gaussian(mu, logvar).kl_per_unit()


class _BernoulliNLL(torch.autograd.Function):
    """-log Bernoulli(x; sigmoid(l)) = softplus(l) - x * l, pixel by pixel.

    Written as (relu(l) - x * l) + log(1 + exp(-|l|)) because torch's log_sigmoid and log1p are
    scalar loops on the CPU: binary_cross_entropy_with_logits took 0.7 ms of a 4.6 ms training step
    on 2 EPYC cores, this 0.25 ms (BENCHMARKS.md section 1). The bracket first, so that a white pixel
    under a confident logit (l - l) loses nothing to rounding: every value is within two roundings
    of the exact one (tests/test_math.py), and log(1 + e) in place of log1p(e) adds at most 6e-8 a
    pixel. The gradient is given, not derived from that form, so that it is sigmoid(l) - x at l = 0
    too, where relu and |.| kink."""

    @staticmethod
    def forward(ctx, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(logits, x)
        out = torch.addcmul(logits.clamp(min=0), x, logits, value=-1)
        return out.add_(logits.abs().neg_().exp_().add_(1).log_())

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        logits, x = ctx.saved_tensors
        grad_logits = grad * (torch.sigmoid(logits) - x) if ctx.needs_input_grad[0] else None
        grad_x = -grad * logits if ctx.needs_input_grad[1] else None
        return grad_logits, grad_x


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log p(x|l) of each pixel under Bernoulli(sigmoid(l)), x in [0, 1] (gray pixels: a
    pseudo-likelihood), in float32 at least whatever the logits' precision; logits and x of one shape."""
    if logits.shape != x.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and pixels {tuple(x.shape)} differ in shape")
    dtype = torch.promote_types(logits.dtype, torch.float32)
    return _BernoulliNLL.apply(logits.to(dtype), x.to(dtype))


def recon_nll(logits: torch.Tensor, x: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
    """-log p(x|z) summed over pixels: (B,). logits (B, 784); x in [0, 1], any shape (B, ...)."""
    x = x.reshape(len(x), -1)
    if cfg.likelihood == "bernoulli":
        return bernoulli_nll(logits, x).sum(-1)
    sigma = cfg.gaussian_sigma
    mean = torch.sigmoid(logits)
    squared = ((x - mean) / sigma).pow(2)
    return 0.5 * squared.sum(-1) + x.shape[1] * (math.log(sigma) + 0.5 * LOG_2PI)


def training_loss(recon: torch.Tensor, kl_units: torch.Tensor, beta: float, kl_weight: float | torch.Tensor = 1.0,
                  free_bits: float = 0.0) -> torch.Tensor:
    """What training minimizes, per image of a batch: mean recon + beta * kl_weight * KL. recon (B,),
    kl_units (B, units): each unit's KL. With the weight at 1 and no free bits it is the batch's
    mean -ELBO (beta = 1). `kl_weight`: the KL warm-up's factor, rising from 0 (Bowman et al. 2016).
    `free_bits`: each unit's KL, averaged over the batch, counts as at least this many nats (Kingma
    et al. 2016), so training gains nothing by pushing a unit below it, and units stay in use."""
    kl = kl_units.mean(0)  # (units,)
    if free_bits > 0:
        kl = kl.clamp(min=free_bits)
    return recon.mean() + beta * kl_weight * kl.sum()


def log_importance_weights(model, x: torch.Tensor, k: int, chunk: int | None = None,
                           generator: torch.Generator | None = None, labels=None, q=None,
                           bf16_decoder: bool = False) -> torch.Tensor:
    """log p(x|z_i) + log p(z_i) - log q(z_i|x) for k exact samples z_i of q(z|x) each: (B, k).
    Their mean is a one-sample ELBO's expectation estimated k times; their log-mean-exp is the
    importance-weighted bound (Burda et al. 2015). A conditional model reads `labels` (an int or
    (B,)), and the weights are of p(x, z | y). `q`: another proposal than the encoder's q(z|x), of
    the same kind (an optimized posterior, say). Differentiable: callers that want no gradient say so
    (torch.no_grad), as every figure does. `bf16_decoder`: the decoder's forward in bfloat16 (its
    logits, and everything after them, in float32): faster where the processor has bfloat16 units,
    within a few hundredths of a nat (BENCHMARKS.md). `chunk`: samples decoded per call (default:
    decoder_rows of x's device)."""
    q = model.posterior(x, labels) if q is None else q
    B = len(x)
    flat_x = x.reshape(B, -1)
    per_chunk = max(1, (chunk or decoder_rows(x.device)) // max(B, 1))
    log_w_parts = []
    for start in range(0, k, per_chunk):
        n = min(per_chunk, k - start)
        z = q.sample(generator, samples=n)  # (B, n, code_dim)
        repeated = labels.repeat_interleave(n) if isinstance(labels, torch.Tensor) and labels.dim() else labels
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16_decoder):
            logits = model.decode_logits(z.reshape(B * n, -1), repeated).float()  # (B*n, C*H*W)
        x_rep = flat_x[:, None].expand(B, n, flat_x.shape[1]).reshape(B * n, -1)
        log_px_z = -recon_nll(logits, x_rep, model.config).view(B, n)
        log_w_parts.append(log_px_z + model.latent.prior_log_prob(z) - q.log_prob(z))  # (B, n)
    return torch.cat(log_w_parts, dim=1)


def importance_weighted_bound(log_w: torch.Tensor) -> torch.Tensor:
    """log (1/k) sum_i w_i from log weights (B, k): (B,)."""
    return torch.logsumexp(log_w, dim=1) - math.log(log_w.shape[1])


@torch.no_grad()
def iwae_nll(model, x: torch.Tensor, k: int, chunk: int | None = None,
             generator: torch.Generator | None = None, labels=None) -> torch.Tensor:
    """Importance-weighted estimate of -log p(x) with k exact samples of q(z|x) as the proposal: (B,).

    -log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x); equals the one-sample -ELBO in expectation at k = 1
    and falls towards -log p(x) as k grows.
    """
    return -importance_weighted_bound(log_importance_weights(model, x, k, chunk, generator, labels))
