"""Slider releases while a training job runs: the release round trip of one session on the Latent
sliders page with no training, with a training job at normal priority, and with the job as the
app starts it (vae.services.jobs: nice 10, and its scheduling group's too where Linux has autogroup).

Conditions run round-robin, --releases each per round; the training job (the default MLP on a
2,000-image training set, for more epochs than the measurement lasts) is started for its
condition and stopped after it.

    python -m bench.training_contention [--releases 20] [--rounds 2] [--quick]
"""
from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import vae.services.jobs
from bench.browser import (
    app_folder,
    chromium_async,
    open_sliders,
    release_round_trip,
    release_targets,
    streamlit_process,
    wait_idle_async,
)
from bench.common import machine, percentile, table
from vae.config import ModelConfig, TrainConfig
from vae.services.jobs import TrainingJobs

CONDITIONS = {"no training": None, "training at normal priority": 0,
              "training as the app starts it": vae.services.jobs.TRAINING_NICENESS}


def start_job(checkpoints: Path, data_dir: Path, niceness: int) -> TrainingJobs:
    vae.services.jobs.TRAINING_NICENESS = niceness
    jobs = TrainingJobs(checkpoints)
    jobs.start(ModelConfig(), TrainConfig(data_dir=str(data_dir), epochs=500, train_limit=2000))
    deadline = time.time() + 60
    while not jobs.status().steps and time.time() < deadline:  # past torch's import: training
        time.sleep(0.2)
    return jobs


async def measure(url: str, checkpoints: Path, data_dir: Path, releases: int, rounds: int,
                  conditions: dict = CONDITIONS) -> dict:
    results = {name: {"updated": [], "rerun": []} for name in conditions}
    async with chromium_async() as browser:
        page, slider = await open_sliders(browser, url)
        targets = iter(release_targets(rounds * len(CONDITIONS) * releases))
        for _ in range(rounds):
            for name, niceness in conditions.items():
                jobs = start_job(checkpoints, data_dir, niceness) if niceness is not None else None
                try:
                    for _ in range(releases):
                        release = await release_round_trip(page, slider, next(targets))
                        results[name]["updated"].append(release.updated_ms)
                        if release.rerun_ms is not None:
                            results[name]["rerun"].append(release.rerun_ms)
                        await wait_idle_async(page)
                finally:
                    if jobs:
                        jobs.stop()
                        while jobs.running():
                            await asyncio.sleep(0.2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--releases", type=int, default=20, help="releases per condition and round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds through the three conditions")
    parser.add_argument("--quick", action="store_true", help="3 releases, 1 round, no job at the app's priority")
    args = parser.parse_args()
    conditions = CONDITIONS
    if args.quick:
        # A smoke run for CI, with one job: each start costs torch's import and a first step. Its job
        # runs at normal priority, as the other test worker's tests run beside it (in the suite: 45.5 s
        # with the niced job once, 45.2, 36.2 and 28.6 s at normal priority since; 15 s alone); the
        # app's niceness is checked by tests/test_jobs.py.
        args.releases, args.rounds = 3, 1
        conditions = {k: v for k, v in CONDITIONS.items() if k != "training as the app starts it"}
    with tempfile.TemporaryDirectory(prefix="training-contention-") as tmp:
        env, checkpoints = app_folder(Path(tmp))
        with streamlit_process(env) as (url, _, _):
            r = asyncio.run(measure(url, checkpoints, Path(env["VAE_DATA_DIR"]), args.releases, args.rounds,
                                    conditions))
    base = {k: percentile(r["no training"][k], 0.95) for k in ("updated", "rerun")}
    rows = [[name, len(v["updated"]), percentile(v["updated"], 0.5), percentile(v["updated"], 0.95),
             f"{percentile(v['updated'], 0.95) / base['updated']:.2f}x", percentile(v["rerun"], 0.5),
             percentile(v["rerun"], 0.95), f"{percentile(v['rerun'], 0.95) / base['rerun']:.2f}x"]
            for name, v in r.items()]
    print(f"machine: {machine()}\nbrowser: headless Chromium, one session on /sliders; {args.rounds} round(s)\n")
    print(table(["condition", "releases", "to updated page p50 (ms)", "p95 (ms)", "p95 vs none",
                 "to the server's rerun back p50 (ms)", "p95 (ms)", "p95 vs none"], rows))


if __name__ == "__main__":
    main()
