"""The datasets of vae/datasets.py as uint8 tensors, read straight from IDX files.

    from vae.data import load_split, read_split
    images, labels = load_split("mnist", "test")   # (10000, 28, 28) uint8, (10000,) int64 tensors
    images, labels = read_split("mnist", "test")   # the same as numpy arrays, without importing torch

Files are looked for in torchvision's layout `<root>/MNIST/raw/` (gzipped or not), where the
root is the `data_dir` argument, else $VAE_DATA_DIR, else ./data; missing ones are downloaded
there (vae/download.py). The MNIST test set ships inside this package, so the explorer and the
tests work offline on a fresh clone.
"""
from __future__ import annotations

import gzip
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from vae.datasets import BUNDLED_ROOT, dataset_info, default_root, raw_folder

if TYPE_CHECKING:
    import torch

_PREFIX = {"train": "train", "test": "t10k"}
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

class DataMissingError(FileNotFoundError):
    """The IDX files of a dataset are not where we looked, and could not be downloaded."""


class Split(NamedTuple):
    images: torch.Tensor  # (N, side, side) uint8, or (N, side, side, 3) for RGB
    labels: torch.Tensor  # (N,) int64


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (optionally gzipped) into a numpy array of its declared shape."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"{path}: header says {shape} but holds {len(raw) - header} bytes")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def idx_bytes(array: np.ndarray) -> bytes:
    """A uint8 array as an IDX file's bytes."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + array.tobytes()


def write_idx(path: str | Path, array: np.ndarray, gz: bool = False) -> Path:
    """Write a uint8 array as an IDX file (the format MNIST ships in), gzipped with `gz` (the
    name then gets .gz); the path written."""
    path = Path(path)
    data = idx_bytes(array)
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def file_names(split: str) -> tuple[str, str]:
    prefix = _PREFIX[split]
    return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _candidate_folders(dataset: str, split: str, root: Path) -> list[Path]:
    folders = [raw_folder(dataset, root), *dataset_info(dataset, root).system_folders]
    if split == "test":  # every test set ships with the project
        folders.append(raw_folder(dataset, BUNDLED_ROOT))
    return folders


def _locate(dataset: str, split: str, root: Path) -> tuple[Path, Path] | None:
    images_name, labels_name = file_names(split)
    for folder in _candidate_folders(dataset, split, root):
        images, labels = _find(folder, images_name), _find(folder, labels_name)
        if images and labels:
            return images, labels
    return None


def load_split(dataset: str = "mnist", split: str = "test",
               data_dir: str | Path | None = None, download: bool = True) -> Split:
    """Load one split of a dataset as uint8 images and int64 labels (tensors)."""
    import torch  # here, not above: read_split alone leaves torch unimported (the app's first page)

    images, labels = read_split(dataset, split, data_dir, download)
    return Split(torch.from_numpy(images), torch.from_numpy(labels))


def read_split(dataset: str = "mnist", split: str = "test", data_dir: str | Path | None = None,
               download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """One split of a dataset as uint8 images (N, side, side[, 3]) and int64 labels (N,): numpy arrays."""
    root = default_root(data_dir)
    info = dataset_info(dataset, root)
    if split not in _PREFIX:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    found = _locate(dataset, split, root)
    tried = ""
    if found is None and info.generated:
        generate_split(dataset, split, root)
        found = _locate(dataset, split, root)
    if found is None and download and info.mirrors:
        from vae.download import DownloadError
        from vae.download import download as fetch

        try:
            fetch(dataset, root, names=list(file_names(split)))
        except DownloadError as e:
            tried = f" ({e})"
        found = _locate(dataset, split, root)
    if found is None:
        folder = raw_folder(dataset, root).resolve()
        how = f"and could not be downloaded{tried}" if download else "and downloading was not asked for"
        raise DataMissingError(
            f"{dataset} {split} data not found in {folder} {how}. Put its IDX files there (gzipped or not): "
            f"{', '.join(file_names(split))}; or point --data-dir / VAE_DATA_DIR at a folder holding "
            f"{info.subdir}/raw/, or VAE_DATA_MIRROR at a mirror of the files.")
    images, labels = (read_idx(p) for p in found)
    if info.generated and images.shape[1:] != _image_shape(info):  # drawn by an earlier version, at another size
        generate_split(dataset, split, root)
        images, labels = (read_idx(p) for p in _locate(dataset, split, root))
    if images.shape[1:] != _image_shape(info) or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{found[0]} and {found[1]} do not make a dataset of {info.title}: "
                         f"shapes {images.shape} and {labels.shape} (images {_image_shape(info)} expected)")
    return images.astype(np.uint8), labels.astype(np.int64)


def _image_shape(info) -> tuple[int, ...]:
    """The shape of one of the dataset's uint8 images: (side, side), or (side, side, 3) for RGB."""
    return (info.side, info.side) if info.channels == 1 else (info.side, info.side, info.channels)


# A generated dataset's splits: how many images, and the seed of their factors.
GENERATED_SPLITS = {"train": (60_000, 1), "test": (10_000, 2)}


def factors_name(split: str) -> str:
    return f"{_PREFIX[split]}-factors-idx2-ubyte"


def generate_split(dataset: str, split: str, root: Path) -> Path:
    """Draw a generated dataset's split into its folder under `root` (images, labels: the shape, and
    factors), each file written whole or not at all; the folder."""
    from vae.files import atomic_write_bytes
    from vae.sprites import render_all, sample_factors

    count, seed = GENERATED_SPLITS[split]
    factors = sample_factors(count, seed)  # (N, 5): shape, scale, orientation, x, y
    folder = raw_folder(dataset, root)
    folder.mkdir(parents=True, exist_ok=True)
    images_name, labels_name = file_names(split)
    for name, array in ((factors_name(split), factors), (labels_name, factors[:, 0]),
                        (images_name, render_all(factors, dataset_info(dataset).side))):
        atomic_write_bytes(folder / f"{name}.gz", gzip.compress(idx_bytes(array), mtime=0))
    return folder


def load_factors(dataset: str, split: str = "test", data_dir: str | Path | None = None) -> np.ndarray | None:
    """The generative factors of a generated dataset's split, (N, K) int64, beside its images; None
    for a dataset whose factors are unknown."""
    root = default_root(data_dir)
    if not dataset_info(dataset, root).generated:
        return None
    if _locate(dataset, split, root) is None:  # drawn first where missing (without reading the images)
        generate_split(dataset, split, root)
    for folder in _candidate_folders(dataset, split, root):
        if found := _find(folder, factors_name(split)):
            return read_idx(found).astype(np.int64)
    return None


def split_size(dataset: str, split: str, data_dir: str | Path | None = None) -> int | None:
    """How many images the split on disk holds, read from its labels file (a few kilobytes, where
    the images are megabytes); None when it is not on disk (no download attempted)."""
    found = _locate(dataset, split, default_root(data_dir))
    return None if found is None else len(read_idx(found[1]))


def has_split(dataset: str, split: str, data_dir: str | Path | None = None) -> bool:
    """True when the split is on disk (no download attempted)."""
    return _locate(dataset, split, default_root(data_dir)) is not None
