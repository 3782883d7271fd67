"""Compare two models on the same test digits: every run's place on the rate-distortion plane, the
per-image -ELBO difference, the two maps aligned (Procrustes) with one linked selection, and
reconstructions side by side."""
import re

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from ui import state
from ui.caches import (
    CHECKPOINTS_DIR,
    class_names,
    current_model,
    dataset,
    image_figures,
    latent_map,
    model_in,
    nouns,
    whole_model,
)
from ui.charts import PALETTE, label_places, latent_scatter
from ui.page import page_header, show_digit
from ui.text import chart_text, literal, share_text
from vae.analysis.diagnostics import share_interval
from vae.analysis.figure_labels import FIGURE_SAMPLES
from vae.analysis.projection import PROJECTIONS, align_to
from vae.datasets import dataset_info
from vae.images import grid
from vae.services.runs import list_runs, run_folder

checkpoint, hash_ = current_model()
thing, things = nouns()
test_count = f"{len(dataset(checkpoint.config.dataset, 'test')[0]):,}"
page_header("Compare models", f"Two checkpoints on the same {test_count} test {things}: where each run sits between "
            f"rate (KL) and distortion (reconstruction), which {things} one models better than the other, and their "
            f"maps aligned so that one selection shows the same {things} on both.")
names = class_names()
runs = [e for e in list_runs(CHECKPOINTS_DIR) if e.ok]
me = st.session_state.get(state.CHECKPOINT)


def kl_parts_text(last: dict) -> str:
    """The rate's two parts (vae/training/information.py), where the run's last epoch recorded them."""
    if "test_mutual_information" not in last:
        return ""
    return (f"<br>= I_q(n; z) {last['test_mutual_information']:.1f} + KL(q(z) ‖ p(z)) {last['test_marginal_kl']:.1f}"
            f" (± {last['test_kl_parts_stderr']:.2f})")


def sweeps(entries: list) -> dict[str, list]:
    """The runs of each β sweep (named `<stem>-beta<b>` by the Train page) among `entries`, by β."""
    found: dict[str, list] = {}
    for e in entries:
        if match := re.fullmatch(r"(.+)-beta[0-9.eE+-]+", e.name):  # as the Train page writes {beta:g}
            found.setdefault(match.group(1), []).append(e)
    return {stem: sorted(runs, key=lambda e: e.config.beta) for stem, runs in found.items() if len(runs) > 1}


RIGHT_MARGIN = 80  # px right of the rate-distortion plot, where names may go


def rate_distortion() -> tuple[go.Figure, list[str]]:
    """One point per run on this dataset: its last epoch's test KL against its test reconstruction,
    in one group per way of scoring (pixels and likelihood: their nats are not on one scale); and the
    runs whose names found no room beside their points."""
    fig = go.Figure()
    mine = checkpoint.config.dataset
    groups = sorted({e.config.scored_as for e in runs if e.config.dataset == mine}, key=str)
    drawn = [e for e in runs if e.history and e.config.scored_as in groups]
    place = dict(zip([e.name for e in drawn], label_places([e.history[-1]["test_kl"] for e in drawn],
                                                           [e.history[-1]["test_recon"] for e in drawn],
                                                           [e.name for e in drawn], right_margin=RIGHT_MARGIN)))
    for g, group in enumerate(groups):
        chosen = [e for e in runs if e.history and e.config.scored_as == group]
        if chosen:
            fig.add_trace(go.Scatter(
                x=[e.history[-1]["test_kl"] for e in chosen], y=[e.history[-1]["test_recon"] for e in chosen],
                mode="markers+text", text=[chart_text(e.name) if place[e.name] else "" for e in chosen],
                textposition=[place[e.name] or "top center" for e in chosen],
                name=chosen[0].config.likelihood_text,
                cliponaxis=False,
                marker=dict(size=[16 if e.name == me else 10 for e in chosen],
                            symbol=("circle", "diamond", "square", "triangle-up")[g % 4], color=PALETTE[g % 10],
                            line=dict(color="#808080", width=[3 if e.name == me else 0 for e in chosen])),
                customdata=[[e.config.beta, kl_parts_text(e.history[-1]), e.history[-1].get("active_units", "?"),
                             e.config.latent_dim, chart_text(e.name)] for e in chosen],
                hovertemplate="%{customdata[4]}: KL %{x:.1f}, recon %{y:.1f} nats (β = %{customdata[0]}, active units "
                              "%{customdata[2]} of %{customdata[3]})%{customdata[1]}<extra></extra>"))
            for stem, sweep in sweeps(chosen).items():  # a β sweep's runs, joined in the order of β
                fig.add_trace(go.Scatter(x=[e.history[-1]["test_kl"] for e in sweep],
                                         y=[e.history[-1]["test_recon"] for e in sweep], mode="lines",
                                         line=dict(color=PALETTE[g % 10], dash="dot"), hoverinfo="skip",
                                         name=f"β sweep {chart_text(stem)}"))
    fig.update_layout(height=360, margin=dict(l=10, r=RIGHT_MARGIN, t=30, b=10),
                      title=f"Rate–distortion, {dataset_info(mine).title} runs (ringed: {chart_text(me)})",
                      xaxis_title="rate: KL (nats)", yaxis_title="distortion: reconstruction (nats)",
                      legend=dict(orientation="h", y=-0.25))
    return fig, [e.name for e in drawn if not place[e.name]]


def per_image_rd(figures: dict, labels: np.ndarray) -> go.Figure:
    """One point per test image of the selected model: its KL against its reconstruction."""
    fig = go.Figure()
    for c in range(len(names)):
        idx = np.flatnonzero(labels == c)
        fig.add_trace(go.Scattergl(x=figures["kl"][idx], y=figures["recon"][idx], mode="markers", name=names[c],
                                   marker=dict(size=3, color=PALETTE[c % 10], opacity=0.6), customdata=idx,
                                   hovertemplate="#%{customdata}: KL %{x:.1f}, recon %{y:.1f}<extra></extra>"))
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=30, b=10), title=f"Per {thing}, {chart_text(me)} (test)",
                      xaxis_title="KL (nats)", yaxis_title="reconstruction (nats)",
                      legend=dict(orientation="h", y=-0.25, itemsizing="constant"))
    return fig


labels = dataset(checkpoint.config.dataset, "test")[1].numpy()
mine = image_figures("test")
c1, c2 = st.columns(2)
rd, unlabelled = rate_distortion()
c1.plotly_chart(rd, width="stretch")
if unlabelled:  # points on top of one another, or a name with no room beside its point
    c1.caption("Unlabelled, for want of room (point at or tap a point for its name): "
               + ", ".join(literal(name) for name in unlabelled))
c2.plotly_chart(per_image_rd(mine, labels), width="stretch")

same_data = [e for e in runs if e.name != me and e.config.dataset == checkpoint.config.dataset]
if not same_data:
    st.info("Train another model on this dataset (the Train page) to compare it with this one.")
    st.stop()
comparable = [e.name for e in same_data if e.config.scored_as == checkpoint.config.scored_as]
others = comparable + [e.name for e in same_data if e.name not in comparable]
OTHER = state.Setting("other", comparable[0] if comparable else None, state.TEXT)
# A run gone since, a link's name of none, or nothing chosen while a comparable run exists (the box
# was cleared, or the sidebar switched to a model that has one): the default partner.
if OTHER.current() not in others and not (OTHER.current() is None and not comparable):
    OTHER.set(OTHER.default)
entries = {e.name: e for e in same_data}
other = OTHER.widget(st.selectbox, f"Compare {literal(me)} with", others, index=None,
                     placeholder="Choose a run", format_func=lambda n: n if n in comparable else
                     f"{n} (scored otherwise: {entries[n].config.likelihood_text})",
                     help="Runs on the same dataset; those scored like this one (the same pixels and likelihood) "
                          "first, since only their −ELBOs compare")
if other is None:  # only when no run is comparable (above)
    st.info(f"No other run on this dataset is scored as {literal(me)} is (a {checkpoint.config.likelihood_text}), "
            "so none has a −ELBO to compare with its own. Choose one anyway to compare their maps and "
            "reconstructions.")
    st.stop()
theirs_model = model_in(run_folder(CHECKPOINTS_DIR, other))
theirs = image_figures("test", model=theirs_model)
like_with_like = other in comparable
if not like_with_like:
    why = ("one bounds −log p(x | y), the class given, the other −log p(x)"
           if checkpoint.config.conditional != theirs_model[0].config.conditional else
           "a Gaussian likelihood's perfect reconstruction scores about −1,085 nats")
    st.warning(f"{literal(me)} is scored on {checkpoint.config.likelihood_text}, {literal(other)} on "
               f"{theirs_model[0].config.likelihood_text}: their −ELBOs are in nats of different things ({why}), so "
               "neither is ranked above the other. Their maps and reconstructions below still compare.",
               icon=":material/warning:")

difference = theirs["elbo"] - mine["elbo"]
error = difference.std(ddof=1) / np.sqrt(len(difference))  # of the mean difference, over the test digits
a, b, c = st.columns(3)
a.metric(f"−ELBO, {literal(me)}", f"{mine['elbo'].mean():.2f}")
b.metric(f"−ELBO, {literal(other)}", f"{theirs['elbo'].mean():.2f}",
         f"{difference.mean():+.2f} ± {error:.2f}" if like_with_like else None, delta_color="inverse",
         help=f"The difference with its standard error over the test {things}" if like_with_like else None)
if like_with_like:
    better = int((difference < 0).sum())
    low, high = share_interval(better, len(difference))
    c.metric(f"{things.capitalize()} {literal(other)} models better", share_text(better / len(difference)),
             help=f"The share of the {test_count} test {things} whose estimated −ELBO ({FIGURE_SAMPLES} samples of "
                  f"q(z|x) each: near ties can fall either way) is lower under {literal(other)}; its interval is under "
                  "the figures")
    st.caption(f"The share of {things} {literal(other)} models better: 95% interval {share_text(low)} to "
               f"{share_text(high)} (Wilson's), for {things} drawn from the same distribution.")
st.caption(f"Each −ELBO here is the mean over the {test_count} test {things} of each {thing}'s −ELBO, itself averaged "
           f"over {FIGURE_SAMPLES} samples of q(z|x): a Monte Carlo estimate. The sidebar's figure is a separate "
           f"evaluation at the end of training, from one sample per {thing} (for a bundled model, of its weights "
           "before they were stored in float16), so the two differ by sampling noise, hundredths of a nat.")
if like_with_like:  # a histogram of differences only where they mean something
    spread = go.Figure(go.Histogram(x=difference, nbinsx=80, marker_color=PALETTE[0]))
    spread.add_vline(x=0, line_dash="dot")
    # The runs' names in a caption, not the title: a phone cut the title after the first of them
    spread.update_layout(height=260, margin=dict(l=10, r=10, t=30, b=10), bargap=0.05,
                         title=f"Per {thing}: the difference of −ELBOs", xaxis_title="nats", yaxis_title=things)
    st.plotly_chart(spread, width="stretch")
    st.caption(f"Each test {thing}'s −ELBO under {literal(other)} minus its −ELBO under {literal(me)}: left of 0, "
               f"{literal(other)} models it better.")

MAP_HEIGHT = 460
mine_map = latent_map("test")
theirs_map = latent_map("test", model=theirs_model)
aligned = align_to(theirs_map.xy, mine_map.xy)
PICKED = state.Setting("compare_picked", [], state.int_list(0, len(labels) - 1))


def picked_on(key: str) -> None:
    points = st.session_state[key].selection.points
    PICKED.set([int(p["customdata"]) for p in points if "customdata" in p][:200])


picked = PICKED.get()
st.subheader(f"The two maps ({PROJECTIONS[mine_map.projection]}): {literal(other)}'s aligned to {literal(me)}'s")
st.caption(f"Select {things} on either map (click, shift-click, box or lasso): they are marked on both.")
c1, c2 = st.columns(2)
for column, key, name, xy in ((c1, "compare_a", me, mine_map.xy), (c2, "compare_b", other, aligned)):
    marks = {"picked": (xy[picked], "circle-open")} if picked else None
    with column:
        st.caption(literal(name))
        st.plotly_chart(latent_scatter(xy, labels, names, marks=marks, height=MAP_HEIGHT), key=key,
                        on_select=lambda key=key: picked_on(key), selection_mode=("points", "box", "lasso"),
                        width="stretch")


def side_by_side(indices: list[int], title: str) -> None:
    images, labels = (t[indices] for t in dataset(checkpoint.config.dataset, "test"))
    rows = [images.float().div(255).numpy()]
    for model_and_hash in ((checkpoint, hash_), theirs_model):
        model, _ = whole_model(*model_and_hash)  # a conditional model reconstructs each digit as its own class
        with torch.no_grad():
            y = labels.to(model.device)
            rows.append(model.decode(model.code(images.float().div(255).to(model.device), y), y).cpu().numpy())
    st.markdown(title)
    show_digit(grid(np.concatenate(rows), cols=len(indices)), scale=2)
    st.caption(f"Rows: the {thing}, {literal(me)}'s reconstruction, {literal(other)}'s." + (
        f" −ELBO {literal(me)} / {literal(other)}: "
        + ", ".join(f"#{i} {mine['elbo'][i]:.0f}/{theirs['elbo'][i]:.0f}" for i in indices) if like_with_like else ""))


if picked:
    side_by_side(picked[:12], f"**{min(len(picked), 12)} of the {len(picked)} selected {things}**")
if like_with_like:
    order = np.argsort(difference)
    side_by_side(order[:8].tolist(), f"**Where {literal(other)} is better** (its −ELBO lowest against {literal(me)}'s)")
    side_by_side(order[::-1][:8].tolist(), f"**Where {literal(me)} is better**")
elif not picked:
    side_by_side(list(range(8)), f"**The first 8 test {things}**")
