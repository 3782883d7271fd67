"""What a killed training run may leave, and what resuming it must give (shared by
tests/test_kill_windows.py, tests/test_killed_training.py and tests/test_failed_training.py):
the last complete checkpoint, logs that read and agree with it, and after `--resume` the same run,
bit for bit, as one that never stopped.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from vae.files import read_jsonl
from vae.run_files import HISTORY, OPTIMIZER, STEPS, WEIGHTS
from vae.services.runs import RunEntry, list_runs
from vae.training.checkpoint import load_checkpoint, read_history

ROOT = Path(__file__).resolve().parents[1]
TIMING_KEYS = {"seconds", "images_per_second", "time"}  # differ between two runs of the same training


def same_records(a: list[dict], b: list[dict]) -> bool:
    strip = lambda rs: [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in rs]  # noqa: E731
    return strip(a) == strip(b)


def same_weights(a: Path, b: Path) -> bool:
    sa, sb = load_checkpoint(a).model.state_dict(), load_checkpoint(b).model.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def meta(path: Path) -> dict:
    with safe_open(str(path), framework="pt") as f:
        return f.metadata()


def listed(folder: Path) -> RunEntry:
    """The folder as the sidebar's checkpoint picker lists it."""
    return next(e for e in list_runs(folder.parent) if e.name == folder.name)


def assert_consistent(out: Path, steps_per_epoch: int) -> dict:
    """What any kill may leave: the last complete checkpoint, and logs that read and agree with it."""
    history = read_jsonl(out / HISTORY)  # a partial last line is skipped, never an error
    steps = read_jsonl(out / STEPS)
    epochs = [h["epoch"] for h in history]
    assert epochs == list(range(1, len(epochs) + 1)), epochs
    step_numbers = [s["step"] for s in steps]
    assert step_numbers == sorted(set(step_numbers)), "steps.jsonl repeats or reorders steps"
    # Temporary files of an interrupted write may be left: they are dot-files, which neither the
    # picker (it lists folders) nor load_checkpoint looks at; the next run deletes them.
    leftovers = sorted(p.name for p in out.glob(".*.tmp"))
    assert all(p.is_file() for p in out.glob(".*"))
    entry = listed(out)
    if not (out / WEIGHTS).exists():
        assert not history and not entry.ok and "no checkpoint yet" in entry.error
        return {"epoch": 0, "leftovers": leftovers, "optimizer_matches": True}
    assert entry.ok, entry.error
    checkpoint = load_checkpoint(out)
    assert checkpoint.epoch >= 1 and checkpoint.step == checkpoint.epoch * steps_per_epoch
    # The weights commit an epoch before its history line is appended: the file may be one line
    # short (the checkpoint carries that line), never longer.
    assert [h["epoch"] for h in checkpoint.history] == list(range(1, checkpoint.epoch + 1))
    assert len(history) in (checkpoint.epoch - 1, checkpoint.epoch)
    assert same_records(checkpoint.history[:len(history)], history)
    optimizer_matches = (out / OPTIMIZER).exists() and meta(out / OPTIMIZER)["step"] == str(checkpoint.step)
    return {"epoch": checkpoint.epoch, "history_lines": len(history), "leftovers": leftovers,
            "optimizer_matches": optimizer_matches}


def assert_same_run(out: Path, reference: Path, exact_epochs: int | None = None) -> None:
    """A killed-and-resumed run against one that never stopped: the same epochs and steps, each
    once; the same figures and weights, bit for bit, or (when Adam's state was lost and started
    afresh) the same figures for the first `exact_epochs` epochs."""
    assert not list(out.glob(".*.tmp"))
    history, ref_history = read_history(out), read_history(reference)
    steps, ref_steps = read_jsonl(out / STEPS), read_jsonl(reference / STEPS)
    assert [h["epoch"] for h in history] == [h["epoch"] for h in ref_history]
    assert [s["step"] for s in steps] == [s["step"] for s in ref_steps]
    for name in (HISTORY, STEPS):  # every line parses: no garbage left by a partial line
        assert all(json.loads(line) for line in (out / name).read_text().splitlines())
    checkpoint, ref = load_checkpoint(out), load_checkpoint(reference)
    assert (checkpoint.epoch, checkpoint.step) == (ref.epoch, ref.step)
    if exact_epochs is None:
        assert same_weights(out, reference)
        exact_epochs = len(ref_history)
    last_step = ref_history[exact_epochs - 1]["step"] if exact_epochs else 0
    assert same_records(history[:exact_epochs], ref_history[:exact_epochs])
    upto = lambda rs: [r for r in rs if r["step"] <= last_step]  # noqa: E731
    assert same_records(upto(steps), upto(ref_steps))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Training in this process on one thread, as in the subprocesses (OMP_NUM_THREADS=1): faster
    for these tiny models on a shared 2-core machine, and the same arithmetic in every run."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
