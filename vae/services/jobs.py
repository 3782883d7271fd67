"""Background training: one `python -m vae train` process at a time for the whole server.

    jobs = TrainingJobs("checkpoints")
    jobs.start(ModelConfig(), TrainConfig(epochs=5))   # refuses while one is running
    jobs.status()                                      # JobStatus, read from the run's files
    jobs.stop()                                        # SIGTERM: the run saves and exits
    jobs.start_sweep(ModelConfig(), TrainConfig(), betas=[0.5, 1, 2])  # one run per beta, one after another

The job runs as a separate process rather than a thread: on 2 cores the app stays
responsive, and a crash in training cannot take the app down. Its pid lives in
`<checkpoints>/.training.json`, so every session, and a restarted server, sees the same job; a
thread that waits for the process writes its exit code there (status() only reads). A sweep's
runs still to start are queued in that file too: the waiting thread starts the next when one
finishes, and a restarted server takes the queue up again (a stopped or failed run ends the sweep).
"""
from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from vae.config import ModelConfig, TrainConfig
from vae.download import parse_progress
from vae.files import atomic_write_json, read_json, read_jsonl
from vae.options import train_args
from vae.run_files import STEPS, TRAIN_CONFIG, TRAIN_LOG
from vae.training.checkpoint_files import read_history
from vae.training.ranks import TORCHRUN_VARIABLES, Ranks, check_batch_size, launcher

JOB_FILE = ".training.json"
LOGS = ".logs"  # <checkpoints>/.logs/<run>.log: a job's output, also when it ends before its folder exists
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class JobBusy(RuntimeError):
    """A training job is already running."""


@dataclass
class JobStatus:
    state: str  # "idle", "running", "finished", "stopped", "failed"
    run_dir: Path | None = None
    epoch: float = 0.0  # fractional while inside an epoch
    epochs: int = 0
    step: int = 0
    images_per_second: float = 0.0
    seconds_left: float | None = None
    error: str = ""
    download: tuple[str, int, int | None] | None = None  # (file, bytes so far, total) while data downloads
    history: list[dict] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)
    queued: list[str] = field(default_factory=list)  # a sweep's runs after this one, in order

    @property
    def running(self) -> bool:
        """Running, or a sweep's run finished the moment before its next one starts (a queue left
        behind a run that ended otherwise is emptied at once: TrainingJobs._after_run)."""
        return self.state == "running" or (self.state == "finished" and bool(self.queued))

    @property
    def error_line(self) -> str:
        """The last line of `error`: the exception, or how the process ended."""
        lines = self.error.strip().splitlines()
        return lines[-1].strip() if lines else ""


TRAINING_NICENESS = 10


def _lower_priority(pid: int) -> None:
    """Run the job below the server's priority: it still gets every core nobody else wants, and
    page reruns wait less behind it (bench/training_contention.py, BENCHMARKS.md section 7). Set just
    after exec, before torch starts its threads, which inherit it. The job leads a session of its
    own, and where Linux groups each session's processes for scheduling (autogroup, the default on
    most desktops) a process's nice only ranks it within its group: the group's is set too.
    Nothing to do on Windows."""
    if not hasattr(os, "setpriority"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, pid, max(os.getpriority(os.PRIO_PROCESS, pid), TRAINING_NICENESS))
        autogroup = Path(f"/proc/{pid}/autogroup")
        if autogroup.exists():
            autogroup.write_text(str(TRAINING_NICENESS))
    except OSError:
        pass


def _alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, ended but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return "Z" not in _proc_state(pid)


def _ended_by(code: int | None) -> str:
    """Why a process with this exit code ended, for the failure message; "" when it said so itself."""
    if code is None or code >= 0:
        return ""
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    if -code == signal.SIGKILL:
        return (f"The training process was killed ({name}): out of memory (the kernel's OOM killer), "
                "or killed by another program.")
    return f"The training process was killed ({name})."


def _finished(run_dir: Path) -> bool:
    """Whether a run's history reaches the epochs it planned."""
    history = read_history(run_dir)
    epochs = int((read_json(run_dir / TRAIN_CONFIG) or {}).get("epochs", 0))
    return bool(history and epochs and history[-1]["epoch"] >= epochs)


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (OSError, IndexError):
        return ""


def _read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _log_tail(path: Path, lines: int = 12) -> str:
    """The end of a job's log, without progress bars' and download progress lines."""
    text = _read_text(path).replace("\r", "\n")
    kept = [ln for ln in text.splitlines()
            if ln.strip() and "it/s" not in ln and "s/it" not in ln and parse_progress(ln) is None]
    return "\n".join(kept[-lines:])


class TrainingJobs:
    def __init__(self, checkpoints_dir: str | Path):
        self.root = Path(checkpoints_dir)
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None  # the job this object started, if any
        self._take_up_queue()

    @property
    def job_file(self) -> Path:
        return self.root / JOB_FILE

    def _read_job(self) -> dict | None:
        return read_json(self.job_file)

    def start(self, model: ModelConfig, training: TrainConfig, run_name: str | None = None,
              processes: int = 1) -> Path:
        """Start `python -m vae train --out <checkpoints>/<run_name>` with these configs, through
        torchrun in `processes` data-parallel processes (one a GPU) when more than one. The run
        makes its folder once its data is there (downloading it first when it is missing)."""
        check_batch_size(training.batch_size, Ranks(0, processes))
        self._take_up_queue()  # a sweep left by a restarted server: go on with it, or end it, first
        with self._lock:
            if self.running() or self._pending(self._read_job()):
                raise JobBusy("A training run is already in progress; stop it or wait for it to finish.")
            name = run_name or time.strftime("run-%Y%m%d-%H%M%S")
            if (self.root / name).exists():
                raise FileExistsError(f"{self.root / name} already exists")
            return self._launch(name, model, training, processes, queue=[])

    def start_sweep(self, model: ModelConfig, training: TrainConfig, betas: list[float], processes: int = 1,
                    name: str | None = None) -> list[Path]:
        """One run of `model` per beta, `<name>-beta<b>`, each started when the one before finishes (a
        beta sweep, to trace on the rate-distortion plane); their folders, in order."""
        check_batch_size(training.batch_size, Ranks(0, processes))
        if not betas:
            raise ValueError("a sweep needs at least one beta")
        self._take_up_queue()
        stem = name or time.strftime("sweep-%Y%m%d-%H%M%S")
        runs = [(f"{stem}-beta{b:g}", dataclasses.replace(model, beta=float(b))) for b in betas]
        with self._lock:
            if self.running() or self._pending(self._read_job()):
                raise JobBusy("A training run is already in progress; stop it or wait for it to finish.")
            taken = [n for n, _ in runs if (self.root / n).exists()]
            if taken:
                raise FileExistsError(f"{self.root / taken[0]} already exists")
            queue = [{"name": n, "model": m.to_dict(), "training": dataclasses.asdict(training), "processes": processes}
                     for n, m in runs[1:]]
            self._launch(runs[0][0], runs[0][1], training, processes, queue)
        return [self.root / n for n, _ in runs]

    def _launch(self, name: str, model: ModelConfig, training: TrainConfig, processes: int, queue: list[dict]) -> Path:
        """Start one run (the lock held, no job running), with the sweep's runs still `queue`d after it."""
        run_dir = self.root / name
        log_path = self.root / LOGS / f"{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(log_path, "wb")
        cmd = [*launcher(processes), "-m", "vae", "train", "--out", str(run_dir), *train_args(model, training)]
        # A server that itself runs under torchrun must not hand its job membership to the run.
        env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_VARIABLES}
        # noqa below: a fixed command, this interpreter running the project's own CLI; the configs'
        # values go in as separate arguments, never through a shell.
        proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,  # noqa: S603
                                stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        _lower_priority(proc.pid)
        self._proc = proc
        atomic_write_json(self.job_file, {"pid": proc.pid, "run_dir": str(run_dir), "log": str(log_path),
                                          "command": cmd, "started": time.time(), "queue": queue})
        threading.Thread(target=self._record_exit, args=(proc,), daemon=True, name="training-job").start()
        return run_dir

    def _record_exit(self, proc: subprocess.Popen) -> None:
        """Wait for the job to end and keep its exit code in the job file, for every session and
        for a restarted server (only the parent can read it, and only once); then go on with a
        sweep, or end it."""
        code = proc.wait()
        with self._lock:
            job = self._read_job()
            if job and job.get("pid") == proc.pid:
                job = {**job, "exit": code}
                atomic_write_json(self.job_file, job)
                self._after_run(job)

    def _after_run(self, job: dict) -> None:
        """A sweep's next run when the one that ended finished all its epochs by itself (exit 0, no
        stop asked); otherwise the sweep ends there: its queue is emptied. The lock held."""
        if not job.get("queue"):
            return
        if job.get("exit", 0) == 0 and not job.get("stop_requested") and _finished(Path(job["run_dir"])):
            self._next_in_queue(job)
        else:
            atomic_write_json(self.job_file, {**job, "queue": []})

    def _next_in_queue(self, job: dict) -> None:
        """Start the sweep's next run (the lock held)."""
        first, *rest = job["queue"]
        try:
            if (self.root / first["name"]).exists():
                raise FileExistsError(f"{self.root / first['name']} already exists")
            self._launch(first["name"], ModelConfig.from_dict(first["model"]), TrainConfig(**first["training"]),
                         first["processes"], rest)
        except (OSError, ValueError) as e:  # a folder made meanwhile, a config this version refuses: end the sweep
            atomic_write_json(self.job_file, {**job, "queue": [], "queue_error": f"{first['name']}: {e}"})

    def _take_up_queue(self) -> None:
        """A sweep whose waiting thread is gone (the server restarted while its run went on): once the
        run has ended, start the next or end the sweep, as the thread would have."""
        with self._lock:
            job = self._read_job()
            if not job or not job.get("queue") or _alive(job["pid"]):
                return
            if self._proc is not None and self._proc.pid == job["pid"]:
                return  # our own waiting thread takes it from here
            self._after_run(job)

    def _exit_code(self, job: dict) -> int | None:
        """The job's exit code: kept in the job file, or (before the waiting thread wrote it) from
        the process this object started; None when unknown."""
        if "exit" in job:
            return job["exit"]
        proc = self._proc
        if proc is None or proc.pid != job.get("pid"):
            return None
        try:  # it has ended (status() asks only then): the waiting thread is reaping it this moment
            return proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return None

    def _pending(self, job: dict | None) -> bool:
        """Whether a sweep's run has ended and its next is about to start (the waiting thread's moment)."""
        return bool(job and job.get("queue") and "exit" not in job and not _alive(job["pid"]))

    def running(self) -> bool:
        """Whether a job is running now: status().running, without reading the run's logs."""
        job = self._read_job()
        return bool(job) and _alive(job["pid"])

    def stop(self) -> bool:
        """Ask the running job to save and exit (a sweep ends with it); True when there was one."""
        with self._lock:
            job = self._read_job()
            if self._pending(job):  # between two runs of a sweep: the next one will not start
                atomic_write_json(self.job_file, {**job, "queue": [], "stop_requested": True})
                return True
            if not job or not _alive(job["pid"]):
                return False
            os.kill(job["pid"], signal.SIGTERM)
            atomic_write_json(self.job_file, {**job, "stop_requested": True})
            return True

    def status(self) -> JobStatus:
        """The job as its files tell it; reads, and writes only to start a sweep's next run that no
        waiting thread of this server will (_take_up_queue)."""
        self._take_up_queue()
        job = self._read_job()
        if not job:
            return JobStatus("idle")
        run_dir = Path(job["run_dir"])
        history = read_history(run_dir)
        steps = read_jsonl(run_dir / STEPS)
        plan = read_json(run_dir / TRAIN_CONFIG) or {}
        epochs = int(plan.get("epochs", 0))
        status = JobStatus("running", run_dir, epochs=epochs, history=history, steps=steps,
                           queued=[q["name"] for q in job.get("queue", [])])
        if steps:
            last = steps[-1]
            status.epoch, status.step = last["epoch"], last["step"]
            status.images_per_second = last["images_per_second"]
        if history:
            last = history[-1]
            if last["epoch"] >= status.epoch:
                status.epoch, status.step = last["epoch"], last["step"]
                status.images_per_second = last["images_per_second"]
        log_path = Path(job.get("log") or run_dir / TRAIN_LOG)
        if not steps and not history:  # the data may be downloading first
            status.download = parse_progress(_read_text(log_path))
        if status.images_per_second and plan.get("train_images"):
            left = max(0.0, epochs - status.epoch) * plan["train_images"]
            status.seconds_left = left / status.images_per_second
        if _alive(job["pid"]):
            return status
        status.seconds_left = None
        if history and epochs and history[-1]["epoch"] >= epochs:
            status.state = "finished"
        elif job.get("stop_requested"):
            status.state = "stopped"
        else:
            status.state = "failed"
            # A killed process (SIGKILL from the OOM killer) leaves no message: say how it ended.
            ended = _ended_by(self._exit_code(job))
            tail = _log_tail(log_path)
            status.error = "\n".join(filter(None, [tail, ended])) or \
                "The training process ended without a message."
        return status
