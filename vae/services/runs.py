"""The checkpoints folder: one run (checkpoint folder) per subfolder, listed with why a broken one
is broken, and names resolved safely inside it.

    from vae.services.runs import list_runs, run_folder
    for run in list_runs("checkpoints"):
        print(run.name, run.error or run.config.likelihood_text)
    load_checkpoint(run_folder("checkpoints", "default"))
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from vae.config import ModelConfig
from vae.files import read_json, read_jsonl
from vae.run_files import HISTORY, STEPS, TRAIN_CONFIG, WEIGHTS
from vae.training.checkpoint_files import CheckpointError, check_weights_file, read_config, read_history

DEFAULT_RUN = "default"  # the bundled model, listed first


@dataclass
class RunEntry:
    name: str
    path: Path
    error: str = ""  # why it cannot be loaded, in one line; empty when fine
    config: ModelConfig | None = None
    history: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.error


def inspect_run(folder: Path) -> RunEntry:
    """One folder as a RunEntry: cheap (headers and small files only), never raises."""
    entry = RunEntry(folder.name, folder)
    if not (folder / WEIGHTS).exists():
        if (folder / TRAIN_CONFIG).exists():
            entry.error = "no checkpoint yet: training has not finished its first epoch (or ended before it)"
            return entry
    try:
        entry.config = read_config(folder)
        check_weights_file(folder, entry.config)
        entry.history = read_history(folder)
        if any(not math.isfinite(h.get("test_elbo", 0.0)) for h in entry.history):
            raise CheckpointError(f"{HISTORY} holds a test −ELBO that is not a finite number: the run diverged")
    except CheckpointError as e:
        entry.error = str(e).replace(str(folder) + "/", "")
    return entry


def list_runs(root: str | Path) -> list[RunEntry]:
    """Every folder under `root` (dot-folders aside), the bundled one first, then by name."""
    root = Path(root)
    if not root.is_dir():
        return []
    folders = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                     key=lambda p: (p.name != DEFAULT_RUN, p.name))
    return [inspect_run(folder) for folder in folders]


def run_folder(root: str | Path, name: str) -> Path:
    """The folder of run `name` directly inside `root`; a name that leads anywhere else (`..`,
    `a/b`, an absolute path, a link out) or to no folder raises CheckpointError."""
    root = Path(root).resolve()
    path = (root / name).resolve()
    if path.parent != root or not path.is_dir():
        raise CheckpointError(f"{name!r} is not a checkpoint in {root}")
    return path


# final()'s columns for the test KL's two parts (Monte Carlo estimates, with one standard error between them)
KL_PART_COLUMNS = ("of it I_q(n; z)", "of it KL(q(z) ‖ p(z))")


@dataclass
class RunLog:
    """What a run has logged so far: its epochs (history.jsonl), logged steps (steps.jsonl) and the
    model's beta (for the weighted total)."""
    name: str
    history: list[dict]
    steps: list[dict]
    beta: float = 1.0
    config: ModelConfig | None = None

    def final(self) -> dict:
        """The last epoch's figures and the run's training time, for a table of runs."""
        last = self.history[-1] if self.history else {}
        z = len(last.get("kl_per_dim", [])) or (self.config.latent_dim if self.config else 0)
        return {"run": self.name, "arch": self.config.arch if self.config else "",
                "z": z, "beta": self.beta, "epochs": last.get("epoch", 0),
                "test −ELBO": last.get("test_elbo"), "test recon": last.get("test_recon"),
                "test KL": last.get("test_kl"), KL_PART_COLUMNS[0]: last.get("test_mutual_information"),
                KL_PART_COLUMNS[1]: last.get("test_marginal_kl"),
                "active units": f"{last['active_units']} / {z}" if last else "",
                "training time (s)": round(sum(h.get("seconds", 0.0) for h in self.history), 1),
                # Only runs scored alike have -ELBOs that compare (a conditional run's bounds -log p(x | y)).
                "scored on": self.config.likelihood_text if self.config else ""}


def read_run_log(folder: str | Path) -> RunLog:
    """A run's logs as they are now (a run still training included: its model is read from
    train_config.json until its first checkpoint writes config.json)."""
    folder = Path(folder)
    try:
        config = read_config(folder)
    except CheckpointError:
        planned = (read_json(folder / TRAIN_CONFIG) or {}).get("model")
        try:
            config = ModelConfig.from_dict(planned) if isinstance(planned, dict) else None
        except (ValueError, TypeError):
            config = None
    return RunLog(folder.name, read_history(folder), read_jsonl(folder / STEPS),
                  config.beta if config else 1.0, config)
