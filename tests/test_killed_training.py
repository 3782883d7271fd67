"""Killed and failing training (issue #5, Reliability).

* Real `python -m vae train` processes get SIGKILLed at 5 seeded random moments (mid-epoch,
  while a checkpoint is being written, just after one), and once before the first checkpoint:
  after every kill the last complete checkpoint loads, history.jsonl and steps.jsonl read, and
  `--resume` ends with the same history, steps and weights as a run that was never killed.
* Each window between two writes is also hit deterministically, in-process, by a `Killed`
  exception raised where a kill would land (SIGKILL runs no handler, nor does this).
* A training process that fails (an exception such as CUDA's out of memory, or SIGKILL from the
  OOM killer) shows its error on the Train page and in the sidebar, and the explorer carries on.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

import ui.common
import vae.checkpoint as ckpt
from vae.checkpoint import (HISTORY, OPTIMIZER, STEPS, WEIGHTS, load_checkpoint, read_history, read_jsonl)
from vae.config import ModelConfig, TrainConfig
from vae.jobs import TrainingJobs
from vae.train import _signals_deferred, train

ROOT = Path(__file__).resolve().parents[1]
TIMING_KEYS = {"seconds", "images_per_second", "time"}  # differ between two runs of the same training


# ---------------------------------------------------------------- helpers

def same_records(a: list[dict], b: list[dict]) -> bool:
    strip = lambda rs: [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in rs]  # noqa: E731
    return strip(a) == strip(b)


def same_weights(a: Path, b: Path) -> bool:
    sa, sb = load_checkpoint(a).model.state_dict(), load_checkpoint(b).model.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def meta(path: Path) -> dict:
    with safe_open(str(path), framework="pt") as f:
        return f.metadata()


def listed(folder: Path, monkeypatch) -> ui.common.CheckpointEntry:
    """The folder as the sidebar's checkpoint picker lists it."""
    monkeypatch.setattr(ui.common, "CHECKPOINTS_DIR", folder.parent)
    return next(e for e in ui.common.list_checkpoints() if e.name == folder.name)


def assert_consistent(out: Path, steps_per_epoch: int, monkeypatch) -> dict:
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
    entry = listed(out, monkeypatch)
    if not (out / WEIGHTS).exists():
        assert not history and not entry.ok and "no checkpoint yet" in entry.error
        return {"epoch": 0, "leftovers": leftovers, "optimizer_matches": True}
    assert entry.ok, entry.error
    state = load_checkpoint(out)
    assert state.epoch >= 1 and state.step == state.epoch * steps_per_epoch
    # The weights commit an epoch before its history line is appended: the file may be one line
    # short (the checkpoint carries that line), never longer.
    assert [h["epoch"] for h in state.history] == list(range(1, state.epoch + 1))
    assert len(history) in (state.epoch - 1, state.epoch)
    assert same_records(state.history[:len(history)], history)
    optimizer_matches = (out / OPTIMIZER).exists() and meta(out / OPTIMIZER)["step"] == str(state.step)
    return {"epoch": state.epoch, "history_lines": len(history), "leftovers": leftovers,
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
    state, ref = load_checkpoint(out), load_checkpoint(reference)
    assert (state.epoch, state.step) == (ref.epoch, ref.step)
    if exact_epochs is None:
        assert same_weights(out, reference)
        exact_epochs = len(ref_history)
    last_step = ref_history[exact_epochs - 1]["step"] if exact_epochs else 0
    assert same_records(history[:exact_epochs], ref_history[:exact_epochs])
    upto = lambda rs: [r for r in rs if r["step"] <= last_step]  # noqa: E731
    assert same_records(upto(steps), upto(ref_steps))


# ---------------------------------------------------------------- in-process: each window, deterministically

MODEL = ModelConfig(latent_dim=4, hidden_dims=[32])
EPOCHS, BATCH = 3, 50
SPE = 600 // BATCH  # steps per epoch on the 600-image tiny training set


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Training in this process on one thread, as in the subprocesses (OMP_NUM_THREADS=1): faster
    for these tiny models on a shared 2-core machine, and the same arithmetic in every run."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, and not the KeyboardInterrupt that makes train() save."""


def train_cfg(data_dir) -> TrainConfig:
    return TrainConfig(epochs=EPOCHS, batch_size=BATCH, log_every=2, data_dir=str(data_dir), device="cpu")


@pytest.fixture(scope="module")
def reference(tiny_data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    torch.manual_seed(0)
    train(MODEL, train_cfg(tiny_data_dir), out, show_progress=False)
    return out


def kill_when(monkeypatch, name: str, when, partial: bool = False):
    """Raise Killed when checkpoint.<name>(path, ...) is called and `when(path, *args)` holds;
    with `partial`, append half of the line first (a write cut short)."""
    original = getattr(ckpt, name)

    def wrapper(path, *args, **kwargs):
        if when(Path(path), *args):
            if partial:
                with open(path, "a") as f:
                    f.write(json.dumps(args[0])[:25])
            raise Killed
        return original(path, *args, **kwargs)

    monkeypatch.setattr(ckpt, name, wrapper)


def nth_call(n: int, match):
    calls = []

    def when(path, *args):
        if match(path, *args):
            calls.append(path)
            return len(calls) == n
        return False

    return when


WINDOWS = {
    # config.json written, the first weights not yet: no checkpoint at all
    "before the first weights": ("atomic_write_bytes", nth_call(1, lambda p, *a: p.name == WEIGHTS), False),
    # weights of epoch 2 saved, its optimizer state not: the optimizer file is still epoch 1's
    "between weights and optimizer": ("atomic_write_bytes", nth_call(2, lambda p, *a: p.name == OPTIMIZER), False),
    # checkpoint of epoch 2 complete, its history line not appended
    "before the history line": ("append_jsonl", lambda p, r: p.name == HISTORY and r["epoch"] == 2, False),
    # the history line of epoch 2 cut short
    "in the history line": ("append_jsonl", lambda p, r: p.name == HISTORY and r["epoch"] == 2, True),
    # mid-epoch 2, a steps line cut short: steps past the checkpoint must not repeat after resume
    "in a steps line mid-epoch": ("append_jsonl", lambda p, r: p.name == STEPS and r["step"] == SPE + 6, True),
}


@pytest.mark.parametrize("window", WINDOWS)
def test_a_kill_in_each_window_resumes_to_the_same_run(window, tiny_data_dir, reference, tmp_path, monkeypatch,
                                                       capsys):
    out = tmp_path / "run"
    name, when, partial = WINDOWS[window]
    with monkeypatch.context() as m:
        kill_when(m, name, when, partial)
        torch.manual_seed(0)
        with pytest.raises(Killed):
            train(MODEL, train_cfg(tiny_data_dir), out, show_progress=False)
    state = assert_consistent(out, SPE, monkeypatch)
    assert state["epoch"] == {"before the first weights": 0, "in a steps line mid-epoch": 1}.get(window, 2)
    if window == "before the first weights":
        assert (out / "config.json").exists()  # written first; the picker still says "no checkpoint yet"
    (out / f".{WEIGHTS}.x1y2.tmp").write_bytes(b"half a file")  # what a kill during a write leaves

    train(MODEL, train_cfg(tiny_data_dir), out, resume=True, show_progress=False)
    matched = window != "between weights and optimizer"
    assert state["optimizer_matches"] == matched
    # Epoch 1's Adam moments do not belong to epoch 2's weights: resume says so and starts them afresh.
    assert ("no optimizer state saved at step" in capsys.readouterr().err) == (not matched)
    assert_same_run(out, reference, exact_epochs=None if matched else state["epoch"])


def test_ctrl_c_mid_epoch_saves_and_resume_skips_the_batches_already_trained(tiny_data_dir, reference, tmp_path,
                                                                             monkeypatch):
    out = tmp_path / "run"
    original = ckpt.append_jsonl

    def interrupt_at_step(path, record):
        original(path, record)
        if Path(path).name == STEPS and record["step"] == SPE + 6:
            raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(ckpt, "append_jsonl", interrupt_at_step)
        assert len(train(MODEL, train_cfg(tiny_data_dir), out, show_progress=False)) == 1
    state = load_checkpoint(out)
    assert (state.epoch, state.step) == (1, SPE + 6) and len(state.history) == 1
    history = train(MODEL, train_cfg(tiny_data_dir), out, resume=True, show_progress=False)
    assert [(h["epoch"], h["step"]) for h in history] == [(e, e * SPE) for e in range(1, EPOCHS + 1)]
    assert_same_run(out, reference, exact_epochs=1)  # other eps draws after the stop: close, not equal


def test_ctrl_c_waits_until_the_epoch_is_saved():
    handler, done = signal.getsignal(signal.SIGINT), False
    with pytest.raises(KeyboardInterrupt):
        with _signals_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the usual handler would have raised by now
            done = True
    assert done and signal.getsignal(signal.SIGINT) is handler


# ---------------------------------------------------------------- real processes, real SIGKILL

CLI_SPE = 120  # 600 images in batches of 5: epochs long enough to kill inside one
CLI_EPOCHS = 12


def cli_args(data_dir) -> list[str]:
    return ["--data-dir", str(data_dir), "--epochs", str(CLI_EPOCHS), "--train-limit", "600", "--batch-size", "5",
            "--latent-dim", "4", "--hidden", "64", "--log-every", "10", "--seed", "3", "--device", "cpu"]


def cli_reference(data_dir, out: Path) -> Path:
    """What `python -m vae train <cli_args>` makes, trained here (on one thread, as there)."""
    torch.manual_seed(0)
    train(ModelConfig(latent_dim=4, hidden_dims=[64]),
          TrainConfig(epochs=CLI_EPOCHS, batch_size=5, train_limit=600, log_every=10, seed=3, device="cpu",
                      data_dir=str(data_dir)), out, show_progress=False)
    return out


def resume_cli(out: Path, args: list[str], log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "vae", "train", "--out", str(out), *args, "--resume"]
    with open(log, "wb") as f:
        return subprocess.Popen(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def signature(path: Path):
    try:
        st = path.stat()
        return st.st_ino, st.st_size, st.st_mtime_ns
    except FileNotFoundError:
        return None


def alive(pid: int) -> bool:
    """Running, without reaping it (a zombie has ended): TrainingJobs reads the exit code itself."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def wait_for(pid: int, predicate, timeout: float, poll: float = 0.0005) -> bool:
    """Poll until `predicate()`; False once the process has ended or the time is up."""
    deadline = time.time() + timeout
    while time.time() < deadline and alive(pid):
        if predicate():
            return True
        time.sleep(poll)
    return False


def steps_since(out: Path, since: float) -> int:
    """Lines of steps.jsonl written after `since` (a resumed run first cuts the file back)."""
    return sum(s["time"] > since for s in read_jsonl(out / STEPS))


def kill_at(pid: int, out: Path, moment: str, rng: random.Random, since: float) -> str:
    """Wait for `moment` in the run's files, SIGKILL the run; returns what was waited for."""
    assert wait_for(pid, lambda: steps_since(out, since) > 0, 60, poll=0.01), "training never started"
    if moment == "after a random delay":
        delay = rng.uniform(0.0, 0.6)
        time.sleep(delay)
        what = f"{delay:.2f} s into training"
    elif moment == "mid-epoch":
        lines = rng.randint(2, 10)
        wait_for(pid, lambda: steps_since(out, since) >= lines, 10, poll=0.005)
        what = f"{lines} steps lines in"
    elif moment == "while a checkpoint is written":
        wait_for(pid, lambda: any(out.glob(".*.tmp")), 10, poll=0.0002)
        what = "a temporary file seen"
    else:
        name = {"just after the weights are renamed": WEIGHTS, "just after a history line": HISTORY}[moment]
        changes = rng.randint(1, 2)
        for _ in range(changes):
            before = signature(out / name)
            wait_for(pid, lambda: signature(out / name) != before, 10, poll=0.0002)
        what = f"{name} changed {changes}x"
    assert alive(pid), f"the run ended before the kill ({moment})"
    os.kill(pid, signal.SIGKILL)
    return what


@pytest.fixture
def processes():
    """Every process a test starts; those still running at its end are killed."""
    started: list[int] = []
    yield started
    for pid in started:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume(tiny_data_dir, tmp_path, monkeypatch, processes):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the same arithmetic in every process, and no oversubscription
    args = cli_args(tiny_data_dir)

    # 0. Started by the app, killed before its first checkpoint: the picker says so, the job failed.
    jobs = TrainingJobs(tmp_path / "checkpoints")
    out = jobs.start(args, run_name="run")
    pid = json.loads(jobs.job_file.read_text())["pid"]
    processes.append(pid)
    assert wait_for(pid, lambda: (out / STEPS).exists(), 60), (out / "train.log").read_text()
    os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 10
    while jobs.status().running and time.time() < deadline:
        time.sleep(0.01)
    assert not (out / WEIGHTS).exists(), "the first epoch ended before the kill: make it longer"
    assert assert_consistent(out, CLI_SPE, monkeypatch)["epoch"] == 0
    status = jobs.status()
    assert status.state == "failed" and "SIGKILL" in status.error_line and "out of memory" in status.error_line

    # 1-5. Resumed, and killed again at seeded random moments, one of each kind.
    rng = random.Random(20261125)
    moments = rng.sample(["after a random delay", "mid-epoch", "while a checkpoint is written",
                          "just after the weights are renamed", "just after a history line"], 5)
    report, exact_epochs = [], None
    for i, moment in enumerate(moments, 1):
        since = time.time()
        proc = resume_cli(out, args, tmp_path / f"kill{i}.log")
        processes.append(proc.pid)
        what = kill_at(proc.pid, out, moment, rng, since)
        assert proc.wait(10) == -signal.SIGKILL
        state = assert_consistent(out, CLI_SPE, monkeypatch)
        if not state["optimizer_matches"] and exact_epochs is None:
            exact_epochs = state["epoch"]  # Adam starts afresh from here: the figures part from the reference
        report.append(f"kill {i}, {moment} ({what}): {state}")
    print("\n".join(report))

    # Then --resume runs to the end: the same run as one that was never killed.
    final = subprocess.run([sys.executable, "-m", "vae", "train", "--out", str(out), *args, "--resume"], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    assert_same_run(out, cli_reference(tiny_data_dir, tmp_path / "reference"), exact_epochs)
    if exact_epochs is not None:  # a kill between weights and optimizer: resume said so
        logs = "".join(p.read_text() for p in tmp_path.glob("kill*.log")) + final.stderr
        assert "no optimizer state saved at step" in logs
    assert listed(out, monkeypatch).ok


# ---------------------------------------------------------------- a failing run, in the app

HOOK = '''
import os
after = int(os.environ.get("VAE_TEST_OOM_AFTER_STEPS", "0"))
if after:  # tests/test_killed_training.py: run out of memory after `after` optimizer steps
    import torch
    step, count = torch.optim.Adam.step, [0]
    def failing_step(self, *args, **kwargs):
        count[0] += 1
        if count[0] > after:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
        return step(self, *args, **kwargs)
    torch.optim.Adam.step = failing_step
'''


@pytest.fixture(scope="module")
def failed_run(tiny_data_dir, tmp_path_factory):
    """checkpoints/ with the bundled model and a run that ran out of memory in its third epoch."""
    root = tmp_path_factory.mktemp("checkpoints")
    shutil.copytree(ROOT / "checkpoints" / "default", root / "default")
    hook = tmp_path_factory.mktemp("hook")
    (hook / "sitecustomize.py").write_text(HOOK)
    with pytest.MonkeyPatch.context() as m:  # the job inherits this environment
        m.setenv("PYTHONPATH", str(hook))
        m.setenv("VAE_TEST_OOM_AFTER_STEPS", "30")
        jobs = TrainingJobs(root)
        run_dir = jobs.start(["--data-dir", str(tiny_data_dir), "--epochs", "5", "--train-limit", "600",
                              "--batch-size", "50", "--latent-dim", "4", "--hidden", "32", "--log-every", "2"],
                             run_name="oom-run")
        deadline = time.time() + 60
        while jobs.status().running and time.time() < deadline:
            time.sleep(0.1)
    return root, run_dir


@pytest.mark.slow
def test_a_failed_job_reports_its_error_and_keeps_its_last_checkpoint(failed_run, monkeypatch):
    root, run_dir = failed_run
    status = TrainingJobs(root).status()
    assert status.state == "failed"
    assert status.error_line.endswith("OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB "
                                      "(simulated)")
    assert 'File "' in status.error  # the log's tail, with the traceback, for the details
    state = load_checkpoint(run_dir)
    assert state.epoch == 2 and [h["epoch"] for h in state.history] == [1, 2]
    assert listed(run_dir, monkeypatch).ok


@pytest.mark.slow
def test_the_app_shows_the_error_and_the_explorer_carries_on(failed_run, monkeypatch):
    from streamlit.testing.v1 import AppTest

    root, _ = failed_run
    monkeypatch.setattr(ui.common, "CHECKPOINTS_DIR", root)
    monkeypatch.setattr(ui.common, "training_jobs", lambda: TrainingJobs(root))  # not the cached one
    message = "CUDA out of memory. Tried to allocate 2.00 GiB (simulated)"

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("views/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(message in e.value and "failed" in e.value for e in at.sidebar.error)
    assert any(message in e.value and "carries on" in e.value for e in at.main.error)
    assert any(message in c.value for c in at.main.code)  # the end of the log, below

    # The failed run's last checkpoint (epoch 2) is listed and loads; its curves draw.
    picker = at.sidebar.selectbox(key="checkpoint")
    assert any(o.startswith("oom-run (mlp, z=4") for o in picker.options)  # not among the broken ones
    picker.set_value("oom-run").run()
    at.switch_page("views/curves.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("epoch 2" in c.value for c in at.sidebar.caption)
    # The bundled model's explorer pages work as before.
    at.sidebar.selectbox(key="checkpoint").set_value("default").run()
    at.switch_page("views/sliders.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.main.error and at.get("image")
