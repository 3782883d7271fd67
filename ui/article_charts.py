"""Figures for the article's chapters: EM's progress and decomposition, the latent map colored by
mixture component, responsibilities, BIC, the gradient estimators' variance, the bound's gap."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative


def luminance(color: str) -> float:
    r, g, b = (int(color[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


# 30 components' colors, none too dark for the dark theme nor too light for the light one.
COMPONENT_COLORS = [c for c in dict.fromkeys(qualitative.Dark24 + qualitative.Light24)
                    if 0.2 <= luminance(c) <= 0.8][:30]
ESTIMATOR_COLORS = {"score function": "#d62728", "score function + baseline": "#ff7f0e",
                    "reparameterization": "#1f77b4"}


def em_progress(records) -> go.Figure:
    """log p(X) and the ELBO per code after each half-step of EM (vae.models.gmm.EMRecord); the KL is the
    gap between them, closed by every E-step and opened again by every M-step."""
    labels = ["start" if r.half == "start" else f"{r.half}{r.iteration}" for r in records]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=labels, y=[r.log_likelihood for r in records], name="log p(X)",
                             mode="lines+markers", line=dict(color="#1f77b4")))
    fig.add_trace(go.Scatter(x=labels, y=[r.elbo for r in records], name="ELBO(Q, θ)", mode="lines+markers",
                             line=dict(color="#ff7f0e", dash="dot"), customdata=[r.kl for r in records],
                             hovertemplate="ELBO %{y:.4f}<br>KL %{customdata:.4f}<extra></extra>"))
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=30, b=10), yaxis_title="nats per code",
                      xaxis_title="half-steps (E: Q ← posterior · M: θ ← argmax)",  # short: a phone cut it
                      legend=dict(orientation="h", y=-0.35), hovermode="x unified")
    return fig


def component_scatter(xy: np.ndarray, components: np.ndarray, k: int, height: int = 520) -> go.Figure:
    """The map colored by each code's most responsible component (customdata = dataset index)."""
    fig = go.Figure()
    for c in range(k):
        idx = np.flatnonzero(components == c)
        fig.add_trace(go.Scattergl(x=xy[idx, 0], y=xy[idx, 1], mode="markers", name=f"component {c}",
                                   customdata=idx, marker=dict(size=4, opacity=0.8,
                                                               color=COMPONENT_COLORS[c % len(COMPONENT_COLORS)]),
                                   hovertemplate=f"component {c} · #%{{customdata}}<extra></extra>"))
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=10, b=0),
                      legend=dict(itemsizing="constant", orientation="h", y=0, yanchor="top"))
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, scaleanchor="x")
    return fig


def responsibilities(q: np.ndarray, title: str) -> go.Figure:
    fig = go.Figure(go.Bar(x=[str(c) for c in range(len(q))], y=q,
                           marker_color=[COMPONENT_COLORS[c % len(COMPONENT_COLORS)] for c in range(len(q))]))
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=40, b=10), title=title, yaxis_range=[0, 1],
                      yaxis_title="P(Z = k | x)", xaxis_title="component k", xaxis_type="category")
    return fig


def bic_still_falling(curve: dict) -> bool:
    """Whether BIC's lowest is at the most components tried: no minimum within the range."""
    return len(curve) > 1 and min(curve, key=curve.get) == max(curve)


def bic(curve: dict) -> go.Figure:
    ks = sorted(curve)
    best = min(curve, key=curve.get)
    fig = go.Figure(go.Scatter(x=ks, y=[curve[k] for k in ks], mode="lines+markers", name="BIC"))
    fig.add_trace(go.Scatter(x=[best], y=[curve[best]], mode="markers", marker=dict(size=14, symbol="star"),
                             name=f"lowest of those tried: k = {best}" if bic_still_falling(curve)
                             else f"lowest: k = {best}"))
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="components k",
                      yaxis_title="BIC (lower is better)", legend=dict(orientation="h", y=1.02, yanchor="bottom"))
    return fig


def estimator_lines(rows: list[dict], group: str, measure: str, title: str, y_title: str) -> go.Figure:
    """One line per estimator, `measure` ("variance" or "rmse") against the number of samples L,
    on log-log axes."""
    fig = go.Figure()
    for estimator, color in ESTIMATOR_COLORS.items():
        mine = sorted((r for r in rows if r["estimator"] == estimator and r["group"] == group),
                      key=lambda r: r["samples"])
        fig.add_trace(go.Scatter(x=[r["samples"] for r in mine], y=[r[measure] for r in mine], name=estimator,
                                 mode="lines+markers", line=dict(color=color)))
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=40, b=10), title=title,
                      xaxis=dict(type="log", title="samples L"),
                      yaxis=dict(type="log", exponentformat="power", title=y_title),
                      legend=dict(orientation="h", y=-0.2))
    return fig


def bound_gap(gap: dict) -> go.Figure:
    ks = sorted(gap)
    fig = go.Figure(go.Scatter(x=ks, y=[gap[k][0] for k in ks], mode="lines+markers",
                               error_y=dict(type="data", array=[gap[k][1] for k in ks]), name="bound"))
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=30, b=10),
                      xaxis=dict(type="log", title="importance samples S (S = 1: the ELBO)"),
                      yaxis_title="lower bound on log p(x), nats (± standard error)")
    return fig
