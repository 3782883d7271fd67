"""Start here: a guided tour of the article's argument on the loaded model, one step at a time
(ui/tour.py holds the steps). The step is kept in the session and the address (?step=N)."""
import streamlit as st

from ui.caches import current_model
from ui.page import page_header
from ui.tour import STEP, STEPS

page_header("Start here", "The article's argument in eight steps, each on the model in the sidebar: EM and the "
            "Gaussian mixture, the VAE as EM with an amortized E-step, the ELBO and its KL, why reparameterize, "
            "and what the model gets wrong. Every step opens its full page at the same state.")

# required: a click on the chosen step keeps it (pills would otherwise let it be clicked off)
number = STEP.widget(st.pills, "Step", list(range(1, len(STEPS) + 1)), selection_mode="single", required=True,
                     format_func=lambda n: f"{n}. {STEPS[n - 1].title}", label_visibility="collapsed")
step = STEPS[number - 1]
st.progress(number / len(STEPS), text=f"Step {number} of {len(STEPS)}")
st.subheader(f"{number}. {step.title}")
st.write(step.text)
st.latex(step.latex)
with st.container(border=True):
    link = step.show(current_model()[0])
if st.button(link.label, icon=":material/open_in_new:", type="primary", key="tour_link"):
    link.open()

back, forward = st.columns(2)
if back.button("Previous step", icon=":material/arrow_back:", disabled=number == 1, width="stretch"):
    STEP.set(number - 1)
    st.rerun()
if forward.button("Next step", icon=":material/arrow_forward:", disabled=number == len(STEPS), width="stretch"):
    STEP.set(number + 1)
    st.rerun()
