"""Reconstruct: upload a digit, see how the model encodes, reconstructs and places it."""
import streamlit as st
import torch

from ui import state
from ui.charts import latent_scatter, posterior_chart
from ui.common import class_names, current_model, dataset, kl_and_activity, latent_map, page_header, show_digit
from ui.uploads import upload_digit
from vae.images import grid, to_gray
from vae.latent import decode_numpy, dims_by_kl

page_header("Reconstruct", "Upload a photo or drawing of one digit. It is prepared the way MNIST was made "
            "(grayscale, dark-on-light inverted, cropped to the ink, fitted into 20x20, centred by centre "
            "of mass in 28x28), then encoded, reconstructed and placed on the latent map.")

checkpoint, _ = current_model()
model = checkpoint.model
names = class_names()
original, digit = upload_digit("reconstruct_upload", keep="reconstruct_kept", with_original=True)
if digit is None:
    st.info("Try a photo of a digit written on paper, or a drawing exported from any paint program.")
    st.stop()

x = torch.from_numpy(digit)[None, None].to(model.device)  # (1, 1, 28, 28)
with torch.no_grad():
    q = model.posterior(x)
mu = q.code[0].cpu()  # the mean, or each variable's probabilities
recon = decode_numpy(model, mu[None])[0]

if st.button("Open in the sliders", icon=":material/tune:",
             help="Start the Latent sliders page from this upload's code"):
    state.open_in_sliders(mu.numpy())
c1, c2, c3 = st.columns(3)
with c1:
    # 16-bit, float and CMYK images do not display as they are: show those as the grayscale we read.
    shown = original if original.mode in ("RGB", "RGBA", "L", "LA", "P") else to_gray(original)
    st.image(shown, caption="your upload", width=168, clamp=True)
with c2:
    show_digit(digit, "prepared 28x28 input")
with c3:
    show_digit(recon, "reconstruction from μ")

lmap = latent_map("test")
images, _ = dataset(checkpoint.config.dataset, "test")
neighbours = lmap.nearest(mu.numpy(), 10)[0]
st.subheader("Nearest test digits in latent space")
st.caption(", ".join(f"#{i} ({names[lmap.labels[i]]})" for i in neighbours))
show_digit(grid(images[neighbours].float().div(255).numpy(), cols=10), scale=3)

left, right = st.columns(2)
with left:
    st.subheader("Where it lands on the map")
    placed = lmap.place(mu.numpy())
    st.plotly_chart(latent_scatter(lmap.xy, lmap.labels, names, marks={"your digit": (placed, "star")},
                                   height=460), width="stretch")
with right:
    categorical = model.latent.kind == "categorical"
    st.subheader("Posterior q(z|x) per " + ("variable" if categorical else "dimension"))
    kl, active = kl_and_activity()
    order = [d for d in dims_by_kl(list(kl)) if active[d]] or dims_by_kl(list(kl))
    st.plotly_chart(posterior_chart(q, order), width="stretch")
    st.caption("Active variables, most informative first: each one's probability of each of its categories; the "
               "prior is uniform." if categorical else
               "Active dimensions, most informative first. The prior is N(0, 1) in every dimension.")
