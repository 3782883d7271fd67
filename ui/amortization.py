"""The map inspector's amortization gap: the encoder's q(z|x) of one digit against the Gaussian fitted
to that digit alone (vae/analysis/amortization.py), in numbers and on the map."""
from __future__ import annotations

import streamlit as st
import torch

from ui.charts import posterior_cloud
from ui.text import signed
from vae.analysis.amortization import BOUND_REPEATS, OPTIMIZE_STEPS, amortization_gaps
from vae.training.evaluate import prepare

CLOUD = 16  # samples of each posterior drawn on the map


@st.cache_data(max_entries=32, show_spinner=f"Fitting this image's own q(z|x): {OPTIMIZE_STEPS} gradient steps")
def _gaps(_model, hash_: str, scope: str, index: int, _image: torch.Tensor) -> dict:
    x = prepare(_image[None], _model.config.binarize).to(_model.device)
    g = amortization_gaps(_model, x)
    noise = torch.randn(CLOUD, g.amortized.mu.shape[1], generator=torch.Generator().manual_seed(index))
    clouds = {name: (q.mu[0].cpu().numpy(), (q.mu[0].cpu() + torch.exp(0.5 * q.logvar[0].cpu()) * noise).numpy())
              for name, q in (("amortized", g.amortized), ("optimized", g.optimized))}
    return {"amortized": float(g.amortized_elbo[0]), "optimized": float(g.optimized_elbo[0]),
            "bound": float(g.log_px_bound[0]), "bound_stderr": float(g.bound_stderr[0]),
            "approximation_stderr": float(g.approximation_stderr[0]),
            "gap_stderr": float(g.gap_stderr[0]),
            "stderr": float(max(g.amortized_stderr[0], g.optimized_stderr[0])), "samples": g.samples, "clouds": clouds}


def amortization_section(model, hash_: str, scope: str, image: torch.Tensor, index: int, lmap,
                         names: list[str]) -> None:
    """For digit `index` (uint8 `image`) of the map's `scope`: the button, then its ELBOs, gaps and both
    posteriors on the map."""
    st.markdown("**The encoder against this image's own best Gaussian** (the amortization gap, Cremer et al. 2018)")
    if not model.latent.continuous:
        st.caption("Measured for Gaussian latents: this model's are categorical.")
        return
    key = f"amortization-{hash_[:8]}-{scope}-{index}"
    if not st.session_state.get(key) and not st.button(f"Fit #{index}'s own q(z|x)", icon=":material/tune:",
                                                       help=f"{OPTIMIZE_STEPS} gradient steps on this image's ELBO "
                                                            "alone, from the encoder's output: a few seconds"):
        st.caption("The encoder computes q(z|x) for every image with one network. Fitting a Gaussian to this image "
                   "alone shows how much ELBO that sharing costs it.")
        return
    st.session_state[key] = True
    gaps = _gaps(model, hash_, scope, index, image)
    c1, c2, c3 = st.columns(3)
    c1.metric("ELBO, the encoder's q(z|x)", signed(gaps["amortized"]))
    c2.metric("ELBO, the fitted q*(z|x)", signed(gaps["optimized"]),
              f"{gaps['optimized'] - gaps['amortized']:+.2f} ± {gaps['gap_stderr']:.2f}",
              help="Mean and log-variance fitted by Adam to this image's ELBO, from the encoder's output")
    c3.metric("IWAE bound of log p(x)", f"{signed(gaps['bound'])} ± {gaps['bound_stderr']:.2f}",
              help=f"The mean of {BOUND_REPEATS} independent bounds, each with {gaps['samples']:,} samples of q* as "
                   "the proposal: a lower bound of log p(x) in expectation, ± its standard error from their spread")
    st.caption(f"Nats; each ELBO from {gaps['samples']:,} samples (the same for both: ± {gaps['stderr']:.2f} each, "
               f"their difference ± {gaps['gap_stderr']:.2f}). The amortization gap, "
               f"{gaps['optimized'] - gaps['amortized']:.2f} nats, is what one encoder for every image costs this "
               f"one; the approximation gap, at least {gaps['bound'] - gaps['optimized']:.2f} ± "
               f"{gaps['approximation_stderr']:.2f} nats (the IWAE bound is itself below log p(x); the error "
               "combines the two as if independent, an overestimate), is what a Gaussian q costs it, however well "
               "fitted.")
    (a_mean, a_samples), (o_mean, o_samples) = gaps["clouds"]["amortized"], gaps["clouds"]["optimized"]
    st.plotly_chart(posterior_cloud(lmap.xy, lmap.labels, names, lmap.place(a_mean[None])[0], lmap.place(a_samples),
                                    other=("q*", lmap.place(o_mean[None])[0], lmap.place(o_samples))),
                    width="stretch", key="amortization_cloud")
