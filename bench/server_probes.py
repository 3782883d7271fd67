"""What bench/many_sessions.py reads from the server's side: a private app folder for the server,
and its memory, CPU time and training processes, sampled from /proc.

    env, checkpoints = private_app(tmp)     # the server's environment and checkpoints folder
    sampler = Sampler(server_pid, checkpoints); sampler.start(); ...; sampler.stop()
"""
from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path

from bench.browser import app_folder

COLLECTED = "collected-{pid}"  # in private_app's hooks folder: see collect_garbage

# -- the app's folder ---------------------------------------------------------------------------

def private_app(tmp: Path) -> tuple[dict, Path]:
    """browser.app_folder, and a server that runs a full garbage collection on SIGUSR1 (see
    collect_garbage, which takes tmp / "hooks"): the server's env and the checkpoints folder."""
    env, checkpoints = app_folder(tmp)
    # SIGUSR1 makes the server run a full garbage collection and return freed memory to the system
    # (collect_garbage), so that its memory can be read without the garbage that piles up between
    # the interpreter's own collections or the allocator's free lists.
    hooks = tmp / "hooks"
    hooks.mkdir()
    # The handler says when it is through, or why it failed, in a file of this private folder:
    # collect_garbage waits for it instead of guessing how long a collection takes under load.
    (hooks / "sitecustomize.py").write_text(
        "import ctypes, gc, os, signal\n"
        "def _collect(signum, frame):\n"
        "    outcome = 'ok'\n"
        "    try:\n"
        "        gc.collect()\n"
        "        ctypes.CDLL('libc.so.6').malloc_trim(0)  # hand freed pages back, so RSS shows what is live\n"
        "    except Exception as e:  # said to the bench, not raised into the server's main thread\n"
        "        outcome = repr(e)\n"
        f"    done = os.path.join({str(hooks)!r}, {COLLECTED!r}.format(pid=os.getpid()))\n"
        "    with open(done + '.part', 'w') as f:\n"
        "        f.write(outcome)\n"
        "    os.replace(done + '.part', done)  # whole when it appears: the bench reads it at once\n"
        "signal.signal(signal.SIGUSR1, _collect)\n")
    path = os.pathsep.join(p for p in (str(hooks), os.environ.get("PYTHONPATH", "")) if p)
    return {**env, "PYTHONPATH": path}, checkpoints


async def collect_garbage(pid: int, hooks: Path) -> float:
    """Make the server (started with private_app's env, its folder `hooks`) run gc.collect() and
    malloc_trim(0); its anonymous resident memory afterwards (MB): the memory it actually holds."""
    done = hooks / COLLECTED.format(pid=pid)
    done.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 30  # the handler runs at the main thread's next bytecode: ~0.3 s, more under load
    while not done.exists():
        if rss_mb(pid) is None:
            raise RuntimeError(f"the server (pid {pid}) ended while collecting its garbage")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the server (pid {pid}) did not finish its garbage collection in 30 s")
        await asyncio.sleep(0.05)
    outcome = done.read_text()
    done.unlink()
    if outcome != "ok":
        raise RuntimeError(f"the server's garbage collection failed: {outcome}")
    return rss_mb(pid)[1]


# -- what is sampled from /proc -----------------------------------------------------------------

def rss_mb(pid: int) -> tuple[float, float] | None:
    """Resident memory of a process, all of it and its anonymous part (MB). The anonymous part is
    the heap, where a leak shows; the rest is mapped files (torch's libraries and the like), which
    the kernel can drop and read back under memory pressure."""
    try:
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["RssAnon"].split()[0]) / 1024
    except (OSError, KeyError, ValueError):
        return None


def training_pids(checkpoints: Path) -> set[int]:
    """Processes running `python -m vae train --out <checkpoints>/...`, one for each job: a child
    the job forks has the job's command line until it execs (torch's import runs `ldconfig -p` so),
    and is not another job."""
    found = {}  # pid -> its parent's
    marker = str(checkpoints).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"vae" in args and b"train" in args and any(a.startswith(marker) for a in args):
            fields = _stat(entry.name)
            found[int(entry.name)] = int(fields[1]) if fields else None
    return {pid for pid, parent in found.items() if parent not in found}


TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int | str) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / TICK if fields else 0.0


def descendants(root: int) -> set[int]:
    parent = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(entry.name)):
            parent[int(entry.name)] = int(fields[1])
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, pp in parent.items() if pp in frontier} - found
        found |= frontier
    return found


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / TICK  # less idle and iowait


class Sampler(threading.Thread):
    """The server's RSS every second and the training processes every 0.25 s, in the background."""

    def __init__(self, server_pid: int, checkpoints: Path):
        super().__init__(daemon=True)
        self.server_pid, self.checkpoints = server_pid, checkpoints
        self.rss: list[tuple[float, float, float]] = []  # (perf_counter, RSS MB, anonymous RSS MB)
        self.training: dict[int, list[float]] = {}  # pid -> [first seen, last seen]
        self.training_cpu: dict[int, float] = {}  # pid -> CPU seconds when last seen
        self._halt = threading.Event()

    def run(self) -> None:
        tick = 0
        while not self._halt.is_set():
            now = time.perf_counter()
            for pid in training_pids(self.checkpoints):
                self.training.setdefault(pid, [now, now])[1] = now
                self.training_cpu[pid] = max(self.training_cpu.get(pid, 0.0), cpu_seconds(pid))
            if tick % 4 == 0 and (mb := rss_mb(self.server_pid)) is not None:
                self.rss.append((now, *mb))
            tick += 1
            self._halt.wait(0.25)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)

    def cpu_snapshot(self) -> dict:
        """CPU seconds so far: the server, this benchmark's own processes (Playwright's driver and
        Chromium), the training job, and the whole machine."""
        mine = descendants(os.getpid()) - {self.server_pid} - descendants(self.server_pid)
        return {"server": cpu_seconds(self.server_pid), "browser": {pid: cpu_seconds(pid) for pid in mine},
                "training": sum(self.training_cpu.values()), "machine": machine_busy_seconds(),
                "self": time.process_time(), "at": time.perf_counter()}

    def rss_between(self, t0: float, t1: float, anonymous: bool = False) -> list[float]:
        return [sample[2 if anonymous else 1] for sample in self.rss if t0 <= sample[0] <= t1]
