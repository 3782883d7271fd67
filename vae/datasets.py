"""The datasets the project knows, one record each: everything a dataset needs to be read
(vae/data.py), downloaded and checked (vae/download.py), framed for uploads and drawings
(vae/images.py), classified (vae/models/classifier.py) and named on the pages.

    info = dataset_info("fashion-mnist")
    info.class_names[0], info.framing.thing       # "T-shirt/top", "garment"
    raw_folder("mnist", Path("data"))             # data/MNIST/raw: torchvision's layout

Adding one (KMNIST, say) is one record here, its test set in vae/bundled/<subdir>/raw/ and its
classifier (`python -m vae train-classifier --dataset NAME`). A generated one (sprites) is drawn
where it is missing instead of downloaded, with its factors (vae/data.py). A folder of the user's
own images (vae/image_folder.py) becomes a dataset named "folder:<slug>", whose record is the
`dataset.json` written beside its files in <data root>/folders/<slug>/.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from vae.sprites import FACTORS

BUNDLED_ROOT = Path(__file__).parent / "bundled"  # the test sets and classifiers that ship with the project


@dataclass(frozen=True)
class Framing:
    """How a dataset's pictures sit in their field (the browser's prepare.js gets these too)."""
    box: int  # the longest side of the object after fitting, in pixels
    # "mass": its centre of mass at (14, 14); "box": its bounding box in the middle; "photo": no
    # object at all, the whole picture cropped to its middle square and resized (an image folder's)
    centre: str
    trim: float  # what counts as the object when cropping: above this share of the peak contrast
    thing: str  # what one picture shows, for messages
    side: int = 28  # the field's side: the dataset's images are side x side pixels


@dataclass(frozen=True)
class Dataset:
    name: str  # as the command line and configs spell it
    title: str  # as people write it
    class_names: tuple[str, ...]
    framing: Framing
    subdir: str  # its folder in torchvision's layout, <root>/<subdir>/raw/
    idx_md5: dict[str, str]  # md5 of each file's decompressed IDX bytes (a mirror may recompress the .gz)
    mirrors: tuple[str, ...]  # base URLs holding <file>.gz, tried in order
    license: str
    system_folders: tuple[Path, ...] = ()  # where an operating system's package installs its files
    # Drawn by this project's code rather than downloaded (vae/sprites.py): its images' generative
    # factors are known, and kept beside its labels (vae/data.load_factors).
    generated: bool = False
    factors: tuple[str, ...] = ()  # a generated dataset's factors, in the order of its factor files' columns
    channels: int = 1  # 1: grayscale, 3: RGB

    @property
    def side(self) -> int:
        """Its images are side x side pixels."""
        return self.framing.side

    @property
    def shape(self) -> tuple[int, int, int]:
        """(channels, side, side): what the networks read."""
        return self.channels, self.side, self.side

    @property
    def drawable(self) -> bool:
        """Whether a drawing on the pads (28x28 gray, ui/components/sketchpad.js) can stand for one of its
        pictures: things on a plain ground, not photos, of that shape."""
        return self.framing.centre != "photo" and self.shape == (1, 28, 28)

    @property
    def classifier_path(self) -> Path:
        """The bundled classifier of its classes (vae/models/classifier.py)."""
        return BUNDLED_ROOT / f"classifier-{self.name}.safetensors"


REGISTRY = {d.name: d for d in (
    Dataset(
        name="mnist", title="MNIST", class_names=tuple(str(d) for d in range(10)),
        framing=Framing(box=20, centre="mass", trim=0.15, thing="digit"),
        subdir="MNIST",
        # MNIST's own checksums, as ../shared/data/README.md lists them.
        idx_md5={"train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
                 "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
                 "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
                 "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637"},
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        license="Yann LeCun, Corinna Cortes and Christopher J. C. Burges; CC BY-SA 3.0"),
    Dataset(
        name="fashion-mnist", title="Fashion-MNIST",
        class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                     "Ankle boot"),
        # Fashion-MNIST trimmed edges within 5% of the corner colour; no digit-style 20x20 box.
        framing=Framing(box=28, centre="box", trim=0.05, thing="garment"),
        subdir="FashionMNIST",
        # zalandoresearch/fashion-mnist's release, as Debian ships it.
        idx_md5={"train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
                 "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
                 "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
                 "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965"},
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        license="Han Xiao, Kashif Rasul and Roland Vollgraf; Copyright (c) 2017 Zalando SE; MIT",
        system_folders=(Path("/usr/share/datasets/fashion-mnist"),)),  # Debian's dataset-fashion-mnist
    Dataset(
        # After dSprites (Matthey et al. 2017), drawn at 32x32 rather than dSprites' 64x64: on the
        # CPU a 64x64 MLP epoch takes 4x as long (BENCHMARKS.md). The class is the shape, the other
        # factors are kept apart.
        name="sprites", title="Sprites", class_names=("square", "ellipse", "heart"),
        framing=Framing(box=32, centre="box", trim=0.05, thing="sprite", side=32),
        subdir="Sprites", idx_md5={}, mirrors=(),
        license="this project's own generator (vae/sprites.py), after dSprites by Matthey et al. 2017; MIT",
        generated=True, factors=tuple(FACTORS)),
)}
NAMES = tuple(REGISTRY)
FOLDER_PREFIX = "folder:"  # an image folder's dataset: "folder:<slug>"
RECORD_FILE = "dataset.json"  # a folder dataset's record, beside its files


def default_root(data_dir: str | Path | None = None) -> Path:
    """Where datasets live: `data_dir`, else $VAE_DATA_DIR, else ./data."""
    return Path(data_dir or os.environ.get("VAE_DATA_DIR") or "./data")


@contextlib.contextmanager
def data_root(data_dir: str | Path | None):
    """While in it, `data_dir` (when given) is where every dataset is looked for ($VAE_DATA_DIR), so an
    image folder's record is found where --data-dir put it; restored on the way out."""
    if data_dir is None:
        yield
        return
    before = os.environ.get("VAE_DATA_DIR")
    os.environ["VAE_DATA_DIR"] = str(data_dir)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("VAE_DATA_DIR", None)
        else:
            os.environ["VAE_DATA_DIR"] = before


def folder_dataset_dir(name: str, root: str | Path | None = None) -> Path:
    """The folder holding an image folder's dataset "folder:<slug>": <root>/folders/<slug>."""
    return default_root(root) / "folders" / name.removeprefix(FOLDER_PREFIX)


def is_dataset_name(name: str) -> bool:
    """Whether `name` can name a dataset: a known one, or an image folder's."""
    return name in REGISTRY or (isinstance(name, str) and name.startswith(FOLDER_PREFIX)
                                and name[len(FOLDER_PREFIX):].replace("-", "").replace("_", "").isalnum())


def display_name(text: str) -> str:
    """A folder's name as the pages may show it in markdown or a chart: letters, digits, single spaces,
    dots and dashes only, at most 60 characters (no link, HTML, LaTeX or emphasis can come from a
    folder's name; underscores become spaces, as markdown reads a pair of them as emphasis: `_holiday_`
    showed in italics). Applied when a folder is read and again when its record is, so that records
    written before a change show their names the new way."""
    words = re.sub(r"[^\w .-]+", "", text).replace("_", " ").split()
    return " ".join(words)[:60].strip() or "images"


def dataset_info(name: str, root: str | Path | None = None) -> Dataset:
    """The record of a dataset (an image folder's read from its dataset.json under `root`, the data
    root); ValueError naming the known ones for any other name."""
    if name in REGISTRY:
        return REGISTRY[name]
    if not is_dataset_name(name):
        raise ValueError(f"dataset must be one of {NAMES} or an image folder's (folder:NAME), got {name!r}")
    record = folder_dataset_dir(name, root) / RECORD_FILE
    try:
        fields = json.loads(record.read_text())
        fields = {k: v for k, v in fields.items() if k in Dataset.__dataclass_fields__}  # a later version's too
        return Dataset(**{**fields, "mirrors": (), "idx_md5": {}, "factors": tuple(fields.get("factors", ())),
                          "title": display_name(fields["title"]),
                          "class_names": tuple(map(display_name, fields["class_names"])),
                          "framing": Framing(**fields["framing"])})
    except FileNotFoundError:
        raise ValueError(f"the image folder dataset {name} is not in {record.parent.resolve()}: train on the "
                         "folder again (python -m vae train --image-folder PATH) or point --data-dir / "
                         "VAE_DATA_DIR at the data folder it was read into") from None
    except (ValueError, TypeError, KeyError) as e:
        raise ValueError(f"{record} is not a dataset record ({e})") from None


def raw_folder(name: str, root: str | Path) -> Path:
    """Where torchvision's layout keeps the dataset's files under `root` (an image folder's: its own
    folder under root/folders/)."""
    if name.startswith(FOLDER_PREFIX):
        return folder_dataset_dir(name, root) / "raw"
    return Path(root) / dataset_info(name).subdir / "raw"
