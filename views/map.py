"""The latent map: every digit's posterior mean, projected to 2D with UMAP, colored by class.
Click a point to see the digit, its reconstruction and its nearest neighbours in latent space."""
import numpy as np
import streamlit as st
import torch

from ui import state
from ui.charts import latent_scatter
from ui.common import class_names, current_model, full_data_available, latent_map, map_images, page_header, show_digit
from vae.images import grid
from vae.latent import decode_numpy

page_header("Latent map", "Each dot is one image's posterior mean μ(x), projected from the latent space to 2D "
            "with UMAP. Click a dot (or box/lasso-select several) to inspect it; select two to interpolate.")

checkpoint, _ = current_model()
names = class_names()
scopes = {"test": "Test set (10,000)"}
if full_data_available(checkpoint.config.dataset):
    scopes["all"] = "Train + test (70,000)"
scope = st.radio("Images", list(scopes), format_func=scopes.get, horizontal=True, key="map_scope")
lmap = latent_map(scope)
images, labels = map_images(checkpoint.config.dataset, scope)

selected_classes = st.multiselect("Classes shown", range(len(names)), default=list(range(len(names))),
                                  format_func=lambda c: names[c])


@st.cache_resource(max_entries=8, show_spinner=False)
def map_figure(_lmap, hash_: str, scope: str, shown_classes: tuple[int, ...], names: list[str]):
    """The figure, built once per checkpoint, scope and class filter for every session: building
    10,000 points' worth of plotly objects is most of a rerun's time, and every session's reruns
    share one interpreter (BENCHMARKS.md section 7). Streamlit only reads it (to_dict)."""
    shown = np.isin(_lmap.labels, shown_classes)
    xy = np.where(shown[:, None], _lmap.xy, np.nan)  # hidden classes keep their indices
    return latent_scatter(xy, _lmap.labels, names)


# Plotly keeps the selection itself (dimming the rest), so the figure needs no marks.
figure = map_figure(lmap, current_model()[1], scope, tuple(sorted(selected_classes)), names)
event = st.plotly_chart(figure, key="latent_map", on_select="rerun", selection_mode=("points", "box", "lasso"),
                        width="stretch")
picked = [int(p["customdata"]) for p in event.selection.points if "customdata" in p]

if not picked:
    st.info("Click a point on the map to see that digit, its reconstruction and its nearest neighbours.")
    st.stop()

first = picked[0]
x = images[first].float().div(255)
with torch.no_grad():
    recon = decode_numpy(checkpoint.model, torch.from_numpy(lmap.mu[first:first + 1]))[0]
neighbours = lmap.nearest(lmap.mu[first], 9)[0][1:]  # itself comes first

st.subheader(f"#{first}: a {names[lmap.labels[first]]}")
c1, c2, c3 = st.columns([1, 1, 3])
with c1:
    show_digit(x.numpy(), "input")
with c2:
    show_digit(recon, "reconstruction from μ")
with c3:
    st.caption("Nearest neighbours in latent space: "
               + ", ".join(f"#{i} ({names[lmap.labels[i]]})" for i in neighbours))
    show_digit(grid(images[neighbours].float().div(255).numpy(), cols=8), scale=3)

if len(picked) >= 2:
    second = picked[1]
    st.subheader(f"{len(picked)} points selected")
    if len(picked) > 2:
        st.caption("The first 40 selected:")
        show_digit(grid(images[picked[:40]].float().div(255).numpy(), cols=20), scale=2)
    if st.button(f"Interpolate #{first} → #{second}", type="primary", icon=":material/timeline:"):
        st.session_state[state.INTERPOLATE_FROM_MAP] = (scope, first, second)
        st.switch_page("views/interpolate.py")
