"""Latent sliders: set each latent dimension by hand and watch the decoder's output, live."""
import numpy as np
import streamlit as st
import torch

from ui import state
from ui.caches import (
    class_names,
    current_model,
    dataset,
    kl_and_activity,
    latent_map,
    nouns,
    test_encodings,
    whole_model,
)
from ui.charts import map_raster, with_star
from ui.factors import dimension_labels
from ui.latent_pad import browser_decodable, latent_pad
from ui.mixtures import current_mixture
from ui.page import page_header, show_digit
from ui.sketchpad import draw_digit
from vae.analysis.walks import decode_numpy, dims_by_kl, prior_samples, traversal, z_json
from vae.datasets import dataset_info
from vae.images import grid, png_bytes
from vae.models.latent_kinds import SLIDER_RANGE

page_header("Latent sliders", "One slider per latent dimension (one picker per variable for a categorical "
            "latent), most informative first (KL from the prior, in nats, beside each). Inactive ones, which "
            "the decoder ignores, are folded away. Arrow keys step a slider by 0.1, or move a picker.")

checkpoint, hash_ = current_model()
model, z_dim = checkpoint.model, checkpoint.config.latent_dim
kl, active = kl_and_activity()
dim_labels = dimension_labels(checkpoint, hash_, kl, active)  # with the factor each active one knows, where known
order = dims_by_kl(list(kl))
names = class_names()
thing, things = nouns()
mu, _ = test_encodings(*whole_model(checkpoint, hash_), checkpoint.config.dataset)
images, labels = dataset(checkpoint.config.dataset, "test")
COUNT = state.Setting("samples", 32, state.int_range(8, 64))
SOURCES = {"prior": "the prior", "mixture": "a mixture fitted to the codes"}
SOURCE = state.Setting("sample_from", "prior", state.text_choice(tuple(SOURCES)))
SEED = state.Setting("seed", 0, state.int_range(0, 10**6))


kept_values = model.latent.kept_values  # what the session (and the address) keeps of a code


def start_from(code) -> None:
    """A new starting point for the pad (it moves there in place)."""
    state.SLIDERS_Z.set(kept_values(code))
    st.session_state[state.SLIDERS_START] = st.session_state.get(state.SLIDERS_START, 0) + 1


if st.session_state.get("sliders_model", hash_) != hash_:  # another model: its z starts at the prior mean
    start_from(np.zeros(z_dim))
st.session_state["sliders_model"] = hash_
kept = state.SLIDERS_Z.get()
if kept is not None and len(kept) not in (z_dim, model.code_dim):
    st.warning(f"The z kept for the sliders has {len(kept)} numbers, and this model has {z_dim} latent "
               f"{model.latent.unit}s: "
               "starting afresh.", icon=":material/warning:")
    start_from(np.zeros(z_dim))
elif kept is not None and kept_values(kept) != kept:  # a code sent from another page
    state.SLIDERS_Z.set(kept_values(kept))
state.SLIDERS_Z.to_url()

if not model.latent.continuous:  # pickers: start from a prior sample or a test digit's code
    with st.container(border=True):
        c1, c2, c3 = st.columns([1, 2, 1], vertical_alignment="bottom")
        if c1.button("Random prior sample", width="stretch", help="One category per variable, uniformly"):
            start_from(prior_samples(model, 1, int(np.random.default_rng().integers(2**31)))[0])
        index = c2.number_input("Test image", 0, len(mu) - 1, 0,
                                help=f"Start from this {thing}'s most likely category in each variable")
        if c3.button(f"Start from #{index} ({names[labels[index]]})", width="stretch"):
            start_from(mu[index])
else:
    with st.container(border=True):  # two rows: five controls in one cut their labels at desktop width
        c1, c2, c3 = st.columns(3, vertical_alignment="bottom")
        if c1.button("Prior mean (z = 0)", width="stretch"):
            start_from(np.zeros(z_dim))
        if c2.button("Random prior sample", width="stretch"):
            start_from(np.random.default_rng().standard_normal(z_dim))
        if c3.button("Random mixture sample", width="stretch",
                     help="A draw of the Gaussian mixture fitted to the codes (see EM and mixtures)"):
            start_from(current_mixture()[0].sample(1, seed=int(np.random.default_rng().integers(2**31)))[0])
        c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
        index = c1.number_input("Test image", 0, len(mu) - 1, 0, help=f"Start from this {thing}'s posterior mean")
        if c2.button(f"Start from #{index} ({names[labels[index]]})", width="stretch"):
            start_from(mu[index])


if dataset_info(checkpoint.config.dataset).drawable:  # a drawing cannot stand for a photo, or another shape
    with st.expander("Start from a drawing", icon=":material/draw:"):
        drawn = draw_digit(model, hash_, latent_map("test"), active, order, key=f"sliders-draw-{hash_[:8]}")
        if drawn is not None and st.button("Start from this drawing", icon=":material/tune:"):
            with torch.no_grad():
                start_from(model.code(torch.from_numpy(drawn)[None].to(model.device))[0].cpu().numpy())


@st.cache_resource(max_entries=4, show_spinner=False)
def overview(hash_: str, _xy: np.ndarray, _labels: np.ndarray):
    """The test map drawn once per checkpoint; only the star is drawn per release."""
    return map_raster(_xy, _labels)


def server_sliders(start: np.ndarray, seq: int) -> np.ndarray:
    """Streamlit sliders, for a decoder the browser cannot run: active dimensions first, the inactive
    ones folded away as on the browser's pad."""
    values = {}

    def slider(d: int) -> None:
        label = dim_labels[d]
        values[d] = st.slider(label, -SLIDER_RANGE, SLIDER_RANGE, float(round(start[d], 1)), 0.1, key=f"z{d}-{seq}")

    inactive = [d for d in order if not active[d]]
    with st.container(height=520):
        for d in order:
            if active[d]:
                slider(d)
        if inactive:
            with st.expander(f"{len(inactive)} inactive dimensions (the decoder ignores them)"):
                for d in inactive:
                    slider(d)
    return np.array([values[d] for d in range(z_dim)], np.float32)


@st.fragment
def follow_z(start: np.ndarray, seq: int) -> None:
    """The pad and everything that depends on z. A release reruns only this fragment."""
    if browser_decodable(lambda: model, hash_):
        # Everything that follows z (digit, star on the map, traversal, caption) is drawn by the
        # component in the browser; a release only tells the session its z. The key stays the same
        # for a checkpoint, so that rerun (or a new starting point) never remounts the pad.
        st.caption(f"Everything here follows the pickers in your browser: the {thing}, its label and the star on "
                   "the map at every pick, the traversal (a variable through its categories) too."
                   if not model.latent.continuous else
                   f"Everything here follows the sliders in your browser: the {thing}, its label, the star on the "
                   "map and |z| while you drag, the traversal when you let go.")
        if checkpoint.config.conditional:
            st.caption(f"This model is conditional: the {thing} is z decoded as a «{names[model.given_class]}», the "
                       "class picked in the sidebar; under it, the same z as every class. The sliders move the style.")
        released = latent_pad(model, hash_, kl, active, order, start, seq, latent_map("test"), names,
                              checkpoint.path.name, key=f"pad-{hash_[:8]}", whole=whole_model(checkpoint, hash_),
                              labels=dim_labels)
        if released is not None:
            state.SLIDERS_Z.set(kept_values(released))
        return
    if not model.latent.continuous:
        st.error("This model's decoder cannot run in the browser, and its pickers need it to.")
        return
    # A decoder the browser cannot run: Streamlit sliders, decoded on the server on release.
    st.caption(f"This model's decoder runs on the server: the {thing} updates when you release a slider.")
    left, right = st.columns([3, 2])
    with left:
        z_np = server_sliders(start, seq)
    state.SLIDERS_Z.set([float(v) for v in z_np])
    z = torch.from_numpy(z_np)
    with right:
        show_digit(decode_numpy(model, z[None])[0], "decoded from the sliders", scale=12)
        st.download_button("Download z (JSON)", z_json(z_np, checkpoint.path.name), "z.json",
                           "application/json", icon=":material/download:")

    left, right = st.columns([2, 3])
    with left:
        st.subheader("Where z lies on the map")
        lmap = latent_map("test")
        base, to_pixels = overview(hash_, lmap.xy, lmap.labels)
        st.image(with_star(base, to_pixels, lmap.place(z_np[None])[0]),
                 caption=f"★ where z lands among the test {things} (colors as on the Latent map)")
    with right:
        st.subheader("Traversal")
        c1, c2, c3 = st.columns(3)
        dim = c1.selectbox("Dimension", order, format_func=dim_labels.get)
        span = c2.slider("Range", 0.5, 4.0, 3.0, 0.5, help="Sweep from -range to +range")
        steps = c3.slider("Steps", 3, 15, 9)
        sweep = grid(decode_numpy(model, traversal(z, dim, torch.linspace(-span, span, steps))), cols=steps)
        show_digit(sweep, f"z{dim} from {-span:g} to {span:g}, the others at z", scale=3)
        st.download_button("Download traversal (PNG)", png_bytes(sweep, 4), f"traversal-z{dim}.png", "image/png",
                           icon=":material/download:")
        nearest = int(lmap.nearest(z_np, 1)[0][0])
        st.caption(f"|z| = {float(z.norm()):.2f}; a typical prior sample has |z| ≈ {np.sqrt(z_dim):.1f}. "
                   f"Nearest test {thing}: #{nearest} ({names[lmap.labels[nearest]]}).")


kept = state.SLIDERS_Z.get()
follow_z(model.latent.code_of(kept if kept is not None else np.zeros(z_dim)),
         st.session_state.get(state.SLIDERS_START, 0))

st.subheader("Samples")
c1, c2, c3 = st.columns([2, 2, 1])
source = SOURCE.widget(c1.radio, "From", list(SOURCES), format_func=SOURCES.get, horizontal=True)
count = COUNT.widget(c2.slider, "How many", 8, 64, step=8)
seed = SEED.widget(c3.number_input, "Seed", 0, 10**6)
if source == "prior":
    z, caption = prior_samples(model, count, seed), f"z ~ {model.latent.prior_text}"
else:
    mixture, about = current_mixture()
    z, caption = torch.from_numpy(mixture.sample(count, seed=seed)), f"z ~ a mixture of the codes ({about})"
samples = grid(decode_numpy(model, z), cols=16)
show_digit(samples, caption, scale=3)
st.download_button("Download the samples (PNG)", png_bytes(samples, 4), f"prior-samples-seed{seed}.png", "image/png",
                   icon=":material/download:")
