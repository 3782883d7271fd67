"""Your own images as a dataset: a folder of PNG, JPEG, WebP or BMP files, read once into the data
root, then trained on and explored like MNIST.

    python -m vae train --image-folder ~/pictures/shapes --image-size 64 --channels 3 --out runs/shapes

    imported = import_folder("~/pictures/shapes", side=64, channels=3)
    imported.name                        # "folder:shapes-64-rgb-3f9a1c", a dataset name (vae/datasets.py)
    load_split(imported.name, "train")   # (N, 64, 64, 3) uint8, as any dataset

Class folders give labels, as torchvision's ImageFolder does: each folder directly inside the one given
is a class (its images at any depth below it); with no such folders the images at any depth make one
unlabelled class. Each picture is read as an upload is (vae/images.photo_style: its middle square,
resized, gray or RGB), and goes to the test split when a seeded hash of its path says so (about
TEST_SHARE of them and at least MIN_TEST, the same ones every time). Files that cannot be used
(unreadable, empty, huge, tiny, another type) are skipped with one line each in `skipped.log` beside
the dataset; a folder with fewer than MIN_IMAGES usable pictures is refused. A folder whose files
(paths, sizes, times, inodes) and reading (size, colour, seed, the rules here) are as when it was
last read is not read again (`fingerprint`, kept in import.json, written last and removed first): the
Train page reads it before starting a run, and the run's own `--image-folder` then finds it done.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import PIL

from vae.data import file_names, idx_bytes
from vae.datasets import FOLDER_PREFIX, RECORD_FILE, Dataset, Framing, default_root, display_name, folder_dataset_dir
from vae.files import atomic_write_bytes, atomic_write_json, json_bytes
from vae.images import ImageError, photo_style, read_upload, to_uint8

EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
MAX_FILE_BYTES = 20 * 1024 * 1024  # as an upload's limit (vae/images.py)
MIN_IMAGES = 100  # fewer usable pictures cannot make a train and a test split worth the name
MIN_TEST = 10  # a map, a mixture and a detector of outliers need this many test pictures at least
TEST_SHARE = 0.1
SIDES = (28, 32, 64)
SKIPPED_LOG = "skipped.log"
IMPORT_FILE = "import.json"  # the fingerprint of the files last read, and what was read from them
READING = 1  # how pictures become images (photo_style, the split): bump it when that changes
RACY_NS = 2 * 10**9  # files changed this close to an import are not vouched for (FAT's clock ticks in 2 s)


def image_folders_root() -> Path:
    """Where the app looks for the folders a visitor may train on: $VAE_IMAGE_FOLDERS, else the data
    root's images/ (the app never reads a path typed in a page: a shared server would show anyone
    the pictures of any folder it can read)."""
    return Path(os.environ.get("VAE_IMAGE_FOLDERS") or default_root() / "images")


def offered_folders() -> list[str]:
    """The folders directly inside image_folders_root(), by name."""
    root = image_folders_root()
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) if root.is_dir() else []


@dataclass(frozen=True)
class ImportedFolder:
    name: str  # the dataset's name: "folder:<slug>"
    folder: Path  # where its files and record are, under the data root
    counts: dict[str, int]  # images in each split
    skipped: list[tuple[str, str]]  # (path within the source, why)
    reread: bool = True  # False: the folder was as when it was last read, and nothing was read again


def slug(source: Path, side: int, channels: int) -> str:
    """A dataset name's part after "folder:": the folder's name, its size and colour, and a short hash
    of its full path (two folders of one name are two datasets)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", source.name).strip("-_").lower() or "images"
    where = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:6]
    return f"{stem[:40]}-{side}-{'rgb' if channels == 3 else 'gray'}-{where}"


def split_hash(relative: str, seed: int = 0) -> float:
    """A file's place in [0, 1) by a seeded hash of its path within the folder (forward slashes): the
    same on every machine."""
    digest = hashlib.sha256(f"{seed}:{relative}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64


def in_test_split(relative: str, seed: int = 0) -> bool:
    """Whether a file is a test image by its hash alone (about TEST_SHARE of them): a picture stays in
    its split when other files come or go. import_folder adds the lowest hashes up to MIN_TEST."""
    return split_hash(relative, seed) < TEST_SHARE


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
            skipped.append((relative.as_posix(), f"not a {', '.join(EXTENSIONS)} file"))
        elif not classes:
            files.append((path, 0))
        elif len(relative.parts) > 1 and relative.parts[0] in label_of:
            files.append((path, label_of[relative.parts[0]]))
        else:
            skipped.append((relative.as_posix(), "outside the class folders"))
    return classes or [source.name or "images"], files, skipped


def fingerprint(source: Path, listing: tuple, side: int, channels: int, seed: int, since_ns: int) -> str | None:
    """sha256 of what an import of `source` depends on, without reading a picture: `_files`' listing,
    each listed file's size, times and inode, and how pictures are read. None when it cannot vouch for
    the files: one vanished, or one changed within RACY_NS of `since_ns` (a later change in the same
    tick of a coarse clock would keep its times; git treats such index entries alike)."""
    classes, files, skipped = listing
    rules = (READING, side, channels, seed, str(source), MAX_FILE_BYTES, MIN_IMAGES, MIN_TEST, TEST_SHARE,
             EXTENSIONS, PIL.__version__, classes, skipped)  # skipped for their name: only the log reads them
    h = hashlib.sha256(repr(rules).encode())
    for path, label in files:
        try:
            stat = path.stat()
        except OSError:
            return None
        if abs(stat.st_mtime_ns - since_ns) < RACY_NS:
            return None
        h.update(f"{path.relative_to(source).as_posix()}\t{label}\t{stat.st_size}\t{stat.st_mtime_ns}\t"
                 f"{stat.st_ctime_ns}\t{stat.st_ino}\t{stat.st_dev}\n".encode())
    return h.hexdigest()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _as_last_read(folder: Path, name: str, print_: str | None) -> ImportedFolder | None:
    """The import recorded in `folder` if it was made from files of this fingerprint and its own files
    are the ones it wrote (not another import's, run at the same time); else None."""
    try:
        done = json.loads((folder / IMPORT_FILE).read_text())
        if print_ is None or done["fingerprint"] != print_ \
                or any(_sha256((folder / p).read_bytes()) != h for p, h in done["written"].items()):
            return None
        return ImportedFolder(name, folder, {k: int(v) for k, v in done["counts"].items()},
                              [(str(p), str(why)) for p, why in done["skipped"]], reread=False)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # none yet, or a broken one
        return None


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
    name = FOLDER_PREFIX + slug(source, side, channels)
    folder = folder_dataset_dir(name, root)
    started_ns, resolved = time.time_ns(), source.resolve()
    classes, files, skipped = listing = _files(resolved)
    print_ = fingerprint(resolved, listing, side, channels, seed, started_ns)
    if (last := _as_last_read(folder, name, print_)) is not None:
        return last
    read = []  # (hash, image, label) of every usable picture
    for path, label in files:
        relative = path.relative_to(resolved).as_posix()
        try:
            read.append((split_hash(relative, seed), _read(path, side, channels), label))
        except (ImageError, OSError) as e:
            skipped.append((relative, str(e).split(". ")[0].rstrip(".")))
    if len(read) < MIN_IMAGES:
        raise ValueError(f"{source} has {len(read)} usable pictures ({len(skipped)} files skipped): at least "
                         f"{MIN_IMAGES} are needed")
    # The test split: the pictures hashed below TEST_SHARE, and at least the MIN_TEST lowest hashes.
    cut = max(TEST_SHARE, sorted(h for h, _, _ in read)[MIN_TEST - 1])
    images: dict[str, list] = {"train": [], "test": []}
    labels: dict[str, list] = {"train": [], "test": []}
    for h, image, label in read:
        split = "test" if h < TEST_SHARE or h <= cut else "train"
        images[split].append(image)
        labels[split].append(label)
    (folder / IMPORT_FILE).unlink(missing_ok=True)  # first: files half rewritten must not pass as the last read
    written = {}  # sha256 of the bytes this import wrote: another's, written at the same time, will not match

    def write(relative: str, data: bytes) -> None:
        atomic_write_bytes(folder / relative, data)
        written[relative] = _sha256(data)

    for split in ("train", "test"):
        images_name, labels_name = file_names(split)
        for file, array in ((images_name, np.stack(images[split])), (labels_name, np.array(labels[split]))):
            write(f"raw/{file}.gz", gzip.compress(idx_bytes(array), mtime=0))
    write(SKIPPED_LOG, "".join(f"{path}: {why}\n" for path, why in skipped).encode())
    record = Dataset(name=name, title=display_name(resolved.name),
                     class_names=tuple(display_name(c) for c in classes),
                     framing=Framing(box=side, centre="photo", trim=0.0, thing="picture", side=side),
                     subdir="", idx_md5={}, mirrors=(), license=f"your own pictures, from {resolved}",
                     channels=channels)
    counts = {split: len(images[split]) for split in images}
    fields = {k: v for k, v in asdict(record).items() if k not in ("idx_md5", "mirrors", "system_folders")}
    write(RECORD_FILE, json_bytes(fields))  # after its files: they are all there
    if print_ is not None:  # last of all: what the files were, for the next import to trust
        atomic_write_json(folder / IMPORT_FILE, {"fingerprint": print_, "counts": counts, "skipped": skipped,
                                                 "written": written})
    return ImportedFolder(name, folder, counts, skipped)
