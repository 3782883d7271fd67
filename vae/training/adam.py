"""Adam (Kingma & Ba, arXiv:1412.6980) over one list of parameters, by torch's fused kernel: each step
does what torch.optim.Adam(params, lr, fused=True) does (tests/test_adam.py checks it bit for bit on
the CPU, and on a GPU, where there is one, against capturable fused Adam, in a recorded graph too),
without torch.optim.Optimizer, whose first use imports torch._dynamo (1.05 to 1.5 s of every training run
on the 2 cores, BENCHMARKS.md section 1), and without Optimizer.step's Python around the kernel
(hooks, profiling, grad mode, grouping the state by device: 0.16 ms a step there).

    optimizer = Adam(model.parameters(), lr=1e-3)
    loss.backward(); optimizer.step(); optimizer.zero_grad()
    optimizer.set_lr(5e-4)

Its state saves as torch.optim.Adam's did ("<parameter index>.step", ".exp_avg", ".exp_avg_sq",
vae/training/checkpoint.py), so a run saved before it resumes. On CUDA the learning rate is a device
tensor, updated in place: a recorded CUDA graph (vae/training/step.py) reads the current one.
"""
from __future__ import annotations

from collections.abc import Iterable

import torch

BETAS = (0.9, 0.999)
EPS = 1e-8
STATE = ("step", "exp_avg", "exp_avg_sq")


class Adam:
    def __init__(self, params: Iterable[torch.Tensor], lr: float):
        self.params = list(params)
        kinds = {(p.device, p.dtype) for p in self.params}
        if len(kinds) != 1:  # one call of the kernel: torch's own Adam groups by these first
            raise ValueError(f"Adam steps parameters of one device and dtype, not {sorted(map(str, kinds))}")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError("a parameter is listed twice: it would be stepped twice")
        device = kinds.pop()[0]
        # A float on the CPU, as torch.optim.Adam's fused step takes it there
        self.lr: float | torch.Tensor = torch.zeros((), device=device) if device.type == "cuda" else 0.0
        self.set_lr(lr)
        self.state: list[dict[str, torch.Tensor]] = [{} for _ in self.params]  # started at a parameter's first step

    def set_lr(self, lr: float) -> None:
        if lr < 0:
            raise ValueError(f"the learning rate must not be negative: {lr}")
        if torch.is_tensor(self.lr):
            self.lr.fill_(lr)
        else:
            self.lr = float(lr)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One step of every parameter that has a gradient; one without is left as it is, as
        torch.optim.Adam leaves it (its moments do not decay, its step count does not move)."""
        live = [(p, s) for p, s in zip(self.params, self.state) if p.grad is not None]
        if not live:
            return
        for p, s in live:
            if not s:  # as torch's fused Adam starts it: a float32 step count on the device, zero moments
                s.update(step=torch.zeros((), dtype=torch.float32, device=p.device),
                         exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
        params, state = [p for p, _ in live], [s for _, s in live]
        steps = [s["step"] for s in state]
        torch._foreach_add_(steps, 1)
        torch._fused_adam_(params, [p.grad for p in params], [s["exp_avg"] for s in state],
                           [s["exp_avg_sq"] for s in state], [], steps, amsgrad=False, lr=self.lr,
                           beta1=BETAS[0], beta2=BETAS[1], weight_decay=0.0, eps=EPS, maximize=False,
                           grad_scale=None, found_inf=None)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """The state as flat "<parameter index>.<name>" tensors on the CPU, for a safetensors file."""
        return {f"{i}.{name}": t.detach().cpu().contiguous()
                for i, s in enumerate(self.state) for name, t in s.items()}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """The state from state_tensors' form; ValueError, changing nothing, unless it holds a whole
        state of the right shape for every parameter."""
        state = []
        for i, p in enumerate(self.params):
            saved = {name: tensors.get(f"{i}.{name}") for name in STATE}
            if any(t is None for t in saved.values()) or saved["step"].numel() != 1 \
                    or any(saved[name].shape != p.shape for name in STATE[1:]):
                raise ValueError(f"the saved state of parameter {i} does not fit it (shape {tuple(p.shape)})")
            state.append({"step": saved["step"].reshape(()).to(device=p.device, dtype=torch.float32),
                          **{name: saved[name].to(device=p.device, dtype=p.dtype) for name in STATE[1:]}})
        if len(tensors) != len(STATE) * len(self.params):
            raise ValueError(f"the saved state holds {len(tensors)} tensors, not {len(STATE)} for each of "
                             f"{len(self.params)} parameters")
        self.state = state
