"""Latent sliders: set each latent dimension by hand and watch the decoder's output."""
import numpy as np
import streamlit as st
import torch

from ui.common import class_names, current_model, dataset, kl_and_activity, page_header, show_digit, test_encodings
from vae.images import grid
from vae.latent import decode_numpy, dims_by_kl, prior_samples, traversal

page_header("Latent sliders", "One slider per latent dimension, most informative first (KL from the prior, "
            "in nats, beside each). Inactive dimensions, which the decoder ignores, are folded away.")

state, hash_ = current_model()
model, z_dim = state.model, state.config.latent_dim
kl, active = kl_and_activity()
order = dims_by_kl(list(kl))
names = class_names()
keys = [f"z{d}" for d in range(z_dim)]


def set_z(z: np.ndarray) -> None:
    for d in range(z_dim):
        st.session_state[keys[d]] = float(np.clip(round(float(z[d]), 2), -4.0, 4.0))


if keys[0] not in st.session_state:
    set_z(np.zeros(z_dim))

with st.container(border=True):
    c1, c2, c3, c4 = st.columns([1, 1, 2, 1])
    if c1.button("Prior mean (z = 0)", width="stretch"):
        set_z(np.zeros(z_dim))
    if c2.button("Random prior sample", width="stretch"):
        set_z(np.random.default_rng().standard_normal(z_dim))
    mu, _ = test_encodings(model, hash_, state.config.dataset)
    images, labels = dataset(state.config.dataset, "test")
    index = c3.number_input("Test image", 0, len(mu) - 1, 0, help="Start from this digit's posterior mean")
    if c4.button(f"Start from #{index} ({names[labels[index]]})", width="stretch"):
        set_z(mu[index])

left, right = st.columns([3, 2])
with left:
    slider_area = st.container(height=520)
    shown = [d for d in order if active[d]]
    hidden = [d for d in order if not active[d]]
    for d in shown:
        slider_area.slider(f"z{d} · KL {kl[d]:.2f}", -4.0, 4.0, step=0.01, key=keys[d])
    if hidden:
        with slider_area.expander(f"{len(hidden)} inactive dimensions (KL < 0.01 or no variation)"):
            for d in hidden:
                st.slider(f"z{d} · KL {kl[d]:.3f}", -4.0, 4.0, step=0.01, key=keys[d])
z = torch.tensor([st.session_state[k] for k in keys], dtype=torch.float32)
with right:
    show_digit(decode_numpy(model, z[None])[0], "decoded from the sliders", scale=12)
    st.caption(f"|z| = {float(z.norm()):.2f} (a typical prior sample has |z| ≈ {np.sqrt(z_dim):.1f})")

st.subheader("Traversal")
c1, c2, c3 = st.columns(3)
dim = c1.selectbox("Dimension", order, format_func=lambda d: f"z{d} (KL {kl[d]:.2f})")
span = c2.slider("Range", 0.5, 4.0, 3.0, 0.5, help="Sweep from -range to +range")
steps = c3.slider("Steps", 3, 21, 11)
sweep = traversal(z, dim, torch.linspace(-span, span, steps))
show_digit(grid(decode_numpy(model, sweep), cols=steps), f"z{dim} from {-span:g} to {span:g}, others as above",
           scale=3)

st.subheader("Samples from the prior")
c1, c2 = st.columns(2)
count = c1.slider("How many", 8, 64, 32, 8)
seed = c2.number_input("Seed", 0, 10**6, 0)
show_digit(grid(decode_numpy(model, prior_samples(count, z_dim, seed)), cols=16), "z ~ N(0, I)", scale=3)
