"""Latent sliders: set each latent dimension by hand and watch the decoder's output, live."""
import numpy as np
import streamlit as st
import torch

from ui.charts import map_raster, with_star
from ui.common import (class_names, current_model, dataset, kl_and_activity, latent_map, page_header, show_digit,
                       test_encodings)
from ui.latent_pad import browser_decodable, latent_pad
from vae.images import grid
from vae.latent import decode_numpy, dims_by_kl, prior_samples, traversal

page_header("Latent sliders", "One slider per latent dimension, most informative first (KL from the prior, "
            "in nats, beside each). Inactive dimensions, which the decoder ignores, are folded away.")

checkpoint, hash_ = current_model()
model, z_dim = checkpoint.model, checkpoint.config.latent_dim
kl, active = kl_and_activity()
order = dims_by_kl(list(kl))
names = class_names()
mu, _ = test_encodings(model, hash_, checkpoint.config.dataset)
images, labels = dataset(checkpoint.config.dataset, "test")

if st.session_state.get("pad_hash") != hash_:  # a new model starts at the prior mean
    st.session_state.update(pad_hash=hash_, pad_start=np.zeros(z_dim, np.float32), pad_seq=0)


def start_from(z: np.ndarray) -> None:
    st.session_state["pad_start"] = np.clip(np.asarray(z, np.float32), -4, 4)
    st.session_state["pad_seq"] += 1


with st.container(border=True):
    c1, c2, c3, c4 = st.columns([1, 1, 2, 1])
    if c1.button("Prior mean (z = 0)", width="stretch"):
        start_from(np.zeros(z_dim))
    if c2.button("Random prior sample", width="stretch"):
        start_from(np.random.default_rng().standard_normal(z_dim))
    index = c3.number_input("Test image", 0, len(mu) - 1, 0, help="Start from this digit's posterior mean")
    if c4.button(f"Start from #{index} ({names[labels[index]]})", width="stretch"):
        start_from(mu[index])


@st.cache_resource(max_entries=4, show_spinner=False)
def overview(hash_: str, _xy: np.ndarray, _labels: np.ndarray):
    """The test map drawn once per checkpoint; only the star is drawn per release."""
    return map_raster(_xy, _labels)


@st.fragment
def follow_z(start: np.ndarray, seq: int) -> None:
    """The pad and everything that depends on z. A release reruns only this fragment."""
    if browser_decodable(model, hash_):
        # Everything that follows z (digit, star on the map, traversal, caption) is drawn by the
        # component in the browser; a release only tells the session its z. The key stays the same
        # for a checkpoint, so that rerun (or a new starting point) never remounts the pad.
        st.caption("Everything here follows the sliders in your browser: the digit, the star on the map and "
                   "|z| while you drag, the traversal when you let go.")
        latent_pad(model, hash_, kl, active, order, start, seq, latent_map("test"), names, key=f"pad-{hash_[:8]}")
        return
    # A decoder the browser cannot run: Streamlit sliders, decoded on the server on release.
    st.caption("This model's decoder runs on the server: the digit updates when you release a slider.")
    left, right = st.columns([3, 2])
    with left.container(height=520):
        values = {}
        for d in order:
            label = f"z{d} · KL {kl[d]:.2f}" + ("" if active[d] else " (inactive)")
            values[d] = st.slider(label, -4.0, 4.0, float(round(start[d], 2)), 0.01, key=f"z{d}-{seq}")
    z = torch.tensor([values[d] for d in range(z_dim)], dtype=torch.float32)
    with right:
        show_digit(decode_numpy(model, z[None])[0], "decoded from the sliders", scale=12)

    left, right = st.columns([2, 3])
    with left:
        st.subheader("Where z lies on the map")
        lmap = latent_map("test")
        base, to_pixels = overview(hash_, lmap.xy, lmap.labels)
        st.image(with_star(base, to_pixels, lmap.place(z.numpy()[None])[0]),
                 caption="★ where z lands among the test digits (colors as on the Latent map)")
    with right:
        st.subheader("Traversal")
        c1, c2, c3 = st.columns(3)
        dim = c1.selectbox("Dimension", order, format_func=lambda d: f"z{d} (KL {kl[d]:.2f})")
        span = c2.slider("Range", 0.5, 4.0, 3.0, 0.5, help="Sweep from -range to +range")
        steps = c3.slider("Steps", 3, 15, 9)
        sweep = traversal(z, dim, torch.linspace(-span, span, steps))
        show_digit(grid(decode_numpy(model, sweep), cols=steps),
                   f"z{dim} from {-span:g} to {span:g}, the others at z", scale=3)
        nearest = int(lmap.nearest(z.numpy(), 1)[0][0])
        st.caption(f"|z| = {float(z.norm()):.2f}; a typical prior sample has |z| ≈ {np.sqrt(z_dim):.1f}. "
                   f"Nearest test digit: #{nearest} ({names[lmap.labels[nearest]]}).")


follow_z(st.session_state["pad_start"], st.session_state["pad_seq"])

st.subheader("Samples from the prior")
c1, c2 = st.columns(2)
count = c1.slider("How many", 8, 64, 32, 8)
seed = c2.number_input("Seed", 0, 10**6, 0)
show_digit(grid(decode_numpy(model, prior_samples(count, z_dim, seed)), cols=16), "z ~ N(0, I)", scale=3)
