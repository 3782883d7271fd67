"""The app through Streamlit's AppTest, in this process: pages render as a browser would ask for
them, without a browser. Point ui.caches.CHECKPOINTS_DIR at a test's folder first (monkeypatch).

    at = open_app("views/sliders.py")     # app.py, then the page; no exception on the way
"""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
VIEWS = [f"views/{p.name}" for p in sorted((ROOT / "views").glob("*.py"))]  # every page, as switch_page names it


def bundled_checkpoints(folder: Path, monkeypatch, *names: str) -> Path:
    """Copies of the named bundled checkpoints in `folder`, which the app then lists (ui.caches)."""
    import shutil

    import ui.caches

    for name in names:
        shutil.copytree(ROOT / "checkpoints" / name, folder / name)
    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", folder)
    return folder


def open_app(page: str | None = None, query_params: dict | None = None) -> AppTest:
    """app.py run once (the sidebar and the default page), opened with `query_params` as a link
    would, then `page` when given; fails on an exception box."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(query_params or {})
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def latent_pad(at: AppTest) -> tuple[str, dict] | None:
    """The latent pad's element id and the data it was sent (the page's other components, such
    as a sketchpad, aside); None when the page has no pad."""
    import json

    from ui.component_data import payload_of

    pads = [(c.proto.id, payload_of(json.loads(c.proto.json))) for c in at.get("bidi_component") if c.proto.json]
    return next(((id_, data) for id_, data in pads if "z" in data), None)


def map_chart(at: AppTest) -> dict | None:
    """What the latent map's chart (ui/map_chart.py) was sent, its arrays decoded (xy, labels, order,
    values); None when the page drew none."""
    import base64
    import json

    import numpy as np

    from ui.component_data import payload_of

    for c in at.get("bidi_component"):
        if c.proto.component_name.endswith("latent_map") and c.proto.json:
            data = payload_of(json.loads(c.proto.json))
            for name, dtype in (("xy", "<f4"), ("labels", "<i4"), ("order", "<i4"), ("values", "<f4")):
                if data.get(name):
                    data[name] = np.frombuffer(base64.b64decode(data[name]), dtype)
            data["xy"] = data["xy"].reshape(-1, 2)
            return data
    return None


def click_expander(at: AppTest, label: str) -> AppTest:
    """Open or close the expander whose label starts with `label` as the browser does: a rerun that
    sends every widget's state with the expander's flipped, addressed by its element id (a stateful
    expander's id follows its label and `expanded`, which a write to its key would paper over)."""
    from streamlit.proto.WidgetStates_pb2 import WidgetStates

    expander = next(e for e in at.expander if e.label.startswith(label))
    states = WidgetStates()
    states.widgets.extend(w for w in at._tree.get_widget_states().widgets if w.id != expander.proto.id)
    flipped = states.widgets.add()
    flipped.id, flipped.bool_value = expander.proto.id, not expander.proto.expanded
    return at._run(states)
