"""The article's own errors, each beside its correction and the code of this project that does it
right, shown on the article's pages (EM and mixtures, Why reparameterize) and listed in the README;
and the last of them measured: a run trained with the article's uniform eps beside the same recipe
with Gaussian eps (checkpoints/article-eps-uniform and article-eps-gaussian)."""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from ui import caches
from ui.charts import TEST, TRAIN
from vae.services.runs import read_run_log

# (what the article writes, what is right, where this project does it: "file: name", "; " between)
ERRORS = [
    ("Q(Z) is called the prior.",
     "Q(Z) is a distribution over the latent variables that the E-step sets to the posterior P(Z|X); the prior "
     "is P(Z) (p(z) = N(0, I) in the VAE).",
     "vae/models/gmm.py: MixtureEM.step"),
    ("\"M-step\" where the E-step is meant.",
     "Setting Q to the posterior (closing the KL) is the E-step; the M-step maximizes the ELBO over θ with Q "
     "held.",
     "vae/models/gmm.py: MixtureEM.step; vae/models/gmm.py: MixtureEM._m_step"),
    ("The gradient is written with respect to Q.",
     "The gradient is with respect to the encoder's parameters φ of q_φ(z|x): ∇_φ E_q[f(z)].",
     "vae/analysis/gradients.py: estimate"),
    ("μ where μ² belongs, in the KL's expansion (its final formula is right).",
     "KL(N(μ, σ²) ‖ N(0, 1)) = ½ (μ² + σ² − 1 − log σ²), per dimension.",
     "vae/models/latents.py: Gaussian.kl_per_unit"),
    ("z = ε·μ + σ.",
     "z = μ + σ·ε.",
     "vae/models/latents.py: Gaussian.sample"),
    ("Without reparameterization the encoder gets only the KL's gradient.",
     "The score function gives the reconstruction term an unbiased gradient too, only of far higher variance: "
     "that is the argument for reparameterizing (the Why reparameterize page measures it).",
     "vae/analysis/gradients.py: estimate"),
    ("ε is drawn uniformly (torch.rand_like) in the code.",
     "ε ~ N(0, I) (torch.randn): z = μ + σ·ε is then a sample of q(z|x). (`--eps uniform` trains the bug on purpose.)",
     "vae/models/latents.py: Gaussian.sample; vae/models/model.py: VAE.forward"),
]
RUNS = ("article-eps-uniform", "article-eps-gaussian")  # the same recipe, the article's eps and the right one


def article_errors() -> None:
    """The list, and the uniform eps measured."""
    st.subheader("The article's own errors")
    st.caption("What the article writes, what is right, and where this project does it right.")
    # One item each rather than a table: three columns of sentences do not fit a phone.
    for number, (wrong, right, where) in enumerate(ERRORS, 1):
        code = "; ".join(f"`{part}`" for part in where.split("; "))
        st.markdown(f"{number}. **The article:** {wrong}  \n**Correction:** {right}  \n**In this project:** {code}")
    folder = caches.CHECKPOINTS_DIR  # read when drawn: tests point it elsewhere
    logs = {name: read_run_log(folder / name) for name in RUNS if (folder / name).is_dir()}
    if len(logs) < 2 or not all(log.history for log in logs.values()):
        st.caption("The uniform ε measured: train `python -m vae train --eps uniform` and the same recipe without "
                   "it, into checkpoints/article-eps-uniform and checkpoints/article-eps-gaussian.")
        return
    st.markdown("**The uniform ε, measured.** The same recipe (`python -m vae train`'s defaults) trained twice: "
                "with the article's ε ~ U[0, 1) and with ε ~ N(0, I). Both are evaluated the right way, with "
                "Gaussian ε.")
    uniform, gaussian = (logs[name].history[-1] for name in RUNS)
    c1, c2 = st.columns(2)
    for column, name, last in ((c1, "uniform ε (the article)", uniform), (c2, "Gaussian ε", gaussian)):
        column.metric(f"{name}: training loss (as trained)", f"{last['train_recon'] + last['train_kl']:.1f}")
        column.metric(f"{name}: test −ELBO (Gaussian ε)", f"{last['test_elbo']:.1f}")
    figure = go.Figure()
    for name, dash in zip(RUNS, (None, "dot")):
        history = logs[name].history
        epochs = [h["epoch"] for h in history]
        label = "uniform ε" if name.endswith("uniform") else "Gaussian ε"
        figure.add_trace(go.Scatter(x=epochs, y=[h["train_recon"] + h["train_kl"] for h in history], name=f"{label}: "
                                    "training loss", line=dict(color=TRAIN, dash=dash), mode="lines+markers"))
        figure.add_trace(go.Scatter(x=epochs, y=[h["test_elbo"] for h in history], name=f"{label}: test −ELBO",
                                    line=dict(color=TEST, dash=dash), mode="lines+markers"))
    figure.update_layout(height=360, margin=dict(l=10, r=10, t=30, b=90), xaxis_title="epoch",
                         yaxis_title="nats per image", title="Uniform ε (solid) against Gaussian ε (dotted)",
                         legend=dict(orientation="h", yref="container", y=0, yanchor="bottom"))
    st.plotly_chart(figure, width="stretch")
    st.caption("With ε ≥ 0 the decoder sees z = μ + σ·ε on one side of μ only, with a smaller spread than q(z|x) "
               "has, so its training loss looks better; but the model then meets a σ·ε it never learned from "
               "when z is drawn as q(z|x) says, and its test −ELBO is far worse. (The KL term is the closed form "
               "either way: it never sees ε.)")
