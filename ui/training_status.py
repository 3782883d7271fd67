"""The training job's status, as shown in the sidebar and on the Train page."""
from __future__ import annotations

import streamlit as st

from ui.text import literal
from vae.services.jobs import JobStatus, TrainingJobs


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


def _bytes(count: int) -> str:
    return f"{count / 1e6:.1f} MB" if count >= 1e6 else f"{count / 1e3:.0f} kB"


def epoch_text(epoch: float, epochs: int) -> str:
    """"epoch 2 of 30", or inside an epoch "13% into epoch 3 of 30" (a run stopped mid-epoch)."""
    whole = int(epoch)
    if epoch == whole:
        return f"epoch {whole} of {epochs}"
    return f"{epoch - whole:.0%} into epoch {whole + 1} of {epochs}"


def progress_text(status: JobStatus) -> str:
    if status.download is not None:
        name, done, total = status.download
        size = f"{_bytes(done)} of {_bytes(total)}" if total else _bytes(done)
        return f"downloading the training data: {name}, {size}"
    if not status.steps and not status.history:  # its first logged step is a few seconds away
        return "starting: reading the data and building the model"
    return (f"epoch {status.epoch:.2f} of {status.epochs} · step {status.step:,} · "
            f"{status.images_per_second:,.0f} images/s · {format_seconds(status.seconds_left)} left")


def progress_fraction(status: JobStatus) -> float:
    """How far the job is, for a progress bar: the download's bytes while downloading."""
    if status.download is not None:
        _, done, total = status.download
        return min(1.0, done / total) if total else 0.0
    return min(1.0, status.epoch / max(1, status.epochs))


def refresh_seconds(jobs: TrainingJobs, seconds: float) -> float | None:
    """`run_every` for a fragment that shows the job: every `seconds` while a run trains, never
    otherwise. A fragment polling when nothing changes costs every open session a rerun every few
    seconds, and each is a chance for Streamlit's dropped-rerun race (BENCHMARKS.md section 7).
    A run started from another session shows at this session's next rerun."""
    return seconds if jobs.running() else None


def stop_polling_when_done(status: JobStatus, polling: bool) -> None:
    """A fragment polling a run that has ended reruns the whole app once: that stops the polling,
    and the sidebar's picker lists the run's checkpoints."""
    if polling and not status.running:
        st.rerun(scope="app")


def rerun_on_first_checkpoint(status: JobStatus) -> None:
    """Rerun the whole app once the run has saved its first epoch, so the sidebar's picker lists it
    without a click. Once only: a rerun of the whole app for every epoch would cost every open
    session a full page run each few seconds while a run trains."""
    seen = (str(status.run_dir), bool(status.history))
    if st.session_state.setdefault("checkpoint_seen", seen) != seen:
        st.session_state["checkpoint_seen"] = seen
        if status.history:
            st.rerun(scope="app")


def status_line(jobs: TrainingJobs, polling: bool = False) -> None:
    """Compact status for the sidebar (run inside a fragment that polls while a run trains)."""
    status = jobs.status()
    stop_polling_when_done(status, polling)
    rerun_on_first_checkpoint(status)
    name = status.run_dir.name if status.run_dir else ""
    if status.state == "idle":
        st.caption("No training run yet. Start one on the Train page.")
    elif status.running:
        st.markdown(f"**Training** {literal(name)}")
        st.progress(progress_fraction(status), text=progress_text(status))
    elif status.state == "failed":  # why, on the Train page: a long line here would follow every page
        st.error(f"Training run {literal(name)} failed. The Train page says why; the explorer carries on with the "
                 "saved checkpoints.", icon=":material/error:")
    else:
        st.caption(f"Last run {literal(name)} {status.state} at {epoch_text(status.epoch, status.epochs)}.")
