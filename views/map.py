"""The latent map: every digit's posterior mean, projected to 2D (UMAP, PCA or t-SNE), colored by
class or by what the model thinks of each digit (its -ELBO, reconstruction, KL, posterior
uncertainty, IWAE gap), with the worst-modelled digits listed. Hover a point to see the digit, or the
space between points to see what it decodes to; click one (shift-click or box/lasso for more) to
inspect it, its reconstruction, samples of its posterior and its nearest neighbours; two picked
points can be interpolated, three make an analogy."""
import io

import numpy as np
import streamlit as st

from ui import state
from ui.caches import (
    as_class,
    class_names,
    current_model,
    digit_classifier,
    image_figures,
    image_figures_cached,
    latent_map,
    map_images,
    nouns,
    selected_folder,
)
from ui.charts import PALETTE, posterior_cloud
from ui.directions import DIRECTION, current_direction, direction_controls
from ui.latent_pad import browser_decodable
from ui.map_chart import colour_range, latent_map_chart
from ui.page import folded, page_header, show_digit
from ui.text import in_sentence
from vae.analysis.figure_labels import FIGURE_SAMPLES, FIGURES, IWAE_K
from vae.analysis.map_layers import cluster_labels, contour_segments, density
from vae.analysis.projection import PLACE_NEIGHBOURS, PROJECTIONS
from vae.data import split_size
from vae.images import grid

thing, things = nouns()
page_header("Latent map", "Each dot is one image's posterior mean μ(x), projected from the latent space to 2D. Point "
            f"at a dot to see the {thing}; click or tap one to inspect it (shift-click, box or lasso for more; two "
            "picked can be interpolated).")

checkpoint, hash_ = current_model()
dataset_name = checkpoint.config.dataset
names = class_names()
test_size, train_size = split_size(dataset_name, "test"), split_size(dataset_name, "train")
scopes = {"test": f"Test set ({test_size:,})"}
if train_size:  # counted from the labels file: the training images are read only when that map is asked for
    scopes["all"] = f"Train + test ({train_size + test_size:,})"
SCOPE = state.Setting("scope", "test", state.text_choice(tuple(scopes)))
CLASSES = state.Setting("classes", list(range(len(names))), state.int_list(0, len(names) - 1))
PICKED = state.MAP_PICKED

COLOR = state.MAP_COLOR
DENSITIES = {"off": "none", "all": "of all points", "class": "per class"}
DENSITY = state.Setting("density", "off", state.text_choice(tuple(DENSITIES)))
LABELS = state.Setting("labels", False, state.BOOLEAN)  # cluster labels
LATTICE = state.Setting("lattice", False, state.BOOLEAN)  # digits decoded on a grid over the view
COLORS = {"class": "Class", "elbo": "−ELBO", "recon": "Reconstruction", "kl": "KL", "uncertainty":
          checkpoint.latent.uncertainty_label, "iwae_gap": f"IWAE gap (k = {IWAE_K})"}
# Each figure's unit (a Gaussian posterior's σ is in the latent's own units; an entropy is in nats).
UNITS = {"elbo": "nats", "recon": "nats", "kl": "nats", "iwae_gap": "nats",
         "uncertainty": "" if checkpoint.latent.continuous else "nats"}  # the rest have none
SAMPLED = {"elbo": f"{FIGURE_SAMPLES} samples of q(z|x)", "recon": f"{FIGURE_SAMPLES} samples of q(z|x)",
           "iwae_gap": f"the same {IWAE_K} samples of q(z|x) for the bound and the ELBO"}  # the rest are exact


def with_unit(text: str, color: str) -> str:
    return f"{text} ({UNITS[color]})" if UNITS.get(color) else text


def in_units(value: float, color: str) -> str:
    return f"{value:.2f} {UNITS[color]}" if UNITS.get(color) else f"{value:.2f}"

# The map comes first (on a phone the controls filled the screen above it): its settings fold into
# one row that names them.
colors = {**COLORS, "direction": "Projection on the attribute direction"} if DIRECTION.get() else COLORS
if COLOR.current() not in colors:
    COLOR.set("class")  # the direction it was colored by is gone
shown_projection = state.PROJECTION.current()
if shown_projection == "tsne" and SCOPE.current() != "test":
    shown_projection = "umap"  # t-SNE is for the test set only (below)
summary = (f"{scopes.get(SCOPE.current(), scopes['test'])} · {PROJECTIONS[shown_projection]} · "
           f"colored by {in_sentence(colors.get(COLOR.current(), 'Class'))} · "
           f"{len(CLASSES.current())} of {len(names)} classes"
           + (f" · density {DENSITIES[DENSITY.current()]}" if DENSITY.current() != "off" else "")
           + (" · cluster labels" if LABELS.current() else "") + (" · decoded lattice" if LATTICE.current() else ""))


def scope_changed() -> None:
    PICKED.set([])  # indices of one scope mean nothing in the other


if settings := folded(f"Map settings: {summary}", key="map_settings", icon=":material/tune:"):
    with settings:
        c1, c2, c3 = st.columns(3)
        with c1:
            SCOPE.widget(st.radio, "Images", list(scopes), format_func=scopes.get, horizontal=True,
                         on_change=scope_changed)
        with c2:
            state.PROJECTION.widget(
                st.radio, "Projection", list(PROJECTIONS), format_func=PROJECTIONS.get, horizontal=True,
                help="UMAP keeps neighbourhoods; PCA is linear, so distances and directions are the latent "
                     "space's; t-SNE (test set only) separates clusters most. Every page's map follows this choice.")
        COLOR.widget(c3.selectbox, "Color by", list(colors), format_func=colors.get,
                     help=f"What the model thinks of each {thing}: " + "; ".join(FIGURES.values()))
        CLASSES.widget(st.multiselect, "Classes shown", list(range(len(names))), format_func=lambda c: names[c])
        c1, c2, c3 = st.columns(3)
        DENSITY.widget(
            c1.radio, "Density contours", list(DENSITIES), format_func=DENSITIES.get, horizontal=True,
            help="A Gaussian-smoothed histogram of the map's points: contours from the level enclosing 80% of the "
                 "mass to the one enclosing 20%, evenly spaced")
        with c2:
            LABELS.widget(
                st.toggle, "Cluster labels", help="k-means on the map positions (k = the number of classes shown); "
                "each cluster named by its most common class, with that class's share of its points, and, where the "
                f"bundled classifier reads another class in the {thing} decoded at the cluster's centre in latent "
                "space, that class")
        LATTICE.widget(
            c3.toggle, "Decoded lattice", help=f"A {thing} decoded at the centre of each cell of a grid over the "
            "view, in your browser, drawn again after every zoom and pan: what the whole map stands for, the space "
            "between the points too")
SETTINGS = (SCOPE, state.PROJECTION, COLOR, CLASSES, DENSITY, LABELS, LATTICE)
for setting in SETTINGS:
    setting.to_url()  # the address names them, drawn or not
scope, projection, color, shown, density_of, labelled, lattice = (setting.current() for setting in SETTINGS)
if projection == "tsne" and scope != "test":
    st.info("t-SNE of 70,000 points would take many minutes on a CPU: this map is UMAP's.")
lmap = latent_map(scope)
images, labels = map_images(dataset_name, scope)
figures = None
direction = current_direction(lmap, names)
if color == "direction" and direction is None:
    COLOR.set(color := "class")  # no direction (yet) on this map
if color == "iwae_gap" and scope != "test":
    st.info("The IWAE gap is computed for the test set only.")
    color = "class"
elif color == "iwae_gap" and not image_figures_cached(scope, IWAE_K):
    st.caption(f"The IWAE gap takes {IWAE_K} samples of q(z|x) per {thing}: about 4 minutes on a 2-core CPU, "
               "once per checkpoint.")
    if not st.button(f"Compute the IWAE gap (k = {IWAE_K})", icon=":material/calculate:"):
        color = "class"
if color not in ("class", "direction"):
    figures = image_figures(scope, IWAE_K if color == "iwae_gap" else 0)


@st.cache_resource(max_entries=8, show_spinner="Drawing density and labels")
def layers(_lmap, hash_: str, scope: str, projection: str, shown: tuple[int, ...], density_of: str, labelled: bool,
           names: tuple[str, ...]) -> tuple[list, list]:
    """Density contours and cluster labels to draw over the map, once for every session: (colour,
    contour pieces) each, and (x, y, text) each (with the class the classifier reads in each cluster's
    decoded centre, where it is not the majority's)."""
    xy, labels = _lmap.xy, _lmap.labels
    keep = np.isin(labels, shown)
    if density_of == "all":
        grids = [("#808080", density(xy[keep], within=xy))]
    elif density_of == "class":
        grids = [(PALETTE[c % 10], density(xy[labels == c], within=xy)) for c in shown if (labels == c).any()]
    else:
        grids = []
    # From the level enclosing 80% of the mass to the one enclosing 20%, evenly spaced (Density contours' help)
    contours = [(colour, contour_segments(grid, np.linspace(*grid.levels(4)[[0, -1]], 4))) for colour, grid in grids]
    clusters = cluster_labels(xy[keep], labels[keep], k=len(shown), mu=_lmap.mu[keep]) if labelled else []
    readings = centre_readings(clusters) or [c.label for c in clusters]
    texts = [(c.x, c.y, f"{names[c.label]} · {c.share:.0%}" + ("" if read == c.label else f" (centre: {names[read]})"))
             for c, read in zip(clusters, readings, strict=True)]
    return contours, texts


def centre_readings(clusters) -> list[int] | None:
    """What the bundled classifier reads in the digit decoded at each cluster's centre in latent space
    (none for a conditional model: its decoder writes whatever class it is given)."""
    classifier = digit_classifier(dataset_name)
    if classifier is None or not clusters or checkpoint.config.conditional:
        return None
    import torch

    from vae.analysis.walks import decode_numpy

    with torch.no_grad():
        decoded = decode_numpy(checkpoint.model, torch.from_numpy(np.stack([c.code for c in clusters])))
        return classifier.probabilities(torch.from_numpy(decoded)[:, None]).argmax(1).tolist()


def decoding_note(projection: str, continuous: bool) -> str:
    """What the image decoded between the points is, for this map."""
    mean = "the code is a distance-weighted mean of the codes of the 8 nearest points"
    if projection == "pca" and continuous:
        how = "PCA is linear: the code is exactly the one on the principal plane at that point"
    elif not continuous:
        how = f"the codes are categorical, and a plane would leave their simplex: {mean}"
    else:
        how = f"{PROJECTIONS[projection]} has no inverse: {mean}"
    return (f"Between the points, the {thing} decoded at the code the pointer's position stands for ({how}), and how "
            "far that position is from the map's nearest point: among them (within twice the median distance "
            "between neighbouring points), or that distance as a share of the map's width. Click or tap there to "
            "open that code in the sliders.")


picked = [i for i in PICKED.get() if i < len(images)]
if len(picked) <= state.PICKS_IN_ADDRESS:
    PICKED.to_url()
else:
    st.query_params.pop(PICKED.name, None)
if not shown:
    st.info("No class is shown: pick at least one in Classes shown.")
else:
    if color == "direction":
        values, title = direction[0].projection(lmap.mu), f"{direction[1]} → {direction[2]}"
    elif figures is not None:
        values, title = figures[color], with_unit(COLORS[color], color)
    else:
        values, title = None, ""
    span = colour_range(values[np.isin(lmap.labels, shown)]) if values is not None else None
    contours, cluster_texts = (layers(lmap, hash_, scope, lmap.projection, tuple(sorted(shown)), density_of, labelled,
                                      tuple(names)) if density_of != "off" or labelled else ([], []))
    opened = latent_map_chart(lmap, images, dataset_name, scope, names, shown, picked, PICKED.set, values=values,
                              value_range=span, title=title, contours=contours, labels=cluster_texts,
                              model_of=lambda: checkpoint.model, continuous=checkpoint.latent.continuous,
                              weights_hash=hash_, lattice=lattice)
    if opened is not None:
        state.open_in_sliders(opened)
    if span is not None:
        st.caption(f"The colors run from the 1st to the 99th percentile of the {things} shown "
                   f"({span[0]:.2f} to {in_units(span[1], color)}); those beyond take the end colors.")
    if browser_decodable(lambda: checkpoint.model, hash_):
        st.caption(decoding_note(lmap.projection, checkpoint.latent.continuous))
    if checkpoint.config.conditional:
        style = ": slant, width, stroke" if thing == "digit" else ""
        st.caption(f"This model is conditional: each point is a {thing}'s q(z | x, y) with its own class y, so the "
                   f"classes mix on the map (the label carries the class, z the style{style}). "
                   f"Whatever is decoded here is decoded as a «{names[checkpoint.given_class]}», the class "
                   "picked in the sidebar.")

def map_csv() -> str:
    """Every point's index, map coordinates and class (written when the button is clicked, not on every run)."""
    csv = io.StringIO()
    np.savetxt(csv, np.column_stack([np.arange(len(lmap.xy)), lmap.xy, lmap.labels]),
               fmt=["%d", "%.5f", "%.5f", "%d"], delimiter=",", header="index,x,y,label", comments="")
    return csv.getvalue()


c1, c2 = st.columns(2)
c1.download_button("Download the map (CSV)", map_csv, f"latent-map-{dataset_name}-{scope}.csv", "text/csv",
                   icon=":material/download:", help="Every point's index, map coordinates and class label")


def pick_typed() -> None:  # a callback, so that a later click on the map still counts
    if (typed := st.session_state["pick_index"]) is not None:
        PICKED.set([int(typed)])


c2.number_input(f"Pick a {thing} by its index", 0, len(images) - 1, None, step=1, key="pick_index",
                on_change=pick_typed, placeholder="e.g. 42, then Enter",
                help=f"The keyboard's way to the inspector below: the same as clicking that {thing}'s dot")

if figures is not None and shown:
    st.subheader(f"Worst modelled: highest {COLORS[color]}")
    candidates = np.flatnonzero(np.isin(lmap.labels, shown))
    worst = candidates[np.argsort(-figures[color][candidates], kind="stable")[:12]].tolist()
    show_digit(grid(images[worst] / np.float32(255), cols=12), scale=2)
    values = figures[color]
    how = f" (each {thing}'s from {SAMPLED[color]}: an estimate)" if color in SAMPLED else ""
    st.caption(f"These {len(worst)}: {values[worst].min():.2f} to {in_units(values[worst].max(), color)}. The mean "
               f"over all {len(candidates):,} {things} of the classes shown: "
               f"{in_units(values[candidates].mean(), color)}{how}. Pick one to inspect it:")
    def inspect(key: str) -> None:  # a callback: the pill's value stays chosen, later map clicks still count
        if st.session_state[key] is not None:
            PICKED.set([st.session_state[key]])

    key = f"worst-{color}-{scope}"
    st.pills("Inspect", worst, format_func=lambda i: f"#{i} {names[lmap.labels[i]]} ({figures[color][i]:.1f})",
             key=key, on_change=inspect, args=(key,), label_visibility="collapsed")

# Closing it forgets what its widgets held and was not used yet (two classes chosen, the strip's strength);
# the direction in use is kept, in the address.
if directions := folded("Attribute direction" + (f": {direction[1]} → {direction[2]}" if direction else ""),
                        key="map_direction", icon=":material/trending_flat:"):
    with directions:
        # The strip moves the first picked digit (else #0): a conditional model writes it as that digit's class.
        moved = lambda: as_class(checkpoint, hash_, lmap.labels[picked[0] if picked else 0])  # noqa: E731
        direction_controls(lmap, images, names, picked, moved, checkpoint.latent.continuous, selected_folder().name)

if not picked:
    st.info(f"Click or tap a point on the map to see that {thing}, its reconstruction and its nearest neighbours.")
    st.stop()

# Below, the model: torch is imported here, not above, so that the map is drawn without it on a
# server's first page (BENCHMARKS.md, cold start).
import torch  # noqa: E402

from ui.amortization import amortization_section  # noqa: E402
from vae.analysis.walks import analogy, decode_numpy, posterior_samples  # noqa: E402


def endpoint_of(index: int) -> str:
    """An interpolation endpoint (views/interpolate.py) for an image of this map."""
    train_count = len(images) - len(map_images(dataset_name, "test")[0])
    return f"train:{index}" if index < train_count else f"test:{index - train_count}"


first = picked[0]
own = as_class(checkpoint, hash_, lmap.labels[first])  # a conditional model reads the digit's own class here
with torch.no_grad():
    recon = decode_numpy(own, torch.from_numpy(lmap.mu[first:first + 1]))[0]
neighbours = lmap.nearest(lmap.mu[first], 9)[0][1:]  # itself comes first

st.subheader(f"#{first}: a {names[lmap.labels[first]]}")
c1, c2, c3 = st.columns([1, 1, 3])
with c1:
    show_digit(images[first] / np.float32(255), "input")
with c2:
    show_digit(recon, "reconstruction from μ")
with c3:
    st.caption("Nearest neighbours in latent space: "
               + ", ".join(f"#{i} ({names[lmap.labels[i]]})" for i in neighbours))
    show_digit(grid(images[neighbours] / np.float32(255), cols=8), scale=3)
if figures is not None:
    st.caption(" · ".join(f"{COLORS[k]} {in_units(v[first], k)}" for k, v in figures.items() if k in COLORS))
if st.button(f"Open #{first} in the sliders", icon=":material/tune:",
             help=f"Start the Latent sliders page from this {thing}'s posterior mean"):
    state.open_in_sliders(lmap.mu[first])

st.markdown("**How sure the encoder is**: 16 samples of q(z|x) placed on the map, and decoded")
samples = posterior_samples(own, torch.from_numpy(images[first]), 16, seed=first)
c1, c2 = st.columns([3, 2])
with c1:
    st.plotly_chart(posterior_cloud(lmap.xy, lmap.labels, names, lmap.xy[first], lmap.place(samples.numpy())),
                    width="stretch", key="posterior_cloud")
with c2:
    show_digit(grid(decode_numpy(own, samples), cols=4), scale=3)
st.caption(f"Each sample is drawn at the distance-weighted mean position of its {PLACE_NEIGHBOURS} nearest codes among "
           "the map's (UMAP and t-SNE have no exact place for a new code; for PCA it stands in for the projection). "
           "One near codes of two classes can land between them, or among the other class's points, while it "
           f"decodes as this {thing}: the decoded samples say what it is.")

amortization_section(own, hash_, scope, torch.from_numpy(images[first]), first, lmap, names)

if len(picked) >= 2:
    st.subheader(f"{len(picked)} points picked")
    if len(picked) > state.PICKS_IN_ADDRESS:
        st.caption(f"More than {state.PICKS_IN_ADDRESS}: kept while this tab is open, but not in the page's "
                   "address, so a link to it does not bring them back.")
    if len(picked) > 2:
        st.caption("The first 40, in the order they were picked:")
        show_digit(grid(images[picked[:40]] / np.float32(255), cols=20), scale=2)
        c1, c2 = st.columns(2)
        label = lambda i: f"#{i} ({names[lmap.labels[i]]})"  # noqa: E731
        start = c1.selectbox("Interpolate from", picked, format_func=label, key="interpolate_start")
        end = c2.selectbox("to", [i for i in picked if i != start], format_func=label, key="interpolate_end")
    else:
        start, end = picked
    if st.button(f"Interpolate #{start} → #{end}", type="primary", icon=":material/timeline:"):
        state.open_in_interpolation(endpoint_of(start), endpoint_of(end))

if len(picked) >= 3:
    a, b, c = picked[:3]
    st.subheader(f"Analogy: #{a} : #{b} :: #{c} : ?")
    if not checkpoint.latent.continuous:
        st.info("Analogies add and subtract codes; this model's codes are categorical probability vectors, which "
                "that would take off their simplex. Pick a Gaussian checkpoint in the sidebar.")
    else:
        z = analogy(*(torch.from_numpy(lmap.mu[i]) for i in (a, b, c)))
        nearest = int(lmap.nearest(z.numpy(), 1)[0][0])
        as_c = as_class(checkpoint, hash_, lmap.labels[c])  # a conditional model writes it as c's class
        strip = np.stack([*(images[i] / np.float32(255) for i in (a, b, c)),
                          decode_numpy(as_c, z[None])[0], images[nearest] / np.float32(255)])
        show_digit(grid(strip, cols=5), f"#{a}, #{b}, #{c}, then z_c + (z_b − z_a) decoded, then the nearest "
                   f"real {thing} to that code: #{nearest} ({names[lmap.labels[nearest]]})", scale=3)
        st.caption("The first three picked, in picking order: what takes the first to the second, applied to the "
                   "third (White 2016). The codes are posterior means.")
        if st.button("Open the analogy's code in the sliders", icon=":material/tune:"):
            state.open_in_sliders(z.numpy())
