"""Shared by the benchmark scripts: the project's folder, the machine's description, medians, table
printing, and the time a training run took to reach a test -ELBO."""
from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]


def first_at_or_under(history: list[dict], target: float) -> tuple[float, int] | None:
    """A run's training seconds up to and including its first epoch with a test -ELBO at or under
    `target`, and that epoch (`history`: its epoch records, history.jsonl's lines); None if none is."""
    seconds = 0.0
    for record in history:
        seconds += record["seconds"]
        if record["test_elbo"] <= target:
            return seconds, record["epoch"]
    return None


@contextlib.contextmanager
def training_step(autograd: bool, out: Path):
    """train() into `out` inside this trains with autograd's step (TrainStep) if `autograd`, even where
    the written-out step (vae/training/mlp_step.py) applies; with its own choice otherwise. On leaving,
    checks that the run recorded an autograd step where one was asked for."""
    from vae.run_files import TRAIN_CONFIG
    from vae.training import mlp_step

    with mock.patch.object(mlp_step, "applies", return_value=False) if autograd else contextlib.nullcontext():
        yield
    if autograd:
        recorded = json.loads((Path(out) / TRAIN_CONFIG).read_text())["backward"]
        assert recorded == "autograd", f"asked for autograd's step, the run recorded {recorded!r}"


def machine() -> str:
    import torch

    cpu, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    # The instruction sets that decide what torch's CPU kernels can use (bfloat16 units above all).
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16")
    cpu += " (" + (" ".join(f for f in wanted if f in flags) or "none of " + "/".join(wanted)) + ")"
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads){gpu}"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table, so the output pastes straight into BENCHMARKS.md."""
    cells = [list(headers)] + [[f"{c:.2f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    line = lambda row: "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"  # noqa: E731
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])
