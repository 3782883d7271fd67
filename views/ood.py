"""Out of distribution: the selected model scores another set of images. Does its likelihood tell
them from its own test set, and does the complexity-corrected score (Serrà et al. 2020) do better?"""
import numpy as np
import streamlit as st
import torch

from ui import state
from ui.caches import current_model, kl_and_activity, latent_map
from ui.ood import outlier_images, outlier_sets, score_histogram, scores_of
from ui.page import page_header, show_digit
from ui.sketchpad import draw_digit
from ui.text import share_text
from ui.uploads import upload_digit
from vae.analysis.ood import PAIRED, TRANSFORMS, auroc, auroc_interval, ood_scores
from vae.analysis.walks import dims_by_kl
from vae.datasets import dataset_info
from vae.images import grid

page_header("Out of distribution", "The model scores images it never saw the like of. Its −ELBO bounds −log p(x): "
            "a detector of outliers would flag the images it finds unlikely. Likelihood models are known to fail "
            "at this (Nalisnick et al. 2019: they can find simpler images from another set more likely than their "
            "own); Serrà et al. (2020) subtract each image's complexity, its compressed length, to correct it.")

checkpoint, hash_ = current_model()
model, dataset_name = checkpoint.model, checkpoint.config.dataset
if checkpoint.config.conditional:
    st.info("This model is conditional: it gives p(x | y) for a class y, not p(x), and an outlier has no class. "
            "Pick an unconditional checkpoint in the sidebar.", icon=":material/info:")
    st.stop()

SETS = outlier_sets(dataset_name)
OUTLIERS = state.Setting("outliers", next(iter(SETS)), state.text_choice(tuple(SETS)))
COUNT = state.Setting("ood_n", 2000, state.int_range(500, 10_000))
SCORES = {0: "−ELBO (one sample of q)", 100: "IWAE estimate, k = 100 (slower)"}
SCORE = state.Setting("ood_k", 0, state.int_range(0, 100))
c1, c2, c3 = st.columns([2, 1, 1])
kind = OUTLIERS.widget(c1.selectbox, "Outliers", list(SETS), format_func=SETS.get)
count = COUNT.widget(c2.select_slider, "Images of each", [500, 1000, 2000, 5000, 10_000])
iwae_k = SCORE.widget(c3.selectbox, "Score", list(SCORES), format_func=SCORES.get,
                      help="What stands for −log p(x): the −ELBO, or the tighter importance-weighted estimate")

title = dataset_info(dataset_name).title
own, other = scores_of(model, hash_, dataset_name, "test", count, iwae_k), scores_of(model, hash_, dataset_name,
                                                                                    kind, count, iwae_k)
raw, corrected = auroc(own.nll, other.nll), auroc(own.corrected, other.corrected)
m1, m2, m3 = st.columns(3)
m1.metric("AUROC of the −ELBO" if not iwae_k else "AUROC of the IWAE estimate", f"{raw:.3f}",
          help="The chance that an outlier scores as less likely than one of the model's own test images (1: a "
               "perfect detector, 0.5: a coin, below 0.5: the outliers look MORE likely)")
m2.metric("AUROC, complexity-corrected", f"{corrected:.3f}",
          help="The same for S(x) = −log₂ p(x) − L(x): the score in bits minus the image's PNG length in bits")
m3.metric("Median score, own / outliers", f"{np.median(own.nll):,.0f} / {np.median(other.nll):,.0f} nats",
          help="Medians: a few outliers can score astronomically (an inverted digit under a binarized model)")
paired = kind in PAIRED  # each outlier made from one of the test images: their scores go together
(raw_low, raw_high), (corrected_low, corrected_high) = (auroc_interval(own.nll, other.nll, paired),
                                                        auroc_interval(own.corrected, other.corrected, paired))
st.caption(f"95% intervals (DeLong's), for {count:,} images of each drawn again from the same sources: "
           f"{raw_low:.3f} to {raw_high:.3f}, and corrected {corrected_low:.3f} to {corrected_high:.3f}."
           + (" Each outlier is made from one of the test images, so the two are taken as pairs." if paired else "")
           + " They are for the scores as computed here, each from its own samples of q(z|x), not for exact "
             "values.")
if raw < 0.5:
    st.warning(f"The paradox: this model finds {SETS[kind]} more likely than its own {title} test images "
               f"(median {np.median(other.nll):.0f} against {np.median(own.nll):.0f} nats): its likelihood flags "
               "the wrong "
               "set. Simpler images (fewer, plainer strokes: their PNG is shorter) are easy to compress for any "
               "model, whatever it was trained on.", icon=":material/warning:")

names = (f"its own {title} test images", SETS[kind])
positive = min(own.nll.min(), other.nll.min()) > 0
spread = positive and max(own.nll.max(), other.nll.max()) / min(own.nll.min(), other.nll.min()) > 30
left, right = st.columns(2)
with left:
    st.plotly_chart(score_histogram(own.nll, other.nll, names, "−ELBO, nats (the higher, the less likely)"
                                    if not iwae_k else "IWAE estimate of −log p(x), nats", log_x=spread),
                    width="stretch", key="ood_raw")
with right:
    st.plotly_chart(score_histogram(own.corrected, other.corrected, names, "S(x) = −log₂ p(x) − L(x), bits"),
                    width="stretch", key="ood_corrected")
source = (f"{SETS[kind]}, made from those same {count:,}" if kind in PAIRED else
          f"{SETS[kind]} ({count:,} generated)" if kind in TRANSFORMS else f"the first {count:,} of {SETS[kind]}")
which = (f"{count:,} images each: the first {count:,} of the {title} test set, and {source}. L(x) is the image's "
         "length as a PNG at its highest compression.")
caveat = (" A caveat: this model's likelihood is a Bernoulli pseudo-likelihood of gray pixels, not a density of "
          "8-bit images as Serrà et al. used, so its bits and the PNG's are not the same currency; the correction "
          "helps where the outliers are simpler, and can hurt where they are busier (noise: incompressible, so its "
          "score drops far below the digits').")
st.caption(which + (caveat if checkpoint.config.pseudo_likelihood else ""))

st.subheader("The outliers that fool each score most")
images = outlier_images(dataset_name, kind, count)
c1, c2 = st.columns(2)
for column, score, label in ((c1, other.nll, "raw"), (c2, other.corrected, "corrected")):
    with column:
        fooling = np.argsort(score)[:8]  # the outliers scored most in-distribution
        own_scores = own.nll if label == "raw" else own.corrected
        show_digit(grid(images[fooling].float().div(255).numpy(), cols=8), scale=2)
        st.caption(f"By the {label} score, each with the share of the model's own test images it beats: "
                   + ", ".join(f"#{i} ({share_text((own_scores > score[i]).mean())})" for i in fooling))

st.subheader("Score your own image")
YOURS = {"upload": "Upload", "draw": "Draw"} if dataset_info(dataset_name).drawable else {"upload": "Upload"}
yours = st.segmented_control("Your image", list(YOURS), format_func=YOURS.get, default="upload", key="ood_source",
                             required=True)
if yours == "draw":
    kl, active = kl_and_activity()
    digit = draw_digit(model, hash_, latent_map("test"), active, dims_by_kl(list(kl)), key=f"ood-draw-{hash_[:8]}")
else:
    # Anything may be scored here, a blank picture too: it is the empty image (VAEs often find those likely).
    _, digit = upload_digit("ood_upload", keep="ood_kept", dataset=dataset_name, with_original=True, blank_ok=True)
if digit is not None:
    mine = ood_scores(model, torch.from_numpy(np.round(digit * 255).astype(np.uint8))[None], iwae_k)
    c1, c2 = st.columns([1, 3])
    with c1:
        show_digit(digit, "as the model sees it")
    with c2:
        st.metric("Its score", f"{mine.nll[0]:.1f} nats", help="−ELBO, or the IWAE estimate as chosen above")
        st.write(f"Less likely than {share_text((own.nll < mine.nll[0]).mean())} of the model's own test images by "
                 f"the raw score, and than {share_text((own.corrected < mine.corrected[0]).mean())} by the corrected "
                 f"one (its PNG: {mine.complexity[0]:.0f} bits).")
else:
    or_draw = " or draw one" if len(YOURS) > 1 else ""
    st.caption(f"Upload a picture{or_draw} (a {dataset_info(dataset_name).framing.thing}, or anything else) to see "
               f"where it falls among the {title} test images.")
