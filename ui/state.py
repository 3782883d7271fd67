"""What a user sets, kept for the whole session and in the URL.

Streamlit forgets a widget's value as soon as its page is left. Every setting that should outlive
that is a `Setting`: its value lives under a session-state key of its own (kept across pages), is
copied into the widget's key before the widget is drawn, and is written to the page's URL query
parameters, so that a reload or a shared link shows the same view. A new session starts from the
URL; a value the URL gets wrong is ignored with a one-line warning (an empty one that cannot be a
value, silently: `?checkpoint=` is a link cut short; the empty class list `?classes=` is a value).

    SCOPE = Setting("scope", "test", text_choice(("test", "all")))
    scope = SCOPE.widget(st.radio, "Images", ["test", "all"])      # drawn, kept, in the URL
    SCOPE.set("all")                                                # from code, e.g. a button

The session-state keys that pages pass to each other without a widget are declared here too.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from ui.text import literal
from vae.analysis.figure_labels import FIGURES

CHECKPOINT = "checkpoint"  # the sidebar's checkpoint picker (its widget key): the run every page explores
EXPLORE_RUN = "explore_run"  # Train page -> sidebar: select this run at the next rerun
BROKEN_SELECTION = "broken_selection"  # (name, note): a checkpoint asked for that cannot be shown, and why
DISMISSED_BROKEN = "dismissed_broken"  # the name whose note was dismissed: not said again this session
VISIT = "visit"  # (the page's path, which visit of the session this is): app.py counts them


def count_visit(path: str) -> None:
    """app.py, before each page's run: a new visit when the user comes to a page (from another page, a
    link, a reload), the same one while they rerun it there."""
    before = st.session_state.get(VISIT)
    if not before or before[0] != path:
        st.session_state[VISIT] = (path, before[1] + 1 if before else 1)


def visit() -> int:
    """Which visit to a page of the session this run is part of (something asked on one visit, such as
    an expander kept open, is not carried into the next)."""
    return st.session_state.get(VISIT, ("", 0))[1]


@dataclass(frozen=True)
class Codec:
    """How a value is written in a URL, and read back (ValueError when the text is not one)."""
    to_text: Callable[[Any], str]
    from_text: Callable[[str], Any]
    what: str  # what a valid value is, for the warning about a bad one


def text_choice(choices: tuple[str, ...]) -> Codec:
    def read(text: str) -> str:
        if text not in choices:
            raise ValueError(text)
        return text
    return Codec(str, read, "one of " + ", ".join(choices))


def int_range(low: int, high: int) -> Codec:
    def read(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise ValueError(text)
        return value
    return Codec(str, read, f"a whole number from {low} to {high}")


def int_list(low: int, high: int) -> Codec:
    def read(text: str) -> list[int]:
        values = [int(v) for v in text.split(",") if v != ""]
        if any(not low <= v <= high for v in values):
            raise ValueError(text)
        return values
    return Codec(lambda values: ",".join(map(str, values)), read,
                 f"whole numbers from {low} to {high}, separated by commas")


def float_list(length: int | None = None, low: float = -1e6, high: float = 1e6) -> Codec:
    import math

    def read(text: str) -> list[float]:
        values = [float(v) for v in text.split(",")]
        if (length is not None and len(values) != length) or any(
                not math.isfinite(v) or not low <= v <= high for v in values):
            raise ValueError(text)
        return values
    return Codec(lambda values: ",".join(f"{v:.3f}".rstrip("0").rstrip(".") for v in values), read,
                 f"{length or 'some'} numbers from {low:g} to {high:g}, separated by commas")


BOOLEAN = Codec(lambda v: "1" if v else "0", lambda t: {"1": True, "0": False}[t], "0 or 1")


def _text(text: str) -> str:
    if not text:  # `?checkpoint=` names nothing: Setting takes its default
        raise ValueError("empty")
    return text


TEXT = Codec(str, _text, "text")


@dataclass(frozen=True)
class Setting:
    name: str  # the query parameter
    default: Any
    codec: Codec

    @property
    def key(self) -> str:  # where the value is kept for the session
        return f"setting.{self.name}"

    @property
    def widget_key(self) -> str:
        return f"widget.{self.name}"

    def get(self) -> Any:
        """The session's value; on a session's first ask, the URL's (when valid), else the default."""
        if self.key not in st.session_state:
            st.session_state[self.key] = self._from_url()
        return st.session_state[self.key]

    def current(self) -> Any:
        """The value as it is now: the widget's (a change the user just made), else the kept one."""
        return st.session_state[self.widget_key] if self.widget_key in st.session_state else self.get()

    def set(self, value: Any) -> None:
        """Keep `value` for the session and show it in the URL (where the default is, nothing)."""
        st.session_state[self.key] = value
        if self.widget_key in st.session_state and st.session_state[self.widget_key] != value:
            del st.session_state[self.widget_key]  # the widget takes the new value when next drawn
        self.to_url()

    def to_url(self) -> None:
        value = self.get()
        if value == self.default or value is None:  # None: nothing chosen, which no link needs to say
            st.query_params.pop(self.name, None)
        else:
            st.query_params[self.name] = self.codec.to_text(value)

    def widget(self, draw: Callable, *args, **kwargs):
        """`draw(*args, key=..., **kwargs)` (an st widget) showing this setting; what it returns is
        kept and shown in the URL."""
        if self.widget_key not in st.session_state:
            st.session_state[self.widget_key] = self.get()
        value = draw(*args, key=self.widget_key, **kwargs)
        st.session_state[self.key] = value
        self.to_url()
        return value

    def _from_url(self) -> Any:
        text = st.query_params.get(self.name)
        if text is None:
            return self.default
        try:
            return self.codec.from_text(text)
        except (ValueError, KeyError, TypeError):
            if not text:  # `?checkpoint=`, a link cut short: no choice, so the default, and nothing to say
                return self.default
            st.warning(f"The link's {self.name}={literal(text[:60])} was ignored: it must be {self.codec.what}.",
                       icon=":material/link_off:")
            return self.default


# Settings that one page writes and another reads.
# The Latent map's picked digits (indices into its scope, in picking order) and its coloring
# (class, a per-image figure of vae.analysis.figure_labels.FIGURES, or the projection on its
# attribute direction, ui/directions.py).
MAP_PICKED = Setting("picked", [], int_list(0, 70_000 - 1))
PICKS_IN_ADDRESS = 500  # more picks (a box, a lasso) stay in the session, not in the link: a server refuses 100s of kB
MAP_COLOR = Setting("color", "class", text_choice(("class", *FIGURES, "direction")))
# The Prior holes page's number of prior samples, and whose codes make q(z) (the first of `splits`
# unless chosen).
HOLES_N = Setting("holes_n", 1000, int_range(100, 5000))


def holes_of(splits: tuple[str, ...]) -> Setting:
    return Setting("holes_of", splits[0], text_choice(splits))


# How every page's latent map is projected to 2D (vae.analysis.projection.PROJECTIONS).
PROJECTION = Setting("projection", "umap", text_choice(("umap", "pca", "tsne")))
# The class a conditional model is given on every page (the sidebar's picker; ui/caches.current_model).
GIVEN_CLASS = Setting("given", 0, int_range(0, 99))
# The latent sliders' z (a categorical latent's: each variable's category); None: the prior mean.
SLIDERS_Z = Setting("z", None, float_list(low=-1000, high=1000))
SLIDERS_START = "sliders_start"  # counts the times z was set from outside the pad: the pad then moves to it
INTERPOLATE_FROM = Setting("from", "test:3", TEXT)  # interpolation endpoints (views/interpolate.py reads them)
INTERPOLATE_TO = Setting("to", "test:2", TEXT)
INTERPOLATE_SENT = "interpolate_sent"  # counts the endpoints sent from other pages: its widgets then take them


def start_sliders_from(z) -> None:
    """Make `z` (a code of the selected model) the Latent sliders' next starting point."""
    SLIDERS_Z.set([float(v) for v in z])
    st.session_state[SLIDERS_START] = st.session_state.get(SLIDERS_START, 0) + 1


def open_in_sliders(z) -> None:
    """Start the Latent sliders page from `z` (its sliders page keeps what it needs of it) and go there."""
    start_sliders_from(z)
    st.switch_page("views/sliders.py")


def open_in_interpolation(start: str, end: str) -> None:
    """Interpolate between two endpoints (see views/interpolate.py for what they may be) and go there."""
    INTERPOLATE_FROM.set(start)
    INTERPOLATE_TO.set(end)
    st.session_state[INTERPOLATE_SENT] = st.session_state.get(INTERPOLATE_SENT, 0) + 1
    st.switch_page("views/interpolate.py")
