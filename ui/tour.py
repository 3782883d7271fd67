"""Start here: the article's argument in eight steps, each a few sentences, a formula whose symbols
the live element beside it shows on the loaded model, and a button that opens the full page at the
same state (through the settings that page keeps in the session and the address).

    STEPS[i].title, STEPS[i].text, STEPS[i].latex      # what the step says
    STEPS[i].show(model)                               # its live element; returns how to open its page

Notation, as on every page: q(z|x) the encoder's posterior, p(x|z) the decoder's likelihood,
p(z) = N(0, I) the prior, the ELBO and its terms in nats per image.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from ui import state
from ui.caches import as_class, class_names, current_model, dataset, kl_and_activity, latent_map, nouns, whole_model
from ui.charts import kl_per_dimension, latent_scatter, posterior_chart
from ui.estimators import COMPARED, DIGITS, LARGEST, ratio_help, ratio_text, sample_sizes, study_of
from ui.mixtures import EM_COVARIANCE, EM_K, em_codes, em_run
from ui.page import show_digit
from vae.analysis.diagnostics import prior_holes, reconstruction_draws
from vae.analysis.walks import decode_numpy, dims_by_kl, prior_samples
from vae.images import grid
from vae.training.evaluate import posteriors, prepare

DIGIT = state.Setting("tour_digit", 0, state.int_range(0, 9_999))  # the test digit steps 3 and 4 follow
ELBO_SAMPLES = 8  # samples of q(z|x) behind step 4's reconstruction (and so its −ELBO)


@dataclass(frozen=True)
class Link:
    """Where a step's button goes: a page, and the settings it is opened with."""
    label: str
    page: str
    settings: tuple[tuple[state.Setting, object], ...] = ()
    before: Callable[[], None] | None = None  # anything else the page needs (a starting point)

    def open(self) -> None:
        for setting, value in self.settings:
            setting.set(value)
        if self.before:
            self.before()
        st.switch_page(self.page, query_params={s.name: s.codec.to_text(v) for s, v in self.settings
                                                if v != s.default})


@dataclass(frozen=True)
class Step:
    title: str
    text: str
    latex: str
    show: Callable[[object], Link]  # draws the live element for the loaded checkpoint


def _digit() -> tuple[int, torch.Tensor, object]:
    """The test digit the steps look at, and the model to look with (a conditional one given the
    digit's own class)."""
    checkpoint, hash_ = current_model()
    images, labels = dataset(checkpoint.config.dataset, "test")
    thing = nouns()[0]
    index = DIGIT.widget(st.number_input, f"Test {thing}", 0, len(images) - 1,
                         help=f"The test {thing} this step and the next look at")
    return index, images[index], as_class(checkpoint, hash_, int(labels[index]))


def map_step(checkpoint) -> Link:
    lmap = latent_map("test")
    st.plotly_chart(latent_scatter(lmap.xy, lmap.labels, class_names(), height=380), width="stretch",
                    key="tour_map", config={"displayModeBar": False})
    st.caption(f"{len(lmap.xy):,} test {nouns()[1]}: each dot is the mean of its q(z|x), a code of "
               f"{checkpoint.model.latent.size_text} numbers, drawn in 2D.")
    return Link("Open the Latent map", "views/map.py")


def em_step(checkpoint) -> Link:
    codes_setting = em_codes(checkpoint.config.dataset)  # the test set's codes here: quick to start
    k = st.slider("Components K", 2, 15, min(EM_K.get(), 15), key="tour_k")
    em = em_run(k, EM_COVARIANCE.get(), "test")
    if st.button("One EM step (an E-step and an M-step)", icon=":material/skip_next:"):
        em.step()
    last = em.records[-1]
    c1, c2, c3 = st.columns(3)
    c1.metric("log p(X), nats per code", f"{last.log_likelihood:.3f}")
    c2.metric("ELBO(Q, θ), nats per code", f"{last.elbo:.3f}")
    c3.metric("KL(Q ‖ P(Z|X)), nats per code", f"{0.0 if abs(last.kl) < 1e-9 else last.kl:.2g}")
    if em.iteration == 0:
        st.caption("On the test set's codes, before the first step: θ from k-means, Q its posterior, so the KL is 0.")
    else:  # the figures shown are after the M-step, where the KL is not 0: say what the E-step did
        e_step = em.records[-2]
        st.caption(f"After {em.iteration} EM iteration(s) on the test set's codes. The E-step set Q to the "
                   f"posterior, closing the KL: the ELBO touched log p(X) at {e_step.log_likelihood:.3f}. The "
                   "M-step then raised both (above), and the KL left is how far that Q is from the new θ's "
                   "posterior: the next E-step closes it.")
    return Link("Open EM and mixtures at this run", "views/em.py",
                ((EM_K, k), (EM_COVARIANCE, EM_COVARIANCE.get()), (codes_setting, "test")))


def encoder_step(checkpoint) -> Link:
    index, image, model = _digit()
    x = prepare(image[None], model.config.binarize).to(model.device)
    with torch.no_grad():
        q = model.posterior(x)
        code = model.latent.reconstruction_codes(q, torch.Generator(device=model.device).manual_seed(0))
        recon = model.decode(code)[0].cpu().numpy()
    kl, active = kl_and_activity()
    order = [d for d in dims_by_kl(list(kl)) if active[d]][:8] or dims_by_kl(list(kl))[:8]
    c1, c2 = st.columns([1, 2])
    with c1:
        show_digit(np.concatenate([image.float().div(255).numpy(), recon], 1),
                   f"#{index} and its reconstruction, decoded from {model.latent.reconstructed_from}", scale=4)
    c2.plotly_chart(posterior_chart(q, order, height=260), width="stretch", key="tour_posterior")
    st.caption(f"q(z|x) of #{index} on its {len(order)} most informative {model.latent.unit}s: one pass of the "
               f"encoder, for this {nouns()[0]} or any other.")
    code = [float(v) for v in q.code[0].cpu()]
    return Link("Open its code in the Latent sliders", "views/sliders.py", ((state.SLIDERS_Z, code),),
                before=lambda: state.start_sliders_from(code))


def elbo_step(checkpoint) -> Link:
    index, image, model = _digit()
    x = prepare(image[None], model.config.binarize).to(model.device)  # binarized as step 3's, once
    recon, kl = reconstruction_draws(model, x, ELBO_SAMPLES)  # (ELBO_SAMPLES,) and the exact KL
    stderr = float(recon.std(ddof=1) / np.sqrt(len(recon)))
    c1, c2, c3 = st.columns(3)
    c1.metric("Reconstruction −E_q[log p(x|z)], nats", f"{recon.mean():.1f} ± {stderr:.1f}",
              help=f"Averaged over {ELBO_SAMPLES} samples of q(z|x), ± its standard error")
    c2.metric("KL(q(z|x) ‖ p(z)), nats", f"{kl:.1f}", help="Exact, in closed form")
    c3.metric("−ELBO, nats", f"{recon.mean() + kl:.1f} ± {stderr:.1f}",
              help=f"The sum, estimated from {ELBO_SAMPLES} samples of q(z|x) (± its standard error, the "
                   "reconstruction's: the KL is exact): an upper bound on "
                   + (f"−log p(x | y), the {nouns()[0]}'s class given" if checkpoint.config.conditional
                      else "−log p(x)"))
    if checkpoint.history:
        st.caption(f"#{index}'s bound against the test set's mean −ELBO of "
                   f"{checkpoint.history[-1]['test_elbo']:.1f} nats per image ({checkpoint.config.likelihood_text}).")
    return Link("Open the map colored by −ELBO, #" + str(index) + " picked", "views/map.py",
                ((state.MAP_COLOR, "elbo"), (state.MAP_PICKED, [index])))


def kl_step(checkpoint) -> Link:
    kl, active = kl_and_activity()
    figure = kl_per_dimension(list(kl), dims_by_kl(list(kl)), checkpoint.model.latent)
    figure.update_layout(height=260)
    st.plotly_chart(figure, width="stretch", key="tour_kl")
    latent = checkpoint.model.latent
    thing = nouns()[0]
    st.caption(f"{int(active.sum())} of {len(kl)} {latent.unit}s are active: their posterior varies from {thing} to "
               f"{thing} (Burda et al. 2015). The others sit at the prior for every {thing}, and the decoder ignores "
               "them.")
    if not latent.continuous:
        st.caption("This model's latent is categorical, with a uniform prior over K categories: its KL per variable "
                   "is Σ_k p_k log p_k + log K, in closed form too.")
    return Link("Open the Latent sliders (most informative first)", "views/sliders.py")


def reparam_step(checkpoint) -> Link:
    link = Link(f"Open Why reparameterize for this {nouns()[0]}", "views/reparam.py",
                ((DIGITS, 1), (LARGEST, 10), (COMPARED, True)))
    if not checkpoint.model.latent.continuous:
        st.info("This model's latent is categorical: it trains through the Gumbel-softmax relaxation. Pick a "
                "Gaussian checkpoint in the sidebar to measure the two estimators.")
        return link
    if st.session_state.get("tour_measured") or st.button(f"Measure on one test {nouns()[0]} (a few seconds)",
                                                         icon=":material/play_arrow:"):
        st.session_state["tour_measured"] = True
        images = dataset(checkpoint.config.dataset, "test")[0]
        study = study_of(checkpoint.model, current_model()[1], images, 1, sample_sizes(10))
        st.metric("Score function ÷ reparameterization: variances at L = 1",
                  ratio_text(study), help=f"Over all the encoder's parameters, for test {nouns()[0]} #0. "
                                          f"{ratio_help(study)}")
    return link


def prior_step(checkpoint) -> Link:
    model = checkpoint.model
    kl, _ = kl_and_activity()
    top = dims_by_kl(list(kl))[0]
    if model.latent.continuous:
        value = st.slider(f"{model.latent.letter}{top}, the most informative dimension; the others at 0",
                          -3.0, 3.0, 0.0, 0.1, key="tour_z")
        z = torch.zeros(model.code_dim)
        z[top] = value
    else:
        z = prior_samples(model, 1, 1)[0]
    samples = prior_samples(model, 8, 0)
    c1, c2 = st.columns([1, 3])
    with c1:
        show_digit(decode_numpy(model, z[None])[0], "decoded from z", scale=4)
    with c2:
        show_digit(grid(decode_numpy(model, samples), cols=8), f"8 samples z ~ {model.latent.prior_text}, decoded",
                   scale=3)
    return Link("Open this z in the Latent sliders", "views/sliders.py", ((state.SLIDERS_Z, z.tolist()),),
                before=lambda: state.start_sliders_from(z.tolist()))


@st.cache_resource(max_entries=4, show_spinner="Comparing the prior with q(z)")
def _holes(_whole, _model, hash_: str, dataset_name: str):
    """Prior holes of the test set's q(z) (`_whole`: a whole_model), the deepest decoded by `_model`."""
    images, labels = dataset(dataset_name, "test")
    holes = prior_holes(posteriors(_whole, images, labels=labels), _whole.latent, n=200)
    return holes, holes.intervals()["fraction"], decode_numpy(_model, holes.prior_z[np.argsort(holes.log_ratio)[:8]])


def holes_step(checkpoint) -> Link:
    hash_ = current_model()[1]
    holes, (low, high), deepest = _holes(whole_model(checkpoint, hash_)[0], checkpoint.model, hash_,
                                         checkpoint.config.dataset)
    st.metric("Prior samples in a hole (of 200)", f"{holes.fraction:.1%}",
              help=f"95% bootstrap interval {low:.1%} to {high:.1%}. Against {holes.null_fraction:.1%} of q(z)'s own "
                   "samples that the same criterion flags")
    st.caption(f"95% interval {low:.1%} to {high:.1%}, from 200 prior samples and the test set's codes: Prior holes "
               "takes more of either.")
    show_digit(grid(deepest, cols=8), "the 8 prior samples deepest in holes, decoded", scale=3)
    return Link("Open Prior holes at these settings", "views/holes.py",
                ((state.holes_of(("test",)), "test"), (state.HOLES_N, 200)))


STEPS = [
    Step("A code for every digit",
         "A variational autoencoder (VAE, 变分自编码器) learns two networks. The encoder turns a digit x into a "
         "distribution q(z|x) over a short code z, the latent variable (隐变量); the decoder turns a code back "
         "into a picture, p(x|z). Codes of similar digits land near each other.",
         r"\begin{aligned} x &\;\xrightarrow{\text{encoder}}\; q(z \mid x) \\"
         r" z &\;\xrightarrow{\text{decoder}}\; p(x \mid z) \end{aligned}",
         map_step),
    Step("EM for a mixture of Gaussians",
         "The article starts from EM (期望最大化) for a Gaussian mixture (高斯混合模型): Z is the component each "
         "point came from. For any distribution Q(Z), log p(X) splits into a lower bound and a KL. The E-step sets "
         "Q to the posterior P(Z|X), closing the KL; the M-step raises the bound over θ. Here EM runs on this "
         "model's codes.",
         r"\begin{aligned} \log p(X) &= \mathrm{ELBO}(Q, \theta) \\"
         r" &\quad + \mathrm{KL}\big(Q(Z) \,\|\, P(Z \mid X)\big) \end{aligned}",
         em_step),
    Step("The VAE: EM with an amortized E-step",
         "In a VAE, z is continuous and the posterior p(z|x) has no closed form. Instead of a Q for every digit, "
         "one network, the encoder, gives every digit its q(z|x) in a single pass (amortized inference, "
         "摊销推断): a mean μ(x) and a standard deviation σ(x) per dimension.",
         r"q_\phi(z \mid x) = \mathcal{N}\big(z;\; \mu_\phi(x),\; \operatorname{diag} \sigma^2_\phi(x)\big)",
         encoder_step),
    Step("The evidence lower bound",
         "Training maximizes the evidence lower bound (ELBO, 证据下界) of every digit: how well its codes "
         "reconstruct it, minus how far q(z|x) strays from the prior p(z). The app shows its negative, −ELBO, in "
         "nats per image: reconstruction plus KL, an upper bound on −log p(x).",
         r"\begin{aligned} \log p(x) \;\ge\; \mathrm{ELBO}(x) &= \mathbb{E}_{q(z\mid x)}\big[\log p(x \mid z)\big]"
         r" \\ &\quad - \mathrm{KL}\big(q(z \mid x) \,\|\, p(z)\big) \end{aligned}",
         elbo_step),
    Step("The KL term, in closed form",
         "For a Gaussian q(z|x) and the prior p(z) = N(0, I), the KL (KL散度) is a sum over dimensions with no "
         "sampling. A dimension whose KL is near 0 for every digit carries nothing: the decoder ignores it.",
         r"\begin{aligned} &\mathrm{KL}\big(\mathcal{N}(\mu, \sigma^2) \,\|\, \mathcal{N}(0, 1)\big) \\"
         r" &\quad = \tfrac{1}{2}\big(\mu^2 + \sigma^2 - 1 - \log \sigma^2\big) \end{aligned}",
         kl_step),
    Step("Why reparameterize",
         "The reconstruction term's gradient with respect to the encoder's parameters φ is an expectation under "
         "q_φ itself. The score function estimates it without differentiating z, with a huge variance; the "
         "reparameterization trick (重参数技巧) writes z = μ + σ·ε with ε ~ N(0, I), so the gradient flows "
         "through z. (The article's code draws ε uniformly, a bug: its z are then no samples of q(z|x).)",
         r"\begin{aligned} \nabla_\phi\, \mathbb{E}_{q_\phi(z\mid x)}[f(z)] &= \mathbb{E}_{q_\phi}\big[f(z)\,"
         r" \nabla_\phi \log q_\phi(z \mid x)\big] \\ &= \mathbb{E}_{\varepsilon \sim \mathcal{N}(0, I)}"
         r"\big[\nabla_\phi f(\mu_\phi + \sigma_\phi \varepsilon)\big] \end{aligned}",
         reparam_step),
    Step("Decoding from the prior",
         "The decoder can draw anything: pick a code z, from the prior p(z) or by hand, and decode it. Moving "
         "one coordinate of z changes one thing about the digit; a sample of the prior is a new digit.",
         r"z \sim p(z) = \mathcal{N}(0, I), \qquad x \sim p(x \mid z)",
         prior_step),
    Step("Where the model is wrong: prior holes",
         "The codes of real digits, the aggregate posterior q(z), need not fill the prior. A prior sample where "
         "q(z) is thin decodes to no digit in particular: the ELBO's KL term pulls each q(z|x) towards p(z), but "
         "nothing makes them cover it.",
         r"q(z) = \frac{1}{N} \sum_{n=1}^{N} q(z \mid x_n) \;\text{ against }\; p(z)",
         holes_step),
]
STEP = state.Setting("step", 1, state.int_range(1, len(STEPS)))
