"""Plotly charts on touch screens and phones (ui/components/plotly_touch.js): a tap selects the point
under the finger, and plotly's toolbar stays off narrow screens. Mounted once, by app.py."""
import streamlit as st

from ui.components import source

_touch = st.components.v2.component("plotly_touch", js=source("plotly_touch.js"))


def plotly_touch() -> None:
    _touch(key="plotly-touch")
