"""Loss curves of one run or several side by side (the selected checkpoint, the run being trained,
any run in the checkpoints folder), with a table of their final figures; live while a run trains.
Below them, the map through training: the test digits' codes after every epoch, played."""
import numpy as np
import streamlit as st

from ui import state
from ui.caches import CHECKPOINTS_DIR, dataset, training_jobs
from ui.charts import film_figure, kl_per_dimension, loss_curves
from ui.page import page_header, show_charts
from ui.text import chart_text, literal
from ui.training_status import stop_polling_when_done
from vae.analysis.walks import dims_by_kl
from vae.datasets import dataset_info
from vae.models.latents import latent_of
from vae.run_files import HISTORY, STEPS
from vae.services.film import film_frames, film_stamps, read_film
from vae.services.runs import KL_PART_COLUMNS, list_runs, read_run_log, run_folder

page_header("Loss curves", "Reconstruction and KL in nats per image, per epoch (train and test) and per logged "
            "training step, for one run or several side by side. While a run trains, its curves update every "
            "few seconds, and stay when it finishes.")

jobs = training_jobs()
status = jobs.status()
training = status.run_dir.name if status.running and status.run_dir else None
runs = [e.name for e in list_runs(CHECKPOINTS_DIR) if e.ok]
if training and training not in runs:
    runs.append(training)  # before its first checkpoint: its logged steps already draw
RUNS = state.Setting("runs", [], state.Codec(",".join, lambda t: [n for n in t.split(",") if n], "run names"))

chosen = [r for r in RUNS.current() if r in runs]
if not chosen and RUNS.widget_key not in st.session_state:  # a first visit: the selected checkpoint
    chosen = [st.session_state.get(state.CHECKPOINT)]
FILM_RUN = state.Setting("film", "", state.TEXT)
if training and st.session_state.get("curves_watched") != training:
    # A run that starts training has the page to itself (its own curves and ranges, its KL per
    # dimension, its map through training), also once it has finished; others can be added back.
    st.session_state["curves_watched"] = training
    chosen = [training]
    FILM_RUN.set(training)
chosen = [r for r in chosen if r in runs]
if chosen != RUNS.current():
    RUNS.set(chosen)
c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
chosen = RUNS.widget(c1.multiselect, "Runs", runs, help="Any runs in the checkpoints folder, overlaid")
log_y = c2.toggle("Log scale", value=True, help="The first epochs dwarf the rest on a linear axis")
if not chosen:
    st.info("Pick one or more runs to see their curves.")
    st.stop()
if training in chosen:
    st.caption(f"{literal(training)} is training now: its curves follow every few seconds.")


def with_errors(log) -> dict:
    """The run's final figures for the table, the KL's two parts written with their standard error, or
    "–" where the run did not record them (a table cell showed Python's "None")."""
    row, last = log.final(), log.history[-1] if log.history else {}
    for key in KL_PART_COLUMNS:
        row[key] = "–" if row[key] is None else f"{row[key]:.2f} ± {last['test_kl_parts_stderr']:.2f}"
    return row


@st.fragment(run_every=2 if training in chosen else None)
def curves(names: list[str], log_y: bool) -> None:
    stop_polling_when_done(jobs.status(), training in names)
    logs = [read_run_log(run_folder(CHECKPOINTS_DIR, name)) for name in names]
    if not any(log.history or log.steps for log in logs):
        st.info("No figures yet: the first ones appear after the first logged steps.")
        return
    st.dataframe([with_errors(log) for log in logs], hide_index=True, width="stretch",
                 column_config={k: st.column_config.NumberColumn(format="%.2f")
                                for k in ("test −ELBO", "test recon", "test KL")})
    show_charts(loss_curves(logs, log_y))
    parted = any("test_mutual_information" in h for log in logs for h in log.history)
    st.caption("The test KL is the information the codes carry about which image each came from, I_q(n; z) (at "
               "most log N nats for N test images: 9.21 for 10,000), plus how far their aggregate q(z) = mean of "
               "q(z|x) is from the prior, KL(q(z) ‖ p(z)) (Hoffman & Johnson 2016): the two are Monte Carlo "
               "estimates, ± one standard error"
               + ("; on the KL chart, dotted and dash-dotted in the test color. " if parted else ". ")
               + ("" if parted else "These runs did not record them (they trained before this was measured); "
                  "`python -m vae eval RUN` gives them for the last epoch."))
    if len(logs) > 1:
        st.caption("Each run in its own color: test solid, train dashed, the faint line per logged step.")
    with_epochs = [log for log in logs if log.history]
    shown = next((log for log in with_epochs if log.name == training), with_epochs[0] if with_epochs else None)
    if shown:
        kl = shown.history[-1]["kl_per_dim"]
        figure = kl_per_dimension(kl, dims_by_kl(kl), latent_of(shown.config) if shown.config else None)
        if len(logs) > 1:
            figure.update_layout(title=f"{figure.layout.title.text}, {chart_text(shown.name)}")
        st.plotly_chart(figure, width="stretch")


curves(chosen, log_y)
read = [literal(f"{CHECKPOINTS_DIR}/{name}/{file}") for name in chosen for file in (HISTORY, STEPS)
        if (run_folder(CHECKPOINTS_DIR, name) / file).exists()]
if read:
    st.caption("Read from " + ", ".join(read) + ".")


@st.cache_data(max_entries=4, show_spinner="Aligning the maps of every epoch")
def frames_of(name: str, stamps: tuple[tuple[int, int], ...], _latent):
    """The run's film ({epoch: (n, 2)}), which test digits it follows and how many there are; keyed
    by its files' epochs and times, so a run in training (or trained again) gets a new film."""
    film = read_film(run_folder(CHECKPOINTS_DIR, name), _latent)
    return (*film_frames(film), len(next(iter(film.values())))) if len(film) >= 2 else None


st.subheader("The map through training")
if len(chosen) > 1 and FILM_RUN.get() not in chosen:
    FILM_RUN.set(chosen[0])
filmed = FILM_RUN.widget(st.selectbox, "Run", chosen, help="Its test images' codes after every epoch, "
                         "each epoch on its own two principal axes, aligned to the next (Procrustes)") if len(
    chosen) > 1 else chosen[0]


@st.fragment(run_every=2 if filmed == training else None)
def map_through_training(filmed: str) -> None:
    """The film of `filmed`, growing by a frame per epoch while it trains (cached by its files)."""
    log = read_run_log(run_folder(CHECKPOINTS_DIR, filmed))
    stamps = film_stamps(run_folder(CHECKPOINTS_DIR, filmed)) if log.config else ()  # no config: no codes to read
    epochs = [epoch for epoch, _ in stamps]
    film = frames_of(filmed, stamps, latent_of(log.config)) if len(epochs) >= 2 else None
    if film is None:
        st.caption(f"{literal(filmed)} has no map per epoch" + (" yet: it appears from its second epoch on." if
                   epochs or filmed == training else ": runs trained before the app saved the codes of every epoch "
                   "(the bundled MNIST models among them) have none; the bundled fashion-mnist has one."))
        return
    pick, frames, count = film
    dataset_name = log.config.dataset if log.config else "mnist"
    test_labels = dataset(dataset_name, "test")[1].numpy()
    labels = test_labels[pick] if len(test_labels) == count else np.zeros(len(pick), np.int64)
    # No toolbar: it covered the legend's last class, and the film has nothing to zoom.
    figure = film_figure(frames, labels, list(dataset_info(dataset_name).class_names))
    st.plotly_chart(figure, width="stretch", key="film",
                    config={"displayModeBar": False})
    st.caption(f"{len(pick):,} test {dataset_info(dataset_name).framing.thing}s (the same in every frame), epochs "
               f"{epochs[0]} to {epochs[-1]}"
               + (", a frame more after every epoch while it trains" if filmed == training else "")
               + "; press Play, or drag the epoch slider.")


map_through_training(filmed)
