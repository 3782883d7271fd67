"""Data-parallel training over several processes (DistributedDataParallel), when torchrun starts them:

    torchrun --nproc-per-node 2 -m vae train --out runs/ddp                       # one machine
    torchrun --nnodes 2 --node-rank 0 --nproc-per-node 4 \\
             --rdzv-backend c10d --rdzv-endpoint HOST:29500 -m vae train --out runs/ddp
    # and the same with --node-rank 1 on the other

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; a plain `python -m vae train` has none of them and
trains in one process, where nothing here does anything. NCCL joins GPUs, gloo CPU processes.

How vae/training/train.py uses it:
- --batch-size stays the global batch: each rank takes its slice of every batch of the same seeded
  permutation, so N ranks x B/N images change the weights as one process with B does (DDP averages
  the ranks' gradients). All ranks take the same number of steps, or an all-reduce would wait
  forever: the epoch's last, short batch is filled up from the permutation's start (as
  torch's DistributedSampler does).
- each rank draws its own noise (the reparameterization's eps, the binarization): `noise_seed`.
- the loss sums behind the logs are summed over the ranks; only global rank 0 writes files, and the
  others wait at a barrier meanwhile.
"""
from __future__ import annotations

import contextlib
import datetime
import gc

import torch
import torch.distributed as dist

from vae.training.ranks import TORCHRUN_VARIABLES, Ranks, check_batch_size, launcher, ranks_from_env  # noqa: F401

# A collective that waits longer than this ends the job (rank 0's evaluation and writes at an
# epoch's end are what the others wait for longest); a rank that dies is noticed by torchrun at once.
COLLECTIVE_TIMEOUT = datetime.timedelta(minutes=10)


def device_of(ranks: Ranks, device: torch.device) -> torch.device:
    """One GPU per process on a machine (its local rank's); the CPU stays the CPU."""
    if device.type != "cuda" or not ranks.parallel:
        return device
    if ranks.local >= torch.cuda.device_count():
        raise ValueError(f"process {ranks.local} of this machine has no GPU of its own ({torch.cuda.device_count()} "
                         "here): start at most that many processes a machine (--nproc-per-node), or --device cpu")
    torch.cuda.set_device(ranks.local)
    return torch.device("cuda", ranks.local)


@contextlib.contextmanager
def process_group(ranks: Ranks, device: torch.device):
    """Joins this job's processes for the block (nothing to do for one process alone)."""
    if not ranks.parallel or dist.is_initialized():
        yield
        return
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=COLLECTIVE_TIMEOUT)
    try:
        yield
        dist.barrier()  # no rank tears the group down while another still talks to it
    finally:
        # DDP's reducer holds the group and Gloo's threads its pending work: collected here, while
        # the interpreter is whole, rather than at exit (a rank once aborted there, "terminate called
        # without an active exception", after its training had finished).
        gc.collect()
        dist.destroy_process_group()


def epoch_order(perm: torch.Tensor, batch_size: int, ranks: Ranks) -> torch.Tensor:
    """The epoch's permutation, filled up to whole batches from its start when several ranks share
    it (each must take every step); one process alone keeps its short last batch."""
    short = -len(perm) % batch_size
    if not ranks.parallel or not short:
        return perm
    return torch.cat([perm, perm.repeat(short // len(perm) + 1)[:short]])


def rank_share(batch: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """This rank's slice of a global batch of indices."""
    return batch.tensor_split(ranks.world)[ranks.rank] if ranks.parallel else batch


def noise_seed(seed: int, epoch: int, rank: int) -> int:
    """The seed of a rank's noise in an epoch (rank 0's noise continues the permutation's generator,
    so that one process alone draws what it always drew)."""
    return (seed * 100003 + epoch) * 65537 + rank


def summed(t: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """t summed over the ranks (a copy)."""
    t = t.clone()
    if ranks.parallel:
        dist.all_reduce(t)
    return t


def barrier(ranks: Ranks) -> None:
    if ranks.parallel:
        dist.barrier()


def wrap(model: torch.nn.Module, ranks: Ranks) -> torch.nn.Module:
    """The module that training calls: DDP (which also copies rank 0's weights to every rank) when
    there are several ranks, else the model itself."""
    if not ranks.parallel:
        return model
    device = next(model.parameters()).device
    device_ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
