"""Interpolation: decode the path between two digits' posterior means.

Each end is kept as a short text (in the URL too): `test:<index>`, `train:<index>`,
`class:<class>:<test index>` (a random test digit of that class), `draw` or `upload` (the picture
kept for the session only: a link cannot carry it).
"""
import numpy as np
import streamlit as st
import torch

from ui import state
from ui.caches import (
    class_names,
    current_model,
    dataset,
    digit_classifier,
    full_data_available,
    kl_and_activity,
    latent_map,
    nouns,
)
from ui.charts import latent_scatter
from ui.page import page_header, show_digit
from ui.sketchpad import draw_digit
from ui.text import literal
from ui.uploads import upload_digit
from vae.analysis.walks import decode_numpy, dims_by_kl, interpolate
from vae.datasets import dataset_info
from vae.images import gif_bytes, png_bytes, strip

thing, things = nouns()
page_header("Interpolation", f"Walk from one {thing}'s posterior mean to another's and decode every step. "
            "Linear follows the straight chord; slerp follows the sphere where prior samples live.")

checkpoint, _ = current_model()
model = checkpoint.model
names = class_names()
dataset_name = checkpoint.config.dataset
test_images, test_labels = dataset(dataset_name, "test")
has_train = full_data_available(dataset_name)
SOURCES = {"test": "Test image by index", "class": "Random from a class", "train": "Training image by index",
           "draw": "Draw", "upload": "Upload"}
if not has_train:
    del SOURCES["train"]
if not dataset_info(dataset_name).drawable:  # a drawing cannot stand for a photo, or a picture of another shape
    del SOURCES["draw"]
PATH = state.Setting("path", "linear", state.text_choice(("linear", "slerp")))
STEPS = state.Setting("steps", 10, state.int_range(2, 32))
ENDS = (state.INTERPOLATE_FROM, state.INTERPOLATE_TO)


def parse(spec: str) -> tuple[str, list[int]]:
    """An endpoint's kind and numbers; ValueError when the text is not an endpoint of this dataset."""
    kind, *numbers = spec.split(":")
    numbers = [int(n) for n in numbers]
    count = {"test": 1, "train": 1, "class": 2, "upload": 0, "draw": 0}.get(kind)
    if count is None or len(numbers) != count or kind not in SOURCES:
        raise ValueError(spec)
    limit = len(dataset(dataset_name, "train")[0]) if kind == "train" else len(test_images)
    if numbers and not 0 <= numbers[-1] < limit or kind == "class" and (
            not 0 <= numbers[0] < len(names) or int(test_labels[numbers[1]]) != numbers[0]):
        raise ValueError(spec)
    return kind, numbers


def random_of_class(c: int) -> int:
    return int(np.random.default_rng().choice(np.flatnonzero(test_labels.numpy() == c)))


def endpoint(slot: int, version: int) -> np.ndarray | None:
    """One end of the path as a float image (H, W[, C]), chosen the way the user asks; its spec kept."""
    setting, default = ENDS[slot], ENDS[slot].default
    if int(default.split(":")[1]) >= len(test_images):  # a small test set (an image folder's)
        default = f"test:{(1 - slot) % len(test_images)}"
    try:
        kind, numbers = parse(setting.get())
    except ValueError:
        if setting.get() != setting.default:  # the user's, or a link's, not ours
            st.warning(f"{literal(setting.get())} is not an endpoint of this dataset: showing {literal(default)}.")
        setting.set(default)
        kind, numbers = parse(default)
    suffix = f"{slot}-{version}"  # endpoints sent from another page remount the widgets with their values
    kind = st.radio("Source", list(SOURCES), index=list(SOURCES).index(kind), format_func=SOURCES.get,
                    key=f"src{suffix}")
    image = None
    if kind in ("test", "train"):
        images = test_images if kind == "test" else dataset(dataset_name, "train")[0]
        start = numbers[0] if numbers and setting.get().startswith(kind) else 0
        i = st.number_input("Index", 0, len(images) - 1, start, key=f"idx{kind}{suffix}")
        spec, image = f"{kind}:{i}", images[i].float().div(255).numpy()
    elif kind == "class":
        present = sorted(set(test_labels.tolist()))  # a small test set (an image folder's) may lack a class
        c0, i = numbers if len(numbers) == 2 else (present[slot * 7 % len(present)], None)
        c = st.selectbox("Class", present, index=present.index(c0), key=f"cls{suffix}", format_func=lambda k: names[k])
        if st.button("Another one", key=f"reroll{suffix}") or i is None or c != c0:
            i = random_of_class(c)
        spec, image = f"class:{c}:{i}", test_images[i].float().div(255).numpy()
        st.caption(f"Test image #{i}")
    elif kind == "draw":
        _, hash_ = current_model()
        kl, active = kl_and_activity()
        drawn = draw_digit(model, hash_, latent_map("test"), active, dims_by_kl(list(kl)),
                           key=f"draw{slot}-{hash_[:8]}")
        if drawn is not None:
            st.session_state[f"interpolate_drawn{slot}"] = drawn
        image = st.session_state.get(f"interpolate_drawn{slot}")
        if image is None:
            st.caption("Draw one; a drawing is kept for this session only: a link cannot carry it.")
        spec = "draw"
    else:
        image = upload_digit(key=f"upload{suffix}", keep=f"interpolate_upload{slot}", dataset=model.config.dataset)
        if image is None:
            st.caption("An upload is kept for this session only: a link cannot carry it.")
        spec = "upload"
    setting.set(spec)
    return image


cols = st.columns(2)
ends = []
version = st.session_state.get(state.INTERPOLATE_SENT, 0)
for slot, col in enumerate(cols):
    with col, st.container(border=True):
        st.markdown(f"**{'Start' if slot == 0 else 'End'}**")
        image = endpoint(slot, version)
        if image is not None:
            show_digit(image, scale=3)
        ends.append(image)

c1, c2 = st.columns(2)
with c1:
    paths = list(model.latent.paths)
    method = PATH.widget(st.radio, "Path", paths, horizontal=True) if len(paths) > 1 else paths[0]
with c2:
    steps = STEPS.widget(st.slider, "Steps", 2, 32)

if any(e is None for e in ends):
    st.stop()
x = torch.from_numpy(np.stack(ends)).to(model.device)  # (2, H, W[, C]) as stored
with torch.no_grad():
    mu = model.code(x).cpu()  # the means, or each variable's probabilities
path = interpolate(mu[0], mu[1], steps, method)  # (steps, code_dim)
frames = decode_numpy(model, path)
flips = model.latent.path_changes(path)
clf = digit_classifier(dataset_name)
if clf is None:
    captions = [f"{'* ' if s in flips else ''}step {s + 1}" for s in range(steps)]
else:
    probs = clf.probabilities(torch.from_numpy(frames)[:, None]).numpy()
    captions = [f"{'* ' if s in flips else ''}{names[p.argmax()]} {100 * p.max():.0f}%" for s, p in enumerate(probs)]
# One image a step, its caption as text: the row wraps to the screen's width, the captions stay readable.
st.image([png_bytes(frame, 3) for frame in frames], caption=captions, width=84)
st.caption(f"{method}, {steps} steps")
if clf is not None:
    st.caption(f"Under each step: the label the bundled {thing} classifier gives it, and its confidence.")
if not model.latent.continuous:
    st.caption(f"The path moves each variable's probabilities along the simplex from one {thing}'s to the other's. "
               + ("A * marks the steps where the most likely code flips: " + "; ".join(
                   f"step {s + 1} ({', '.join(changes)})" for s, changes in flips.items()) + "."
                  if flips else "The most likely code never flips on this path."))
d1, d2, d3 = st.columns([1, 1, 2], vertical_alignment="bottom")
d1.download_button("Download GIF", gif_bytes(frames), "interpolation.gif", "image/gif", icon=":material/gif:")
d2.download_button("Download PNG strip", png_bytes(strip(frames), 4), "interpolation.png", "image/png",
                   icon=":material/image:")
with d3:
    c1, c2 = st.columns([1, 1], vertical_alignment="bottom")
    step = c1.number_input("Step", 1, steps, (steps + 1) // 2, help="Counted from 1 at the start")
    if c2.button(f"Open step {step} in the sliders", icon=":material/tune:"):
        state.open_in_sliders(path[step - 1].numpy())

st.subheader("The path on the latent map")
lmap = latent_map("test")
placed = lmap.place(path.numpy())
st.plotly_chart(latent_scatter(lmap.xy, lmap.labels, names, path=placed,
                               marks={"start": (placed[:1], "circle"), "end": (placed[-1:], "star")},
                               height=520), width="stretch")
st.caption("Path points are placed on the map at the neighbour-weighted position of their nearest test codes.")
