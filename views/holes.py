"""Prior holes: the aggregate posterior q(z) = (1/N) sum_n q(z|x_n) against the prior p(z). Prior
samples that land where q(z) has almost no mass decode to something the decoder never learned:
why some prior samples look bad (vae/analysis/diagnostics.py)."""
import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from ui import state
from ui.caches import (
    current_model,
    dataset,
    digit_classifier,
    full_data_available,
    kl_and_activity,
    nouns,
    whole_model,
)
from ui.charts import PALETTE
from ui.page import page_header, show_digit
from vae.analysis.diagnostics import prior_holes
from vae.analysis.walks import decode_numpy
from vae.images import grid
from vae.training.evaluate import posteriors

thing, things = nouns()
page_header("Prior holes", "Where the prior p(z) puts mass that the encoder never uses. The aggregate posterior "
            f"q(z) is the mixture of the {things}' posteriors q(z|x); a prior sample z in a hole has a density ratio "
            f"q(z) / p(z) lower than almost all of q(z)'s own samples, and decodes to no {thing} in particular.")

checkpoint, hash_ = current_model()
model = checkpoint.model
SPLITS = {"train": f"training {things}", "test": f"test {things}"}
splits = [name for name in SPLITS if name == "test" or full_data_available(checkpoint.config.dataset)]
SPLIT = state.holes_of(tuple(splits))
SAMPLES = state.HOLES_N
c1, c2 = st.columns(2)
split = SPLIT.widget(c1.radio, "Aggregate posterior of the", splits, format_func=SPLITS.get, horizontal=True,
                     help=f"The training {things}' (what the decoder learned from) when the training set is here")
n = SAMPLES.widget(c2.select_slider, "Prior samples", [100, 200, 500, 1000, 2000, 5000])


SPLIT_SEED = 0  # which half of the images makes the density (prior_holes)


@st.cache_resource(max_entries=4, show_spinner="Comparing the prior with the aggregate posterior")
def holes_of(_model, hash_: str, dataset_name: str, split: str, n: int):
    """`_model`: a whole_model (a conditional one encodes each digit with its own class)."""
    images, labels = dataset(dataset_name, split)
    q = posteriors(_model, images, labels=labels)
    holes = prior_holes(q, _model.latent, n=n, seed=SPLIT_SEED)
    aggregate = q.sample(torch.Generator().manual_seed(1))  # one sample of q(z|x) per image: q(z)'s
    intervals = holes.intervals()  # cached with the rest: a few hundred MB of resamples at 5,000 samples
    return holes, intervals["excess"], intervals["fraction"], aggregate.numpy(), q


holes, (excess, low, high), (share_low, share_high), aggregate, q = holes_of(
    *whole_model(checkpoint, hash_), checkpoint.config.dataset, split, n)
m1, m2 = st.columns(2)
tail = holes.quantile
m1.metric(f"Prior samples in a hole (of {n:,})", f"{holes.fraction:.1%}",
          help=f"Their log q(z)/p(z) is below what {1 - tail:.0%} of the aggregate posterior's own samples reach: "
               f"threshold {holes.threshold:.1f} nats. 95% bootstrap interval {share_low:.1%} to {share_high:.1%}")
m2.metric("Beyond what the criterion flags anyway", f"{100 * excess:+.1f} points",
          help="The share in holes minus the share of q(z)'s own samples that the same criterion flags (here "
               f"{holes.null_fraction:.1%}: about {tail:.0%} by construction, what a prior equal to q(z) would score), "
               "with its 95% bootstrap interval over the prior samples and q(z)'s")
st.caption(f"95% intervals: the share in holes {share_low:.1%} to {share_high:.1%}, the excess {100 * low:+.1f} to "
           f"{100 * high:+.1f} points. The aggregate posterior here is "
           f"that of {holes.density_images:,} of the {len(aggregate):,} {SPLITS[split]}; the other half's posteriors "
           f"give q(z)'s own samples. The share depends on how many {things} make the density (for the bundled "
           "default model it rose from 10-16% with 1,000 to 22-26% with 30,000) and on which half makes it (the "
           f"split is random, with seed {SPLIT_SEED} here), so compare shares of equally many {things}.")

histogram = go.Figure()
histogram.add_trace(go.Histogram(x=holes.reference, name="samples of q(z)", opacity=0.6, histnorm="probability",
                                 marker_color=PALETTE[0]))
histogram.add_trace(go.Histogram(x=holes.log_ratio, name="samples of p(z)", opacity=0.6, histnorm="probability",
                                 marker_color=PALETTE[1]))
histogram.add_vline(x=holes.threshold, line_dash="dot", annotation_text="hole below")
histogram.update_layout(barmode="overlay", height=300, margin=dict(l=10, r=10, t=30, b=10),
                        title="log q(z) − log p(z) at samples of each", xaxis_title="nats",
                        legend=dict(orientation="h", y=-0.3))

kl, active = kl_and_activity()
top = ([int(d) for d in np.argsort(-kl)[:2]] * 2)[:2]  # a model with one latent unit: it against itself
letter = checkpoint.model.latent.letter
density = go.Figure()
if checkpoint.model.latent.continuous:
    # Empty bins transparent: a white square would glare in the dark theme.
    density.add_trace(go.Histogram2d(x=aggregate[:, top[0]], y=aggregate[:, top[1]], nbinsx=60, nbinsy=60,
                                     colorscale=[[0, "rgba(76,120,168,0)"], [0.02, "rgba(76,120,168,0.25)"],
                                                 [1, "rgba(31,70,140,1)"]], showscale=False, name="q(z)",
                                     xbins=dict(start=-4, end=4), ybins=dict(start=-4, end=4)))
    z = holes.prior_z.numpy()
    # The prior samples light and small; those in a hole above them; the prior's rings on top.
    density.add_trace(go.Scatter(x=z[~holes.in_hole, top[0]], y=z[~holes.in_hole, top[1]], mode="markers",
                                 name="prior sample", marker=dict(size=3, color="#2ca02c", opacity=0.35)))
    density.add_trace(go.Scatter(x=z[holes.in_hole, top[0]], y=z[holes.in_hole, top[1]], mode="markers",
                                 name="in a hole", marker=dict(size=5, color="#d62728", symbol="x", opacity=0.8)))
    angle = np.linspace(0, 2 * np.pi, 100)
    for r in (1, 2, 3):  # on top of every marker
        density.add_trace(go.Scatter(x=r * np.cos(angle), y=r * np.sin(angle), mode="lines", hoverinfo="skip",
                                     line=dict(color="#808080", width=1.5, dash="dot"), showlegend=r == 1,
                                     name="p(z): 1, 2, 3 σ"))
    density.update_xaxes(range=[-4, 4], title=f"{letter}{top[0]}")
    density.update_yaxes(range=[-4, 4], title=f"{letter}{top[1]}", scaleanchor="x")
    title = f"q(z) (blue) and prior samples, {letter}{top[0]} × {letter}{top[1]}"
else:
    probs = q.probs  # (N, variables, K)
    joint = torch.einsum("ni,nj->ij", probs[:, top[0]], probs[:, top[1]]) / len(probs)  # q(v_a, v_b)
    density.add_trace(go.Heatmap(z=np.log(joint.numpy() * probs.shape[-1] ** 2), colorscale="RdBu", zmid=0,
                                 colorbar=dict(title="log q/p", thickness=10)))
    k = probs.shape[-1]
    density.update_xaxes(title=f"{letter}{top[1]} category", dtick=1, range=[-0.5, k - 0.5], constrain="domain")
    density.update_yaxes(title=f"{letter}{top[0]} category", dtick=1, range=[-0.5, k - 0.5], constrain="domain",
                         scaleanchor="x")
    title = f"log q(z)/p(z), {letter}{top[0]} × {letter}{top[1]} (red: a hole)"
density.update_layout(height=420, margin=dict(l=10, r=10, t=30, b=10), title=title,
                      legend=dict(orientation="h", y=-0.2))
c1, c2 = st.columns(2)
c1.plotly_chart(density, width="stretch")
if checkpoint.model.latent.continuous:
    c1.caption(f"Two of the {len(kl)} dimensions, the two with the most KL. Whether a sample is in a hole is judged in "
               "all of them: a red cross can sit where q(z) is dense in these two, and be in a hole in the others.")
c2.plotly_chart(histogram, width="stretch")

deepest = np.argsort(holes.log_ratio)[:16]
fullest = np.argsort(-holes.log_q)[:16]
images = {name: decode_numpy(model, holes.prior_z[idx]) for name, idx in (("holes", deepest), ("full", fullest))}
classifier = digit_classifier(checkpoint.config.dataset)


def confidence(pictures: np.ndarray) -> str:
    if classifier is None:
        return ""
    probs = classifier.probabilities(torch.from_numpy(pictures).float())
    return f" (the classifier's mean confidence: {float(probs.max(-1).values.mean()):.0%})"


c1, c2 = st.columns(2)
with c1:
    st.markdown("**The 16 prior samples deepest in holes**" + confidence(images["holes"]))
    show_digit(grid(images["holes"], cols=8), scale=2)
with c2:
    which = "training" if split == "train" else "test"
    st.markdown(f"**The 16 where the {which} {things}' codes are densest** (highest q(z))" + confidence(images["full"]))
    show_digit(grid(images["full"], cols=8), scale=2)
if st.button("Open the deepest hole in the sliders", icon=":material/tune:"):
    state.open_in_sliders(holes.prior_z[deepest[0]].numpy())
