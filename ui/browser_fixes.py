"""What every page needs in the browser and Streamlit has no option for (ui/components/browser_fixes.js):
a tap on a plotly chart selects the point under the finger, and plotly's toolbar stays off
narrow screens. Mounted once, by app.py."""
import streamlit as st

from ui.components import source

_fixes = st.components.v2.component("browser_fixes", js=source("browser_fixes.js"))


def browser_fixes() -> None:
    _fixes(key="browser-fixes")
