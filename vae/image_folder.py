"""Your own images as a dataset: a folder of PNG, JPEG, WebP or BMP files, read once into the data
root, then trained on and explored like MNIST.

    python -m vae train --image-folder ~/pictures/shapes --image-size 64 --channels 3 --out runs/shapes

    imported = import_folder("~/pictures/shapes", side=64, channels=3)
    imported.name                        # "folder:shapes-64-rgb", a dataset name (vae/datasets.py)
    load_split(imported.name, "train")   # (N, 64, 64, 3) uint8, as any dataset

Class folders give labels, as torchvision's ImageFolder does: each folder directly inside the one given
is a class (its images at any depth below it); with no such folders the images at any depth make one
unlabelled class. Each picture is read as an upload is (vae/images.photo_style: its middle square,
resized, gray or RGB), and goes to the test split when a seeded hash of its path says so (about
TEST_SHARE of them, the same ones every time). Files that cannot be used (unreadable, empty, huge,
tiny, another type) are skipped with one line each in `skipped.log` beside the dataset; a folder with
fewer than MIN_IMAGES usable pictures is refused.
"""
from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from vae.data import file_names, idx_bytes
from vae.datasets import FOLDER_PREFIX, RECORD_FILE, Dataset, Framing, folder_dataset_dir
from vae.files import atomic_write_bytes, atomic_write_json
from vae.images import ImageError, photo_style, read_upload, to_uint8

EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
MAX_FILE_BYTES = 20 * 1024 * 1024  # as an upload's limit (vae/images.py)
MIN_IMAGES = 20  # fewer usable pictures cannot make a train and a test split worth the name
TEST_SHARE = 0.1
SIDES = (28, 32, 64)
SKIPPED_LOG = "skipped.log"


@dataclass(frozen=True)
class ImportedFolder:
    name: str  # the dataset's name: "folder:<slug>"
    folder: Path  # where its files and record are, under the data root
    counts: dict[str, int]  # images in each split
    skipped: list[tuple[str, str]]  # (path within the source, why)


def slug(source: Path, side: int, channels: int) -> str:
    """A dataset name's part after "folder:": the folder's name, its size and colour."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", source.name).strip("-_").lower() or "images"
    return f"{stem[:40]}-{side}-{'rgb' if channels == 3 else 'gray'}"


def in_test_split(relative: str, seed: int = 0) -> bool:
    """Whether a file (its path within the folder) is a test image: a seeded hash, so the split is
    the same on every machine and does not move when other files come or go."""
    digest = hashlib.sha256(f"{seed}:{relative}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < TEST_SHARE * 2 ** 64


def _files(source: Path) -> tuple[list[str], list[tuple[Path, int]], list[tuple[str, str]]]:
    """Class names, (file, class) pairs in a fixed order, and the files skipped for their type."""
    classes = sorted(p.name for p in source.iterdir() if p.is_dir() and not p.name.startswith("."))
    classes = [c for c in classes if any(_is_image_name(f) for f in (source / c).rglob("*"))]
    if len(classes) > 255:
        raise ValueError(f"{source} has {len(classes)} class folders; at most 255 are read")
    label_of = {c: i for i, c in enumerate(classes)}
    files, skipped = [], []
    for path in sorted(source.rglob("*")):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(source).parts):
            continue
        relative = path.relative_to(source)
        if not _is_image_name(path):
            skipped.append((str(relative), f"not a {', '.join(EXTENSIONS)} file"))
        elif not classes:
            files.append((path, 0))
        elif len(relative.parts) > 1 and relative.parts[0] in label_of:
            files.append((path, label_of[relative.parts[0]]))
        else:
            skipped.append((str(relative), "outside the class folders"))
    return classes or [source.name or "images"], files, skipped


def _is_image_name(path: Path) -> bool:
    return path.suffix.lower() in EXTENSIONS


def _read(path: Path, side: int, channels: int) -> np.ndarray:
    """One file as the dataset's uint8 image; ImageError (a one-line reason) when it cannot be."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ImageError(f"the file is {size / 2**20:.1f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB")
    return to_uint8(photo_style(read_upload(path.read_bytes()), side, channels))


def import_folder(source: str | Path, side: int = 28, channels: int = 1, root: str | Path | None = None,
                  seed: int = 0) -> ImportedFolder:
    """Read every usable picture of `source` into a dataset under the data root (`root`, else
    $VAE_DATA_DIR, else ./data): its IDX files, its record and the log of skipped files, each written
    whole or not at all. ValueError (one line) for a missing folder or too few usable pictures."""
    source = Path(source).expanduser()
    if side not in SIDES or channels not in (1, 3):
        raise ValueError(f"an image folder is read at {', '.join(map(str, SIDES))} pixels a side, gray (1 channel) "
                         f"or RGB (3), not {side} and {channels}")
    if not source.is_dir():
        raise ValueError(f"--image-folder {source} is not a folder")
    classes, files, skipped = _files(source.resolve())
    images: dict[str, list] = {"train": [], "test": []}
    labels: dict[str, list] = {"train": [], "test": []}
    for path, label in files:
        relative = str(path.relative_to(source.resolve()))
        try:
            image = _read(path, side, channels)
        except (ImageError, OSError) as e:
            skipped.append((relative, str(e).split(". ")[0].rstrip(".")))
            continue
        split = "test" if in_test_split(relative, seed) else "train"
        images[split].append(image)
        labels[split].append(label)
    usable = len(images["train"]) + len(images["test"])
    if usable < MIN_IMAGES or not images["test"] or not images["train"]:
        raise ValueError(f"{source} has {usable} usable pictures ({len(skipped)} files skipped): at least "
                         f"{MIN_IMAGES} are needed, in both the train and the test split")
    name = FOLDER_PREFIX + slug(source, side, channels)
    folder = folder_dataset_dir(name, root)
    for split in ("train", "test"):
        images_name, labels_name = file_names(split)
        for file, array in ((images_name, np.stack(images[split])), (labels_name, np.array(labels[split]))):
            atomic_write_bytes(folder / "raw" / f"{file}.gz", gzip.compress(idx_bytes(array), mtime=0))
    atomic_write_bytes(folder / SKIPPED_LOG, "".join(f"{path}: {why}\n" for path, why in skipped).encode())
    record = Dataset(name=name, title=source.resolve().name, class_names=tuple(classes),
                     framing=Framing(box=side, centre="photo", trim=0.0, thing="picture", side=side),
                     subdir="", idx_md5={}, mirrors=(), license=f"your own pictures, from {source.resolve()}",
                     channels=channels)
    fields = {k: v for k, v in asdict(record).items() if k not in ("idx_md5", "mirrors", "system_folders")}
    atomic_write_json(folder / RECORD_FILE, fields)  # last: a record means its files are all there
    counts = {split: len(images[split]) for split in images}
    return ImportedFolder(name, folder, counts, skipped)
