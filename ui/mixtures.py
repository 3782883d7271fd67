"""The mixture fitted to the selected model's codes (Gaussian components, or for a categorical
latent products of categoricals), shared by the EM page (which steps it) and the sliders (which
sample from it as a prior): the session's own EM run when the EM page has one for this model,
else a default mixture fitted once per model for every session."""
from __future__ import annotations

import numpy as np
import streamlit as st

from ui import state
from ui.caches import current_model, dataset, encodings, full_data_available, whole_model
from vae.models.gmm import COVARIANCES, MixtureDensity, MixtureEM

DEFAULT_K, DEFAULT_COVARIANCE = 10, "full"
EM_RUN = "em_run"  # session key: (model hash, k, covariance, codes, seed) and its MixtureEM
# The EM page's settings, which the tour sets too (its step opens the EM page at its run).
EM_K = state.Setting("k", DEFAULT_K, state.int_range(1, 30))
EM_COVARIANCE = state.Setting("covariance", DEFAULT_COVARIANCE, state.text_choice(COVARIANCES))


def code_sources(dataset_name: str) -> dict[str, str]:
    sources = {"test": f"test set ({len(dataset(dataset_name, 'test')[0]):,})"}
    if full_data_available(dataset_name):
        sources["train"] = f"training set ({len(dataset(dataset_name, 'train')[0]):,})"
    return sources


def em_codes(dataset_name: str) -> state.Setting:
    """Whose codes EM fits: the training set's when it is here (EM's data), else the test set's."""
    sources = code_sources(dataset_name)
    return state.Setting("codes", "train" if "train" in sources else "test", state.text_choice(tuple(sources)))


def codes(split: str) -> np.ndarray:
    checkpoint, hash_ = current_model()
    return encodings(*whole_model(checkpoint, hash_), checkpoint.config.dataset, split)[0]


def em_run(k: int, covariance: str, split: str, seed: int = 0, restart: bool = False) -> MixtureEM:
    """The session's EM run with these settings (a new one when they change, or on `restart`)."""
    _, hash_ = current_model()
    key = (hash_, k, covariance, split, seed)
    kept = st.session_state.get(EM_RUN)
    if restart or kept is None or kept[0] != key:
        with st.spinner(f"Starting EM: k-means for {k} components"):
            kept = (key, current_model()[0].model.latent.mixture_em(codes(split), k, covariance, seed))
        st.session_state[EM_RUN] = kept
    return kept[1]


@st.cache_resource(max_entries=4, show_spinner="Fitting a mixture to the codes")
def _default_mixture(hash_: str, split: str) -> MixtureDensity:
    return current_model()[0].model.latent.fit_mixture(codes(split), DEFAULT_K, DEFAULT_COVARIANCE)


def current_mixture() -> tuple[MixtureDensity, str]:
    """The mixture to sample from, and a few words on it."""
    checkpoint, hash_ = current_model()
    describe = checkpoint.model.latent.mixture_text
    kept = st.session_state.get(EM_RUN)
    if kept is not None and kept[0][0] == hash_:
        (_, k, covariance, split, _), em = kept
        return em.mixture, f"the EM page's mixture: {describe(k, covariance)}, {split} codes, " \
                           f"after {em.iteration} EM iterations"
    split = "train" if "train" in code_sources(checkpoint.config.dataset) else "test"
    return _default_mixture(hash_, split), f"{describe(DEFAULT_K, DEFAULT_COVARIANCE)}, " \
                                          f"fitted to the {split} set's codes"
