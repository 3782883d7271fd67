"""What a user set survives (issue #11), through AppTest: the checkpoint and a page's settings come
from the link a session opens, stay when pages change, and go back into the URL; a checkpoint that
breaks says so; the map keeps the order points were picked in; runs are compared; the small things
(class filter, learning rate, inactive server-side sliders, strip wrapping)."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import ui.caches
import ui.latent_pad
from tests.app_support import click_expander, latent_pad, map_chart, open_app
from vae.analysis.projection import load_cached_map
from vae.config import TrainConfig
from vae.run_files import WEIGHTS, map_cache_path
from vae.training.checkpoint import weights_hash

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "checkpoints" / "default"


@pytest.fixture
def checkpoints(tmp_path, monkeypatch):
    """The bundled model twice: as `default` and as `mine`."""
    for name in ("default", "mine"):
        shutil.copytree(BUNDLED, tmp_path / name)
    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def test_mu():
    return load_cached_map(map_cache_path(BUNDLED, weights_hash(BUNDLED), "mnist-test")).mu


def pad_data(at) -> dict:
    return latent_pad(at)[1]


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def test_the_checkpoint_comes_from_the_link_and_goes_back_into_it(checkpoints):
    at = open_app(query_params={"checkpoint": "mine"})
    assert at.sidebar.selectbox(key="checkpoint").value == "mine"
    assert at.query_params["checkpoint"] == "mine"
    at.sidebar.selectbox(key="checkpoint").set_value("default").run()
    assert "checkpoint" not in at.query_params  # the default needs no parameter


def test_a_link_to_a_checkpoint_that_cannot_load_says_why_and_shows_the_default(checkpoints):
    (checkpoints / "mine" / WEIGHTS).write_bytes(b"not safetensors")
    at = open_app(query_params={"checkpoint": "mine"})
    warning = " ".join(texts(at.sidebar.warning))
    assert "Checkpoint `mine` cannot be loaded" in warning and "corrupt or truncated" in warning
    assert "Showing `default` instead" in warning
    assert at.sidebar.selectbox(key="checkpoint").value == "default"
    assert "Checkpoint `mine` cannot be loaded" in " ".join(texts(at.main.warning))  # a phone folds the sidebar


def test_a_selected_checkpoint_that_breaks_on_disk_says_which_and_why_then_falls_back(checkpoints):
    at = open_app("views/sliders.py")
    at.sidebar.selectbox(key="checkpoint").set_value("mine").run()
    assert at.sidebar.selectbox(key="checkpoint").value == "mine"
    shutil.rmtree(checkpoints / "mine")
    (checkpoints / "mine").mkdir()
    (checkpoints / "mine" / "config.json").write_text("{half a file")
    at.run()
    assert not at.exception
    warning = " ".join(texts(at.sidebar.warning))
    assert "Checkpoint `mine` cannot be loaded" in warning and "config.json is not a valid model config" in warning
    assert at.sidebar.selectbox(key="checkpoint").value == "default"
    next(b for b in at.sidebar.button if b.label == "Dismiss").click().run()
    assert not at.sidebar.warning


@pytest.mark.parametrize("there", ["an empty folder", "only a broken checkpoint", "no folder at all"])
def test_with_no_checkpoint_to_explore_every_page_says_so_and_the_train_page_works(tmp_path, monkeypatch, there):
    """VAE_CHECKPOINTS_DIR pointed at a folder with no usable checkpoint: each page but Train and Loss
    curves says where it looked and links to Train, instead of failing on the missing model."""
    from tests.app_support import VIEWS

    folder = tmp_path / "runs"
    if there != "no folder at all":
        folder.mkdir()
    if there == "only a broken checkpoint":
        (folder / "broken").mkdir()
        (folder / "broken" / "config.json").write_text("{half a file")
    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", folder)
    at = open_app()  # the default page, the map, on its own run: open_app checks the last run only
    assert not at.sidebar.warning  # no "showing None instead": the page says what there is to say
    for page in VIEWS:
        if page != "views/map.py":
            at = open_app(page)
        if page in ("views/train.py", "views/curves.py"):
            assert not any("no checkpoint" in t for t in texts(at.info)), page
            assert any(b.label == "Start training" for b in at.button) if page == "views/train.py" \
                else "Pick one or more runs to see their curves." in texts(at.info), page
        else:
            note = texts(at.info)[0]
            assert "There is no checkpoint to explore in" in note and str(folder) in note, page


def test_with_no_checkpoint_yet_loss_curves_follows_the_first_run_before_its_first_epoch(tmp_path, monkeypatch):
    import vae.services.jobs

    (tmp_path / "first").mkdir()
    shutil.copy(BUNDLED / "config.json", tmp_path / "first" / "config.json")
    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", tmp_path)
    monkeypatch.setattr(vae.services.jobs.TrainingJobs, "status", lambda self: vae.services.jobs.JobStatus(
        "running", tmp_path / "first", epochs=8))
    at = open_app("views/curves.py")
    assert any("`first` is training now" in c for c in texts(at.caption))
    assert not any("no checkpoint" in t for t in texts(at.info))


def test_a_link_to_a_checkpoint_with_none_to_fall_back_on_says_why_on_the_page(tmp_path, monkeypatch):
    """On a phone the sidebar is folded away: the page itself names the link's checkpoint and why."""
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "config.json").write_text("{half a file")
    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", tmp_path)
    at = open_app(query_params={"checkpoint": "mine"})
    warning = " ".join(texts(at.main.warning))
    assert "Checkpoint `mine` cannot be loaded" in warning and "not a valid model config" in warning
    assert "Showing" not in warning and "There is no checkpoint to explore in" in texts(at.info)[0]
    next(b for b in at.sidebar.button if b.label == "Dismiss").click().run()
    assert not at.sidebar.warning and not at.main.warning  # and not written again from the link
    at.switch_page("views/sliders.py").run()
    assert not at.sidebar.warning and not at.main.warning


def test_z_comes_from_the_link_survives_other_pages_and_a_bad_one_is_refused(checkpoints, test_mu):
    z = np.round(test_mu[7], 3)
    at = open_app("views/sliders.py", query_params={"z": ",".join(f"{v:.3f}" for v in z)})
    assert np.allclose(pad_data(at)["z"], z, atol=1e-6)
    at.switch_page("views/interpolate.py").run()
    at.switch_page("views/sliders.py").run()
    assert np.allclose(pad_data(at)["z"], z, atol=1e-6)
    assert np.allclose([float(v) for v in at.query_params["z"].split(",")], z, atol=1e-3)

    short = open_app("views/sliders.py", query_params={"z": "1,2,3"})
    assert any("has 3 numbers" in w for w in texts(short.warning))
    assert pad_data(short)["z"] == [0.0] * 32
    garbage = open_app("views/sliders.py", query_params={"z": "1,two"})
    assert any("The link's z=`1,two` was ignored" in w for w in texts(garbage.warning))


def test_the_map_keeps_picking_order_and_interpolates_in_it(checkpoints):
    at = open_app(query_params={"picked": "5,9"})
    assert any(s.startswith("#5: a ") for s in texts(at.subheader))
    button = next(b for b in at.button if b.label.startswith("Interpolate"))
    assert button.label == "Interpolate #5 → #9"
    button.click().run()
    assert at.query_params["from"] == "test:5" and at.query_params["to"] == "test:9"
    assert at.radio(key="src0-1").value == "test" and at.number_input(key="idxtest0-1").value == 5
    assert at.number_input(key="idxtest1-1").value == 9


def test_a_digit_is_picked_by_typing_its_index(checkpoints):
    """Issue #20: the keyboard's way to pick a point on the map."""
    at = open_app()
    at.number_input(key="pick_index").set_value(42).run()
    assert any(s.startswith("#42: a ") for s in texts(at.subheader)) and at.query_params["picked"] == "42"


def test_many_picked_points_ask_which_two(checkpoints):
    at = open_app(query_params={"picked": "30,10,20"})
    assert at.selectbox(key="interpolate_start").value == 30  # the first picked
    assert at.selectbox(key="interpolate_end").value == 10
    at.selectbox(key="interpolate_end").set_value(20).run()
    assert any(b.label == "Interpolate #30 → #20" for b in at.button)


def test_a_lasso_of_more_picks_than_an_address_holds_stays_in_the_session_only(checkpoints):
    from ui.state import PICKS_IN_ADDRESS

    many = PICKS_IN_ADDRESS + 100
    at = open_app(query_params={"picked": ",".join(map(str, range(many)))})
    assert "picked" not in at.query_params  # a link of hundreds of kB would be refused by the server
    assert any(s.value == f"{many} points picked" for s in at.subheader)
    assert any("not in the page's address" in c.value for c in at.caption)


def test_open_in_the_sliders_from_a_map_point(checkpoints, test_mu):
    at = open_app(query_params={"picked": "11"})
    next(b for b in at.button if b.label == "Open #11 in the sliders").click().run()
    assert at.title[0].value == "Latent sliders"
    assert np.allclose(pad_data(at)["z"], np.clip(test_mu[11], -4, 4), atol=1e-6)


def test_the_class_filter_draws_and_lists_only_the_shown_classes(checkpoints):
    at = click_expander(open_app(), "Map settings")
    at.multiselect(key="widget.classes").set_value([1, 7]).run()
    chart = map_chart(at)
    assert chart["classes"] == [1, 7] and set(chart["labels"][chart["order"]]) == {1, 7}
    assert [chart["names"][c] for c in chart["classes"]] == ["1", "7"]
    assert at.query_params["classes"] == "1,7"
    at.multiselect(key="widget.classes").set_value([]).run()
    assert map_chart(at) is None and any("No class is shown" in i for i in texts(at.info))
    assert at.query_params["classes"] == ""  # none shown: the link says so, and a reload keeps it
    again = open_app(query_params={"classes": ""})
    settings = next(e for e in again.expander if e.label.startswith("Map settings"))
    assert map_chart(again) is None and "0 of 10 classes" in settings.label  # closed, and it says so
    assert click_expander(again, "Map settings").multiselect(key="widget.classes").value == []


def test_the_map_settings_stay_open_while_they_are_changed(checkpoints):
    """The expander's label names the settings, so each change drew it anew, closed: every tweak
    meant opening it again. Closed on arrival (its widgets not drawn at all: the first page fetches
    none of their code), open after a change made in it, closed when the user closes it, at once."""
    at = open_app()
    settings = lambda: next(e for e in at.expander if e.label.startswith("Map settings"))  # noqa: E731
    assert not settings().proto.expanded and not at.radio and not at.multiselect
    click_expander(at, "Map settings")
    assert settings().proto.expanded and at.radio(key="widget.projection").value == "umap"
    click_expander(at, "Map settings")  # a peek, then closed: closed on the first click
    assert not settings().proto.expanded and not at.radio
    at.run()
    assert not settings().proto.expanded
    click_expander(at, "Map settings")
    at.radio(key="widget.projection").set_value("pca").run()
    assert "PCA" in settings().label and settings().proto.expanded
    at.multiselect(key="widget.classes").set_value([1, 7]).run()
    assert "2 of 10 classes" in settings().label and settings().proto.expanded
    at.number_input(key="pick_index").set_value(7).run()  # another rerun: asked open still, not closed under one
    assert settings().proto.expanded
    click_expander(at, "Map settings")  # closed by the user: closed it stays, the settings kept
    assert not settings().proto.expanded and not at.multiselect and "PCA · " in settings().label
    assert at.query_params["projection"] == "pca" and map_chart(at)["classes"] == [1, 7]
    at.number_input(key="pick_index").set_value(8).run()
    assert not settings().proto.expanded
    click_expander(at, "Map settings")
    at.switch_page("views/sliders.py").run()
    at.switch_page("views/map.py").run()  # back: arriving, closed
    assert not settings().proto.expanded and at.query_params["projection"] == "pca"


def test_interpolation_settings_survive_other_pages(checkpoints):
    at = open_app("views/interpolate.py")
    at.slider(key="widget.steps").set_value(32).run()
    at.radio(key="widget.path").set_value("slerp").run()
    at.number_input(key="idxtest0-0").set_value(42).run()
    at.switch_page("views/map.py").run()
    at.switch_page("views/interpolate.py").run()
    assert at.slider(key="widget.steps").value == 32 and at.radio(key="widget.path").value == "slerp"
    assert at.number_input(key="idxtest0-0").value == 42
    assert dict(at.query_params) == {"from": "test:42", "steps": "32", "path": "slerp"}
    assert any(c.value == "slerp, 32 steps" for c in at.caption)
    steps = [img.caption for e in at.get("image") for img in e.proto.imgs if img.caption.endswith("%")]
    assert len(steps) == 32  # issue #20: one image a step, its classifier label as text, wrapping on a phone


def test_runs_are_compared_with_their_final_figures(checkpoints):
    history = checkpoints / "mine" / "history.jsonl"  # as a run trained since the KL's parts are measured
    records = [json.loads(line) for line in history.read_text().splitlines()]
    records[-1].update(test_mutual_information=9.028, test_marginal_kl=16.272, test_kl_parts_stderr=0.124)
    history.write_text("".join(json.dumps(r) + "\n" for r in records))
    at = open_app("views/curves.py")
    assert at.multiselect(key="widget.runs").value == ["default"]
    at.multiselect(key="widget.runs").set_value(["default", "mine"]).run()
    table = at.dataframe[0].value
    assert list(table["run"]) == ["default", "mine"] and list(table["epochs"]) == [50, 50]
    assert {"test −ELBO", "test recon", "test KL", "active units", "training time (s)"} <= set(table.columns)
    # Monte Carlo estimates with their standard error; a run that did not record them says so, not "None"
    assert list(table["of it I_q(n; z)"]) == ["–", "9.03 ± 0.12"]
    assert list(table["of it KL(q(z) ‖ p(z))"]) == ["–", "16.27 ± 0.12"]
    assert at.query_params["runs"] == "default,mine"
    caption = " ".join(texts(at.caption))
    assert "history.jsonl" in caption and "steps.jsonl" not in caption  # the bundled runs log no steps


def test_the_learning_rate_steps_through_sensible_values(checkpoints):
    at = open_app("views/train.py")
    lr = next(s for s in at.select_slider if s.label == "Learning rate")
    assert lr.value == TrainConfig.lr == 6e-3  # the default, one of the choices
    assert {"6e-03", "3e-03", "1e-05"} <= set(lr.options)
    options = [float(o) for o in lr.options]  # each label reads back as its rate, none twice
    assert options == sorted(set(options)) and options[0] == 1e-5 and options[-1] == 0.1
    assert all(b / a <= 2.01 for a, b in zip(options, options[1:]))


def test_server_side_sliders_fold_the_inactive_dimensions_and_step_by_a_tenth(checkpoints, monkeypatch):
    monkeypatch.setattr(ui.latent_pad, "browser_decodable", lambda model, weights_hash: False)
    at = open_app("views/sliders.py")
    assert any(e.label == "18 inactive dimensions (the decoder ignores them)" for e in at.expander)
    sliders = [s for s in at.slider if s.label.startswith("z")]
    assert len(sliders) == 32 and all(s.step == 0.1 for s in sliders)
    assert [d.label for d in at.get("download_button")][:2] == ["Download z (JSON)", "Download traversal (PNG)"]


def test_an_interpolation_step_and_an_upload_open_in_the_sliders(checkpoints, mnist_test):
    import torch

    from bench.drawn import drawn_png
    from vae.analysis.walks import interpolate
    from vae.images import mnist_style, read_upload
    from vae.training.checkpoint import load_checkpoint

    at = open_app("views/interpolate.py")
    next(n for n in at.number_input if n.label == "Step").set_value(4).run()
    next(b for b in at.button if b.label == "Open step 4 in the sliders").click().run()
    assert at.title[0].value == "Latent sliders"
    model = load_checkpoint(BUNDLED).model
    with torch.no_grad():
        mu = model.encode(mnist_test.images[[3, 2]].unsqueeze(1).float() / 255)[0]
    expected = interpolate(mu[0], mu[1], 10, "linear")[3]
    assert np.allclose(pad_data(at)["z"], expected.clamp(-4, 4).numpy(), atol=1e-5)

    at.query_params["source"] = "upload"
    at.switch_page("views/reconstruct.py").run()
    original = read_upload(drawn_png(mnist_test.images[0].numpy()))
    digit = mnist_style(original)
    at.session_state["reconstruct_kept"] = original  # what an upload keeps (see ui/uploads.py)
    at.run()
    assert not at.exception and any(i.caption == "reconstruction from μ" for e in at.get("image") for i in e.proto.imgs)
    next(b for b in at.button if b.label == "Open in the sliders").click().run()
    with torch.no_grad():
        expected = model.encode(torch.from_numpy(digit)[None, None])[0][0]
    assert np.allclose(pad_data(at)["z"], expected.clamp(-4, 4).numpy(), atol=1e-5)


def test_the_pages_offer_their_downloads(checkpoints):
    at = open_app()
    assert [b.label for b in at.get("download_button")] == ["Download the map (CSV)"]
    at.switch_page("views/sliders.py").run()
    assert "Download the samples (PNG)" in [b.label for b in at.get("download_button")]
    at.switch_page("views/interpolate.py").run()
    assert {"Download GIF", "Download PNG strip"} <= {b.label for b in at.get("download_button")}


@pytest.mark.parametrize("params", [{"checkpoint": ""}, {"checkpoint": "", "color": ""},
                                    {"checkpoint": "", "picked": ""}])
def test_an_empty_link_parameter_says_nothing_and_changes_nothing(checkpoints, params):
    """`?checkpoint=` (a link cut short, or typed by hand) is no choice: the default, with no note of a
    checkpoint without a name, or of a value that "must be" something."""
    at = open_app(query_params=params)
    assert at.sidebar.selectbox(key="checkpoint").value == "default"
    assert not at.warning and not at.sidebar.warning and not at.exception
    for name in params:
        assert name not in at.query_params
