"""The one training loop, used by `python -m vae train` and (through that command) by the app.

The whole training set sits on the training device as one uint8 tensor; each step takes a
batch by shuffled index, so there is no per-item DataLoader work in the hot loop. A step is
vae/training/step.TrainStep (autograd), or for the default kind of model on a CPU
vae/training/mlp_step.MLPStep (the same gradient, written out).

Files written into the run folder:
  train_config.json   what was asked (epochs, batch size, ...), written once at the start
  steps.jsonl         every `log_every` steps: step, epoch progress, train recon and KL
  history.jsonl       after every epoch: train and test recon/KL, per-dim KL, active units,
                      seconds, images per second (see `epoch_record`)
  model.safetensors, config.json, optimizer.safetensors   after every epoch (atomic)
  film/epoch-NNNN.safetensors   the test set's posterior codes after every epoch, written by the
                      CLI's on_epoch hook (vae.services.film.film_recorder)

A run may be killed at any moment (kill -9, the out-of-memory killer, a power cut):
`--resume` continues from the last saved epoch, and cuts the logs back to it first, so each
epoch and step appears once (see `_prepare_run`). Ctrl-C and SIGTERM save before exiting.

Started by torchrun, the same loop trains data-parallel (vae/training/distributed.py): every process
takes its share of each batch, and global rank 0 alone evaluates and writes these files.
"""
from __future__ import annotations

import dataclasses
import math
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch
from tqdm import tqdm

from vae.config import ModelConfig, TrainConfig, check_resume
from vae.data import Split, load_split
from vae.files import append_jsonl, atomic_write_json, read_jsonl, remove_temp_files, write_jsonl
from vae.models.latents import latent_of
from vae.models.model import VAE, has_bf16_units, resolve_device
from vae.run_files import CONFIG, HISTORY, OPTIMIZER, STEPS, TRAIN_CONFIG, WEIGHTS
from vae.training import checkpoint as ckpt
from vae.training import distributed, mlp_step
from vae.training.evaluate import evaluate, scored_posteriors
from vae.training.information import kl_decomposition
from vae.training.mlp_step import MLPStep
from vae.training.step import TrainStep, make_optimizer

OnEpoch = Callable[[dict, VAE, torch.Tensor], None]  # (history line, model, test images) after each epoch
EXACT_TRAIN_IMAGES = 5000  # a categorical run's exact train -ELBO is evaluated on the first this many


class TrainingDiverged(Exception):
    """The loss or the weights stopped being finite numbers. Training stops there, before anything
    non-finite is written: the last checkpoint, history line and step line are the last finite ones."""


def load_training_data(model_cfg: ModelConfig, train_cfg: TrainConfig, device: torch.device) -> tuple[Split, Split]:
    """The train split (limited to train_limit) and the test split, images uint8 and labels on `device`."""
    train = load_split(model_cfg.dataset, "train", train_cfg.data_dir)
    test = load_split(model_cfg.dataset, "test", train_cfg.data_dir)
    limit = slice(train_cfg.train_limit)
    return (Split(train.images[limit].to(device), train.labels[limit].to(device)),
            Split(test.images.to(device), test.labels.to(device)))


def _note(text: str) -> None:
    tqdm.write(f"note: {text}", file=sys.stderr)


def _resumable(out: Path, model_cfg: ModelConfig | None, resume: bool,
               device: torch.device) -> ckpt.Checkpoint | None:
    """The checkpoint in `out` that this run continues, or None for a fresh run. Refuses (before
    anything is written) to overwrite a checkpoint without `resume`, and to resume one with another
    model: a resumed run keeps every field of FIXED_ON_RESUME (config.check_resume)."""
    has_weights = (out / WEIGHTS).exists()
    if has_weights and not resume:
        raise FileExistsError(f"{out} already holds a checkpoint: pass --resume to continue it, "
                              "or choose another --out")
    if not has_weights:
        if resume:
            _note(f"{out} holds no checkpoint yet: --resume starts a fresh run there")
        return None
    checkpoint = ckpt.load_checkpoint(out, device)
    if model_cfg is not None:
        check_resume(checkpoint.config, model_cfg, out)
    return checkpoint


def _prepare_run(out: Path, checkpoint: ckpt.Checkpoint | None, model_cfg: ModelConfig, device: torch.device,
                 writes: bool = True):
    """The model, epoch, step and history this run starts from, its folder ready for them (by the
    process that `writes`: one process alone, or global rank 0).

    What a killed run wrote after its last checkpoint is dropped: the partial epoch's lines of
    steps.jsonl (they would repeat once the epoch is run again), a partial last line, and the
    temporary files of interrupted atomic writes. A history line that the kill kept from being
    appended is restored from the weights' metadata (see vae.training.checkpoint_files.checkpoint_history).
    """
    if checkpoint is not None:
        model, epoch, step, history = checkpoint.model, checkpoint.epoch, checkpoint.step, checkpoint.history
    else:
        model, epoch, step, history = VAE(model_cfg).to(device), 0, 0, []
    if not writes:
        return model, epoch, step, history
    out.mkdir(parents=True, exist_ok=True)
    remove_temp_files(out, (WEIGHTS, CONFIG, HISTORY, OPTIMIZER, STEPS, TRAIN_CONFIG))
    if history or (out / HISTORY).exists():
        write_jsonl(out / HISTORY, history)
    if (out / STEPS).exists():
        write_jsonl(out / STEPS, [s for s in read_jsonl(out / STEPS) if s.get("step", 0) <= step])
    return model, epoch, step, history


class _StopRequests:
    """Ctrl-C and SIGTERM while training are noted, not raised: after every step the loop asks
    `requested`, which under torchrun all-reduces the flag, so every rank stops after the same step
    (whichever got the signal first) and rank 0 saves. An epoch's evaluation, checkpoint and history
    line are thus always written together. A second signal interrupts at once. Handlers can only be
    set in the main thread; elsewhere no signal interrupts the loop anyway."""

    def __init__(self):
        self.signal: int | None = None
        self._old = {}

    def __enter__(self) -> _StopRequests:
        if threading.current_thread() is threading.main_thread():
            self._old = {s: signal.signal(s, self._note) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._old.items():
            signal.signal(s, handler)

    def _note(self, signum, frame) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signum

    def requested(self, ranks: distributed.Ranks, device: torch.device) -> bool:
        if not ranks.parallel:
            return self.signal is not None
        return bool(distributed.summed(torch.tensor(float(self.signal is not None), device=device), ranks) > 0)


def train(model_cfg: ModelConfig | None, train_cfg: TrainConfig, out_dir: str | Path, resume: bool = False,
          show_progress: bool = True, on_epoch: OnEpoch | None = None) -> list[dict]:
    """Train (or continue training) a VAE into `out_dir`; returns the epoch history.

    `train_cfg.epochs` is the total epoch count: resuming a 5-epoch run with epochs=8 runs 3 more.
    Resuming keeps the checkpoint's model (`model_cfg` None takes it as it is; one that differs
    is refused). Nothing is written before the data is loaded and the run is known to be valid.
    Ctrl-C (KeyboardInterrupt) saves the current weights and returns. Under torchrun every
    process calls this; see vae/training/distributed.py.

    `on_epoch(record, model, test_split)` is called after each epoch is saved (by the process that
    writes), with its history line; vae.services.film.film_recorder(out_dir) saves the map through training.
    """
    ranks = distributed.ranks_from_env()
    distributed.check_batch_size(train_cfg.batch_size, ranks)
    device = distributed.device_of(ranks, resolve_device(train_cfg.device))
    with distributed.process_group(ranks, device):
        try:
            return _train(model_cfg, train_cfg, Path(out_dir), resume, show_progress and ranks.writer,
                          on_epoch, ranks, device)
        except RuntimeError as error:  # gloo and NCCL say so when another process of the job died
            if not ranks.parallel:
                raise
            raise SystemExit(f"rank {ranks.rank}: training stopped, another process of this job failed "
                             f"({str(error).splitlines()[0]}); the last checkpoint is kept, --resume "
                             "continues from it") from error


def _train(model_cfg: ModelConfig | None, train_cfg: TrainConfig, out: Path, resume: bool, show_progress: bool,
           on_epoch: OnEpoch | None, ranks: distributed.Ranks, device: torch.device) -> list[dict]:
    checkpoint = _resumable(out, model_cfg, resume, device)
    cfg = checkpoint.config if checkpoint is not None else (model_cfg or ModelConfig())
    if checkpoint is not None and checkpoint.epoch >= train_cfg.epochs:
        if ranks.writer:
            _note(f"{out} is already at epoch {checkpoint.epoch}, and {train_cfg.epochs} were asked for: "
                  "nothing to train (pass a larger --epochs to continue)")
        return checkpoint.history
    train_split, test_split = load_training_data(cfg, train_cfg, device)
    train_images = train_split.images
    torch.manual_seed(train_cfg.seed)
    model, epoch, step, history = _prepare_run(out, checkpoint, cfg, device, writes=ranks.writer)
    if checkpoint is None:
        model.start_at_mean_image(train_images)
    n, batch = len(train_images), train_cfg.batch_size
    steps_per_epoch = math.ceil(n / batch)
    amp = has_bf16_units(device) if train_cfg.amp is None else train_cfg.amp
    written_out = mlp_step.applies(cfg, device, ranks.parallel)  # the gradient by hand, or by autograd
    if ranks.writer:
        atomic_write_json(out / TRAIN_CONFIG, {
            **dataclasses.asdict(train_cfg), "amp": amp, "backward": "written out" if written_out else "autograd",
            "model": cfg.to_dict(), "train_images": n,
            "steps_per_epoch": steps_per_epoch, "device": str(device), "processes": ranks.world,
            "started_at": time.time(), "start_epoch": epoch})

    optimizer = make_optimizer(model, train_cfg.lr)
    if step and not ckpt.load_optimizer_state(out, optimizer, step) and ranks.writer:
        _note(f"no optimizer state saved at step {step} (the run was killed while saving?); "
              "Adam's moments start afresh")
    # A run stopped mid-epoch (Ctrl-C, the app's Stop button) saved the steps it had taken into
    # its epoch: skip those batches, so that none is trained twice and `step` stays
    # epoch * steps_per_epoch at each epoch's end. (A changed batch size starts the epoch afresh.)
    skip = step - epoch * steps_per_epoch
    skip = skip if 0 < skip < steps_per_epoch else 0
    # One generator per run and epoch keeps runs reproducible for a given seed, resumed or not.
    gen = torch.Generator(device=device)
    if written_out:
        train_step = MLPStep(model, optimizer, train_images, gen, amp, free_bits=train_cfg.free_bits)
    else:
        train_step = TrainStep(model, optimizer, train_images, gen, amp,
                               batch // ranks.world, ddp=distributed.wrap(model, ranks) if ranks.parallel else None,
                               labels=train_split.labels if cfg.conditional else None, free_bits=train_cfg.free_bits)

    try:
        with _StopRequests() as stops:
            while epoch < train_cfg.epochs:
                gen.manual_seed(train_cfg.seed * 100003 + epoch)
                model.train()
                started = time.perf_counter()
                train_step.reset()
                order = distributed.epoch_order(torch.randperm(n, generator=gen, device=device), batch, ranks)
                if ranks.rank:
                    gen.manual_seed(distributed.noise_seed(train_cfg.seed, epoch, ranks.rank))
                first, skip = skip, 0
                trained = len(order) - first * batch  # images this epoch trains on (all ranks)
                bar = tqdm(range(first, steps_per_epoch), desc=f"epoch {epoch + 1}/{train_cfg.epochs}",
                           disable=not show_progress, leave=False, mininterval=0.5)
                for i in bar:
                    train_step(distributed.rank_share(order[i * batch:(i + 1) * batch], ranks),
                               train_cfg.learning_rate(step, steps_per_epoch), cfg.temperature(step),
                               train_cfg.kl_weight(step, steps_per_epoch))
                    step += 1
                    if step % train_cfg.log_every == 0:
                        seen = min((i + 1) * batch, len(order)) - first * batch
                        r, k = (distributed.summed(train_step.sums, ranks) / seen).tolist()
                        _stop_if_diverged(r + k, "the training loss", out, epoch, step, train_cfg.lr)
                        if ranks.writer:
                            append_jsonl(out / STEPS, {
                                "step": step, "epoch": round(epoch + (i + 1) / steps_per_epoch, 4),
                                "train_recon": r, "train_kl": k, **_temperature_of(cfg, step),
                                **({"kl_weight": train_cfg.kl_weight(step - 1, steps_per_epoch)}  # this step's
                                   if train_cfg.kl_warmup else {}),
                                "images_per_second": seen / (time.perf_counter() - started),
                                "time": time.time()})
                        bar.set_postfix(recon=f"{r:.1f}", kl=f"{k:.1f}")
                    if stops.requested(ranks, device):
                        raise KeyboardInterrupt  # every rank after this same step; rank 0 saves below
                bar.close()
                if device.type == "cuda":
                    torch.cuda.synchronize()  # the clock must include the queued GPU work
                train_seconds = time.perf_counter() - started
                train_means = distributed.summed(train_step.sums, ranks) / trained
                # Every rank alike (their losses are all-reduced, their weights the same): all stop together.
                _stop_if_diverged(train_means.sum().item(), "the training loss", out, epoch, step, train_cfg.lr)
                _stop_if_diverged(0.0 if _weights_finite(model) else math.nan, "a weight", out, epoch, step,
                                  train_cfg.lr)
                # Rank 0 evaluates; its verdict on the test -ELBO reaches every rank, so all stop together.
                record = epoch_record(model, test_split, epoch + 1, step, train_means, train_seconds, trained,
                                      train_images[:EXACT_TRAIN_IMAGES]) if ranks.writer else None
                test_elbo = distributed.summed(torch.tensor(record["test_elbo"] if record else 0.0, device=device),
                                               ranks)
                _stop_if_diverged(float(test_elbo), "the test -ELBO", out, epoch, step, train_cfg.lr)
                epoch += 1
                if ranks.writer:
                    # The weights (holding `record`) commit the epoch; the history line follows. A kill
                    # between the two is repaired on resume (see vae.training.checkpoint_files.checkpoint_history).
                    ckpt.save_checkpoint(model, out, epoch, step, optimizer, record=record)
                    append_jsonl(out / HISTORY, record)
                    history.append(record)
                    if show_progress:
                        trained_on = {"elbo": "-ELBO", "relaxed": "relaxed objective",
                                      "uniform-eps": "loss (uniform eps: no ELBO)"}[cfg.train_objective]
                        exact = (f"  train -ELBO (exact, {record['train_exact_images']:,} images) "
                                 f"{record['train_exact_elbo']:.2f}" if "train_exact_elbo" in record else "")
                        tqdm.write(f"epoch {epoch}: train {trained_on} {record['train_recon'] + record['train_kl']:.2f}"
                                   f"{exact}  test -ELBO {record['test_elbo']:.2f} (recon {record['test_recon']:.2f},"
                                   f" KL {record['test_kl']:.2f})  active {record['active_units']}"
                                   f"  {record['images_per_second']:.0f} img/s")
                    if on_epoch:
                        on_epoch(record, model, test_split)
                distributed.barrier(ranks)  # the others wait for rank 0's evaluation and files
    except KeyboardInterrupt:
        # Mid-epoch weights, labelled with the last finished epoch (and its history line) and the
        # step actually reached: --resume skips the batches already trained. Weights that have gone
        # non-finite since the last check are not saved over the last good checkpoint.
        if not _weights_finite(model):
            _stop_if_diverged(math.nan, "a weight (found when the run was stopped)", out, epoch, step, train_cfg.lr)
        if ranks.writer:
            ckpt.save_checkpoint(model, out, epoch, step, optimizer,
                                 record=history[-1] if history and history[-1].get("epoch") == epoch else None)
        if show_progress:
            tqdm.write(f"interrupted: saved {out} at epoch {epoch}, step {step}")
    return history


def _weights_finite(model: torch.nn.Module) -> bool:
    return bool(torch.stack([torch.isfinite(p).all() for p in model.parameters()]).all())


def _stop_if_diverged(value: float, what: str, out: Path, epoch: int, step: int, lr: float) -> None:
    """TrainingDiverged, saying where and what is kept, unless `value` is finite. Checked at every
    logged step (a non-finite loss stays in the step's running sums) and at each epoch's end."""
    if math.isfinite(value):
        return
    kept = f"the checkpoint of epoch {epoch} is kept" if epoch else "no checkpoint was saved"
    raise TrainingDiverged(f"training diverged in epoch {epoch + 1} (step {step}): {what} is {value}; {kept} "
                           f"in {out}. Try a lower learning rate than {lr:g}.")


def epoch_record(model: VAE, test_split: Split, epoch: int, step: int,
                 train_means: torch.Tensor, seconds: float, n_train: int,
                 exact_train_images: torch.Tensor | None = None) -> dict:
    """One line of history.jsonl: all losses in nats per image ("kl_per_dim": per latent unit, a
    dimension or a categorical variable).

    train_recon and train_kl are the epoch's running means of what training optimized: for a
    categorical latent the relaxed (Gumbel-softmax) objective at the temperature of each step, not
    an ELBO. So a categorical run also records train_exact_*: the ELBO with exact one-hot samples
    of q(z|x), evaluated as the test set's is, on the first `exact_train_images`."""
    test = evaluate(model, test_split.images, labels=test_split.labels)
    parts = kl_decomposition(model.latent, scored_posteriors(model, test_split.images, labels=test_split.labels))
    train_recon, train_kl = train_means.tolist()
    exact = {}
    if model.latent.relaxed and exact_train_images is not None:
        figures = evaluate(model, exact_train_images)
        exact = {"train_exact_recon": figures["recon"], "train_exact_kl": figures["kl"],
                 "train_exact_elbo": figures["elbo"], "train_exact_images": len(exact_train_images)}
    return {
        "epoch": epoch, "step": step,
        "train_objective": model.config.train_objective,  # what train_recon and train_kl are the terms of
        "train_recon": train_recon, "train_kl": train_kl, **exact,
        "test_recon": test["recon"], "test_kl": test["kl"], "test_elbo": test["elbo"],
        "kl_per_dim": test["kl_per_dim"], "active_units": test["active_units"],
        # test_kl = I_q(n; z) + KL(q(z) || p(z)), the two estimated with this standard error
        "test_mutual_information": parts.mutual_information, "test_marginal_kl": parts.marginal_kl,
        "test_kl_parts_stderr": parts.stderr,
        **_temperature_of(model.config, step),
        "seconds": seconds, "images_per_second": n_train / seconds,
        "time": time.time(),
    }


def _temperature_of(cfg: ModelConfig, step: int) -> dict:
    """A log line's temperature, for relaxed (categorical) latents (the curves draw it)."""
    return {"temperature": cfg.temperature(step)} if latent_of(cfg).relaxed else {}
