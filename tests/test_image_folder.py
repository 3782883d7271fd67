"""Your own image folder as a dataset (vae/image_folder.py): labels from class folders, a hashed
split, broken files skipped with a reason each, too few refused; and a model of its colour pictures
trained, saved and loaded, decoded at their size."""
import gzip
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from vae import cli
from vae import image_folder as folders
from vae.config import ModelConfig
from vae.data import load_split
from vae.datasets import RECORD_FILE, data_root, dataset_info, display_name
from vae.files import atomic_write_bytes
from vae.image_folder import import_folder, in_test_split
from vae.models.model import VAE, to_unit
from vae.training.checkpoint import load_checkpoint, save_checkpoint

SHAPES = {"circles": "ellipse", "squares": "rectangle"}
# Which of class/0.png ... class/59.png the hash sends to the test split, pinned: a change of the split
# would move pictures between the splits of every imported folder.
PINNED_TEST_FILES = ["class/3.png", "class/20.png", "class/30.png", "class/35.png", "class/42.png"]
EXTENSIONS = ("png", "jpg", "webp", "bmp")


def shapes_folder(root, per_class: int = 60, classes=SHAPES, broken: bool = True):
    """Coloured shapes on dark grounds, of several sizes and formats, in class folders; with `broken`,
    a file of each kind that cannot be read among them."""
    rng = np.random.default_rng(0)
    for name, shape in classes.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            size = (int(rng.integers(40, 90)), int(rng.integers(40, 90)))
            img = Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 80, 3)))
            r = int(rng.integers(8, 18))
            cx, cy = int(rng.integers(r, size[0] - r)), int(rng.integers(r, size[1] - r))
            getattr(ImageDraw.Draw(img), shape)([cx - r, cy - r, cx + r, cy + r],
                                                fill=tuple(int(v) for v in rng.integers(100, 256, 3)))
            img.save(root / name / f"{i}.{EXTENSIONS[i % len(EXTENSIONS)]}")
    if broken:
        (root / "circles" / "empty.png").write_bytes(b"")
        (root / "circles" / "fake.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
        (root / "squares" / "notes.txt").write_text("not a picture")
        whole = (root / "squares" / "0.png").read_bytes()
        (root / "squares" / "cut.png").write_bytes(whole[: len(whole) // 2])
        Image.new("RGB", (4, 4)).save(root / "squares" / "tiny.png")
        (root / "loose.png").write_bytes(whole)  # outside the class folders
    return root


def test_class_folders_give_labels_and_broken_files_are_skipped_with_a_reason_each(tmp_path):
    source = shapes_folder(tmp_path / "shapes")
    imported = import_folder(source, side=32, channels=3, root=tmp_path / "data")
    assert imported.name.startswith("folder:shapes-32-rgb-")
    info = dataset_info(imported.name, tmp_path / "data")
    assert info.class_names == ("circles", "squares") and info.shape == (3, 32, 32) and not info.drawable
    train = load_split(imported.name, "train", tmp_path / "data", download=False)
    test = load_split(imported.name, "test", tmp_path / "data", download=False)
    assert train.images.shape[1:] == (32, 32, 3) and train.images.dtype == torch.uint8
    assert len(train.images) + len(test.images) == 120 and imported.counts == {"train": len(train.images),
                                                                              "test": len(test.images)}
    assert sorted(torch.cat([train.labels, test.labels]).bincount().tolist()) == [60, 60]
    why = dict(imported.skipped)
    assert set(why) == {"circles/empty.png", "circles/fake.jpg", "squares/notes.txt", "squares/cut.png",
                        "squares/tiny.png", "loose.png"}
    assert "empty" in why["circles/empty.png"] and "truncated" in why["squares/cut.png"]
    assert "too small" in why["squares/tiny.png"] and "class folders" in why["loose.png"]
    log = (imported.folder / folders.SKIPPED_LOG).read_text().splitlines()
    assert sorted(line.split(": ")[0] for line in log) == sorted(why)
    # A circle reads as a circle: colour kept, on its ground.
    circle = train.images[train.labels == 0][0].float()
    assert circle.std(dim=(0, 1)).min() > 5 and circle.mean() > 10


def test_the_split_is_a_hash_of_each_path_so_new_files_move_no_old_one(tmp_path):
    names = [f"class/{i}.png" for i in range(2000)]
    test = [n for n in names if in_test_split(n)]
    assert 150 < len(test) < 250  # about one in ten
    # The same on every machine and version: sha256 of "0:<path with forward slashes>".
    assert [n for n in names[:60] if in_test_split(n)] == PINNED_TEST_FILES
    assert [n for n in names if in_test_split(n, seed=1)] != test
    source = shapes_folder(tmp_path / "a", broken=False)
    first = import_folder(source, root=tmp_path / "data")
    before = load_split(first.name, "test", tmp_path / "data").images
    Image.new("RGB", (50, 50), (200, 0, 0)).save(source / "circles" / "new.png")
    import_folder(source, root=tmp_path / "data")
    after = load_split(first.name, "test", tmp_path / "data").images
    assert {bytes(im.numpy()) for im in before} <= {bytes(im.numpy()) for im in after}
    assert len(after) == len(before) + in_test_split("circles/new.png") and len(before) >= folders.MIN_TEST


HOUR_NS = 3600 * 10**9


def aged(source: Path) -> Path:
    """Every file's modification time an hour back: a fresh file is not vouched for (image_folder.RACY_NS)."""
    for f in source.rglob("*"):
        if f.is_file():
            os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns - HOUR_NS))
    return source


def _changed(source: Path, data: Path, change: str) -> dict:
    """One change a second import must notice; the import's keyword arguments."""
    picture = source / "squares" / "3.bmp"  # BMPs of one size have one byte count
    if change == "a picture edited":
        os.utime(picture, ns=(picture.stat().st_atime_ns, picture.stat().st_mtime_ns - HOUR_NS))
    elif change == "a picture replaced by one of its byte count, its time kept":
        size, times = picture.stat().st_size, (picture.stat().st_atime_ns, picture.stat().st_mtime_ns)
        with Image.open(picture) as img:
            Image.new("RGB", img.size, (200, 30, 30)).save(picture)
        os.utime(picture, ns=times)
        assert picture.stat().st_size == size
    elif change == "a picture added":
        (source / "squares" / "new.png").write_bytes((source / "squares" / "0.png").read_bytes())
    elif change == "a picture removed":
        picture.unlink()
    elif change == "a class that only a hidden picture made, gone":
        (source / "other" / ".hidden.png").unlink()
    elif change == "its record of the last read gone":
        next((data / "folders").glob(f"*/{folders.IMPORT_FILE}")).unlink()
    elif change == "its files deleted":
        for f in (data / "folders").glob("*/raw/*.gz"):
            f.unlink()
    elif change == "one of its files another import's, written at the same time":
        labels = next((data / "folders").glob("*/raw/train-labels-idx1-ubyte.gz"))
        labels.write_bytes(gzip.compress(gzip.decompress(labels.read_bytes())[:-1] + b"\x01", mtime=0))
    return {"seed": 1} if change == "another seed" else {}


CHANGES = ["a picture edited", "a picture replaced by one of its byte count, its time kept", "a picture added",
           "a picture removed", "a class that only a hidden picture made, gone", "another seed",
           "its record of the last read gone", "its files deleted",
           "one of its files another import's, written at the same time"]


@pytest.mark.parametrize("change", ["nothing", *CHANGES])
def test_a_folder_is_read_again_only_when_its_files_or_their_reading_changed(tmp_path, monkeypatch, change):
    """The Train page reads the folder before it starts a run, and the run (--image-folder) then asks
    again: unchanged, nothing is read or written, and the answer is the first one."""
    data = tmp_path / "data"
    source = shapes_folder(tmp_path / "shapes")
    (source / "other").mkdir()  # a class folder whose only picture is hidden: still a class, as before
    (source / "other" / ".hidden.png").write_bytes((source / "squares" / "0.png").read_bytes())
    aged(source)
    (source / "squares" / "notes.txt").write_text("edited just now")  # skipped by its name: its times do not count
    first = import_folder(source, root=data)
    files = {f: f.stat().st_mtime_ns for f in first.folder.rglob("*") if f.is_file()}
    kwargs = _changed(source, data, change)
    reads = []
    monkeypatch.setattr(folders, "_read", lambda *a, read=folders._read: reads.append(a) or read(*a))
    again = import_folder(source, root=data, **kwargs)
    assert again.name == first.name
    if change == "nothing":
        assert not again.reread and not reads
        assert (again.counts, again.skipped) == (first.counts, first.skipped)
        assert {f: f.stat().st_mtime_ns for f in first.folder.rglob("*") if f.is_file()} == files
    else:
        assert again.reread and len(reads) > 100
        assert sum(again.counts.values()) == sum(first.counts.values()) + {"a picture added": 1,
                                                                           "a picture removed": -1}.get(change, 0)


def test_a_folder_changed_within_two_seconds_of_its_read_is_read_again(tmp_path, monkeypatch):
    """A coarse clock (FAT's ticks in 2 s) could hide a later change in the same tick: such files are
    not vouched for, and the next import reads them again."""
    source = shapes_folder(tmp_path / "shapes")  # every file just written
    first = import_folder(source, root=tmp_path / "data")
    assert not (first.folder / folders.IMPORT_FILE).exists()
    assert import_folder(source, root=tmp_path / "data").reread


def test_an_import_killed_midway_leaves_nothing_the_next_one_trusts(tmp_path, monkeypatch):
    """Read with seed 0, then killed while rewriting its files with seed 1 (another split): the next
    import with seed 0, whose fingerprint is the first one's, reads it all again."""
    data = tmp_path / "data"
    source = aged(shapes_folder(tmp_path / "shapes"))
    first = import_folder(source, root=data)
    written = []

    def killed(path, data_):
        if written:
            raise KeyboardInterrupt  # at the second file: the first is already the new import's
        written.append(path)
        atomic_write_bytes(path, data_)

    monkeypatch.setattr(folders, "atomic_write_bytes", killed)
    with pytest.raises(KeyboardInterrupt):
        import_folder(source, root=data, seed=1)
    monkeypatch.undo()
    again = import_folder(source, root=data)
    assert again.reread and again.counts == first.counts
    assert len(load_split(again.name, "train", data).images) == first.counts["train"]


def test_a_folder_without_class_folders_is_one_unlabelled_class(tmp_path):
    source = tmp_path / "my_holiday_"
    source.mkdir()
    for i in range(120):
        Image.new("RGB", (60 + i, 50), (i * 8, 100, 200 - i * 5)).save(source / f"p{i}.jpg")
    imported = import_folder(source, side=28, channels=1, root=tmp_path / "data")
    info = dataset_info(imported.name, tmp_path / "data")
    assert info.class_names == ("my holiday",) and info.title == "my holiday" and info.shape == (1, 28, 28)
    assert load_split(imported.name, "train", tmp_path / "data").images.shape[1:] == (28, 28)

    # A record written before names lost their underscores shows them the new way, without a new read.
    record = imported.folder / RECORD_FILE
    record.write_text(record.read_text().replace('"my holiday"', '"my_holiday_"'))
    info = dataset_info(imported.name, tmp_path / "data")
    assert info.class_names == ("my holiday",) and info.title == "my holiday"


def test_too_few_usable_pictures_or_no_folder_is_refused_in_one_line(tmp_path):
    source = shapes_folder(tmp_path / "few", per_class=5)
    with pytest.raises(ValueError, match=r"has 10 usable pictures \(6 files skipped\): at least 100 are needed") as e:
        import_folder(source, root=tmp_path / "data")
    assert "\n" not in str(e.value) and not (tmp_path / "data").exists()
    with pytest.raises(ValueError, match="is not a folder"):
        import_folder(tmp_path / "nowhere", root=tmp_path / "data")
    with pytest.raises(ValueError, match="28, 32, 64"):
        import_folder(source, side=48, root=tmp_path / "data")


def test_a_folder_with_broken_files_trains_on_the_good_ones_from_the_command_line(tmp_path, capsys):
    source = shapes_folder(tmp_path / "shapes")
    out, data = tmp_path / "run", tmp_path / "data"
    # Its size and colour left at their defaults, a conditional model, the data under --data-dir alone.
    assert cli.main(["train", "--image-folder", str(source), "--conditional", "--data-dir", str(data),
                     "--out", str(out), "--epochs", "2", "--latent-dim", "3", "--hidden", "32"]) == 0
    said = capsys.readouterr().out
    assert "6 files skipped" in said and "folder:shapes-28-gray-" in said
    config = json.loads((out / "config.json").read_text())
    assert config["dataset"].startswith("folder:shapes-28-gray-") and (config["side"], config["channels"]) == (28, 1)
    assert json.loads((out / "train_config.json").read_text())["image_folder"] == str(source)
    assert cli.main(["eval", str(out), "--data-dir", str(data), "--iwae-k", "0"]) == 0
    assert "given the class" in capsys.readouterr().out
    with data_root(data):  # a conditional model reads its classes from the dataset's record
        model = load_checkpoint(out).model
    assert model.decode(torch.zeros(2, 3), torch.tensor([0, 1])).shape == (2, 28, 28)
    # --dataset and --image-folder name two datasets: one line, nothing trained.
    with pytest.raises(ValueError, match="give one"):
        cli.run_train(cli.build_parser().parse_args(["train", "--image-folder", str(source), "--dataset", "mnist",
                                                     "--out", str(tmp_path / "other")]))


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_an_rgb_model_round_trips_save_and_load(tmp_path, arch):
    torch.manual_seed(0)
    rgb = ModelConfig(arch=arch, dataset="folder:test-64-rgb", side=64, channels=3, latent_dim=5, hidden_dims=[64])
    model = VAE(rgb).eval()
    save_checkpoint(model, tmp_path / "rgb", 1, 1)
    loaded = load_checkpoint(tmp_path / "rgb").model.eval()
    stored = torch.randint(0, 256, (3, 64, 64, 3), dtype=torch.uint8)  # as images are stored
    x = to_unit(stored)  # (3, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model.code(x), loaded.code(x))
        assert torch.equal(model.code(stored.float() / 255), model.code(x))  # either layout
        images = loaded.decode(model.code(x))
    assert images.shape == (3, 64, 64, 3)
    # Channel c of pixel (i, j) is the decoder's output c * H * W + i * W + j, as the browser reads it.
    with torch.no_grad():
        flat = torch.sigmoid(loaded.decode_logits(model.code(x)))
    assert torch.equal(images[1, 5, 7], flat[1, [0 * 4096 + 5 * 64 + 7, 4096 + 5 * 64 + 7, 2 * 4096 + 5 * 64 + 7]])


def test_a_shape_other_than_the_datasets_is_refused_except_for_an_image_folder():
    with pytest.raises(ValueError, match="only an image folder"):
        ModelConfig(dataset="mnist", side=64)
    with pytest.raises(ValueError, match="multiple of 4"):
        ModelConfig(arch="conv", dataset="folder:x-30-gray", side=30, channels=1)
    assert ModelConfig(dataset="sprites").image_shape == (1, 32, 32)


@pytest.mark.slow
def test_every_page_explores_a_colour_model_of_an_image_folder(tmp_path, monkeypatch):
    """Every page with a model of 32x32 RGB pictures from a folder: thumbnails, sliders, strips and
    uploads in colour at their size, and no drawing board offered where a drawing cannot stand for one."""
    import ui.caches
    from tests.app_support import VIEWS, latent_pad, open_app

    source, data = shapes_folder(tmp_path / "shapes", broken=False), tmp_path / "data"
    assert cli.main(["train", "--image-folder", str(source), "--image-size", "32", "--channels", "3", "--data-dir",
                     str(data), "--out", str(tmp_path / "runs" / "shapes"), "--epochs", "1", "--latent-dim", "3",
                     "--hidden", "32"]) == 0
    monkeypatch.setenv("VAE_DATA_DIR", str(data))
    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", tmp_path / "runs")
    at = open_app(query_params={"checkpoint": "shapes"})  # UMAP, t-SNE and EM on a dozen test pictures
    for page in VIEWS:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        if page == "views/sliders.py":
            _, pad = latent_pad(at)
            assert pad["image"] == {"side": 32, "channels": 3}
        if page == "views/interpolate.py":
            sources = [r.options for r in at.radio if r.label == "Source"]
            assert len(sources) == 2 and all("Draw" not in s and "Upload" in s for s in sources)
            assert not at.warning


def test_the_train_page_reads_a_folder_and_starts_a_run_of_it_or_says_why_not(tmp_path, monkeypatch):
    """The Train page's folder field: the pictures are read at the size and colour asked (the notice
    says how many, and how many were skipped), then the run starts with --image-folder; a folder of
    too few pictures is one message and no run."""
    import ui.caches
    import vae.services.jobs
    from tests.app_support import open_app
    from vae.options import train_args

    started = []
    monkeypatch.setattr(vae.services.jobs.TrainingJobs, "start", lambda self, model, training, processes=1:
                        started.append(train_args(model, training)) or Path("run-x"))
    monkeypatch.setattr(vae.services.jobs.TrainingJobs, "status", lambda self: vae.services.jobs.JobStatus(
        "running" if started else "idle", Path("run-x") if started else None, epochs=8))
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", tmp_path / "checkpoints")
    folders = tmp_path / "data" / "images"  # the only folders the page offers (a visitor types no path)
    folder_settings = ("Or a folder of your own pictures", "Its pictures' size", "In colour (RGB)")

    def disabled(at) -> list[bool]:
        return [w.disabled for w in [*at.selectbox, *at.toggle] if w.label in folder_settings]

    at = open_app("views/train.py")  # no folder to offer: the folder's own size and colour are off too
    assert disabled(at) == [True, True, True]
    source = shapes_folder(folders / "shapes")
    at = open_app("views/train.py")
    assert disabled(at) == [False, False, False]
    assert next(s for s in at.selectbox if s.label == "Or a folder of your own pictures").options[1:] == ["shapes"]
    next(s for s in at.selectbox if s.label == "Or a folder of your own pictures").set_value("shapes")
    next(s for s in at.selectbox if s.label == "Its pictures' size").set_value(32)
    next(t for t in at.toggle if t.label == "In colour (RGB)").set_value(True)
    at.button[0].click().run()
    assert not at.exception and len(started) == 1
    args = started[0]
    assert args[args.index("--image-folder") + 1] == str(source) and "--dataset" not in args
    assert args[args.index("--image-size") + 1] == "32" and args[args.index("--channels") + 1] == "3"
    notice = " ".join(s.value for s in at.success)
    assert "training and" in notice and "6 files skipped" in notice
    shapes_folder(folders / "few", per_class=4, broken=False)
    at = open_app("views/train.py")
    next(s for s in at.selectbox if s.label == "Or a folder of your own pictures").set_value("few")
    at.button[0].click().run()
    assert len(started) == 1 and "at least 100" in at.error[0].value


@pytest.mark.parametrize("folder, shown", [
    ("_holiday_", "holiday"), ("t_shirt", "t shirt"), ("a__b", "a b"),
    ("*bold* [link](x) <b>$x$</b>", "bold linkx bxb"), ("  spaced   out ", "spaced out"),
    ("2024-06.trip", "2024-06.trip"), ("***", "images")])
def test_a_folders_name_is_shown_with_nothing_markdown_would_read(folder, shown):
    """Pages put dataset and class names into markdown: no emphasis, link, HTML or LaTeX can come
    from a folder's name."""
    assert display_name(folder) == shown
