"""Every page through Streamlit's AppTest: renders without exceptions with the bundled model,
and changing widgets changes what is shown."""
import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import ui.caches
import ui.latent_pad
from tests.app_support import latent_pad, open_app
from vae.analysis.projection import load_cached_map
from vae.run_files import map_cache_path
from vae.training.checkpoint import weights_hash

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["views/map.py", "views/sliders.py", "views/interpolate.py", "views/reconstruct.py", "views/em.py",
         "views/reparam.py", "views/curves.py", "views/train.py", "views/ood.py"]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A private copy of the bundled checkpoint (with its shipped map), and one broken folder."""
    root = tmp_path_factory.mktemp("checkpoints")
    shutil.copytree(ROOT / "checkpoints" / "default", root / "default")
    (root / "broken").mkdir()
    (root / "broken" / "config.json").write_text("{nope")
    return root


@pytest.fixture
def app(checkpoints, monkeypatch):
    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", checkpoints)

    return open_app


def images(at: AppTest) -> list[str]:
    """The media URLs of every image on the page; a URL changes when the pixels change."""
    return [img.url for element in at.get("image") for img in element.proto.imgs]


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_without_exceptions(app, page):
    at = app(page)
    assert at.title[0].value  # every page has its heading
    assert not at.error, [e.value for e in at.error]


def test_sidebar_shows_the_bundled_model_and_lists_broken_folders(app):
    at = app("views/curves.py")
    picker = at.sidebar.selectbox(key="checkpoint")
    assert picker.value == "default"
    assert len(picker.options) == 1
    assert picker.options == ["default"]  # a name: nats of other scorings are never side by side there
    assert any("Test −ELBO" in m.label for m in at.sidebar.metric)
    assert any("cannot be loaded" in e.label for e in at.sidebar.expander)
    assert any(t.value.startswith("broken: config.json is not a valid model config") for t in at.sidebar.text)


def pad_data(at: AppTest) -> tuple[str, dict]:
    pad = latent_pad(at)
    assert pad, "no latent pad on the page"
    return pad


def test_start_buttons_move_the_browser_pad_in_place(app):
    """A browser-decodable model: the pad (tests/test_browser.py) draws everything that follows z,
    so the page has no server-side map, traversal or caption; a new starting point goes to the same
    pad (same element, a new seq) with the test digit's code and the map file to place it on."""
    at = app("views/sliders.py")
    pad_id, data = pad_data(at)
    assert data["z"] == [0.0] * data["z_dim"] and data["map"]["url"].startswith("app/static/decoders/map-")
    assert not any(s.label in ("Range", "Steps") for s in at.slider)
    assert len(at.get("image")) == 1  # the prior samples only
    assert not any(m.value.startswith("|z| =") for m in at.caption)
    next(b for b in at.button if b.label.startswith("Start from #")).click().run()
    same_id, moved = pad_data(at)
    assert same_id == pad_id and moved["seq"] == data["seq"] + 1
    folder = ROOT / "checkpoints" / "default"
    first = load_cached_map(map_cache_path(folder, weights_hash(folder), "mnist-test")).mu[0]
    assert np.allclose(moved["z"], np.clip(first, -4, 4), atol=1e-6)  # test image #0's posterior mean
    next(b for b in at.button if b.label.startswith("Prior mean")).click().run()
    assert pad_data(at)[1]["z"] == [0.0] * data["z_dim"] and not at.exception


def test_server_side_fallback_start_buttons_and_traversal_widgets_change_the_digits(app, monkeypatch):
    """A decoder the browser cannot run keeps the server-side page: Streamlit sliders, and the map,
    traversal and caption redrawn on the server."""
    monkeypatch.setattr(ui.latent_pad, "browser_decodable", lambda model, weights_hash: False)
    at = app("views/sliders.py")
    assert latent_pad(at) is None
    before = images(at)
    next(b for b in at.button if b.label.startswith("Start from #")).click().run()
    after_start = images(at)
    assert after_start != before  # the traversal is drawn around the new z
    next(s for s in at.slider if s.label == "Range").set_value(1.5).run()
    assert images(at) != after_start
    assert any(m.value.startswith("|z| =") and "Nearest test digit: #" in m.value for m in at.caption)
    next(b for b in at.button if b.label.startswith("Prior mean")).click().run()
    assert not at.exception


def test_interpolation_steps_and_method_change_the_strip(app):
    at = app("views/interpolate.py")
    before = images(at)
    at.slider[0].set_value(5).run()
    after_steps = images(at)
    assert after_steps != before
    path_radio = next(r for r in at.radio if r.options == ["linear", "slerp"])
    path_radio.set_value("slerp").run()
    assert not at.exception and images(at) != after_steps
    assert any(b.label == "Download GIF" for b in at.get("download_button"))


def test_interpolation_endpoints_by_index(app):
    at = app("views/interpolate.py")
    before = images(at)
    at.number_input(key="idxtest1-0").set_value(11).run()
    assert images(at) != before


def test_map_class_filter_runs(app):
    from tests.app_support import click_expander

    at = click_expander(app("views/map.py"), "Map settings")
    at.multiselect[0].set_value([1, 7]).run()
    assert not at.exception


def test_training_progress_says_starting_until_the_first_logged_step():
    from ui.training_status import progress_text
    from vae.services.jobs import JobStatus

    assert progress_text(JobStatus("running", Path("run"))).startswith("starting")
    status = JobStatus("running", Path("run"), epochs=8, steps=[{"step": 50}])
    status.epoch, status.step, status.images_per_second, status.seconds_left = 0.5, 50, 20000.0, 75.0
    assert progress_text(status) == "epoch 0.50 of 8 · step 50 · 20,000 images/s · 1:15 left"
    from ui.training_status import epoch_text

    assert epoch_text(2.0, 30) == "epoch 2 of 30" and epoch_text(2.1322, 30) == "13% into epoch 3 of 30"


def test_the_train_page_offers_gpus_only_where_there_are_several_and_starts_torchrun_over_them(app, monkeypatch):
    import vae.models.model
    import vae.services.jobs

    started = []
    monkeypatch.setattr(vae.services.jobs.TrainingJobs, "start",
                        lambda self, model, training, processes=1: started.append(processes) or Path("run-x"))
    # The notice stays while that run trains.
    monkeypatch.setattr(vae.services.jobs.TrainingJobs, "status", lambda self: vae.services.jobs.JobStatus(
        "running" if started else "idle", Path("run-x") if started else None, epochs=8))
    monkeypatch.setattr(vae.models.model, "gpu_count", lambda: 1)
    assert not [n for n in app("views/train.py").number_input if n.label == "GPUs to use"]
    monkeypatch.setattr(vae.models.model, "gpu_count", lambda: 4)
    at = app("views/train.py")
    gpus = next(n for n in at.number_input if n.label == "GPUs to use")
    assert gpus.value == 4
    gpus.set_value(2)
    at.button[0].click().run()
    assert started == [2]
    assert any("on 2 GPUs" in s.value for s in at.success)


def test_the_model_is_built_in_the_background_once_the_first_page_is_drawn(monkeypatch):
    """The first page needs no torch (tests/test_layout.py); the model it will need on the first click is
    built after that page's run, once per server."""
    import time

    from vae.training.checkpoint_files import open_checkpoint

    monkeypatch.setattr(ui.caches, "_WARM_UP", {})  # a new server
    checkpoint = open_checkpoint(ROOT / "checkpoints" / "default")
    drawn = ui.caches.warm_up(checkpoint, "0" * 64)
    assert ui.caches.warm_up(checkpoint, "0" * 64) is None  # started already
    time.sleep(0.5)
    assert not checkpoint.built  # the page is not drawn yet
    drawn.set()
    deadline = time.monotonic() + 60
    while not checkpoint.built and time.monotonic() < deadline:
        time.sleep(0.05)
    assert checkpoint.built and checkpoint.model.config.latent_dim == checkpoint.config.latent_dim


def test_weights_that_turn_out_not_to_fit_when_a_page_builds_the_model_get_one_clear_line(tmp_path, monkeypatch):
    """The listing trusted a fit.json that says they fit (written for another version of the model's
    code, say); the model is built by the page that first needs it, which then says why it cannot."""
    import json

    from vae.run_files import CONFIG, FIT, WEIGHTS
    from vae.training.checkpoint_files import fit_key, read_config, weights_header

    folder = tmp_path / "default"
    shutil.copytree(ROOT / "checkpoints" / "default", folder)
    config = json.loads((folder / CONFIG).read_text())
    (folder / CONFIG).write_text(json.dumps({**config, "latent_dim": 9}))
    (folder / FIT).write_text(json.dumps(
        {"fit_key": fit_key(read_config(folder), weights_header(folder / WEIGHTS)[0])}))
    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", tmp_path)
    at = open_app("views/sliders.py")
    assert any("A checkpoint cannot be loaded" in e.value and "does not fit config.json" in e.value for e in at.error)
