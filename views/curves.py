"""Loss curves of the selected checkpoint, or of the run being trained, updating live."""
import streamlit as st

from ui.charts import kl_per_dimension, loss_curves
from ui import state
from ui.common import CHECKPOINTS_DIR, page_header, training_jobs
from ui.training_status import stop_polling_when_done
from vae.checkpoint import STEPS, read_config, read_history
from vae.files import read_jsonl
from vae.latent import dims_by_kl
from vae.runs import run_folder

page_header("Loss curves", "Reconstruction and KL in nats per image, per epoch (train and test) and per "
            "logged training step. While a run trains, its curves update every few seconds.")

jobs = training_jobs()
running = jobs.status()
choices = []
if running.running and running.run_dir:
    choices.append(running.run_dir.name)
selected = st.session_state.get(state.CHECKPOINT)
if selected and selected not in choices:
    choices.append(selected)
if not choices:
    st.info("No checkpoint selected.")
    st.stop()
labels = {c: (f"{c} (training now)" if running.running and running.run_dir and c == running.run_dir.name else c)
          for c in choices}
c1, c2 = st.columns([3, 1])
run_name = c1.radio("Run", choices, format_func=labels.get, horizontal=True)
log_y = c2.toggle("Log scale", value=True, help="The first epochs dwarf the rest on a linear axis")


@st.fragment(run_every=2 if running.running else None)
def curves(name: str, log_y: bool) -> None:
    stop_polling_when_done(jobs.status(), running.running)
    folder = run_folder(CHECKPOINTS_DIR, name)
    history = read_history(folder)
    steps = read_jsonl(folder / STEPS)
    try:
        beta = read_config(folder).beta
    except Exception:
        beta = 1.0
    if not history and not steps:
        st.info("No figures yet: the first ones appear after the first logged steps.")
        return
    if history:
        last = history[-1]
        cols = st.columns(5)
        cols[0].metric("Epoch", last["epoch"])
        cols[1].metric("Test -ELBO", f"{last['test_elbo']:.2f}")
        cols[2].metric("Test recon", f"{last['test_recon']:.2f}")
        cols[3].metric("Test KL", f"{last['test_kl']:.2f}")
        cols[4].metric("Active units", f"{last['active_units']} / {len(last['kl_per_dim'])}")
    st.plotly_chart(loss_curves(history, steps, beta, log_y), width="stretch")
    if history:
        kl = history[-1]["kl_per_dim"]
        st.plotly_chart(kl_per_dimension(kl, dims_by_kl(kl)), width="stretch")


curves(run_name, log_y)
st.caption(f"Read from `history.jsonl` and `steps.jsonl` in `{CHECKPOINTS_DIR}/{run_name}/`.")
