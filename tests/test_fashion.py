"""Fashion-MNIST end to end (issue #16): the bundled model explored on every page, with the
classes' names wherever labels show."""
from pathlib import Path

import pytest

from tests.app_support import VIEWS, bundled_checkpoints, map_chart, open_app

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture
def checkpoints(tmp_path, monkeypatch):
    return bundled_checkpoints(tmp_path, monkeypatch, "default", "fashion-mnist")


def test_every_page_explores_the_bundled_fashion_model_by_class_name(checkpoints):

    at = open_app(query_params={"checkpoint": "fashion-mnist", "codes": "test"})
    assert any("Fashion-MNIST" in c.value for c in at.sidebar.caption)
    chart = map_chart(at)
    assert [chart["names"][c] for c in chart["classes"]][:3] == ["T-shirt/top", "Trouser", "Pullover"]
    for page in VIEWS:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        if page not in DIGITS_ON_PURPOSE:  # garments, not digits
            assert not [t for t in shown_text(at) if "digit" in t.lower()], page


# The Out of distribution page sets the model's dataset against the other one (MNIST's digits, here),
# and the tour's story is told with MNIST: their texts name digits on purpose.
DIGITS_ON_PURPOSE = ("views/ood.py", "views/start.py")


def shown_text(at) -> list[str]:
    """What the page says in words: markdown, captions, headings, alerts, widget labels, help and
    options (not what the browser draws: charts, images' captions, the components)."""
    texts = []
    for kind in ("markdown", "caption", "subheader", "header", "title", "info", "warning", "error", "success"):
        texts += [e.value for e in at.get(kind)]
    for kind in ("button", "number_input", "slider", "select_slider", "selectbox", "radio", "toggle", "checkbox",
                 "multiselect", "text_input", "metric", "segmented_control", "download_button"):
        for e in at.get(kind):
            texts += [getattr(e, "label", "") or "", getattr(e, "help", "") or ""]
            texts += [str(option) for option in getattr(e, "options", None) or []]
    return texts
