"""Which process of a data-parallel job this is, and how a job is started: what the app's training
jobs (vae/services/jobs.py) need of vae/training/distributed.py, without torch.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass

# What torchrun sets; a process that the app starts alone must not inherit them (vae/services/jobs.py).
TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR",
                      "MASTER_PORT", "TORCHELASTIC_RUN_ID")


@dataclass(frozen=True)
class Ranks:
    """This process's place in the job: global rank, number of processes, rank on this machine, and
    whether torchrun started it (then DDP runs even over one process, which measures its overhead)."""
    rank: int = 0
    world: int = 1
    local: int = 0
    torchrun: bool = False

    @property
    def parallel(self) -> bool:
        return self.torchrun or self.world > 1

    @property
    def writer(self) -> bool:
        """Whether this process writes the run's files (global rank 0)."""
        return self.rank == 0


def launcher(processes: int, torchrun: bool | None = None) -> list[str]:
    """The start of a command line that runs a Python program in `processes` data-parallel
    processes: torchrun (standalone, one node) when more than one, or when `torchrun` asks for it
    with one (DDP's own overhead, measured); plain Python otherwise. Append the program and its
    arguments (`-m vae train ...`, or a script)."""
    if torchrun or (torchrun is None and processes > 1):
        return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
    return [sys.executable]


def ranks_from_env() -> Ranks:
    """What torchrun says this process is; one process alone without it."""
    if "WORLD_SIZE" not in os.environ:
        return Ranks()
    return Ranks(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0)),
                 torchrun=True)


def check_batch_size(batch_size: int, ranks: Ranks) -> None:
    if batch_size % ranks.world:
        raise ValueError(f"--batch-size {batch_size} does not split into {ranks.world} processes: "
                         f"choose a multiple of {ranks.world}")
