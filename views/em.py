"""EM and a Gaussian mixture in the latent space: the article's derivation, run on the loaded model's
codes one step at a time; what the mixture finds (components against labels, BIC), samples from it
as a prior, and the gap between the ELBO and log p(x) for one digit."""
import numpy as np
import streamlit as st
import torch

from ui import article_charts
from ui.article_errors import article_errors
from ui.caches import class_names, current_model, dataset, digit_classifier, latent_map, nouns, whole_model
from ui.mixtures import EM_COVARIANCE, EM_K, code_sources, codes, em_codes, em_run
from ui.page import page_header, show_digit
from ui.text import signed
from vae.analysis.quality import sample_quality
from vae.analysis.walks import decode_numpy, prior_samples
from vae.datasets import dataset_info
from vae.images import grid, png_bytes
from vae.models.gmm import COVARIANCES, agreement
from vae.models.model import to_images
from vae.training.evaluate import bound_gap, prepare

page_header("EM and mixtures", "The article derives the VAE from EM for a Gaussian mixture. Here EM fits a mixture "
            "of K components to this model's codes (the posterior means μ(x): Gaussians; for a categorical latent, "
            "each variable's probabilities: products of categoricals), one step at a time. For any Q(Z) "
            "over the components, log p(X) = ELBO(Q, θ) + KL(Q(Z) ‖ P(Z|X)): the E-step sets Q to the posterior, "
            "so the KL is 0 and the ELBO touches log p(X); the M-step raises the ELBO, and log p(X) with it.")

checkpoint, hash_ = current_model()
names = class_names()
thing, things = nouns()
sources = code_sources(checkpoint.config.dataset)
CODES = em_codes(checkpoint.config.dataset)

with st.container(border=True):
    c1, c2, c3 = st.columns([2, 1, 1])
    k = EM_K.widget(c1.slider, "Components K", 1, 30)
    continuous = checkpoint.model.latent.continuous
    covariance = EM_COVARIANCE.widget(c2.radio, "Covariances", list(COVARIANCES), horizontal=True,
                                      disabled=not continuous,
                                      help=None if continuous else "Each component of a categorical latent's mixture "
                                           "is a product of categoricals (one per variable): it has no covariance")
    split = CODES.widget(c3.radio, "Codes of the", list(sources), format_func=sources.get, horizontal=True)
    b1, b2, b3 = st.columns(3)
    restart = b3.button("Start over", icon=":material/restart_alt:", width="stretch")
    em = em_run(k, covariance, split, restart=restart)
    if b1.button("One EM step", type="primary", icon=":material/skip_next:", width="stretch"):
        em.step()
    if b2.button("Run to convergence", icon=":material/fast_forward:", width="stretch"):
        bar = st.progress(0.0, text="EM")
        em.run(progress=lambda i: bar.progress(min(1.0, i / 100), text=f"EM iteration {i}"))
        bar.empty()

def rounded_kl(kl: float) -> float:
    """A KL within float rounding of 0 (it cannot be negative) as 0."""
    return 0.0 if abs(kl) < 1e-9 else kl


last = em.records[-1]
m1, m2, m3, m4 = st.columns(4)
m1.metric("EM iterations", em.iteration)
m2.metric("log p(X) per code", signed(last.log_likelihood, 3),
          help="The mixture's log-likelihood of the codes X, in nats per code: not of the images")
m3.metric("ELBO(Q, θ) per code", signed(last.elbo, 3))
m4.metric("KL(Q ‖ P(Z|X)) per code", f"{rounded_kl(last.kl):.2g}",
          help="Exactly 0 after an E-step in exact arithmetic; rounding leaves up to about 1e-12, shown as 0")
count, dims = em.codes.shape
kind = (f"log-density of points in {dims} dimensions, so it can be above 0" if continuous
        else "log-probability of one one-hot sample of each code")
st.caption(f"X is the {count:,} codes, not the {things}: log p(X) is the mixture's {kind}. The VAE's own bound on "
           f"log p(x) of a {thing} is further down (“The VAE's own E-step gap”).")
st.plotly_chart(article_charts.em_progress(em.records), width="stretch")
st.caption("log p(X) never falls. After every E-step the KL is 0 (to rounding); after every M-step it opens, "
           "by how much the old Q no longer fits the new θ. The last half-steps, in nats per code:")
st.dataframe([{"iteration": r.iteration, "step": r.half, "log p(X)": r.log_likelihood, "ELBO": r.elbo,
               "KL": rounded_kl(r.kl)} for r in em.records[-6:]], hide_index=True, width="stretch",
             column_config={"log p(X)": st.column_config.NumberColumn(format="%.4f"),
                            "ELBO": st.column_config.NumberColumn(format="%.4f"),
                            "KL": st.column_config.NumberColumn(format="%.2e")})

st.subheader("The components on the latent map")
lmap = latent_map("test")
test_mu = codes("test")
q = em.mixture.responsibilities(test_mu)
assigned = q.argmax(1)
scores = agreement(assigned, lmap.labels)
c1, c2 = st.columns(2)
c1.metric("Purity against the labels", f"{scores['purity']:.3f}",
          help="The share of test codes whose component's most common label is their own")
c2.metric("Adjusted Rand index", f"{scores['adjusted_rand_index']:.3f}",
          help="Agreement of the components with the labels: 1 is the same partition, 0 is chance")
event = st.plotly_chart(article_charts.component_scatter(lmap.xy, assigned, em.mixture.k), key="em_map",
                        on_select="rerun", selection_mode="points", width="stretch")
picked = [int(p["customdata"]) for p in event.selection.points if "customdata" in p]
if picked:
    i = picked[0]
    left, right = st.columns([1, 3])
    with left:
        show_digit(dataset(checkpoint.config.dataset, "test")[0][i].float().div(255).numpy(),
                   f"#{i}, a {names[lmap.labels[i]]}")
    right.plotly_chart(article_charts.responsibilities(q[i], f"Responsibilities of #{i}"), width="stretch")
else:
    st.caption("Each code is colored by its most responsible component. Click one to see all its responsibilities.")

st.subheader("What each component decodes to")
order = np.argsort(-em.mixture.weights)
means = decode_numpy(checkpoint.model, torch.from_numpy(em.mixture.means[order].astype(np.float32)))
st.image([png_bytes(m, 3) for m in means], width=84,
         caption=[f"component {c} · weight {em.mixture.weights[c]:.2f}" for c in order])
st.caption("Each component's mean decoded (for a categorical latent its most likely code), heaviest first (the "
           "component numbers are the map's colors).")
per = 8
samples = np.concatenate([em.mixture.sample(per, seed=int(c), component=int(c)) for c in order])
show_digit(grid(decode_numpy(checkpoint.model, torch.from_numpy(samples)), cols=per * 2),
           f"{per} samples of each component, two components a row, heaviest first", scale=2)

st.subheader("How many components? BIC against K")
BIC_KS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30)


@st.cache_data(max_entries=8, show_spinner=False)
def bic_of(hash_: str, covariance: str, split: str) -> dict:
    """Cached per model, covariance and codes, for every session."""
    bar = st.progress(0.0, text="Fitting mixtures")
    curve = checkpoint.model.latent.bic_curve(codes(split), list(BIC_KS), covariance,
                                              progress=lambda i, n: bar.progress(i / n,
                                                                                 text=f"K = {BIC_KS[i - 1]} done"))
    bar.empty()
    return curve


bic_key = ("bic", hash_, covariance, split)
if st.session_state.get(bic_key) or st.button(
        "Fit K = 1 to 30 and compare", icon=":material/query_stats:",
        help="One fit to convergence for each K; a minute or two on a laptop's CPU, once per model"):
    st.session_state[bic_key] = True
    curve = bic_of(hash_, covariance, split)
    st.plotly_chart(article_charts.bic(curve), width="stretch")
    if article_charts.bic_still_falling(curve):
        st.caption(f"BIC is still falling at K = {max(curve)}, the most components tried: it finds no minimum within "
                   f"1 to {max(curve)}, so by its measure more components would describe these codes better still.")

st.subheader("Sampling from the mixture instead of the prior")
measured = (f" Measured with the bundled {thing} classifier: the Fréchet distance of its features to the test "
            f"images' (lower is better) and the mean entropy of its labels (lower: clearer {things})."
            if digit_classifier(checkpoint.config.dataset) is not None else "")
st.caption("Decoding draws of the fitted mixture rather than of the prior (ex-post density estimation, Ghosh et "
           f"al. 2019) avoids the holes of the prior that no training {thing}'s code fills." + measured)
c1, c2 = st.columns(2)
with c1:
    z = prior_samples(checkpoint.model, 16, seed=0)
    show_digit(grid(decode_numpy(checkpoint.model, z), cols=8), "z ~ the prior", scale=3)
with c2:
    show_digit(grid(decode_numpy(checkpoint.model, torch.from_numpy(em.mixture.sample(16, seed=0))), cols=8),
               "z ~ the mixture", scale=3)


@st.cache_data(max_entries=16, show_spinner=False)
def quality_of(_mixture, hash_: str, mixture_key: tuple) -> dict:
    """Cached per model and mixture (its settings and EM iteration), for every session."""
    bar = st.progress(0.0, text="Decoding and classifying")
    images, labels = dataset(checkpoint.config.dataset, "test")
    # A conditional model decodes each sample with a test digit's class, and reconstructs each digit as its own.
    report = sample_quality(whole_model(checkpoint, hash_)[0], images, 10_000, _mixture, test_labels=labels,
                            progress=lambda i, n: bar.progress(i / n, text=f"{i} of {n} sets"))
    bar.empty()
    return report


quality_key = ("quality", hash_, k, covariance, split, em.iteration)
if digit_classifier(checkpoint.config.dataset) is None:
    st.caption(f"Sample quality is measured with a classifier of {dataset_info(checkpoint.config.dataset).title}'s "
               "classes, and none is bundled for it.")
elif st.session_state.get(quality_key) or st.button("Measure sample quality (10,000 images of each)",
                                                  icon=":material/speed:"):
    st.session_state[quality_key] = True
    report = quality_of(em.mixture, hash_, quality_key)
    st.dataframe([{"decoded from": {"prior": "prior samples", "mixture": "mixture samples",
                                    "reconstruction": "test images' reconstructions, from "
                                                      + checkpoint.model.latent.reconstructed_from}[name],
                   "Fréchet distance": f"{figures['frechet_distance']:.2f} ± {figures['frechet_distance_se']:.2f}",
                   "label entropy (nats)": f"{figures['label_entropy']:.3f} ± {figures['label_entropy_se']:.3f}"}
                  for name, figures in report.items()],
                 hide_index=True, width="stretch")

st.subheader(f"The VAE's own E-step gap, for one {thing}")
binarized = " (binarized, as this model's pixels are)" if checkpoint.config.binarize else ""
st.caption("The encoder's q(z|x) stands in for the posterior p(z|x) that an exact E-step would use, so the ELBO "
           "falls short of log p(x) by KL(q(z|x) ‖ p(z|x)). Importance sampling with S draws of q tightens the "
           "bound towards log p(x): how far it rises estimates that KL. (S counts samples of q, not the mixture's "
           "K components above.) Each bound is the mean of independent estimates using at least 1,000 draws of q "
           "in all, with its standard error." + (" This model is conditional: its bounds are of log p(x | y), "
                                                  f"the {thing}'s own class y given."
                                                  if checkpoint.config.conditional else ""))
index = st.number_input(f"Test {thing}", 0, len(test_mu) - 1, 0)


@st.cache_data(max_entries=64, show_spinner="Importance sampling")
def gap_of(_model, hash_: str, index: int) -> dict:
    """`_model`: a whole_model (a conditional one reads the digit's own class)."""
    images, labels = dataset(checkpoint.config.dataset, "test")
    return bound_gap(_model, images[index], label=int(labels[index]))


gap = gap_of(*whole_model(checkpoint, hash_), index)
c1, c2 = st.columns([1, 3])
with c1:
    scored = prepare(dataset(checkpoint.config.dataset, "test")[0][index][None], checkpoint.config.binarize)
    show_digit(to_images(scored.reshape(1, -1), checkpoint.config.image_shape)[0].numpy(), f"#{index}{binarized}")
    (high, high_se), (elbo, elbo_se) = gap[1000], gap[1]
    # Short, with the unit: in a quarter of the page's width a longer label or value is cut ("2.11 ± 0.11 n…")
    st.metric("E-step gap (nats)", f"{high - elbo:.2f} ± {(high_se ** 2 + elbo_se ** 2) ** 0.5:.2f}",
              help="The bound at S = 1000 minus the ELBO: an estimate of KL(q(z|x) ‖ p(z|x)). ± one standard error "
                   "of the difference of the two estimates")
c2.plotly_chart(article_charts.bound_gap(gap), width="stretch")

article_errors()
