"""What every page needs in the browser and Streamlit has no option for (ui/components/browser_fixes.js):
a tap on a plotly chart selects the point under the finger, plotly's toolbar stays off narrow
screens, /map opens the map at the app's root, and plotly's code is loaded once the first page is drawn,
before another page's chart asks for it. Mounted once, by app.py, first thing."""
from pathlib import Path

import streamlit as st

from ui.component_data import as_data
from ui.components import source

_fixes = st.components.v2.component("browser_fixes", js=source("dom.js", "browser_fixes.js"))


def streamlit_plotly_chunk() -> str | None:
    """The file name of Streamlit's own plotly chunk ("PlotlyChart.<hash>.js", beside its index script
    in static/js), or None where this Streamlit has no one such file (then nothing is loaded early)."""
    found = list((Path(st.__file__).parent / "static" / "static" / "js").glob("PlotlyChart.*.js"))
    return found[0].name if len(found) == 1 else None


PLOTLY_CHUNK = streamlit_plotly_chunk()


def browser_fixes() -> None:
    _fixes(key="browser-fixes", data=as_data({"plotly": PLOTLY_CHUNK}))
