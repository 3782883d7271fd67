"""What every page draws the same way: its title and help, a row of charts, a digit, an expander
drawn only while open."""
from __future__ import annotations

import numpy as np
import streamlit as st

from ui import state
from ui.charts import shared_legend
from vae.images import png_bytes


def show_charts(figures: list) -> None:
    """Figures side by side in columns (one under the other on a narrow screen), their legends made
    one, above them (ui.charts.shared_legend)."""
    legend, figures = shared_legend(figures)
    if legend is not None:
        st.plotly_chart(legend, width="stretch", config={"staticPlot": True})
    for column, figure in zip(st.columns(len(figures)), figures):
        column.plotly_chart(figure, width="stretch")


def show_digit(image: np.ndarray, caption: str | None = None, scale: int = 6) -> None:
    """A float image in [0, 1], (H, W) gray or (H, W, 3) RGB, scaled up with crisp square pixels."""
    st.image(png_bytes(image, scale), caption=caption)


def page_header(title: str, help_text: str) -> None:
    st.title(title)
    st.caption(help_text)


def folded(label: str, key: str, icon: str):
    """An expander whose contents are drawn only while it is open: the container when open, else None.
    Opening or closing it reruns the page, so a page's first run draws none of what it holds (nor
    does the browser fetch those widgets' code: BENCHMARKS.md, cold start).

    Streamlit tells a stateful expander by its label and `expanded` too, not by its key alone: one
    whose label changed (a label naming its settings changes with them) is a new one, and an old
    one's state outlives it where a run ends in st.stop() (no stale state is dropped then). So what
    the user did is kept here, from the callback before the rerun, and given to whichever expander
    this run draws: open from when they open it on a visit until they close it; on another visit,
    closed."""
    opened_on = f"{key}.opened_on"  # the visit on which the user opened it

    def remember() -> None:
        if st.session_state[key]:
            st.session_state[opened_on] = state.visit()
        else:
            st.session_state.pop(opened_on, None)

    is_open = st.session_state.get(opened_on) == state.visit()
    st.session_state[key] = is_open
    box = st.expander(label, icon=icon, key=key, on_change=remember, expanded=is_open)
    return box if box.open else None
