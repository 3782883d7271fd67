"""The datasets the project knows, one record each: everything a 28x28 grayscale dataset needs to
be read (vae/data.py), downloaded and checked (vae/download.py), framed for uploads and drawings
(vae/images.py), classified (vae/models/classifier.py) and named on the pages.

    info = dataset_info("fashion-mnist")
    info.class_names[0], info.framing.thing       # "T-shirt/top", "garment"
    raw_folder("mnist", Path("data"))             # data/MNIST/raw: torchvision's layout

Adding one (KMNIST, say) is one record here, its test set in vae/bundled/<subdir>/raw/ and its
classifier (`python -m vae train-classifier --dataset NAME`). A generated one (sprites) is drawn
where it is missing instead of downloaded, with its factors (vae/data.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

BUNDLED_ROOT = Path(__file__).parent / "bundled"  # the test sets and classifiers that ship with the project


@dataclass(frozen=True)
class Framing:
    """How a dataset's pictures sit in their 28x28 field (the browser's prepare.js gets these too)."""
    box: int  # the longest side of the object after fitting, in pixels
    centre: str  # "mass": its centre of mass at (14, 14); "box": its bounding box in the middle
    trim: float  # what counts as the object when cropping: above this share of the peak contrast
    thing: str  # what one picture shows, for messages


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
        # After dSprites (Matthey et al. 2017), drawn at 28x28 like the other datasets here; the
        # class is the shape, the other factors are kept apart.
        name="sprites", title="Sprites", class_names=("square", "ellipse", "heart"),
        framing=Framing(box=28, centre="box", trim=0.05, thing="sprite"),
        subdir="Sprites", idx_md5={}, mirrors=(),
        license="this project's own generator (vae/sprites.py), after dSprites by Matthey et al. 2017; MIT",
        generated=True),
)}
NAMES = tuple(REGISTRY)


def dataset_info(name: str) -> Dataset:
    """The record of a dataset; ValueError naming the known ones for any other name."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"dataset must be one of {NAMES}, got {name!r}") from None


def raw_folder(name: str, root: str | Path) -> Path:
    """Where torchvision's layout keeps the dataset's files under `root`."""
    return Path(root) / dataset_info(name).subdir / "raw"
