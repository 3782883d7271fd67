"""VAE Latent Explorer: `streamlit run app.py`.

The shell: page navigation and a sidebar with the checkpoint picker, the selected model's
figures and the background training status. The pages live in views/ (see README).
"""
from pathlib import Path

import streamlit as st

from ui.browser_fixes import browser_fixes

ICON = str(Path(__file__).parent / "ui" / "icon.png")  # a local file: the app fetches nothing from the web
st.set_page_config(page_title="VAE Latent Explorer", page_icon=ICON, layout="wide")
# Before the imports below (0.2 s; torch is imported only where a model is built): /map goes to the root at
# once (ui/components/browser_fixes.js).
with st.sidebar:
    browser_fixes()

from ui import state  # noqa: E402  (each import below is after the early mount, on purpose)
from ui.caches import CHECKPOINTS_DIR, current_model, training_jobs, warm_up  # noqa: E402
from ui.text import literal  # noqa: E402
from ui.training_status import refresh_seconds, status_line  # noqa: E402
from vae.datasets import dataset_info  # noqa: E402
from vae.services.runs import DEFAULT_RUN, list_runs  # noqa: E402
from vae.training.checkpoint_files import CheckpointError  # noqa: E402

# The default page is served at the app's root only. Streamlit still reserves the path its file would
# give, "map", and answered "Page not found" there; so that reserved path is another, and /map, which
# people type, is a hidden page that the browser fixes replace by the root, its query kept. In the
# browser, not by st.switch_page: that pushes the root after /map, and Back would land on /map again.
MAP = st.Page("views/map.py", title="Latent map", icon=":material/scatter_plot:", default=True,
              url_path="latent-map")


def map_address() -> None:
    st.caption("Opening the Latent map…")


PAGES = {
    "Start": [
        st.Page("views/start.py", title="Start here", icon=":material/school:"),
    ],
    "Explore": [
        MAP,
        st.Page(map_address, title="Latent map", url_path="map", visibility="hidden"),
        st.Page("views/sliders.py", title="Latent sliders", icon=":material/tune:"),
        st.Page("views/interpolate.py", title="Interpolation", icon=":material/timeline:"),
        st.Page("views/reconstruct.py", title="Reconstruct", icon=":material/upload:"),
    ],
    "The article": [
        st.Page("views/em.py", title="EM and mixtures", icon=":material/bubble_chart:"),
        st.Page("views/reparam.py", title="Why reparameterize", icon=":material/ssid_chart:"),
    ],
    "Diagnose": [
        st.Page("views/compare.py", title="Compare models", icon=":material/compare:"),
        st.Page("views/holes.py", title="Prior holes", icon=":material/blur_on:"),
        st.Page("views/ood.py", title="Out of distribution", icon=":material/report:"),
        st.Page("views/factors.py", title="Disentanglement", icon=":material/account_tree:"),
    ],
    "Training": [
        st.Page("views/curves.py", title="Loss curves", icon=":material/monitoring:"),
        st.Page("views/train.py", title="Train", icon=":material/model_training:"),
    ],
}
CHECKPOINT = state.Setting("checkpoint", DEFAULT_RUN, state.TEXT)


def checkpoint_picker() -> None:
    """The checkpoint every page explores: from the Train page's "Explore this run", the link the
    session was opened with, or the user's pick; one that broke (or vanished) says why and falls back."""
    entries = {e.name: e for e in list_runs(CHECKPOINTS_DIR)}
    usable = [name for name, e in entries.items() if e.ok]
    asked = st.session_state.pop(state.EXPLORE_RUN, None) or st.session_state.get(state.CHECKPOINT)
    wanted = asked or CHECKPOINT.get()
    if wanted not in usable:
        why = entries[wanted].error if wanted in entries else "there is no such folder in the checkpoints folder"
        fallback = DEFAULT_RUN if DEFAULT_RUN in usable else (usable or [None])[0]
        # The built-in default, missing, is no one's choice; a dismissed note is not said again.
        if (asked or wanted != DEFAULT_RUN) and wanted != st.session_state.get(state.DISMISSED_BROKEN):
            st.session_state[state.BROKEN_SELECTION] = (wanted, (
                f"Checkpoint {literal(wanted)} cannot be loaded: {literal(why)}."
                + (f" Showing {literal(fallback)} instead." if fallback else "")))
        wanted = fallback
    st.session_state[state.CHECKPOINT] = wanted
    # Names only: the runs' test −ELBOs side by side would rank nats of different likelihoods and data (Compare
    # models ranks only those scored alike), and the sidebar is too narrow for a number and its scoring.
    st.selectbox("Checkpoint", usable, key=state.CHECKPOINT,
                 help="Folders under checkpoints/. A run being trained appears here after its first epoch. The "
                      "selected one's test −ELBO is below; Compare models ranks runs scored alike.",
                 on_change=lambda: st.session_state.pop(state.BROKEN_SELECTION, None))
    if wanted is not None:
        CHECKPOINT.set(wanted)
    if selection := st.session_state.get(state.BROKEN_SELECTION):
        st.warning(selection[1], icon=":material/warning:")
        if st.button("Dismiss", key="dismiss_broken"):
            st.session_state[state.DISMISSED_BROKEN] = selection[0]
            del st.session_state[state.BROKEN_SELECTION]
            st.rerun()
    broken = [f"{e.name}: {e.error}" for e in entries.values() if not e.ok]
    if broken:
        with st.expander(f"{len(broken)} folder(s) cannot be loaded"):
            for line in broken:
                st.text(line)


model_error = None
with st.sidebar:
    checkpoint_picker()
    if st.session_state.get(state.CHECKPOINT):
        try:
            checkpoint, _ = current_model()
            cfg = checkpoint.config
            elbo = checkpoint.history[-1]["test_elbo"] if checkpoint.history else None
            cols = st.columns(2)
            cols[0].metric("Architecture", cfg.arch)
            cols[1].metric("Latent size", checkpoint.latent.size_text,
                           help="Dimensions, or categorical variables × categories")
            st.metric("Test −ELBO (nats per image)", f"{elbo:.2f}" if elbo is not None else "–",
                      help="Negative evidence lower bound on the test set (lower is better), one sample of q(z|x) "
                           "per image" + (": of a Bernoulli pseudo-likelihood of gray pixels, comparable only with "
                                          "models scored the same way, not with binarized-MNIST likelihoods"
                                          if cfg.pseudo_likelihood else "."))
            st.text(checkpoint.path.name)  # a folder name is user text: never markdown
            st.caption(f"{dataset_info(cfg.dataset).title}, {cfg.likelihood_text}, beta={cfg.beta:g}, "
                       f"epoch {checkpoint.epoch}")
            if cfg.conditional:
                names = dataset_info(cfg.dataset).class_names
                state.GIVEN_CLASS.widget(st.selectbox, "Class given to the model", range(len(names)),
                                         format_func=lambda k: names[k],
                                         help="This model is conditional: its encoder and decoder read the class "
                                              "too (z holds the style). Every page encodes and decodes as this "
                                              "class; the map, per-image figures and −ELBOs use each image's own "
                                              "class, so its −ELBO bounds −log p(x | y), not −log p(x).")
            if cfg.eps == "uniform":
                st.warning("Trained with uniform ε, the article's bug (z = μ + σ·ε, ε ~ U[0, 1)): kept to show what "
                           "it does. Its figures are evaluated with Gaussian ε.", icon=":material/bug_report:")
        except Exception as e:  # a checkpoint that broke after it was listed: say so, keep the app up
            model_error = f"Cannot load this checkpoint: {literal(str(e))}"
            st.error(model_error)
    st.divider()
    jobs = training_jobs()
    every = refresh_seconds(jobs, 2)
    st.fragment(run_every=every)(status_line)(jobs, polling=every is not None)

page = st.navigation(PAGES, expanded=True)  # thirteen pages: all in view, none behind "View more"
# Train needs no model, and Loss curves shows a first run while it trains; the others would fail without one
if page.title not in ("Train", "Loss curves"):
    if selection := st.session_state.get(state.BROKEN_SELECTION):  # on the page too: a phone folds the sidebar
        st.warning(selection[1], icon=":material/warning:")
    if model_error:
        st.error(model_error + "\n\nPick another checkpoint in the sidebar.")
        st.stop()
    if not st.session_state.get(state.CHECKPOINT):
        st.info(f"There is no checkpoint to explore in {literal(str(CHECKPOINTS_DIR.resolve()))}: train one on the "
                "Train page (it appears in the sidebar after its first epoch), or point VAE_CHECKPOINTS_DIR at a "
                "folder of them.", icon=":material/info:")
        st.page_link("views/train.py", label="Train a model", icon=":material/model_training:")
        st.stop()
state.count_visit(page.url_path)
# The model, built in the background once the first page is drawn (that page needs no torch).
drawn = warm_up(*current_model()) if st.session_state.get(state.CHECKPOINT) and not model_error else None
try:
    page.run()
except CheckpointError as e:  # a page builds a model when it first uses it: weights that broke since the listing
    st.error(f"A checkpoint cannot be loaded: {literal(str(e))}\n\nIf it is the one selected, pick another in the "
             "sidebar.")
finally:  # after st.stop() too, which ends most pages
    if drawn:
        drawn.set()
