"""Disentanglement: for images whose generative factors are known (the sprites), which latent
dimension knows which factor: the mutual information of each with each, MIG and DCI, each factor
swept as the generator draws it beside the model's best dimension for it, and the β sweep's runs."""
import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from ui import state
from ui.caches import CHECKPOINTS_DIR, current_model, encodings, kl_and_activity, model_in, whole_model
from ui.factors import DCI_CODES, dci_of, factor_heatmap, factor_sweep, report_of, test_factors
from ui.page import page_header, show_digit
from ui.text import chart_text
from vae.analysis.disentanglement import BOOTSTRAP
from vae.analysis.walks import decode_numpy, dims_by_kl, traversal
from vae.datasets import REGISTRY, dataset_info
from vae.images import grid
from vae.models.latents import ACTIVE_THRESHOLD
from vae.services.runs import list_runs

page_header("Disentanglement", "Does each latent dimension stand for one of the factors that drew the images? For "
            "data whose factors are known, the sprites (a shape at a scale, an orientation and a position), this "
            "page measures what each dimension of the codes knows of each factor (Higgins et al. 2017: a β-VAE, "
            "β > 1, should separate them more).")

checkpoint, hash_ = current_model()
whole, whole_hash = whole_model(checkpoint, hash_)
dataset_name = checkpoint.config.dataset
report = report_of(whole, whole_hash, dataset_name)
if report is None:
    with_factors = [d.title for d in REGISTRY.values() if d.factors]
    st.info(f"{dataset_info(dataset_name).title}'s images have no known factors. Pick a model of "
            f"{' or '.join(with_factors)} in the sidebar (the bundled one is sprites-beta4), or train one on the "
            "Train page.", icon=":material/info:")
    st.stop()

model = checkpoint.model
if not model.latent.continuous:
    st.info("This page measures a Gaussian latent's dimensions; a categorical latent's variables are not scored "
            "here yet. Pick a model with a Gaussian latent in the sidebar.", icon=":material/info:")
    st.stop()
kl, active = kl_and_activity()
order = dims_by_kl(list(kl))
letter = model.latent.letter
c1, c2, c3 = st.columns(3)
c1.metric("MIG", f"{report.mig:.3f} ± {report.mig_se:.3f}",
          help="Mutual information gap (Chen et al. 2018): for each factor, what the dimension that knows most of it "
               "knows beyond the runner-up, as a share of the factor's entropy, averaged over the factors. 1: each "
               f"factor in a dimension of its own; 0: none is. ± one standard error over the {report.images:,} test "
               f"sprites ({BOOTSTRAP} bootstrap resamples).")
# Kept for the session and in the URL like the site's other settings: a visit elsewhere while the
# trees are fitted (which drops them: the next visit starts afresh) does not also switch DCI off.
WITH_DCI = state.Setting("dci", False, state.BOOLEAN)
if WITH_DCI.widget(c2.toggle, "DCI too (about half a minute)",
                   help=f"Gradient-boosted trees predict each factor from the first {DCI_CODES:,} test codes, as "
                        "disentanglement_lib does"):
    scores = dci_of(whole, whole_hash, dataset_name)
    c3.metric("DCI disentanglement", f"{scores.disentanglement:.3f}",
              help=f"Eastwood & Williams 2018: each dimension's importance for predicting the factors concentrated "
                   f"on one factor (1) or spread over all (0). Completeness {scores.completeness:.3f} (each factor "
                   f"predicted from one dimension); informativeness {scores.informativeness:.3f} (the trees' "
                   f"accuracy on held-out codes).")
    st.caption(f"DCI: disentanglement {scores.disentanglement:.3f}, completeness {scores.completeness:.3f}, "
               f"informativeness {scores.informativeness:.3f}, from the first {DCI_CODES:,} test codes.")

st.subheader("What each dimension knows of each factor")
st.plotly_chart(factor_heatmap(report, order, kl, active, letter), width="stretch")
st.caption(f"I({letter}_j; factor) / H(factor), from the posterior means of {report.images:,} test sprites: each "
           "dimension discretized into 20 equal-width bins and the counts' mutual information taken (the plug-in "
           "estimator disentanglement_lib uses; biased upwards on few images). Rows by KL, most informative first. "
           f"An inactive dimension (its mean's variance across the test set under {ACTIVE_THRESHOLD}: the decoder "
           "reads noise there) can still show a share: its means follow a factor on a tiny scale, which the bins "
           "count as fully as a large one. MIG counts them too, as disentanglement_lib does; the sweeps below use "
           "active dimensions only. The sprite's orientation is partly ambiguous (a square turned by 90° is the "
           "same image), so no code can know all of it.")

st.subheader("Each factor, as drawn and as the model's best dimension")
factors = test_factors(dataset_name)
index = int(st.number_input("Test sprite", 0, len(factors) - 1, 0, key="factors_sprite",
                            help="Each factor is swept from this sprite's"))
test_codes, _ = encodings(whole, whole_hash, dataset_name)
STEPS = 8
for k, name in enumerate(report.factor_names):
    best = report.best_dimension(k, among=np.flatnonzero(active))
    low, high = np.percentile(test_codes[:, best], [2, 98])
    z = traversal(torch.from_numpy(test_codes[index]), best, torch.linspace(float(low), float(high), STEPS))
    drawn = factor_sweep(dataset_name, factors[index], k, STEPS)
    decoded = decode_numpy(model, z)
    show_digit(grid(np.concatenate([drawn, decoded]), cols=STEPS), scale=3)
    st.caption(f"**{name}**: above, swept over its values by the generator; below, {letter}{best} (which knows "
               f"{report.normalized[best, k]:.0%} of it) from {low:.2f} to {high:.2f}, the middle 96% of the test "
               f"codes, the sprite's other dimensions kept.")

st.subheader("β and disentanglement")
runs = [e for e in list_runs(CHECKPOINTS_DIR) if e.ok and e.config.dataset == dataset_name and e.history
        and e.config.scored_as == checkpoint.config.scored_as]
points = []
for entry in runs:
    other, other_hash = model_in(entry.path)
    mine = report_of(other.model, other_hash, dataset_name)
    points.append((entry, mine.mig, mine.mig_se))
fig = go.Figure(go.Scatter(
    x=[e.history[-1]["test_kl"] for e, _, _ in points], y=[e.history[-1]["test_recon"] for e, _, _ in points],
    mode="markers+text", text=[f"β {e.config.beta:g} · MIG {m:.2f} ± {se:.2f}" for e, m, se in points],
    textposition="top center", cliponaxis=False,
    marker=dict(size=12, color=[m for _, m, _ in points], colorscale="Viridis", cmin=0,
                cmax=max([m for _, m, _ in points] + [0.1]), showscale=True, colorbar=dict(title="MIG", thickness=12)),
    customdata=[[chart_text(e.name)] for e, _, _ in points],
    hovertemplate="%{customdata[0]}: KL %{x:.1f}, recon %{y:.1f} nats<extra></extra>"))
fig.update_layout(height=380, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="rate: test KL (nats)",
                  yaxis_title="distortion: test recon (nats)")
st.plotly_chart(fig, width="stretch")
st.caption(f"Every run of {dataset_info(dataset_name).title} scored as this one is, on the rate–distortion plane, "
           "coloured by its MIG. A larger β buys a lower rate at more distortion; start a sweep (β = 1, 2, 4, 8) on "
           "the Train page to trace it. Each MIG is from its run's own test codes, as above.")
