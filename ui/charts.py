"""Figures: the loss curves and per-dimension KL (plotly), the latent map as a WebGL scatter
(plotly), and the map as a small raster image with a star on it (PIL) for the sliders' overview."""
from __future__ import annotations

import plotly.graph_objects as go

from ui.text import chart_text

TRAIN, TEST, STEP = "#4C78A8", "#F58518", "rgba(76, 120, 168, 0.35)"
PATH = "#808080"  # a path across the map: readable on the light and the dark theme
OTHER = "#2ca02c"  # a second posterior of the same digit (the optimized q*), beside the encoder's
# What a run's logged train figures are, beside "train", by ModelConfig.train_objective
TRAINED_ON = {"elbo": "", "relaxed": "relaxed objective", "uniform-eps": "uniform ε, no ELBO"}


def _kl_parts(fig: go.Figure, history: list[dict], color: str, prefix: str, legend: bool) -> None:
    """The test KL's two parts per epoch (vae/training/information.py), with their standard errors,
    for the epochs that recorded them; in the figure's legend when `legend` (a single run's: drawn in
    the test color, they would be unexplained on the Train page; with several runs, Loss curves'
    caption names them)."""
    parted = [h for h in history if "test_mutual_information" in h]
    for key, label, dash in (("test_mutual_information", "test: I_q(n; z), the codes' information", "dot"),
                             ("test_marginal_kl", "test: KL(q(z) ‖ p(z)), the aggregate's", "dashdot")):
        if parted:
            fig.add_trace(go.Scatter(
                x=[h["epoch"] for h in parted], y=[h[key] for h in parted], mode="lines+markers",
                error_y=dict(array=[h["test_kl_parts_stderr"] for h in parted], thickness=1),
                line=dict(color=color, dash=dash), marker=dict(size=5), name=prefix + label, showlegend=legend))


def loss_curves(runs: list, log_y: bool = False) -> list[go.Figure]:
    """Reconstruction, KL and the beta-weighted total against epochs, one figure each (drawn side by
    side, or one under the other on a phone), for one run or several (vae.services.runs.RunLog each): per
    logged step (faint) and per epoch (train and test). One run is drawn in the train and test
    colors; several, one color each, train dashed and test solid. The traces marked for the legend
    (shared_legend) name each series of one run, or each run of several; every trace keeps its full
    name for the hover."""
    titles = ("Reconstruction −log p(x|z)", "KL(q(z|x) ‖ p(z))", "Total = recon + β · KL")
    series = [(lambda r, b: r["train_recon"], lambda r, b: r["test_recon"]),
              (lambda r, b: r["train_kl"], lambda r, b: r["test_kl"]),
              (lambda r, b: r["train_recon"] + b * r["train_kl"], lambda r, b: r["test_recon"] + b * r["test_kl"])]
    exact = [lambda r, b: r["train_exact_recon"], lambda r, b: r["train_exact_kl"],
             lambda r, b: r["train_exact_recon"] + b * r["train_exact_kl"]]
    single = len(runs) == 1
    figures = []
    for title, (train_value, test_value), exact_value in zip(titles, series, exact):
        fig = go.Figure()
        first = not figures  # the legend's entries come from the first figure (and a single run's KL parts)
        for k, run in enumerate(runs):
            color = PALETTE[k % len(PALETTE)]
            train_color, test_color, step_color = (TRAIN, TEST, STEP) if single else (color, color, _faint(color))
            name = chart_text(run.name)
            prefix = "" if single else f"{name}: "
            # A categorical run trains on the Gumbel-softmax relaxation: its train figures are that
            # objective at the step's temperature, not an ELBO (its exact train -ELBO is drawn apart);
            # a run with the article's uniform eps trains on z that are no samples of q(z|x).
            kind = TRAINED_ON[run.config.train_objective if run.config is not None else "elbo"]
            trained = f"train, {kind}" if kind else "train"
            measured = [h for h in run.history if "train_exact_elbo" in h]
            exact_name = f"train, exact one-hot samples<br>({measured[-1]['train_exact_images']:,} images)" \
                if measured else ""
            # One run: each series in the legend. Several: an entry a run, its train figures' kind under its name.
            shows = dict(showlegend=first and single)
            if not single and first and (run.steps or run.history):
                note = (f"<br>train: {kind}" if kind else "") + (
                    "<br>dotted ◆: exact one-hot samples" if measured else "")
                fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=dict(color=color), name=name + note,
                                         showlegend=True, hoverinfo="skip"))
            if run.steps:
                fig.add_trace(go.Scatter(x=[s["epoch"] for s in run.steps],
                                         y=[train_value(s, run.beta) for s in run.steps], mode="lines",
                                         line=dict(color=step_color, width=1), name=prefix + f"{trained} (per step)",
                                         **shows))
            if run.history:
                epochs = [h["epoch"] for h in run.history]
                fig.add_trace(go.Scatter(x=epochs, y=[train_value(h, run.beta) for h in run.history],
                                         mode="lines+markers", name=prefix + f"{trained} (epoch)",
                                         line=dict(color=train_color, dash=None if single else "dash"), **shows))
                if measured:
                    fig.add_trace(go.Scatter(
                        x=[h["epoch"] for h in measured], y=[exact_value(h, run.beta) for h in measured],
                        mode="lines+markers", line=dict(color=train_color, dash="dot"), marker=dict(symbol="diamond"),
                        name=prefix + exact_name, **shows))
                fig.add_trace(go.Scatter(x=epochs, y=[test_value(h, run.beta) for h in run.history],
                                         mode="lines+markers", line=dict(color=test_color),
                                         name=prefix + "test (epoch)", **shows))
                if title.startswith("KL"):
                    _kl_parts(fig, run.history, test_color, prefix, legend=single)
        fig.update_layout(title=title, hovermode="x unified", xaxis_title="epoch", yaxis_title="nats per image")
        fig.update_xaxes(rangemode="nonnegative")
        if log_y:  # the first epochs dwarf the rest on a linear axis
            values = [v for trace in fig.data for v in trace.y if v is not None and v > 0]
            fig.update_yaxes(type="log", **(log_ticks(min(values), max(values)) if values else {}))
        figures.append(fig)
    if any("temperature" in r for run in runs for r in run.history + run.steps):
        figures.append(temperature_curve(runs))
    return figures


# px, as plotly draws a vertical legend in its 12 px font: an entry, each further line of its name, the frame
LEGEND_ENTRY, LEGEND_LINE, LEGEND_FRAME = 19, 15, 12
ROW_MARGIN = dict(l=10, r=10, t=40, b=55)  # px: the title above a chart of the row, the x axis and its title below


def shared_legend(figures: list[go.Figure], plot_height: int = 290) -> tuple[go.Figure | None, list[go.Figure]]:
    """One legend for a row of charts drawn side by side (ui.page.show_charts), as a figure of its own
    to draw above them, and the charts without legends, all of one height. A legend inside a chart
    takes room from its plot, so the row's axes did not line up; and in each chart's margin it left a
    blank under every other chart where a phone stacks them. The legend's entries are the row's traces
    not marked showlegend=False, each name once; listed one under the other, so that the figure's
    height does not depend on the screen's width."""
    entries = {}
    for fig in figures:
        for trace in fig.data:
            if trace.showlegend is not False and trace.name not in entries:
                entries[trace.name] = go.Scatter(x=[None], y=[None], name=trace.name, mode=trace.mode,
                                                 line=trace.line, marker=trace.marker)
    for fig in figures:
        fig.update_layout(height=ROW_MARGIN["t"] + plot_height + ROW_MARGIN["b"], margin=ROW_MARGIN, showlegend=False)
    if not entries:
        return None, figures
    height = sum(LEGEND_ENTRY + LEGEND_LINE * name.count("<br>") for name in entries) + LEGEND_FRAME
    legend = go.Figure(list(entries.values()))
    legend.update_layout(height=height, margin=dict(l=0, r=0, t=0, b=0), showlegend=True, hovermode=False,
                         xaxis=dict(visible=False), yaxis=dict(visible=False),
                         legend=dict(orientation="v", x=0, y=1, xanchor="left", yanchor="top", tracegroupgap=0,
                                     itemclick=False, itemdoubleclick=False))  # nothing of the charts to hide
    return legend, figures


# Where a point's label may go, nearest first: (plotly's textposition, the label box's left and bottom
# edges in px from the point, given its width w and a line's height h)
LABEL_PLACES = (("top center", lambda w, h: (-w / 2, 8)), ("bottom center", lambda w, h: (-w / 2, -8 - h)),
                ("middle right", lambda w, h: (9, -h / 2)), ("middle left", lambda w, h: (-9 - w, -h / 2)),
                ("top right", lambda w, h: (4, 6)), ("top left", lambda w, h: (-4 - w, 6)),
                ("bottom right", lambda w, h: (4, -6 - h)), ("bottom left", lambda w, h: (-4 - w, -6 - h)))


def label_places(x: list[float], y: list[float], texts: list[str], width: int = 330, height: int = 250,
                 right_margin: int = 80) -> list[str | None]:
    """A textposition for each point's label such that none covers another label or point, or leaves
    the chart (its plot and, right of it, `right_margin` px): each takes the first of LABEL_PLACES that
    is clear, in turn, and a label with no clear place gets None (its point goes unlabelled: points on
    top of one another, say). The plot's size in px is a guess (the narrowest it is drawn: half a page
    on a desktop, a phone's width), and a character 6.5 px wide."""
    if not x:
        return []
    x_low, x_span = min(x), (max(x) - min(x)) or 1.0
    y_low, y_span = min(y), (max(y) - min(y)) or 1.0
    px = [(v - x_low) / x_span * width for v in x]  # the data's range fills the plot, near enough
    py = [(v - y_low) / y_span * height for v in y]
    points = [(a - 6, b - 6, a + 6, b + 6) for a, b in zip(px, py)]  # (left, bottom, right, top)
    taken, places = [], []

    def clear(box, i: int) -> bool:
        if box[0] < -10 or box[2] > width + right_margin or box[1] < -30 or box[3] > height + 30:
            return False
        others = taken + [p for j, p in enumerate(points) if j != i]
        return all(box[2] <= o[0] or o[2] <= box[0] or box[3] <= o[1] or o[3] <= box[1] for o in others)

    for i, text in enumerate(texts):
        w, h = 6.5 * len(text), 14.0
        boxes = [(place, (px[i] + dx, py[i] + dy, px[i] + dx + w, py[i] + dy + h))
                 for place, (dx, dy) in ((place, corner(w, h)) for place, corner in LABEL_PLACES)]
        place, box = next(((place, box) for place, box in boxes if clear(box, i)), (None, None))
        if box:
            taken.append(box)
        places.append(place)
    return places


def log_ticks(low: float, high: float) -> dict:
    """Ticks for a log axis at 1, 2 and 5 times powers of ten, written out in full: plotly's own
    label 20 and 30 as "2" and "3" above a "10" between decades. A narrower range gets every whole
    mantissa, and one within a step of those (139 to 181: no 100 or 200 in view) evenly spaced ticks,
    as a linear axis would, so that at least three fall between `low` and `high`, and neither end of
    the axis goes without a tick for more than half its length (70 to 165: none above 100)."""
    import math

    def shown(ticks: list[float]) -> bool:
        inside = [v for v in ticks if low <= v <= high]
        half = math.log(high / low) / 2
        return len(inside) >= 3 and math.log(inside[0] / low) <= half and math.log(high / inside[-1]) <= half

    for mantissas in ((1, 2, 5), tuple(range(1, 10))):
        ticks = [v for v in (m * 10.0 ** e for e in range(math.floor(math.log10(low)) - 1,
                                                          math.ceil(math.log10(high)) + 1) for m in mantissas)
                 if low / 1.5 <= v <= high * 1.5]
        if shown(ticks):
            break
    else:  # finer steps of 1, 2 and 5 would crowd below each power of ten: one step throughout
        scale = 10.0 ** math.floor(math.log10(max(high - low, low * 1e-3)))
        for step in (scale * f for f in (5, 2, 1, 0.5, 0.2, 0.1)):
            ticks = [round(k * step, 12) for k in range(math.floor(low / 1.2 / step), math.ceil(high * 1.2 / step) + 1)
                     if k > 0]
            if shown(ticks):
                break
    return dict(tickmode="array", tickvals=ticks, ticktext=[f"{v:g}" for v in ticks])


def temperature_curve(runs: list) -> go.Figure:
    """The Gumbel-softmax temperature of categorical runs against epochs, as logged, each run in its
    color of the loss curves (whose legend names them)."""
    fig = go.Figure()
    for k, run in enumerate(runs):
        logged = [r for r in run.steps or run.history if "temperature" in r]
        if logged:
            fig.add_trace(go.Scatter(x=[r["epoch"] for r in logged], y=[r["temperature"] for r in logged],
                                     mode="lines", name=chart_text(run.name), showlegend=False,
                                     line=dict(color=PALETTE[k % len(PALETTE)])))
    fig.update_layout(title="Gumbel-softmax τ", xaxis_title="epoch", yaxis_title="temperature τ")
    return fig


def _faint(color: str) -> str:
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, 0.3)"


def kl_per_dimension(kl: list[float], order: list[int], latent=None) -> go.Figure:
    """Test KL of each latent unit (a dimension, or a categorical variable; `latent`: vae.models.latents,
    None for a run whose config is unknown), most informative first."""
    letter, unit = (latent.letter, latent.unit) if latent else ("z", "dimension")
    fig = go.Figure(go.Bar(x=[f"{letter}{d}" for d in order], y=[kl[d] for d in order], marker_color=TEST))
    fig.add_hline(y=0.01, line_dash="dot", annotation_text="inactive below", annotation_position="top right")
    fig.update_layout(height=280, margin=dict(l=10, r=10, t=30, b=10), yaxis_title="nats per image",
                      title=f"KL per latent {unit} (test)", xaxis_type="category")
    return fig


PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def latent_scatter(xy, labels, class_names: list[str], shown: list[int] | None = None, marks: dict | None = None,
                   path=None, height: int = 620) -> go.Figure:
    """A latent map as a WebGL scatter, one trace per shown class (customdata = dataset index), for
    the pages that show one beside their own work; the Latent map page draws its own
    (ui/map_chart.py). No hover labels: a point's index says little without its image.

    shown: the classes drawn (all when None); marks: {name: (xy (M, 2), symbol)} drawn on top;
    path: (S, 2) drawn as a line.
    """
    import numpy as np

    fig = go.Figure()
    for c in range(len(class_names)) if shown is None else shown:
        idx = np.flatnonzero(labels == c)
        fig.add_trace(go.Scattergl(
            x=xy[idx, 0], y=xy[idx, 1], mode="markers", name=class_names[c], customdata=idx,
            marker=dict(size=4, color=PALETTE[c % 10], opacity=0.75), hoverinfo="none"))
    # Overlays are WebGL too: plotly draws its WebGL layer above SVG traces.
    if path is not None:
        fig.add_trace(go.Scattergl(x=path[:, 0], y=path[:, 1], mode="lines+markers", name="path",
                                   line=dict(color=PATH, width=3),
                                   marker=dict(size=7, color=PATH, line=dict(color="white", width=1)),
                                   hoverinfo="skip"))
    for name, (points, symbol) in (marks or {}).items():
        fig.add_trace(go.Scattergl(x=points[:, 0], y=points[:, 1], mode="markers", name=name,
                                   marker=dict(size=16, symbol=symbol, color="black",
                                               line=dict(color="white", width=2)), hoverinfo="skip"))
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=10, b=0),
                      legend=dict(itemsizing="constant", orientation="h", y=0, yanchor="top", x=0))
    fig.update_xaxes(showticklabels=False, title=None, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, title=None, showgrid=False, zeroline=False, scaleanchor="x")
    return fig


def posterior_cloud(xy, labels, class_names: list[str], mean_xy, samples_xy, height: int = 360,
                    other: tuple | None = None) -> go.Figure:
    """Where samples of q(z|x) land on the map, zoomed to them: the dataset's points nearby (faint,
    by class), the samples (crosses) and the posterior mean (star). `other`: (name, mean_xy,
    samples_xy) of a second posterior of the same digit, drawn in circles and a diamond."""
    import numpy as np

    both = np.vstack([samples_xy, mean_xy[None], *([other[2], other[1][None]] if other else [])])
    lo, hi = both.min(0), both.max(0)
    margin = np.maximum((hi - lo) * 0.6, (xy.max(0) - xy.min(0)) * 0.04)
    lo, hi = lo - margin, hi + margin
    near = np.flatnonzero(((xy >= lo) & (xy <= hi)).all(1))
    fig = go.Figure()
    for c in np.unique(labels[near]):
        idx = near[labels[near] == c]
        fig.add_trace(go.Scattergl(x=xy[idx, 0], y=xy[idx, 1], mode="markers", name=class_names[c],
                                   marker=dict(size=5, color=PALETTE[c % 10], opacity=0.35), hoverinfo="skip"))
    fig.add_trace(go.Scattergl(x=samples_xy[:, 0], y=samples_xy[:, 1], mode="markers", name="samples of q(z|x)",
                               marker=dict(size=10, symbol="x", color=PATH, line=dict(color="white", width=1)),
                               hoverinfo="skip"))
    fig.add_trace(go.Scattergl(x=[mean_xy[0]], y=[mean_xy[1]], mode="markers", name="posterior mean",
                               marker=dict(size=16, symbol="star", color="black", line=dict(color="white", width=2)),
                               hoverinfo="skip"))
    if other:
        name, other_mean, other_samples = other
        fig.add_trace(go.Scattergl(x=other_samples[:, 0], y=other_samples[:, 1], mode="markers",
                                   name=f"samples of {name}",
                                   marker=dict(size=9, symbol="circle-open", color=OTHER, line=dict(width=2)),
                                   hoverinfo="skip"))
        fig.add_trace(go.Scattergl(x=[other_mean[0]], y=[other_mean[1]], mode="markers", name=f"mean of {name}",
                                   marker=dict(size=14, symbol="diamond", color=OTHER,
                                               line=dict(color="white", width=2)), hoverinfo="skip"))
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=10, b=0),
                      legend=dict(itemsizing="constant", orientation="h", y=0, yanchor="top", x=0))
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, range=[lo[0], hi[0]])
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, range=[lo[1], hi[1]], scaleanchor="x")
    return fig


def film_figure(frames: dict, labels, class_names: list[str], height: int = 560) -> go.Figure:
    """The map through training, played in the browser: one frame per epoch ({epoch: (n, 2)}, the
    same digits in each, of classes `labels` (n,)), a play button and an epoch slider."""
    import numpy as np

    epochs = list(frames)
    every = np.vstack(list(frames.values()))
    lo, hi = every.min(0), every.max(0)
    margin = (hi - lo) * 0.05

    def traces(xy):
        return [go.Scatter(x=xy[labels == c, 0], y=xy[labels == c, 1], mode="markers", name=class_names[c],
                           marker=dict(size=4, color=PALETTE[c % 10], opacity=0.8), hoverinfo="skip")
                for c in range(len(class_names))]

    fig = go.Figure(data=traces(frames[epochs[0]]),
                    frames=[go.Frame(data=traces(frames[e]), name=str(e)) for e in epochs])
    step = dict(frame=dict(duration=400, redraw=False), transition=dict(duration=300), mode="immediate")
    fig.update_layout(
        height=height, margin=dict(l=0, r=0, t=10, b=0),
        legend=dict(itemsizing="constant", orientation="h", y=1.0, yanchor="bottom", x=0),
        updatemenus=[dict(type="buttons", showactive=False, x=0, y=0, xanchor="left", yanchor="top",
                          buttons=[dict(label="▶ Play", method="animate", args=[None, {**step, "fromcurrent": True}]),
                                   dict(label="❚❚", method="animate",
                                        args=[[None], dict(frame=dict(duration=0, redraw=False), mode="immediate")])])],
        sliders=[dict(active=0, x=0.15, len=0.85, y=0, yanchor="top", currentvalue=dict(prefix="epoch "),
                      steps=[dict(label=str(e), method="animate", args=[[str(e)], step]) for e in epochs])])
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, range=[lo[0] - margin[0], hi[0] + margin[0]])
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, range=[lo[1] - margin[1], hi[1] + margin[1]],
                     scaleanchor="x")
    return fig


MAP_PAD = 12  # pixels around the map raster's points


def map_frame(xy, size: int = 360) -> dict:
    """How map_raster places map coordinates in its image: pixel = pad + (point - lo) / span *
    (size - 2 pad), with y growing upwards (image row = size - pixel y). Plain numbers, so that
    the browser (ui/components/latent_pad.js) can place points on the same image."""
    lo, hi = xy.min(0), xy.max(0)
    return {"lo": [float(lo[0]), float(lo[1])], "span": float((hi - lo).max()) or 1.0, "pad": MAP_PAD,
            "size": size}


def map_raster(xy, labels, size: int = 360, dot: int = 1):
    """The map as an RGBA image (size, size, 4) uint8 on a transparent background (it sits on the
    light or the dark theme), and a function from map coordinates to pixels (see map_frame). A
    picture, not a chart: cheap to resend after every slider release."""
    import numpy as np
    from PIL import Image, ImageDraw

    frame = map_frame(xy, size)
    lo, span, pad = np.asarray(frame["lo"], dtype=xy.dtype), frame["span"], frame["pad"]

    def to_pixels(points):
        return pad + (np.asarray(points) - lo) / span * (size - 2 * pad)

    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    for (px, py), c in zip(to_pixels(xy), labels):
        y = size - py  # map y grows upwards
        draw.ellipse((px - dot, y - dot, px + dot, y + dot), fill=PALETTE[int(c) % 10])
    return np.asarray(img), to_pixels


def with_star(base, to_pixels, point, radius: int = 9):
    """A copy of a map raster with a black, white-edged star at `point` (map coordinates)."""
    import math

    import numpy as np
    from PIL import Image, ImageDraw

    img = Image.fromarray(base)
    draw = ImageDraw.Draw(img)
    cx, cy = to_pixels(np.asarray(point)[None])[0]
    cy = img.height - cy
    star = [(cx + (radius if i % 2 == 0 else radius * 0.45) * math.sin(i * math.pi / 5),
             cy - (radius if i % 2 == 0 else radius * 0.45) * math.cos(i * math.pi / 5)) for i in range(10)]
    draw.polygon(star, fill="black", outline="white", width=2)
    return np.asarray(img)


def posterior_chart(q, order: list[int], height: int = 460) -> go.Figure:
    """q(z|x) of one image, its latent units in `order`: μ ± σ per dimension (a Gaussian latent), or
    one small bar chart of the category probabilities per variable (a categorical one)."""
    from plotly.subplots import make_subplots

    if hasattr(q, "mu"):
        mu, sigma = q.mu[0].cpu().numpy(), q.logvar[0].mul(0.5).exp().cpu().numpy()
        fig = go.Figure(go.Scatter(x=[f"z{d}" for d in order], y=mu[order], mode="markers",
                                   error_y=dict(type="data", array=sigma[order]), name="μ ± σ"))
        fig.add_hline(y=0, line_color="#999")
        fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), yaxis_title="μ ± σ",
                          xaxis_type="category")
        return fig
    probs = q.probs[0].cpu().numpy()  # (N, K)
    cols = 5
    rows = -(-len(order) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[f"v{d}" for d in order], shared_yaxes=True,
                        vertical_spacing=min(0.08, 0.5 / rows), horizontal_spacing=0.03)
    for i, d in enumerate(order):
        fig.add_trace(go.Bar(x=list(range(probs.shape[1])), y=probs[d], marker_color=TEST, showlegend=False,
                             hovertemplate=f"v{d} = %{{x}}: %{{y:.2f}}<extra></extra>"),
                      row=i // cols + 1, col=i % cols + 1)
    fig.update_yaxes(range=[0, 1], showticklabels=False)
    fig.update_xaxes(showticklabels=False)
    fig.update_annotations(font_size=11)
    fig.update_layout(height=max(height, 110 * rows), margin=dict(l=10, r=10, t=30, b=10), bargap=0.15)
    return fig
