"""Train a VAE in the background: the same `python -m vae train` the command line runs."""
import streamlit as st

from ui import state
from ui.caches import training_jobs
from ui.charts import loss_curves
from ui.page import page_header, show_charts
from ui.text import literal
from ui.training_status import epoch_text, progress_fraction, progress_text, refresh_seconds, stop_polling_when_done
from vae.config import ARCHITECTURES, DATASETS, LATENTS, LIKELIHOODS, NOISES, ModelConfig, TrainConfig, default_of
from vae.datasets import dataset_info
from vae.image_folder import SIDES, SKIPPED_LOG, image_folders_root, import_folder, offered_folders
from vae.models.model import gpu_count
from vae.services.jobs import JobBusy
from vae.services.runs import read_run_log

page_header("Train", "Starts `python -m vae train` as a background process (on the GPU when there is one; "
            "through torchrun over several when you choose more than one), "
            "downloading the training set first when it is not on this machine. One run at a time for the "
            "whole server; every open session sees it. Each finished epoch saves a checkpoint you can "
            "explore at once from the sidebar.")

jobs = training_jobs()
defaults = TrainConfig()
SWEEP_BETAS = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]
# Learning rates people try, log-spaced, and the default's own: the form steps through these rather
# than by a fixed amount.
LEARNING_RATES = sorted({round(m * 10.0 ** e, 10) for e in range(-5, -1) for m in (1, 2, 3, 5)} | {0.1, defaults.lr})

with st.form("train", enter_to_submit=False):  # only the button starts a run, not Enter in a field
    c1, c2, c3, c4 = st.columns(4)
    dataset = c1.selectbox("Dataset", DATASETS, format_func=lambda name: dataset_info(name).title)
    arch = c2.selectbox("Architecture", ARCHITECTURES,
                        help="mlp and conv decode in the browser; article: the network of the tutorial article "
                             "this project started from; resnet: the strongest, slow on a CPU")
    latent = c3.selectbox("Latent", LATENTS, help="gaussian, or categorical: N variables of K categories "
                                                  "(Gumbel-softmax; the mlp and conv networks)")
    likelihood = c4.selectbox("Likelihood", LIKELIHOODS)
    c1, c2, c3, c4 = st.columns(4)
    latent_dim = c1.number_input("Latent size (0 = the default)", 0, 256, 0,
                                 help="Dimensions, or categorical variables N")
    categories = c2.number_input("Categories K (categorical)", 2, 64, default_of(ModelConfig, "categories"))
    binarize = c3.toggle("Binarized pixels", help="Dynamically binarized training images, as in the literature")
    eps = c4.selectbox("Noise ε while training", NOISES, format_func=lambda n: {
        "gaussian": "Gaussian", "uniform": "uniform: the article's bug"}[n],
                       help="z = μ + σ·ε. The article drew ε uniformly (rand_like): train that to see what it does; "
                            "evaluation always draws Gaussian ε")
    c1, c2, c3, c4 = st.columns(4)
    beta = c1.number_input("beta (KL weight)", 0.0, 20.0, 1.0, 0.1)
    epochs = c2.number_input("Epochs", 1, 500, defaults.epochs)
    batch_size = c3.number_input("Batch size", 8, 4096, defaults.batch_size, 8)
    lr = c4.select_slider("Learning rate", LEARNING_RATES, value=defaults.lr,
                          format_func=lambda v: f"{v:.1e}".replace(".0e", "e"),  # two digits where a rate has them
                          help=f"Adam's learning rate, reached over the first {defaults.lr_warmup:g} epochs, then "
                               "decayed on a cosine schedule")
    c1, c2, c3, c4 = st.columns(4)
    conditional = c4.toggle("Conditional on the class", help="Encoder and decoder read the class label too "
                            "(mlp, Gaussian latent): z keeps the style, the label the class. Its −ELBO bounds "
                            "−log p(x | y), so it compares with other conditional runs only")
    limit = c1.number_input("Training images (0 = all)", 0, 60000, 0, 1000,
                            help="Train on the first N images only, for a quick run")
    seed = c2.number_input("Seed", 0, 2**31 - 1, defaults.seed)
    gpus = 1
    if (available := gpu_count()) > 1:
        gpus = c3.number_input("GPUs to use", 1, available, available,
                               help="More than one trains data-parallel through torchrun, one process a GPU; "
                                    "the batch size is split between them, so it must divide evenly")
    c1, c2, c3 = st.columns([1, 1, 2])
    kl_warmup = c1.number_input("KL warm-up (epochs)", 0.0, 100.0, defaults.kl_warmup, 1.0, format="%.1f",
                                help="The KL's weight rises linearly from 0 to β over these epochs: the decoder "
                                     "learns to use z before the KL pulls the codes to the prior (against "
                                     "posterior collapse)")
    free_bits = c2.number_input("Free bits (nats per unit)", 0.0, 10.0, defaults.free_bits, 0.25,
                                help="Each latent unit's KL, averaged over the batch, counts as at least this many "
                                     "nats, so training gains nothing by closing a unit (Kingma et al. 2016)")
    sweep = c3.multiselect("β sweep: one run per β, one after another", SWEEP_BETAS, placeholder="No sweep",
                           help="Instead of one run at the β above: a run for each β picked, queued, to trace on "
                                "Compare models' rate–distortion plane (each with its active units and the two "
                                "parts of its KL)")
    c1, c2, c3 = st.columns([2, 1, 1])
    offered = offered_folders()
    folder = c1.selectbox(
        # "" and not None for no folder: a selectbox whose value is None shows its placeholder
        # ("Choose an option") after the form is sent, in place of this option's label
        "Or a folder of your own pictures", ["", *offered], format_func=lambda f: f or "None: the dataset above",
        disabled=not offered,
        help=f"The folders in {image_folders_root().resolve()} ($VAE_IMAGE_FOLDERS, else the data folder's "
             "images/): PNG, JPEG, WebP or BMP pictures, folders inside one are classes. Each picture is cropped to "
             "its middle square and resized; one in ten goes to the test split; files that cannot be read are "
             "skipped and listed in the dataset's skipped.log. The command line takes any folder")
    side = c2.selectbox("Its pictures' size", SIDES, format_func=lambda s: f"{s}x{s}", disabled=not offered,
                        help="For a folder of your own pictures only")
    colour = c3.toggle("In colour (RGB)", disabled=not offered,
                       help="For a folder of your own pictures only; otherwise grayscale")
    start = st.form_submit_button("Start training", type="primary", icon=":material/play_arrow:")

if start:
    read_note = ""
    try:
        if folder:
            with st.spinner("Reading the folder's pictures"):
                imported = import_folder(image_folders_root() / folder, side, 3 if colour else 1)
            dataset = imported.name
            skipped = (f"; {len(imported.skipped)} files skipped (see {literal(str(imported.folder / SKIPPED_LOG))})"
                       if imported.skipped else "")
            how = "Read" if imported.reread else "The folder is as when it was last read:"
            read_note = (f" {how} {imported.counts['train']} training and {imported.counts['test']} test pictures"
                         f"{skipped}.")
        model = ModelConfig(arch=arch, latent=latent, latent_dim=latent_dim or None, categories=categories,
                            likelihood=likelihood, beta=beta, dataset=dataset, binarize=binarize, eps=eps,
                            conditional=conditional)
    except ValueError as e:
        st.error(literal(str(e)))
        st.stop()
    training = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, train_limit=limit or None,
                           kl_warmup=kl_warmup, free_bits=free_bits,
                           image_folder=str(image_folders_root() / folder) if folder else None)
    try:
        if sweep:
            runs = jobs.start_sweep(model, training, sorted(sweep), processes=gpus)
            run_dir = runs[0]
            names = ", ".join(literal(r.name) for r in runs)
            st.session_state["train_notice"] = ("success", f"Started a sweep of {len(runs)} runs: {names}." + read_note,
                                                run_dir.name)
        else:
            run_dir = jobs.start(model, training, processes=gpus)
            st.session_state["train_notice"] = ("success", f"Started {literal(run_dir.name)}" +
                                                (f" on {gpus} GPUs." if gpus > 1 else ".") + read_note, run_dir.name)
        st.rerun()  # the sidebar, drawn before this page, starts following the run
    except (JobBusy, ValueError, FileExistsError) as e:
        st.session_state["train_notice"] = ("warning", str(e) if isinstance(e, JobBusy) else literal(str(e)), None)
if notice := st.session_state.get("train_notice"):  # until the next press of Start, or the run's end
    kind, text, run = notice
    current = jobs.status()
    if run is not None and not (current.running and current.run_dir and current.run_dir.name == run):
        del st.session_state["train_notice"]  # its outcome, below, says the rest
    else:
        (st.success if kind == "success" else st.warning)(text)


every = refresh_seconds(jobs, 1)


@st.fragment(run_every=every)
def live_status(polling: bool) -> None:
    status = jobs.status()
    stop_polling_when_done(status, polling)
    if status.state == "idle":
        st.info("No training run yet.")
        return
    name = status.run_dir.name
    if status.running:
        st.subheader(f"Training {literal(name)}")
        st.progress(progress_fraction(status), text=progress_text(status))
        if status.queued:
            st.caption("Then, one after another: " + ", ".join(literal(n) for n in status.queued)
                       + ". Stopping this run ends the sweep.")
        if st.button("Stop training", icon=":material/stop:"):
            jobs.stop()
            st.toast("Asked the run to save and stop")
    elif status.state == "failed":
        st.subheader(f"Run {literal(name)} failed")
        st.error(f"{literal(status.error_line)}  \nThe explorer carries on with the last saved checkpoint.")
        with st.expander("The end of its log"):
            st.code(status.error, language=None, wrap_lines=True)
    else:
        st.subheader(f"Run {literal(name)} {status.state}")
        st.caption(f"At {epoch_text(status.epoch, status.epochs)}.")
        if status.history and st.button("Explore this run", icon=":material/explore:"):
            st.session_state[state.EXPLORE_RUN] = name  # the sidebar picks it up before it draws
            st.rerun(scope="app")
    if status.history or len(status.steps) >= 2:  # a line needs two points
        show_charts(loss_curves([read_run_log(status.run_dir)]))


live_status(polling=every is not None)
