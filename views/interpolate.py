"""Interpolation: decode the path between two digits' posterior means."""
import numpy as np
import streamlit as st
import torch

from ui import state
from ui.charts import latent_scatter
from ui.common import class_names, current_model, dataset, latent_map, map_images, page_header, show_digit
from ui.uploads import upload_digit
from vae.images import gif_bytes, png_bytes, strip
from vae.latent import decode_numpy, interpolate

page_header("Interpolation", "Walk from one digit's posterior mean to another's and decode every step. "
            "Linear follows the straight chord; slerp follows the sphere where prior samples live.")

checkpoint, _ = current_model()
model = checkpoint.model
names = class_names()
test_images, test_labels = dataset(checkpoint.config.dataset, "test")
from_map = st.session_state.pop(state.INTERPOLATE_FROM_MAP, None)
if from_map:  # sent by the latent map page: (scope, index, index)
    scope, a, b = from_map
    images, _ = map_images(checkpoint.config.dataset, scope)
    st.session_state["endpoint_images"] = (images[a].float().div(255).numpy(), images[b].float().div(255).numpy())
    st.session_state["src0"] = st.session_state["src1"] = "From the map"
SOURCES = ["Test image by index", "Random from a class", "From the map", "Upload"]


def endpoint(slot: int, default_index: int) -> np.ndarray | None:
    """One end of the path as a (28, 28) float image, chosen the way the user asks."""
    source = st.radio("Source", SOURCES, key=f"src{slot}", horizontal=False)
    if source == "Test image by index":
        i = st.number_input("Index", 0, len(test_images) - 1, default_index, key=f"idx{slot}")
        return test_images[i].float().div(255).numpy()
    if source == "Random from a class":
        c = st.selectbox("Class", range(len(names)), index=slot * 7 % len(names), key=f"cls{slot}",
                         format_func=lambda k: names[k])
        st.button("Another one", key=f"reroll{slot}")
        candidates = np.flatnonzero(test_labels.numpy() == c)
        pick = st.session_state.get(f"pick{slot}")
        if pick is None or pick[0] != c or st.session_state.get(f"reroll{slot}"):
            pick = st.session_state[f"pick{slot}"] = (c, int(np.random.default_rng().choice(candidates)))
        i = pick[1]
        return test_images[i].float().div(255).numpy()
    if source == "From the map":
        chosen = st.session_state.get("endpoint_images")
        if chosen is None:
            st.info("Select two points on the Latent map page, then press Interpolate there.")
            return None
        return chosen[slot]
    return upload_digit(key=f"upload{slot}")


cols = st.columns(2)
ends = []
for slot, col in enumerate(cols):
    with col, st.container(border=True):
        st.markdown(f"**{'Start' if slot == 0 else 'End'}**")
        image = endpoint(slot, default_index=[3, 2][slot])
        if image is not None:
            show_digit(image, scale=3)
        ends.append(image)

c1, c2 = st.columns(2)
method = c1.radio("Path", ["linear", "slerp"], horizontal=True)
steps = c2.slider("Steps", 2, 32, 10)

if any(e is None for e in ends):
    st.stop()
x = torch.from_numpy(np.stack(ends))[:, None].to(model.device)  # (2, 1, 28, 28)
with torch.no_grad():
    mu, _ = model.encode(x)
path = interpolate(mu[0].cpu(), mu[1].cpu(), steps, method)  # (steps, z)
frames = decode_numpy(model, path)
strip_image = strip(frames)
show_digit(strip_image, f"{method}, {steps} steps", scale=3)
d1, d2, _ = st.columns([1, 1, 3])
d1.download_button("Download GIF", gif_bytes(frames), "interpolation.gif", "image/gif", icon=":material/gif:")
d2.download_button("Download PNG strip", png_bytes(strip_image, 4), "interpolation.png", "image/png",
                   icon=":material/image:")

st.subheader("The path on the latent map")
lmap = latent_map("test")
placed = lmap.place(path.numpy())
st.plotly_chart(latent_scatter(lmap.xy, lmap.labels, names, path=placed,
                               marks={"start": (placed[:1], "circle"), "end": (placed[-1:], "star")},
                               height=520), width="stretch")
st.caption("Path points are placed on the map at the neighbour-weighted position of their nearest test codes.")
