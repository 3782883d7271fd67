"""Reconstruct: draw or upload a digit, see how the model encodes, reconstructs and places it, and
have it complete a digit whose part is unknown."""
import numpy as np
import streamlit as st
import torch

from ui import state
from ui.caches import as_class, class_names, current_model, dataset, kl_and_activity, latent_map, whole_model
from ui.charts import latent_scatter, posterior_chart
from ui.page import page_header, show_digit
from ui.sketchpad import draw_digit, encodes_in_browser, mark_unknown
from ui.uploads import upload_digit
from vae.analysis.completion import complete
from vae.analysis.walks import decode_numpy, dims_by_kl
from vae.datasets import dataset_info
from vae.images import grid, to_gray

checkpoint, hash_ = current_model()
model = checkpoint.model
info = dataset_info(model.config.dataset)
framing, side = info.framing, model.config.side
thing = framing.thing
PREPARED = {"mass": "grayscale, dark-on-light inverted, cropped to the ink, fitted into 20x20, centred by centre "
                    "of mass in 28x28, as MNIST was made",
            "box": f"grayscale, dark-on-light inverted, cropped to the ink, its longest side fitted to {side} pixels, "
                   f"centred in {side}x{side}, as {info.title} was made",
            "photo": f"its middle square resized to {side}x{side}, "
                     f"{'in colour' if model.config.channels == 3 else 'grayscale'}, as the folder's pictures were"}
ASK = f"Draw a {thing}, or upload a photo or drawing of one" if info.drawable else "Upload a picture"
page_header("Reconstruct", f"{ASK}. It is prepared the way the model's training pictures were "
            f"({PREPARED[framing.centre]}), then encoded, reconstructed and placed on the latent map"
            + ("; a drawing already while you draw, in your browser." if info.drawable else "."))
names = class_names()
kl, active = kl_and_activity()
order = [d for d in dims_by_kl(list(kl)) if active[d]] or dims_by_kl(list(kl))
lmap = latent_map("test")
SOURCES = {"draw": "Draw", "upload": "Upload"} if info.drawable else {"upload": "Upload"}
SOURCE = state.Setting("source", next(iter(SOURCES)), state.text_choice(tuple(SOURCES)))
# required: a click on the chosen source keeps it (it would otherwise switch to nothing, and so to drawing).
source = SOURCE.widget(st.segmented_control, f"Your {thing}", list(SOURCES), format_func=SOURCES.get,
                       selection_mode="single", required=True)

original = None
if source == "draw":
    drawn = draw_digit(model, hash_, lmap, active, order, key=f"draw-{hash_[:8]}")
    if drawn is not None:
        st.session_state["reconstruct_drawn"] = drawn
    digit = st.session_state.get("reconstruct_drawn")
    if digit is None:
        st.info(f"Draw a {thing} with the mouse, a finger or a pen: the panels follow every stroke. Lift the pen "
                f"for its nearest test {thing}s and where it lands on the map below.")
        st.stop()
else:
    original, digit = upload_digit("reconstruct_upload", keep="reconstruct_kept", dataset=model.config.dataset,
                                   with_original=True)
    if digit is None:
        st.info("Try a photo of a digit written on paper, or a drawing exported from any paint program."
                if thing == "digit" else f"Try a photo of a {thing} on a plain background, or a drawing of one."
                if info.drawable else "Try any picture: it is read as the folder's pictures were.")
        st.stop()

x = torch.from_numpy(digit)[None].to(model.device)  # (1, H, W[, C]) as stored
with torch.no_grad():
    q = model.posterior(x)
mu = q.code[0].cpu()  # the mean, or each variable's probabilities
recon = decode_numpy(model, mu[None])[0]

if st.button("Open in the sliders", icon=":material/tune:",
             help=f"Start the Latent sliders page from this {thing}'s code"):
    state.open_in_sliders(mu.numpy())
# A drawing's input, reconstruction, posterior and place on the map are on the board already (the
# browser's, for mlp and conv networks): the server adds what the browser cannot, its neighbours.
shown_by_the_board = source == "draw" and encodes_in_browser(model, hash_)
if not shown_by_the_board:
    c1, c2, c3 = st.columns(3)
    with c1:
        if original is not None:
            # 16-bit, float and CMYK images do not display as they are: show those as the grayscale we read.
            shown = original if original.mode in ("RGB", "RGBA", "L", "LA", "P") else to_gray(original)
            st.image(shown, caption="your upload", width=168, clamp=True)
    with c2:
        show_digit(digit, f"prepared {side}x{side} input")
    with c3:
        show_digit(recon, "reconstruction from μ")

if checkpoint.config.conditional:  # restyle: z is the style, the label the class
    whole, _ = whole_model(checkpoint, hash_)
    with torch.no_grad():
        restyled = whole.decode(mu[None].expand(whole.classes, -1).to(whole.device),
                                torch.arange(whole.classes, device=whole.device)).cpu().numpy()
    st.subheader(f"Your {thing}'s style, as every class")
    show_digit(grid(restyled, cols=whole.classes), scale=3)
    st.caption(f"This model is conditional: it encoded your {thing} as a «{names[model.given_class]}» (the class "
               f"picked in the sidebar: pick the one you drew), and its code z, the style, is decoded here with "
               f"each class label in turn: {', '.join(names)}.")

images, test_labels = dataset(checkpoint.config.dataset, "test")
neighbours = lmap.nearest(mu.numpy(), 10)[0]
st.subheader(f"Nearest test {thing}s in latent space")
st.caption(", ".join(f"#{i} ({names[lmap.labels[i]]})" for i in neighbours))
show_digit(grid(images[neighbours].float().div(255).numpy(), cols=10), scale=3)

if not shown_by_the_board:
    left, right = st.columns(2)
    with left:
        st.subheader("Where it lands on the map")
        placed = lmap.place(mu.numpy())
        st.plotly_chart(latent_scatter(lmap.xy, lmap.labels, names, marks={f"your {thing}": (placed, "star")},
                                       height=460), width="stretch")
    with right:
        st.subheader(f"Posterior q(z|x) per {model.latent.unit}")
        st.plotly_chart(posterior_chart(q, order), width="stretch")
        st.caption("Active variables, most informative first: each one's probability of each of its categories; the "
                   "prior is uniform." if not model.latent.continuous else
                   "Active dimensions, most informative first. The prior is N(0, 1) in every dimension.")

st.subheader(f"Complete a {thing}")
if not info.drawable:
    st.caption(f"Completing paints the unknown part on the drawing board, which makes 28x28 grayscale pictures; "
               f"this model's are {side}x{side}.")
    st.stop()
st.caption(f"Paint over part of the {thing}: the model fills that part in, keeping the rest. It encodes the picture, "
           "decodes it, puts the decoded pixels where the picture is unknown, and again (Rezende, Mohamed & "
           "Wierstra 2014); from the posterior's mean each time one completion, from samples of q(z|x) others.")
COMPLETE = {"mine": f"this {thing}", "test": f"a test {thing}"}
c1, c2 = st.columns([1, 1])
which = c1.radio("Complete", list(COMPLETE), format_func=COMPLETE.get, horizontal=True, key="complete_which")
index = c2.number_input(f"Test {thing}", 0, len(images) - 1, 7, key="complete_index", disabled=which != "test")
target = digit if which == "mine" else images[index].float().div(255).numpy()
board_seq = hash((which, int(index), target.tobytes())) % 10**9
unknown = mark_unknown(target, board_seq, key=f"complete-{hash_[:8]}", thing=thing)
if unknown is None or not unknown.any():
    st.caption("Nothing marked unknown yet.")
    st.stop()
# A test digit is completed as its own class by a conditional model, your digit as the sidebar's.
completer = model if which == "mine" else as_class(checkpoint, hash_, int(test_labels[index]))
steps = complete(completer, target, unknown, iterations=20)
shown_steps = [0, 1, 2, 3, 5, 10, 20]
show_digit(grid(np.stack([steps[s] for s in shown_steps]), cols=len(shown_steps)),
           "the unknown part at 0, then after 1, 2, 3, 5, 10 and 20 iterations from the posterior's mean", scale=3)
ends = [complete(completer, target, unknown, iterations=20, sample=True, seed=s)[-1] for s in range(8)]
show_digit(grid(np.stack(ends), cols=8), "eight completions, each from its own samples of q(z|x)", scale=3)
