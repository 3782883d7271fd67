"""The Latent map's attribute direction (vae/analysis/directions.py): made from two classes' means or
two sets of picked digits, kept in the session and the address (`direction=classes:3:8` or
`direction=picks:1,2,3:4,5,6`, `corrected=0` to turn the bias correction off), applied to a digit
with a strength, downloadable, and a coloring of the map."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import streamlit as st

from ui import state
from ui.page import show_digit
from ui.text import literal
from vae.analysis.directions import Direction, attribute_direction
from vae.images import grid

DIRECTION = state.Setting("direction", "", state.TEXT)
CORRECTED = state.Setting("corrected", True, state.BOOLEAN)
STEPS = 9  # the strip: strengths from -s to s


def parse(spec: str, count: int, classes: int) -> tuple[str, list[int], list[int]]:
    """A direction's text as (kind, set a, set b): classes (one class each) or picks (indices into
    the map's `count` digits; one set may still be empty while the other is being picked).
    ValueError when it is not one."""
    kind, a, b = spec.split(":")
    a, b = ([int(v) for v in part.split(",") if v] for part in (a, b))
    limit = classes if kind == "classes" else count
    if kind not in ("classes", "picks") or not (a or b) or any(not 0 <= v < limit for v in a + b) or (
            kind == "classes" and (len(a) != 1 or len(b) != 1 or a == b)):
        raise ValueError(spec)
    return kind, a, b


def describe(kind: str, a: list[int], b: list[int], names: list[str]) -> tuple[str, str]:
    if kind == "classes":
        return f"class {names[a[0]]}", f"class {names[b[0]]}"
    shown = lambda s: ", ".join(f"#{i}" for i in s[:6]) + (f" and {len(s) - 6} more" if len(s) > 6 else "")  # noqa: E731
    return f"{len(a)} picked ({shown(a)})", f"{len(b)} picked ({shown(b)})"


def current_direction(lmap, names: list[str]) -> tuple[Direction, str, str] | None:
    """The direction the session (or the address) holds for this map, with its two ends described;
    None when there is none yet or it does not fit this map (then it is dropped, with a warning)."""
    spec = DIRECTION.get()
    if not spec:
        return None
    try:
        kind, a, b = parse(spec, len(lmap.labels), len(names))
    except ValueError:
        st.warning(f"{literal(spec[:60])} is not a direction on this map: dropped.")
        DIRECTION.set("")
        return None
    if not (a and b):
        return None  # one set picked so far
    if kind == "classes":
        set_a, set_b = (np.flatnonzero(lmap.labels == c[0]) for c in (a, b))
    else:
        set_a, set_b = np.asarray(a), np.asarray(b)
    direction = attribute_direction(lmap.mu[set_a], lmap.labels[set_a], lmap.mu[set_b], lmap.labels[set_b],
                                    correct=CORRECTED.current())
    return (direction, *describe(kind, a, b, names))


def _from_classes(names: list[str], spec: str) -> None:
    a, b = (1, 7) if len(names) > 7 else (0, 1)  # MNIST's: a stroke gains its bar
    if spec.startswith("classes:"):  # the address's, which current_direction has checked against this map
        a, b = (min(int(v), len(names) - 1) for v in spec.split(":")[1:])
    c1, c2, c3 = st.columns([2, 2, 1.4], vertical_alignment="bottom")
    a = c1.selectbox("From class", range(len(names)), index=a, format_func=names.__getitem__, key="direction_a")
    b = c2.selectbox("to class", range(len(names)), index=b, format_func=names.__getitem__, key="direction_b")
    if c3.button("Use it", key="direction_use", disabled=a == b or spec == f"classes:{a}:{b}",
                 icon=":material/arrow_forward:"):
        DIRECTION.set(f"classes:{a}:{b}")
        st.rerun()


def _from_picks(picked: list[int], spec: str) -> None:
    _, a, b = spec.split(":") if spec.startswith("picks:") else ("picks", "", "")
    st.caption("Pick images on the map (shift-click, box or lasso) and take them as set a; then pick the others "
               "and take them as set b. Set a → set b: upright → slanted, say, or thin → thick.")
    c1, c2 = st.columns(2)
    for column, end, held, other in ((c1, "a", a, b), (c2, "b", b, a)):
        count = len(held.split(",")) if held else 0
        if column.button(f"Set {end} ({count} images): take the {len(picked)} picked", key=f"direction_take_{end}",
                         disabled=not picked, icon=":material/input:"):
            taken = ",".join(map(str, picked))
            DIRECTION.set(f"picks:{taken}:{other}" if end == "a" else f"picks:{other}:{taken}")
            st.rerun()


def direction_controls(lmap, images: np.ndarray, names: list[str], picked: list[int], model_of: Callable,
                       continuous: bool, checkpoint_name: str) -> None:
    """The direction's section of the map page: define it, see it applied (decoded by the model that
    `model_of()` gives, asked for only then), download it. `images`: the map's, uint8; `continuous`:
    whether the model's codes are (a direction moves Gaussian codes only)."""
    spec = DIRECTION.get()
    kind = spec.split(":")[0] if spec else "classes"
    source = st.radio("From", ["classes", "picks"], index=["classes", "picks"].index(kind), horizontal=True,
                      format_func={"classes": "two classes' means", "picks": "two sets of picked images"}.get,
                      key="direction_source")
    if source == "classes":
        _from_classes(names, spec)
    else:
        _from_picks(picked, spec)
    current = current_direction(lmap, names)
    if current is None:
        return
    direction, a, b = current
    if spec.startswith("picks:"):  # two classes' means share no class: nothing to correct
        CORRECTED.widget(st.toggle, "Bias-corrected", help="White 2016: when the two sets' classes differ in share, "
                         "the raw difference of means carries the difference of classes too. Corrected, it is the "
                         "mean of the per-class differences over the classes both sets hold, each weighing the same.")
    note = (f"bias-corrected over classes {', '.join(names[c] for c in direction.classes)}" if direction.corrected
            else "the plain difference of the means")
    st.caption(f"From {a} to {b}: length {direction.length:.2f} in latent space, {note}.")
    if not continuous:
        st.info("Moving a code along a direction takes a categorical code off its simplex. Pick a Gaussian "
                "checkpoint in the sidebar to apply it; the map can still be colored by it.")
    else:
        start = picked[0] if picked else 0
        strength = st.slider("Strength", 0.5, 4.0, 2.0, 0.5, key="direction_strength",
                             help="How far to move, in units of the whole difference between the two ends")
        strengths = np.linspace(-strength, strength, STEPS)
        import torch

        from vae.analysis.walks import decode_numpy

        with torch.no_grad():
            strip = decode_numpy(model_of(), torch.from_numpy(direction.apply(lmap.mu[start], strengths)))
        show_digit(grid(np.concatenate([images[start][None] / np.float32(255), strip]), cols=STEPS + 1),
                   f"#{start} (the first picked), then its code moved by {', '.join(f'{s:g}' for s in strengths)} "
                   "times the direction, decoded", scale=3)
    c1, c2, c3 = st.columns(3)
    c1.download_button("Download it (JSON)", direction.to_json(checkpoint=checkpoint_name, a=a, b=b),
                       "direction.json", "application/json", icon=":material/download:")
    if c2.button("Color the map by it", icon=":material/palette:", disabled=state.MAP_COLOR.get() == "direction"):
        state.MAP_COLOR.set("direction")
        st.rerun()
    if c3.button("Clear it", icon=":material/close:"):
        DIRECTION.set("")
        if state.MAP_COLOR.get() == "direction":
            state.MAP_COLOR.set("class")
        st.rerun()
