"""The Out-of-distribution page's caches and charts (vae/analysis/ood.py does the work)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from ui.caches import dataset
from vae.analysis.ood import TRANSFORMS, Scores, ood_scores, other_dataset, transformed
from vae.datasets import dataset_info

IN_COLOR, OUT_COLOR = "#1f77b4", "#d62728"


def outlier_sets(dataset_name: str) -> dict[str, str]:
    """The sets a model of `dataset_name` can be shown, {key: what it is}: the other bundled test set first."""
    other = other_dataset(dataset_name)
    return {**({other: f"the {dataset_info(other).title} test set"} if other else {}), **TRANSFORMS}


def outlier_images(dataset_name: str, kind: str, count: int) -> torch.Tensor:
    """The first `count` images of an outlier set (outlier_sets), uint8 (N, H, W[, C])."""
    if kind == other_dataset(dataset_name):
        return dataset(kind, "test")[0][:count]
    return transformed(dataset(dataset_name, "test")[0][:count], kind)


@st.cache_resource(max_entries=8, show_spinner="Scoring the images")
def scores_of(_model, hash_: str, dataset_name: str, kind: str, count: int, iwae_k: int) -> Scores:
    """The model's scores of the first `count` images of its own test set (kind "test") or of an outlier set."""
    images = dataset(dataset_name, "test")[0][:count] if kind == "test" else outlier_images(dataset_name, kind, count)
    return ood_scores(_model, images, iwae_k)


def score_histogram(inliers: np.ndarray, outliers: np.ndarray, names: tuple[str, str], title: str,
                    log_x: bool = False, marks: dict | None = None, height: int = 320) -> go.Figure:
    """Two overlaid histograms of a score, in and out of distribution (log-spaced bins for a
    positive score spanning decades), with `marks` ({label: value}) as vertical lines."""
    values = np.concatenate([inliers, outliers])
    if log_x:
        edges = np.geomspace(max(values.min(), 1e-3), values.max() * 1.0001, 61)
        inliers, outliers, values = np.log10(inliers), np.log10(outliers), np.log10(edges)
        bins = dict(start=values[0], end=values[-1], size=(values[-1] - values[0]) / 60)
    else:
        end = values.max() + abs(values.max()) * 1e-4 + 1e-9  # just past the largest, whatever its sign
        bins = dict(start=values.min(), end=end, size=(values.max() - values.min()) / 60 or 1)
    fig = go.Figure()
    for v, name, color in ((inliers, names[0], IN_COLOR), (outliers, names[1], OUT_COLOR)):
        fig.add_trace(go.Histogram(x=v, name=name, xbins=bins, marker_color=color, opacity=0.6,
                                   histnorm="probability", hovertemplate="%{y:.1%}<extra>" + name + "</extra>"))
    for label, value in (marks or {}).items():
        x = np.log10(max(value, 1e-3)) if log_x else value
        fig.add_vline(x=x, line_dash="dash", annotation_text=label, annotation_position="top")
    axis = dict(title=title)
    if log_x:
        ticks = [t for t in (10, 30, 100, 300, 1000, 3000, 10_000, 30_000, 100_000)
                 if values[0] <= np.log10(t) <= values[-1]]
        axis.update(tickvals=list(np.log10(ticks)), ticktext=[f"{t:,}" for t in ticks])
    fig.update_layout(barmode="overlay", height=height, margin=dict(l=10, r=10, t=30, b=10), xaxis=axis,
                      yaxis=dict(title="share of images", tickformat=".0%"),
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))
    return fig
