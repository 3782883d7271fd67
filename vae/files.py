"""Files that survive a kill: atomic writes (a temporary file, then a rename) and JSON lines.

    atomic_write_json("folder/config.json", {...})   # readers see the old file or the new, never half
    append_jsonl("folder/history.jsonl", {"epoch": 3})
    read_jsonl("folder/history.jsonl")               # complete lines only: a killed writer's tail is skipped
    write_npz_cache(path, {"xy": xy}); read_npz(path)  # caches named by weights (vae/run_files.py)
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def json_bytes(obj) -> bytes:
    """`obj` as the project writes JSON files."""
    return (json.dumps(obj, indent=2) + "\n").encode()


def atomic_write_json(path: str | Path, obj) -> None:
    atomic_write_bytes(path, json_bytes(obj))


def remove_temp_files(folder: str | Path, names: tuple[str, ...]) -> None:
    """Delete what killed atomic writes of these files left behind (`.<name>.*.tmp`); only the
    process that owns the folder may call this, or it could delete another writer's file."""
    for name in names:
        for tmp in Path(folder).glob(f".{name}.*.tmp"):
            tmp.unlink(missing_ok=True)


def append_jsonl(path: str | Path, record: dict) -> None:
    """Append one line; a partial last line left by a killed writer is closed off first."""
    path = Path(path)
    prefix = ""
    if path.exists() and path.stat().st_size:
        with open(path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            prefix = "" if f.read(1) == b"\n" else "\n"
    with open(path, "a") as f:
        f.write(prefix + json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def write_jsonl(path: str | Path, records: list[dict]) -> None:
    atomic_write_bytes(path, "".join(json.dumps(r) + "\n" for r in records).encode())


def read_jsonl(path: str | Path) -> list[dict]:
    """Every complete JSON object line of the file; partial or garbled lines are skipped."""
    try:
        text = Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return []
    records = []
    for line in text.splitlines():
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            records.append(obj)
    return records


def read_json(path: str | Path) -> dict | None:
    """A JSON object file, or None when it is missing, unreadable or not an object."""
    try:
        obj = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def write_npz_cache(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """Arrays as one compressed .npz, atomically; the same cache of earlier weights (the name with
    other 16 hex digits before ".npz", vae/run_files.py) is removed."""
    path = Path(path)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())
    for stale in path.parent.glob(f"{path.name[:-len('0123456789abcdef.npz')]}{'?' * 16}.npz"):
        if stale != path:
            stale.unlink(missing_ok=True)


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of an .npz cache ({} when it is missing or damaged); never unpickled."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return {key: f[key] for key in f.files}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return {}
