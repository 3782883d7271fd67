"""The default model's training step on a CPU with its backward written out: an MLP encoder and
decoder, a Gaussian latent and a Bernoulli likelihood, the gradient of the -ELBO taken by hand
instead of by autograd, the large intermediates (batch x pixels, batch x hidden units) in buffers
allocated once.

Why: on 2 cores a step of the default 784-512-32 MLP is little arithmetic (about 0.65 GFLOP) and
many small operators. Autograd records and replays ~45 of them, autocast casts every weight and
weight gradient, and each new tensor is fresh memory the cache has not seen. Written out, a step
is the products, a handful of elementwise passes and fused Adam's kernel, over the same buffers every
step (BENCHMARKS.md section 1 measures it against TrainStep). It computes what TrainStep computes, in
float32 or with bfloat16 products where autocast casts, from the same random draws:

    step = MLPStep(model, optimizer, images, generator, amp=False)
    step(idx, lr)            # idx (B,) int64 indices into images; adds to step.sums

The gradient, per image of a batch of B (x in [0, 1], l the decoder's logits, z = mu + sigma * eps):
  d/dl       (sigmoid(l) - x) / B                                   Bernoulli -log p(x|z)
  d/dmu      dz + beta * w * mu / B                                 dz: the decoder's gradient at z
  d/dlogvar  dz * eps * sigma / 2 + beta * w * (sigma^2 - 1) / (2B)
with w the KL warm-up's weight, and the KL terms zero for a unit held at its free bits (the
gradient of training_loss's clamp). tests/test_mlp_step.py checks it against autograd.
"""
from __future__ import annotations

import torch
from torch import nn

from vae.config import ModelConfig
from vae.models.latents import GaussianLatent, latent_of
from vae.models.losses import recon_nll
from vae.models.model import VAE, to_unit
from vae.training.adam import Adam


def applies(cfg: ModelConfig, device: torch.device, parallel: bool) -> bool:
    """Whether MLPStep trains this model: an unconditional mlp with a Gaussian latent, Gaussian eps and
    a Bernoulli likelihood, on the CPU, in one process. Other models take TrainStep."""
    return (cfg.arch == "mlp" and isinstance(latent_of(cfg), GaussianLatent) and cfg.likelihood == "bernoulli"
            and cfg.eps == "gaussian" and not cfg.conditional and device.type == "cpu" and not parallel)


def _float(t: torch.Tensor, into: torch.Tensor) -> torch.Tensor:
    """t in float32: itself, or copied into `into`."""
    return t if t.dtype == torch.float32 else into.copy_(t)


class _Buffers:
    """Every intermediate of a step of `batch` images, allocated once."""

    def __init__(self, batch: int, layers: list[nn.Linear], pixels: int, image_shape: tuple, dims: int,
                 dtype: torch.dtype):
        def compute(*shape):  # float32 when the products are
            return torch.empty(*shape, dtype=dtype)

        self.raw = torch.empty(batch, *image_shape, dtype=torch.uint8)  # (B, H, W) or (B, H, W, C)
        self.x = torch.empty(batch, pixels)  # (B, P) in [0, 1]
        self.out = {lin: compute(batch, lin.out_features) for lin in layers}  # each layer's output
        self.grad_in = {lin: compute(batch, lin.in_features) for lin in layers}  # the loss's gradient at its input
        self.e = torch.empty(batch, 2 * dims)  # the encoder's output: mu, logvar side by side
        self.g_e = torch.empty(batch, 2 * dims)  # the gradient at (mu, logvar)
        self.logits, self.g_logits = torch.empty(batch, pixels), torch.empty(batch, pixels)


class MLPStep:
    """The step of vae/training/step.TrainStep, written out for the models `applies` accepts."""

    def __init__(self, model: VAE, optimizer: Adam, images: torch.Tensor,
                 generator: torch.Generator, amp: bool, free_bits: float = 0.0):
        if not applies(model.config, model.device, parallel=False):
            raise ValueError("MLPStep's gradient is written for an unconditional mlp with a Gaussian latent, Gaussian "
                             "eps and a Bernoulli likelihood, on the CPU: train this model with TrainStep")
        if [id(p) for p in optimizer.params] != [id(p) for p in model.parameters()]:
            raise ValueError("MLPStep's optimizer must step exactly the model's parameters: the gradients it writes "
                             "would go nowhere else (make the optimizer after moving the model)")
        self.model, self.optimizer, self.images, self.gen = model, optimizer, images, generator
        self.cfg = model.config
        self.dtype = torch.bfloat16 if amp else torch.float32
        self.free_bits = free_bits
        self.encoder = [m for m in model.encoder if isinstance(m, nn.Linear)]
        self.decoder = [m for m in model.decoder if isinstance(m, nn.Linear)]
        layers = self.encoder + self.decoder
        self.sums = torch.zeros(2)  # recon, KL summed over the images since reset()
        # The products' weights: float32 ones are the parameters themselves (so nothing may replace
        # the parameters while this step trains them); bfloat16 copies are refreshed from them
        # before each step, as autocast casts them.
        self.weights = {lin: lin.weight.detach() if not amp else torch.empty_like(lin.weight, dtype=self.dtype)
                        for lin in layers}
        self.grads = {p: torch.zeros_like(p) for p in model.parameters()}
        # bfloat16 products write bfloat16 weight gradients; Adam reads them as float32
        self.weight_grads = {lin: self.grads[lin.weight] if not amp else torch.empty_like(lin.weight, dtype=self.dtype)
                             for lin in layers}
        self.buffers: dict[int, _Buffers] = {}  # by batch size: the full batches, an epoch's short last one

    def reset(self) -> None:
        self.sums.zero_()

    def _buffers(self, batch: int) -> _Buffers:
        if batch not in self.buffers:
            self.buffers[batch] = _Buffers(batch, self.encoder + self.decoder, self.cfg.pixels,
                                           tuple(self.images.shape[1:]), self.cfg.latent_dim, self.dtype)
        return self.buffers[batch]

    def _forward(self, layers: list[nn.Linear], h: torch.Tensor, buf: _Buffers) -> torch.Tensor:
        """h (B, in) in the products' dtype -> the last layer's output; ReLU between layers."""
        for i, lin in enumerate(layers):
            out = buf.out[lin]
            torch.addmm(lin.bias.to(self.dtype), h, self.weights[lin].t(), out=out)
            if i < len(layers) - 1:
                out.relu_()
            h = out
        return h

    def _backward(self, layers: list[nn.Linear], x: torch.Tensor, g: torch.Tensor, buf: _Buffers,
                  input_grad: bool) -> torch.Tensor | None:
        """The parameters' gradients of `layers` (their input was x), from g (B, out), the loss's
        gradient at the last layer's output; the gradient at x (in the products' dtype) if `input_grad`."""
        for i in reversed(range(len(layers))):
            lin = layers[i]
            # Before the cast, where g is still the loss's float32 gradient (at the decoder's logits, at
            # the encoder's mu and logvar): a bfloat16 sum over the batch into float32 is a slow pass
            # (43 us against 7 for the decoder's 784 units), and autocast's is rounded to bfloat16.
            torch.sum(g, 0, dtype=torch.float32, out=self.grads[lin.bias])
            g = g.to(self.dtype)
            h = buf.out[layers[i - 1]] if i else x  # this layer's input
            torch.mm(g.t(), h, out=self.weight_grads[lin])  # (out, in)
            if self.dtype != torch.float32:  # Adam reads float32
                self.grads[lin.weight].copy_(self.weight_grads[lin])
            if not i and not input_grad:
                return None
            g = torch.mm(g, self.weights[lin], out=buf.grad_in[lin])  # (B, in)
            if i:  # through the ReLU after the layer before: zero where its output h was
                g = torch.ops.aten.threshold_backward(g, h, 0)
        return g

    @torch.no_grad()
    def __call__(self, idx: torch.Tensor, lr: float, temperature: float | None = None, kl_weight: float = 1.0) -> None:
        self.optimizer.set_lr(lr)
        for p, grad in self.grads.items():
            if p.grad is not grad:
                p.grad = grad
        if self.dtype != torch.float32:
            for lin, w in self.weights.items():
                w.copy_(lin.weight)
        B, D, buf = len(idx), self.cfg.latent_dim, self._buffers(len(idx))  # D: the latent's dimensions
        torch.index_select(self.images, 0, idx, out=buf.raw)
        x = to_unit(buf.raw, out=buf.x).view(B, -1)  # (B, P)
        if self.cfg.binarize:
            x.bernoulli_(x.clone(), generator=self.gen)
        x_in = x.to(self.dtype)
        e = _float(self._forward(self.encoder, x_in, buf), buf.e)  # (B, 2D), float32 as in VAE.posterior
        q = self.model.latent.posterior(e)  # q(z|x): mu, logvar (B, D), views of e
        eps = torch.randn(q.mu.shape, generator=self.gen)  # the draws TrainStep's sample takes
        z_in = q.at(eps).to(self.dtype)  # (B, D)
        logits = _float(self._forward(self.decoder, z_in, buf), buf.logits)  # (B, P)

        recon = recon_nll(logits, x, self.cfg)  # (B,)
        kl_units = q.kl_per_unit()  # (B, D)
        self.sums += torch.stack([recon.sum(), kl_units.sum()])

        kl_scale = torch.full((D,), self.cfg.beta * kl_weight / B)
        if self.free_bits > 0:  # a unit held at its free bits (clamped) gets no gradient from its KL
            kl_scale.mul_(kl_units.mean(0) >= self.free_bits)
        g_logits = torch.sigmoid(logits, out=buf.g_logits).sub_(x).div_(B)
        dz = self._backward(self.decoder, z_in, g_logits, buf, input_grad=True).float()  # (B, D)
        sigma = q.uncertainty()  # (B, D)
        torch.addcmul(dz, kl_scale, q.mu, out=buf.g_e[:, :D])
        torch.mul(dz, eps, out=buf.g_e[:, D:]).mul_(sigma).add_((sigma * sigma - 1.0).mul_(kl_scale)).mul_(0.5)
        self._backward(self.encoder, x_in, buf.g_e, buf, input_grad=False)
        self.optimizer.step()
