"""The gradient estimators' comparison (vae/analysis/gradients.py) as the Why reparameterize page
and the tour share it: its settings (kept in the session and the address) and one cache for every
session, so that the tour's measurement is the page's when the tour opens it."""
from __future__ import annotations

import streamlit as st

from ui import state
from vae.analysis.gradients import variance_study
from vae.models.model import to_unit

DIGITS = state.Setting("digits", 4, state.int_range(1, 16))
LARGEST = state.Setting("largest", 1000, state.int_range(10, 1000))
# Once asked for, the comparison stays: for the session and in the address, so a reload or a link
# shows it again (from the cache of every session, or computed afresh with its progress).
COMPARED = state.Setting("compared", False, state.BOOLEAN)


def sample_sizes(largest: int) -> tuple[int, ...]:
    """L = 1, 3, 10, ... up to `largest` samples per digit."""
    return tuple(n for n in (1, 3, 10, 30, 100, 300, 1000) if n <= largest)


@st.cache_data(max_entries=16, show_spinner=False)
def study_of(_model, hash_: str, _images, count: int, ls: tuple[int, ...]):
    bar = st.progress(0.0, text="Estimating gradients")
    study = variance_study(_model, to_unit(_images[:count]).to(_model.device), ls,
                           progress=lambda i, n: bar.progress(i / n, text=f"{i} of {n}: estimator × L"))
    bar.empty()
    return study


def ratio_text(study, of: str = "score function", over: str = "reparameterization", digits: int = 0) -> str:
    """One estimator's variance over another's at L = 1, with its standard error: "6,086× ± 21%"."""
    error = max(study.ratio_error_at_one(of, over), 0.01)  # never "± 0%"
    return f"{study.ratio_at_one(of, over):,.{digits}f}× ± {error:.0%}"


def ratio_help(study) -> str:
    """What ratio_text's ± is."""
    repeats = next(r["repeats"] for r in study.rows if r["samples"] == 1)
    return (f"± one standard error, relative: from the spread of the {repeats} independent estimates at L = 1 (the "
            "delta method; a heavy-tailed score function makes it a little optimistic)")
