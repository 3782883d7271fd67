"""The Disentanglement page's caches and charts (vae/analysis/disentanglement.py does the work)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ui.caches import encodings, whole_model
from vae.analysis.disentanglement import DCI, FactorReport, dci, factor_report
from vae.data import load_factors
from vae.datasets import dataset_info

DCI_CODES = 2000  # the codes DCI's gradient-boosted trees see (as `vae eval`): the trees are slow


@st.cache_data(max_entries=4, show_spinner=False)
def test_factors(dataset_name: str) -> np.ndarray | None:
    """The generative factors (N, K) of a dataset's test images, None where they are unknown."""
    return load_factors(dataset_name, "test")


def report_of(model, hash_: str, dataset_name: str) -> FactorReport | None:
    """What the test codes of `model` (a whole_model) know of the factors; None without factors."""
    factors = test_factors(dataset_name)
    if factors is None:
        return None
    return _report(model, hash_, dataset_name)


@st.cache_resource(max_entries=16, show_spinner="Estimating the mutual information of codes and factors")
def _report(_model, hash_: str, dataset_name: str) -> FactorReport:
    codes, _ = encodings(_model, hash_, dataset_name)
    return factor_report(codes, test_factors(dataset_name), dataset_info(dataset_name).factors)


@st.cache_resource(max_entries=8, show_spinner=False)
def dci_of(_model, hash_: str, dataset_name: str) -> DCI:
    codes, _ = encodings(_model, hash_, dataset_name)
    names = dataset_info(dataset_name).factors
    bar = st.progress(0.0, text="Fitting DCI's gradient-boosted trees")
    # Each factor's update is also where a click on the page is taken (one script run at a time:
    # .streamlit/config.toml): the trees for one factor take seconds, all of them most of a minute.
    scores = dci(codes[:DCI_CODES], test_factors(dataset_name)[:DCI_CODES],
                 progress=lambda k, total: bar.progress(k / total, text=f"Fitting DCI's gradient-boosted trees: "
                                                                         f"{names[k]} ({k + 1} of {total})"))
    bar.empty()
    return scores


def factor_heatmap(report: FactorReport, order: list[int], kl: np.ndarray, active: np.ndarray,
                   letter: str = "z") -> go.Figure:
    """I(z_j; v_k) / H(v_k) for the dimensions in `order` (rows, most informative first) and each factor;
    the inactive dimensions' rows say so."""
    shares = report.normalized[order]  # (D, K)
    rows = [f"{letter}{d} · KL {kl[d]:.2f}" + ("" if active[d] else " · inactive") for d in order]
    fig = go.Figure(go.Heatmap(
        z=shares.tolist(), x=list(report.factor_names), y=rows, zmin=0, zmax=1, colorscale="Blues",
        text=[[f"{v:.2f}" for v in row] for row in shares], texttemplate="%{text}",
        colorbar=dict(title="share of<br>H(factor)", thickness=12),
        hovertemplate="%{y}: knows %{z:.0%} of the entropy of %{x}<extra></extra>"))
    fig.update_layout(height=max(260, 26 * len(order) + 90), margin=dict(l=10, r=10, t=10, b=10),
                      yaxis=dict(autorange="reversed"), xaxis=dict(side="top"))
    return fig


def factor_sweep(dataset_name: str, base: np.ndarray, factor: int, steps: int) -> np.ndarray:
    """The sprite of factor tuple `base` with one factor swept over `steps` of its values, evenly
    spaced, as the generator draws it: (steps, side, side) float in [0, 1]."""
    from vae.sprites import FACTORS, render_all

    count = list(FACTORS.values())[factor]
    tuples = np.repeat(base[None], steps, axis=0)
    tuples[:, factor] = np.round(np.linspace(0, count - 1, steps)).astype(np.int64)
    return render_all(tuples, dataset_info(dataset_name).side).astype(np.float32) / 255




def dimension_labels(checkpoint, hash_: str, kl: np.ndarray, active: np.ndarray) -> dict[int, str]:
    """Each latent unit's label, "z3 · KL 2.10", and where the data's factors are known the factor an
    active one knows most of, "z3 · KL 2.10 · x" (the sliders'; see FactorReport.captured_by: an
    inactive unit's means can follow a factor on a scale the decoder does not read)."""
    letter = checkpoint.model.latent.letter
    labels = {d: f"{letter}{d} · KL {kl[d]:.2f}" for d in range(len(kl))}
    report = report_of(*whole_model(checkpoint, hash_), checkpoint.config.dataset)
    for d in labels if report is not None and len(report.mi) == len(kl) else ():
        if active[d] and (factor := report.captured_by(d)):
            labels[d] += f" · {factor}"
    return labels
