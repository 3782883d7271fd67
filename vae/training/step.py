"""One training step (a batch by index -> forward -> -ELBO -> backward -> Adam), recorded once as
a CUDA graph and replayed on a GPU.

Why a graph: a step of the default MLP is ~100 small kernels, and on an H100 launching them one by
one from Python took ~3 ms a step (1.5 s an epoch) while the GPU itself was idle most of the time.
Replaying the recorded step launches all of them at once. The CPU runs the same code eagerly.

    step = TrainStep(model, optimizer, images, generator, amp=False, batch_size=128)
    step(idx, lr)            # idx (B,) int64 indices into images; adds to step.sums

Under DistributedDataParallel (`ddp`, see vae/training/distributed.py) the step runs eagerly: a recorded
graph would need PyTorch's recipe for DDP in CUDA graphs (static buckets, a side-stream warm-up of
the all-reduce), which this project does not follow or test.
"""
from __future__ import annotations

import sys

import torch

from vae.models.losses import recon_nll, training_loss
from vae.models.model import VAE, to_unit
from vae.training.adam import Adam

EAGER_STEPS_BEFORE_CAPTURE = 3  # cuBLAS/cuDNN set-up and Adam's first state, outside the graph


def make_optimizer(model: VAE, lr: float) -> Adam:
    """Adam over the model's parameters, fused: one pass over all of them instead of ~10 elementwise
    ops per tensor (on a 2-core CPU that took Adam from 2.1 to 0.6 ms of a 7.6 ms step)."""
    return Adam(model.parameters(), lr)


def flush_denormals() -> None:
    """Flush denormal floats to zero in this process, for the threads started from here on.

    Adam's first moment of a weight whose gradient has gone quiet (a pixel that is almost always
    black, a dead ReLU) decays by 0.9 a step into the denormal range, where x86 arithmetic is many
    times slower: on 2 Xeon cores the default's fused Adam went from 0.48 ms a step to 1.42 ms after
    four epochs (0.33 ms flushed), and the epoch from 1.85 to 2.33 s (BENCHMARKS.md). Flushed, nothing drifts, and
    values below 1.2e-38 matter to no figure here. The flag is per thread, and OpenMP's worker threads
    copy it when they are created, at the first parallel operation: so the command line calls this
    first (vae/__main__.py), before any tensor work. A notebook that trains in-process can do the same."""
    torch.set_flush_denormal(True)


class TrainStep:
    def __init__(self, model: VAE, optimizer: Adam, images: torch.Tensor,
                 generator: torch.Generator, amp: bool, batch_size: int, graph: bool | None = None,
                 ddp: torch.nn.Module | None = None, labels: torch.Tensor | None = None, free_bits: float = 0.0):
        """`labels`: the images' classes (N,), for a conditional model; `free_bits`: see training_loss."""
        self.model, self.optimizer, self.images, self.gen = model, optimizer, images, generator
        self.labels = labels
        self.net = model if ddp is None else ddp  # DDP's forward sets up the all-reduce of the gradients
        self.cfg = model.config
        self.amp = amp
        self.batch_size = batch_size
        device = model.device
        self.use_graph = device.type == "cuda" and ddp is None if graph is None else graph
        self.sums = torch.zeros(2, device=device)  # recon, KL summed over the images since reset()
        # The temperature of a relaxed latent's samples (Gumbel-softmax), in a tensor a recorded graph reads.
        self.temperature = torch.ones((), device=device) if model.latent.relaxed else None
        self.kl_weight = torch.ones((), device=device)  # the KL warm-up's factor, likewise in a tensor
        self.free_bits = free_bits
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static_idx = torch.zeros(batch_size, dtype=torch.long, device=device)
        self.eager_steps = 0

    def reset(self) -> None:
        self.sums.zero_()  # in place: a recorded graph reads this tensor

    def _forward_backward_update(self, idx: torch.Tensor) -> None:
        x = to_unit(self.images[idx])  # (B, C, H, W)
        if self.cfg.binarize:
            x = torch.bernoulli(x, generator=self.gen)
        # No autocast weight cache: a graph must not keep casts made while it was recorded.
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.amp, cache_enabled=False):
            out = self.net(x, generator=self.gen, temperature=self.temperature,
                           labels=None if self.labels is None else self.labels[idx])
        recon = recon_nll(out.logits.float(), x, self.cfg)  # (B,)
        kl_units = out.posterior.kl_per_unit().float()  # (B, units)
        kl = kl_units.sum(-1)  # (B,)
        training_loss(recon, kl_units, self.cfg.beta, self.kl_weight, self.free_bits).backward()
        self.optimizer.step()
        self.sums += torch.stack([recon.detach().sum(), kl.detach().sum()])

    def _eager(self, idx: torch.Tensor) -> None:
        self.optimizer.zero_grad()
        self._forward_backward_update(idx)

    def __call__(self, idx: torch.Tensor, lr: float, temperature: float | None = None, kl_weight: float = 1.0) -> None:
        self.optimizer.set_lr(lr)
        self.kl_weight.fill_(kl_weight)  # in place: a recorded graph reads this tensor
        if self.temperature is not None:
            self.temperature.fill_(temperature)  # in place: a recorded graph reads this tensor
        if not self.use_graph or len(idx) != self.batch_size:  # the CPU, or an epoch's short last batch
            self._eager(idx)
            return
        if self.graph is None and self.eager_steps < EAGER_STEPS_BEFORE_CAPTURE:
            side = torch.cuda.Stream()  # capture wants its warm-up off the default stream
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                self._eager(idx)
            torch.cuda.current_stream().wait_stream(side)
            self.eager_steps += 1
            return
        self.static_idx.copy_(idx)
        if self.graph is None and not self._record():
            self._eager(idx)
            return
        self.graph.replay()

    def _record(self) -> bool:
        """Record the step; False (and eager steps from then on) where this setup cannot."""
        graph = torch.cuda.CUDAGraph()
        try:
            graph.register_generator_state(self.gen)
            self.optimizer.zero_grad()  # the graph's backward owns the gradients
            with torch.cuda.graph(graph):
                self._forward_backward_update(self.static_idx)
        except RuntimeError as e:
            print(f"note: CUDA graph capture failed ({e}); training continues without it", file=sys.stderr)
            self.use_graph = False
            return False
        self.graph = graph
        return True
