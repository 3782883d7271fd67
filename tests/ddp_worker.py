"""`python -m vae` as a torchrun worker for tests/test_distributed.py, showing what the tests check:

  DDP_FIXED_NOISE=1     q(z|x)'s mean instead of a sample, so that steps compare across process counts
  DDP_REPORT=<folder>   each process's parameters after training (rank-<R>.safetensors) and the files
                        it wrote, made or removed in --out (rank-<R>.json, from Python's audit events)
  DDP_DIE_AT_STEP=<n>   rank 1 kills itself (SIGKILL) as it starts its n-th step of this process
  DDP_STOP_AT_STEP=<n>  rank 1 alone gets a SIGTERM (the Stop button's signal) as it starts its n-th step

    torchrun --standalone --nproc-per-node 2 tests/ddp_worker.py train --out ... (any vae train options)
"""
import json
import os
import signal
import sys
from pathlib import Path

from safetensors.torch import save_file

import vae.models.latents
import vae.training.mlp_step
import vae.training.step
from vae.cli import main

RANK = int(os.environ.get("RANK", 0))
steps: list = []  # the TrainStep of this process


def fixed_noise(self, *args, **kwargs):
    return self.mu


def record_step(init):
    def wrapper(self, *args, **kwargs):
        init(self, *args, **kwargs)
        steps.append(self)
    return wrapper


def signal_at(call, step: int, signum: int):
    taken = [0]

    def wrapper(self, *args, **kwargs):
        taken[0] += 1
        if taken[0] == step:
            os.kill(os.getpid(), signum)
        return call(self, *args, **kwargs)
    return wrapper


def audited_writes(out: Path) -> list:
    """(event, path) of every write-like audit event under `out` from now on."""
    writes = []

    def hook(event, args):
        if event == "open" and args[0] is not None and isinstance(args[0], (str, os.PathLike)):
            if (args[1] or "r").strip("rbt") and str(args[0]).startswith(str(out)):
                writes.append((event, str(args[0])))
        elif event in ("os.rename", "os.remove", "os.mkdir", "os.truncate", "tempfile.mkstemp", "shutil.rmtree"):
            for path in args[:2 if event == "os.rename" else 1]:  # a rename: from and to
                if isinstance(path, (str, os.PathLike)) and str(path).startswith(str(out)):
                    writes.append((event, str(path)))
    sys.addaudithook(hook)
    return writes


if __name__ == "__main__":
    argv = sys.argv[1:]
    out = Path(argv[argv.index("--out") + 1]).resolve()
    if os.environ.get("DDP_FIXED_NOISE"):
        vae.models.latents.Gaussian.sample = fixed_noise
    for variable, signum in (("DDP_DIE_AT_STEP", signal.SIGKILL), ("DDP_STOP_AT_STEP", signal.SIGTERM)):
        if os.environ.get(variable) and RANK == 1:
            step = vae.training.step.TrainStep
            step.__call__ = signal_at(step.__call__, int(os.environ[variable]), signum)
    # Every process takes autograd's step, even one alone (where the written-out step would apply):
    # the tests compare it with data-parallel ranks, which take that step, and what they check
    # (the fixed noise, the recorded and signalled steps) is patched into it.
    vae.training.mlp_step.applies = lambda *args, **kwargs: False
    vae.training.step.TrainStep.__init__ = record_step(vae.training.step.TrainStep.__init__)
    writes = audited_writes(out)
    code = main(argv)
    if (report := os.environ.get("DDP_REPORT")) and steps:
        params = {k: v.detach().clone().contiguous() for k, v in steps[0].model.state_dict().items()}
        save_file(params, f"{report}/rank-{RANK}.safetensors")
        Path(f"{report}/rank-{RANK}.json").write_text(json.dumps(writes))
    sys.exit(code)
