"""Background training jobs: one at a time, live status from the run's files, stop, failure."""
import dataclasses
import json
import os
import time
from pathlib import Path

import pytest

from vae.config import ModelConfig, TrainConfig
from vae.services.jobs import JOB_FILE, JobBusy, TrainingJobs
from vae.training.checkpoint import load_checkpoint

pytestmark = pytest.mark.slow


def wait_until(predicate, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


TINY = ModelConfig(latent_dim=4, hidden_dims=[32])


def tiny_training(data_dir, epochs):
    return TrainConfig(data_dir=str(data_dir), epochs=epochs, train_limit=500, batch_size=50, log_every=2)


def test_a_job_runs_to_the_end_and_refuses_a_second_start(tmp_path, tiny_data_dir):
    jobs = TrainingJobs(tmp_path)
    assert jobs.status().state == "idle"
    run_dir = jobs.start(TINY, tiny_training(tiny_data_dir, 2))
    assert jobs.status().running and jobs.running()
    with pytest.raises(JobBusy):
        TrainingJobs(tmp_path).start(TINY, tiny_training(tiny_data_dir, 1))  # another session, same server
    assert wait_until(lambda: not jobs.status().running)
    assert wait_until(lambda: "exit" in json.loads(jobs.job_file.read_text()))  # kept by the waiting thread
    written = jobs.job_file.stat().st_mtime_ns
    status = jobs.status()
    assert status.state == "finished", status.error
    assert not jobs.running()
    assert json.loads(jobs.job_file.read_text())["exit"] == 0
    assert jobs.job_file.stat().st_mtime_ns == written  # status() reads, never writes
    assert status.epoch == 2 and status.epochs == 2 and len(status.history) == 2 and status.steps
    assert load_checkpoint(run_dir).epoch == 2
    jobs.start(TINY, tiny_training(tiny_data_dir, 1))  # a finished job frees the slot


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="no process priorities here")
def test_the_job_and_all_its_threads_run_below_the_server_priority(tmp_path, tiny_data_dir):
    jobs = TrainingJobs(tmp_path)
    run_dir = jobs.start(TINY, tiny_training(tiny_data_dir, 2))
    pid = json.loads((tmp_path / JOB_FILE).read_text())["pid"]
    assert wait_until(lambda: (run_dir / "steps.jsonl").exists())  # torch's threads have started
    threads = [int(t.name) for t in Path(f"/proc/{pid}/task").iterdir()] if Path("/proc").is_dir() else [pid]
    assert len(threads) > 1 or not Path("/proc").is_dir()
    assert all(os.getpriority(os.PRIO_PROCESS, t) >= os.getpriority(os.PRIO_PROCESS, 0) + 10 or
               os.getpriority(os.PRIO_PROCESS, t) == 19 for t in threads)
    autogroup = Path(f"/proc/{pid}/autogroup")  # Linux's per-session scheduling group, where enabled
    if autogroup.exists():
        assert autogroup.read_text().split()[-1] == "10", autogroup.read_text()
    assert wait_until(lambda: not jobs.status().running)


def test_stop_saves_and_reports_stopped(tmp_path, tiny_data_dir):
    jobs = TrainingJobs(tmp_path)
    run_dir = jobs.start(TINY, tiny_training(tiny_data_dir, 500))
    assert wait_until(lambda: jobs.status().history)  # at least one epoch done
    assert jobs.stop()
    assert wait_until(lambda: not jobs.status().running, timeout=60)
    status = jobs.status()
    assert status.state == "stopped"
    assert load_checkpoint(run_dir).epoch >= 1


def test_a_job_over_two_processes_runs_through_torchrun_and_stop_ends_every_rank(tmp_path, tiny_data_dir):
    """What the Train page starts with "GPUs to use" at 2 (here 2 CPU processes joined by gloo):
    the Stop button's SIGTERM goes to torchrun, which passes it on; rank 0 saves."""
    jobs = TrainingJobs(tmp_path)
    training = dataclasses.replace(tiny_training(tiny_data_dir, 500), device="cpu")  # gloo, on any machine
    run_dir = jobs.start(TINY, training, processes=2)
    assert "torch.distributed.run" in json.loads(jobs.job_file.read_text())["command"]
    assert wait_until(lambda: jobs.status().history)
    assert json.loads((run_dir / "train_config.json").read_text())["processes"] == 2
    assert jobs.stop()
    assert wait_until(lambda: not jobs.status().running, timeout=60)
    assert jobs.status().state == "stopped"
    assert load_checkpoint(run_dir).epoch >= 1
    if Path("/proc").is_dir():  # no rank left behind
        assert not [p for p in Path("/proc").glob("[0-9]*/cmdline")
                    if str(run_dir) in p.read_bytes().decode(errors="replace")]


def test_a_batch_that_does_not_split_over_the_processes_starts_nothing(tmp_path, tiny_data_dir):
    jobs = TrainingJobs(tmp_path)
    with pytest.raises(ValueError, match="--batch-size 50 does not split into 3 processes"):
        jobs.start(TINY, tiny_training(tiny_data_dir, 1), processes=3)
    assert jobs.status().state == "idle"


def test_a_failing_run_shows_its_error(tmp_path):
    jobs = TrainingJobs(tmp_path)
    jobs.start(ModelConfig(), TrainConfig(data_dir=str(tmp_path / "no-data"), epochs=1))
    assert wait_until(lambda: not jobs.status().running)
    status = jobs.status()
    assert status.state == "failed"
    assert "train-images-idx3-ubyte" in status.error


def test_a_beta_sweep_runs_one_after_another_and_a_restarted_server_takes_it_up(tmp_path, tiny_data_dir):
    jobs = TrainingJobs(tmp_path)
    runs = jobs.start_sweep(TINY, tiny_training(tiny_data_dir, 1), [0.5, 2], name="sweep")
    assert [r.name for r in runs] == ["sweep-beta0.5", "sweep-beta2"]
    assert jobs.status().queued == ["sweep-beta2"] and jobs.status().running
    with pytest.raises(JobBusy):
        jobs.start(TINY, tiny_training(tiny_data_dir, 1))
    assert wait_until(lambda: (runs[1] / "history.jsonl").exists() and not jobs.status().running, timeout=180)
    assert [load_checkpoint(r).config.beta for r in runs] == [0.5, 2.0]
    assert jobs.status().state == "finished" and not jobs.status().queued

    # A server restarted while a sweep ran takes its queue up once the run it finds has finished.
    job = json.loads(jobs.job_file.read_text())
    queue = [{"name": "resumed-beta3", "model": {**TINY.to_dict(), "beta": 3.0},
              "training": {**dataclasses.asdict(tiny_training(tiny_data_dir, 1))}, "processes": 1}]
    (tmp_path / JOB_FILE).write_text(json.dumps({**job, "pid": 2**22 + 12345, "queue": queue}))  # no such process
    restarted = TrainingJobs(tmp_path)
    assert wait_until(lambda: (tmp_path / "resumed-beta3" / "history.jsonl").exists()
                      and not restarted.status().running, timeout=120)
    assert load_checkpoint(tmp_path / "resumed-beta3").config.beta == 3.0
    # A stop (or any end but finishing) ends a sweep: test_a_sweep_ends_when_its_run_ends_any_other_way...


@pytest.mark.parametrize("how", ["interrupted", "failed", "stopped"])
def test_a_sweep_ends_when_its_run_ends_any_other_way_than_finishing(tmp_path, how):
    """A run that stopped short, failed or was stopped ends its sweep: the queue is emptied (not left
    to show "training" for good) and the next run never starts, also for a server started afresh."""
    run = tmp_path / "s-beta1"
    run.mkdir()
    (run / "train_config.json").write_text(json.dumps({"epochs": 2}))
    epochs = 1 if how == "interrupted" else 2
    lines = [{"epoch": e, "step": e, "images_per_second": 1000.0} for e in range(1, epochs + 1)]
    (run / "history.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    queue = [{"name": "s-beta2", "model": {**TINY.to_dict(), "beta": 2.0},
              "training": dataclasses.asdict(TrainConfig(epochs=2)), "processes": 1}]
    job = {"pid": 2**22 + 4321, "run_dir": str(run), "queue": queue, "exit": 1 if how == "failed" else 0,
           "stop_requested": how == "stopped"}
    (tmp_path / JOB_FILE).write_text(json.dumps(job))
    jobs = TrainingJobs(tmp_path)  # a server started afresh
    status = jobs.status()
    assert not status.running and status.queued == [] and json.loads(jobs.job_file.read_text())["queue"] == []
    assert not (tmp_path / "s-beta2").exists()
