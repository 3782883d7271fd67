"""What every page draws the same way: its title and help, a row of charts, a digit."""
from __future__ import annotations

import numpy as np
import streamlit as st

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
