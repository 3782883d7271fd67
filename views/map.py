"""The latent map: every digit's posterior mean, projected to 2D with UMAP, colored by class.
Hover a point to see the digit; click one (shift-click or box/lasso for more) to inspect it, its
reconstruction and its nearest neighbours; two picked points can be interpolated."""
import io

import numpy as np
import streamlit as st
import torch

from ui import state
from ui.charts import latent_scatter
from ui.common import class_names, current_model, full_data_available, latent_map, map_images, page_header, show_digit
from ui.map_overlay import map_overlay
from vae.images import grid
from vae.latent import decode_numpy

page_header("Latent map", "Each dot is one image's posterior mean μ(x), projected from the latent space to 2D "
            "with UMAP. Hover a dot to see the digit; click one (shift-click, box or lasso for more) to inspect "
            "it; two picked dots can be interpolated.")

checkpoint, hash_ = current_model()
dataset_name = checkpoint.config.dataset
names = class_names()
scopes = {"test": "Test set (10,000)"}
if full_data_available(dataset_name):
    scopes["all"] = "Train + test (70,000)"
SCOPE = state.Setting("scope", "test", state.text_choice(tuple(scopes)))
CLASSES = state.Setting("classes", list(range(len(names))), state.int_list(0, len(names) - 1))
PICKED = state.Setting("picked", [], state.int_list(0, 70_000 - 1))  # indices into the scope, in picking order

scope = SCOPE.widget(st.radio, "Images", list(scopes), format_func=scopes.get, horizontal=True,
                     on_change=lambda: PICKED.set([]))  # indices of one scope mean nothing in the other
lmap = latent_map(scope)
images, labels = map_images(dataset_name, scope)
shown = CLASSES.widget(st.multiselect, "Classes shown", list(range(len(names))), format_func=lambda c: names[c])


@st.cache_resource(max_entries=8, show_spinner=False)
def map_figure(_lmap, hash_: str, scope: str, shown: tuple[int, ...], names: tuple[str, ...]):
    """The figure, built once per checkpoint, scope and class filter for every session: building
    10,000 points' worth of plotly objects is most of a rerun's time, and every session's reruns
    share one interpreter (BENCHMARKS.md section 7). Streamlit only reads it (to_dict)."""
    return latent_scatter(_lmap.xy, _lmap.labels, list(names), shown=list(shown))


def keep_picking_order() -> None:
    """Plotly reports a selection in trace (class) order; keep the order the points were picked in:
    those still selected first, as they were, then the new ones."""
    points = st.session_state["latent_map"].selection.points
    now = [int(p["customdata"]) for p in points if "customdata" in p]
    before = [i for i in PICKED.get() if i in now]
    PICKED.set(before + [i for i in now if i not in before])


picked = [i for i in PICKED.get() if i < len(images)]
PICKED.to_url()
if not shown:
    st.info("No class is shown: pick at least one in Classes shown.")
else:
    figure = map_figure(lmap, hash_, scope, tuple(sorted(shown)), tuple(names))
    st.plotly_chart(figure, key="latent_map", on_select=keep_picking_order,
                    selection_mode=("points", "box", "lasso"), width="stretch")
    map_overlay(images, dataset_name, scope, picked, lmap.xy, chart_key="latent_map")

c1, c2 = st.columns(2)
csv = io.StringIO()
np.savetxt(csv, np.column_stack([np.arange(len(lmap.xy)), lmap.xy, lmap.labels]), fmt=["%d", "%.5f", "%.5f", "%d"],
           delimiter=",", header="index,x,y,label", comments="")
c1.download_button("Download the map (CSV)", csv.getvalue(), f"latent-map-{dataset_name}-{scope}.csv", "text/csv",
                   icon=":material/download:", help="Every point's index, map coordinates and class label")

if not picked:
    st.info("Click a point on the map to see that digit, its reconstruction and its nearest neighbours.")
    st.stop()


def endpoint_of(index: int) -> str:
    """An interpolation endpoint (views/interpolate.py) for an image of this map."""
    train_count = len(images) - len(map_images(dataset_name, "test")[0])
    return f"train:{index}" if index < train_count else f"test:{index - train_count}"


first = picked[0]
with torch.no_grad():
    recon = decode_numpy(checkpoint.model, torch.from_numpy(lmap.mu[first:first + 1]))[0]
neighbours = lmap.nearest(lmap.mu[first], 9)[0][1:]  # itself comes first

st.subheader(f"#{first}: a {names[lmap.labels[first]]}")
c1, c2, c3 = st.columns([1, 1, 3])
with c1:
    show_digit(images[first].float().div(255).numpy(), "input")
with c2:
    show_digit(recon, "reconstruction from μ")
with c3:
    st.caption("Nearest neighbours in latent space: "
               + ", ".join(f"#{i} ({names[lmap.labels[i]]})" for i in neighbours))
    show_digit(grid(images[neighbours].float().div(255).numpy(), cols=8), scale=3)
if st.button(f"Open #{first} in the sliders", icon=":material/tune:",
             help="Start the Latent sliders page from this digit's posterior mean"):
    state.open_in_sliders(lmap.mu[first])

if len(picked) >= 2:
    st.subheader(f"{len(picked)} points picked")
    if len(picked) > 2:
        st.caption("The first 40, in the order they were picked:")
        show_digit(grid(images[picked[:40]].float().div(255).numpy(), cols=20), scale=2)
        c1, c2 = st.columns(2)
        label = lambda i: f"#{i} ({names[lmap.labels[i]]})"  # noqa: E731
        start = c1.selectbox("Interpolate from", picked, format_func=label, key="interpolate_start")
        end = c2.selectbox("to", [i for i in picked if i != start], format_func=label, key="interpolate_end")
    else:
        start, end = picked
    if st.button(f"Interpolate #{start} → #{end}", type="primary", icon=":material/timeline:"):
        state.open_in_interpolation(endpoint_of(start), endpoint_of(end))
