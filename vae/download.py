"""Downloading the datasets of vae/datasets.py into torchvision's layout `<root>/<subdir>/raw/`.

    from vae.download import download
    download("mnist", Path("data"))         # the files not there yet; each checked, then renamed in

The files come from the dataset's mirrors (those torchvision lists), or from `$VAE_DATA_MIRROR` (a base URL
holding them under their usual names, for machines behind a firewall). Each file's decompressed
IDX bytes are checked against the dataset's own md5 (its record's `idx_md5`; a mirror may recompress
the .gz), and it is
written only once it passes, atomically: a failed or cut-off download leaves no file behind.
Progress goes to a callback, or as lines `downloading <file> from <url>: <done> of <total> bytes`
to stderr, which the app reads back from a training job's log (`parse_progress`).
"""
from __future__ import annotations

import gzip
import hashlib
import os
import re
import sys
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path

from vae.datasets import dataset_info, raw_folder
from vae.files import atomic_write_bytes

MIRROR_ENV = "VAE_DATA_MIRROR"
TIMEOUT_SECONDS = 10  # per connection attempt and read: an unreachable mirror fails in seconds
PROGRESS_LINE = "downloading {name} from {url}: {done} of {total} bytes"
_PROGRESS = re.compile(r"downloading (\S+) from (\S+): (\d+) of (\d+|\?) bytes")

Progress = Callable[[str, str, int, int | None], None]  # (file name, url, bytes so far, total or None)


class DownloadError(OSError):
    """No mirror gave a file that passed its check; the message says what each one did."""


def mirrors(dataset: str) -> list[str]:
    """Base URLs to try, in order: $VAE_DATA_MIRROR alone when set, else the dataset's own."""
    if os.environ.get(MIRROR_ENV):
        return [os.environ[MIRROR_ENV].rstrip("/") + "/"]
    return list(dataset_info(dataset).mirrors)


def print_progress(name: str, url: str, done: int, total: int | None) -> None:
    """The default progress: a line at the start, every tenth and the end of each file."""
    tenth = (total or 1) // 10 or 1
    if done == 0 or total is None or done == total or done // tenth != (done - _CHUNK) // tenth:
        print(PROGRESS_LINE.format(name=name, url=url, done=done, total=total or "?"), file=sys.stderr, flush=True)


def parse_progress(text: str) -> tuple[str, int, int | None] | None:
    """The last progress line in `text` (a job's log): (file name, bytes so far, total or None)."""
    found = _PROGRESS.findall(text)
    if not found:
        return None
    name, _, done, total = found[-1]
    return name, int(done), None if total == "?" else int(total)


_CHUNK = 1 << 18


def _fetch(url: str, name: str, progress: Progress) -> bytes:
    if not url.startswith(("https://", "http://")):  # no file: or other schemes, whatever $VAE_DATA_MIRROR says
        raise DownloadError("only http and https addresses are downloaded from")
    with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (checked above)
        total = int(response.headers.get("Content-Length") or 0) or None
        parts, done = [], 0
        progress(name, url, 0, total)
        while chunk := response.read(_CHUNK):
            parts.append(chunk)
            done += len(chunk)
            progress(name, url, done, total)
    if total is not None and done != total:
        raise DownloadError(f"the connection closed after {done} of {total} bytes")
    return b"".join(parts)


def _checked(data: bytes, expected_md5: str) -> None:
    """DownloadError unless `data` (gzipped or not) decompresses to bytes with this md5."""
    try:
        raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    except (OSError, EOFError, zlib.error) as e:
        raise DownloadError(f"not a readable gzip file ({e})") from None
    if hashlib.md5(raw).hexdigest() != expected_md5:  # noqa: S324 (a checksum, not security)
        raise DownloadError("its contents do not match the dataset's checksum (a corrupted or different file)")


def download(dataset: str, root: Path, progress: Progress | None = None, names: list[str] | None = None) -> Path:
    """Download the dataset's files missing from `<root>/<subdir>/raw/` (or just `names`); returns
    that folder. DownloadError names the folder, the mirrors tried and what went wrong with each."""
    folder = raw_folder(dataset, root)
    progress = progress or print_progress
    for name, md5 in dataset_info(dataset).idx_md5.items():
        if names is not None and name not in names:
            continue
        if (folder / name).is_file() or (folder / f"{name}.gz").is_file():
            continue
        problems = []
        for base in mirrors(dataset):
            url = f"{base}{name}.gz"
            try:
                data = _fetch(url, f"{name}.gz", progress)
                _checked(data, md5)
            except (urllib.error.URLError, OSError, ValueError) as e:
                reason = getattr(e, "reason", None) or e
                problems.append(f"{url}: {reason}")
                continue
            atomic_write_bytes(folder / f"{name}.gz", data)
            break
        else:
            raise DownloadError(f"could not download {dataset} into {folder.resolve()}: " + "; ".join(problems))
    return folder
