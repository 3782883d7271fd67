"""Denormals: `python -m vae train` as it runs (denormal floats flushed to zero before any tensor
work, vae/__main__.py) against the same command line without the flush, each in a fresh process,
round-robin. Adam's moments of quiet weights decay into the denormal range, where x86 arithmetic is
slow, so without the flush the epochs grow slower as training goes on.

    python -m bench.denormals --repeats 2      # the default's whole schedule ($VAE_DATA_DIR)
    python -m bench.denormals --quick          # a smoke run on 500 images

Each run's own clock (history.jsonl's seconds: training only, not the test evaluation).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

from bench.common import ROOT, first_at_or_under, machine, median, table
from vae.training.checkpoint import read_history

WITHOUT_FLUSH = "import sys; from vae.cli import main; sys.exit(main(sys.argv[1:]))"  # the CLI, not its entry
RUNS = {"flushed (python -m vae train)": ["-m", "vae"], "not flushed": ["-c", WITHOUT_FLUSH]}


def one_run(launcher: list[str], args: list[str], target: float) -> dict:
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([sys.executable, *launcher, "train", "--out", out, *args], cwd=ROOT, check=True,
                       env=os.environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        history = read_history(out)
    seconds = [r["seconds"] for r in history]
    reached = first_at_or_under(history, target)
    return {"first": seconds[0], "last": seconds[-1], "total": sum(seconds), "final": history[-1]["test_elbo"],
            "to_target": reached[0] if reached else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each (medians are reported)")
    parser.add_argument("--target", type=float, default=105.0, help="test -ELBO to reach, nats per image")
    parser.add_argument("--quick", action="store_true", help="smoke run: 500 images, 2 epochs, target 250")
    args = parser.parse_args()
    train_args = ["--device", "cpu"]
    if args.quick:
        train_args += ["--train-limit", "500", "--epochs", "2"]
        args.repeats, args.target = 1, 250.0
    results: dict[str, list[dict]] = {name: [] for name in RUNS}
    for repeat in range(args.repeats):
        for name, launcher in RUNS.items():
            results[name].append(one_run(launcher, train_args, args.target))
            print(f"# repeat {repeat + 1}: {name}: {results[name][-1]}", flush=True)
    rows = []
    for name, runs in results.items():
        reached = [r["to_target"] for r in runs if r["to_target"] is not None]
        rows.append([name, f"{median([r['first'] for r in runs]):.2f}", f"{median([r['last'] for r in runs]):.2f}",
                     f"{median([r['total'] for r in runs]):.1f}",
                     f"{median(reached):.1f}" if len(reached) == len(runs) else "not reached",
                     f"{median([r['final'] for r in runs]):.2f}"])
    print(f"\nmachine: {machine()}\n{args.repeats} repeat(s); python -m vae train {' '.join(train_args)}\n")
    print(table(["run", "first epoch (s)", "last epoch (s)", "all epochs (s)",
                 f"seconds to test -ELBO <= {args.target:g}", "final test -ELBO"], rows))


if __name__ == "__main__":
    main()
